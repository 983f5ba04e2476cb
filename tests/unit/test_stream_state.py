"""streaming.state's state rebuild from the stream's tables, read with delta-rs (no Spark):
the latest record per title, deletions, other streams, the micro-batch cut-off; and the
titles a stream may rank, read from the lake with pyarrow."""

from __future__ import annotations

import random
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import write_deltalake

from streaming.state import (
    BATCHES_TABLE,
    RATINGS_TABLE,
    StreamError,
    eligible_titles,
    latest_per_title,
    load_state,
)

RATING = pa.decimal128(3, 1)
TOP = pa.list_(
    pa.struct(
        [
            ("rank", pa.int32()),
            ("tconst", pa.string()),
            ("num_votes", pa.int32()),
            ("average_rating", RATING),
            ("ranking_score", pa.float64()),
        ]
    )
)


def log_table(rows):
    """rows: (stream_id, batch_id, feed_row, tconst, num_votes, rating, is_deleted)."""
    names = (
        "stream_id",
        "batch_id",
        "feed_row",
        "tconst",
        "num_votes",
        "average_rating",
        "is_deleted",
    )
    types = (pa.string(), pa.int64(), pa.int64(), pa.string(), pa.int32(), RATING, pa.bool_())
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    return pa.table(
        {n: pa.array(list(c), t) for n, c, t in zip(names, columns, types, strict=True)}
    )


def batches_table(rows):
    """rows: (stream_id, batch_id, end_row, ratings_processed, votes_sum, [(tconst, votes, rating)])."""
    return pa.table(
        {
            "stream_id": pa.array([r[0] for r in rows], pa.string()),
            "batch_id": pa.array([r[1] for r in rows], pa.int64()),
            "batches": pa.array([r[1] + 1 for r in rows], pa.int64()),
            "end_row": pa.array([r[2] for r in rows], pa.int64()),
            "ratings_processed": pa.array([r[3] for r in rows], pa.int64()),
            "votes_sum": pa.array([r[4] for r in rows], pa.int64()),
            "top": pa.array(
                [
                    [
                        {
                            "rank": i + 1,
                            "tconst": t,
                            "num_votes": v,
                            "average_rating": Decimal(a),
                            "ranking_score": 1.0,
                        }
                        for i, (t, v, a) in enumerate(r[5])
                    ]
                    for r in rows
                ],
                TOP,
            ),
        }
    )


@pytest.fixture
def tables(tmp_path):
    def write(log_rows, batch_rows):
        locations = {
            RATINGS_TABLE: f"file:{tmp_path / 'ratings'}",
            BATCHES_TABLE: str(tmp_path / "batches"),
        }
        write_deltalake(str(tmp_path / "ratings"), log_table(log_rows))
        write_deltalake(str(tmp_path / "batches"), batches_table(batch_rows))
        return locations

    return write


def test_latest_per_title_keeps_the_largest_feed_row_of_each_title():
    rng = random.Random(3)
    rows = [
        ("s", 0, row, f"tt{rng.randrange(40):07d}", row, Decimal("5.0"), rng.random() < 0.2)
        for row in rng.sample(range(10_000), 500)
    ]
    got = latest_per_title(log_table(rows))
    expected = {}
    for row in sorted(rows, key=lambda r: r[2]):
        expected[row[3]] = row
    assert got["tconst"].to_pylist() == sorted(expected)
    assert got["feed_row"].to_pylist() == [expected[t][2] for t in sorted(expected)]
    assert got["is_deleted"].to_pylist() == [expected[t][6] for t in sorted(expected)]
    assert latest_per_title(log_table([])).num_rows == 0


def test_the_state_is_the_latest_record_per_title_of_this_stream_before_the_cut(tables):
    locations = tables(
        [
            ("s", 0, 0, "tt1", 100, Decimal("7.0"), False),
            ("s", 0, 1, "tt2", 600, Decimal("8.5"), False),
            ("s", 1, 2, "tt1", 900, Decimal("7.1"), False),  # tt1 updated
            ("s", 1, 3, "tt3", 50, Decimal("6.0"), False),
            ("s", 2, 4, "tt2", 0, None, True),  # tt2 deleted
            ("other", 0, 0, "tt9", 5, Decimal("1.0"), False),
        ],
        [
            ("s", 0, 2, 2, 700, [("tt2", 600, "8.5")]),
            ("s", 1, 4, 3, 1550, [("tt2", 600, "8.5"), ("tt1", 900, "7.1")]),
            ("s", 2, 5, 2, 950, [("tt1", 900, "7.1")]),
            ("other", 0, 1, 1, 5, []),
        ],
    )
    state = load_state(locations, "s", 10)
    assert (state.batches, state.records, state.ratings_processed, state.votes_sum) == (
        3,
        5,
        2,
        950,
    )
    assert state.titles == {"tt1": (900, 71), "tt3": (50, 60)}
    assert [(r.tconst, r.num_votes, r.rating_tenths) for r in state.top] == [("tt1", 900, 71)]
    before_2 = load_state(locations, "s", 2)  # the state a replay of micro-batch 2 starts from
    assert before_2.titles == {"tt1": (900, 71), "tt2": (600, 85), "tt3": (50, 60)}
    assert before_2.batches == 2 and before_2.records == 4
    assert load_state(locations, "s", 0).titles == {}  # before the first micro-batch
    assert load_state(locations, "nobody", 10).batches == 0


def test_tables_that_disagree_on_the_number_of_titles_stop_the_stream(tables):
    locations = tables([("s", 0, 0, "tt1", 100, Decimal("7.0"), False)], [("s", 0, 1, 2, 100, [])])
    with pytest.raises(StreamError, match="batches table says 2 titles, ratings log holds 1"):
        load_state(locations, "s", 10)


def test_the_eligible_titles_are_those_of_the_chosen_types_in_that_ingest(tmp_path):
    for ingest_id, rows in (
        ("i1", [("tt1", "movie"), ("tt2", "short"), ("tt3", "tvMovie")]),
        ("i2", [("tt4", "movie")]),
    ):
        folder = tmp_path / "lake" / ingest_id / "title_basics"
        folder.mkdir(parents=True)
        tconsts, types = zip(*rows, strict=True)
        pq.write_table(
            pa.table({"tconst": list(tconsts), "title_type": list(types)}),
            folder / "part-0.parquet",
        )
    lake = str(tmp_path / "lake")
    assert eligible_titles(lake, "i1", ("movie",)) == frozenset({"tt1"})
    assert eligible_titles(lake, "i1", ["movie", "tvMovie"]) == frozenset({"tt1", "tt3"})
    assert eligible_titles(lake, "i2", ("short",)) == frozenset()
