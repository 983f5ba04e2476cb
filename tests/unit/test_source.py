"""streaming.source: admission control and deterministic range reads."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from streaming.source import next_end, read_range


def test_next_end_takes_at_most_records_per_batch_and_never_passes_the_end():
    assert next_end(0, 250, 100) == 100
    assert next_end(200, 250, 100) == 250
    assert next_end(250, 250, 100) == 250


def test_the_reader_cuts_the_feeds_into_micro_batches_and_stops_where_available_now_began(tmp_path):
    from streaming import feeds
    from streaming.source import RatingsFeedReader

    path = tmp_path / "feed.parquet"
    pq.write_table(pa.table({"tconst": [f"tt{i:07d}" for i in range(25)]}), path, row_group_size=10)
    registry = tmp_path / "feeds.json"
    registry.write_text(json.dumps([{"ingest_id": "a", "path": str(path), "rows": 25, "kind": "full"}]))
    reader = RatingsFeedReader({"registry": str(registry), "records_per_batch": "10"})
    reader.prepareForTriggerAvailableNow()
    registry.write_text(json.dumps([{"ingest_id": "a", "path": str(path), "rows": 25, "kind": "full"},
                                    {"ingest_id": "b", "path": str(path), "rows": 25, "kind": "changes"}]))
    offset, sizes = reader.initialOffset(), []
    while True:
        rows, end = reader.read(offset)
        if end == offset:
            assert list(rows) == []
            break
        sizes.append(sum(b.num_rows for b in rows))
        offset = end
    assert sizes == [10, 10, 5] and offset == {"row": 25}  # the later feed waits for a later run
    again = pa.Table.from_batches(list(reader.readBetweenOffsets({"row": 20}, {"row": 30})))
    assert again["tconst"].to_pylist() == [f"tt{i:07d}" for i in (*range(20, 25), *range(5))]
    assert feeds.total_rows(feeds.load(registry)) == 50


def test_read_range_spans_row_groups(tmp_path):
    path = tmp_path / "feed.parquet"
    table = pa.table({"tconst": [f"tt{i:07d}" for i in range(95)], "num_votes": list(range(95))})
    pq.write_table(table, path, row_group_size=10)
    got = pa.Table.from_batches(list(read_range(str(path), 7, 33)))
    assert got.column("num_votes").to_pylist() == list(range(7, 33))
    assert pa.Table.from_batches(list(read_range(str(path), 90, 95))).num_rows == 5
    assert list(read_range(str(path), 40, 40)) == []


def test_a_range_across_feeds_is_cut_into_pieces():
    from streaming.feeds import Feed
    from streaming.source import pieces_of

    feeds = [Feed("a", "a.parquet", 10, "full"), Feed("b", "b.parquet", 5, "changes")]
    assert pieces_of(feeds, 8, 13) == [("a.parquet", 8, 10), ("b.parquet", 0, 3)]
    assert pieces_of(feeds, 10, 15) == [("b.parquet", 0, 5)]
