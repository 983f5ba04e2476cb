"""The results: the marts read from Delta without a JVM (imdb_pipeline.results.DeltaReader),
and the aligned-table rendering (render_table).

The marts here are real Delta tables written with delta-rs in the marts' own schema, their
rows shuffled: the reader must put them in the contract's order itself. That the Delta
reader gives exactly the JSON of the Spark path on marts built by dbt is checked end to end
in tests/e2e/test_pipeline.py.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import write_deltalake

from imdb_pipeline.results import (
    DeltaReader,
    ResultsError,
    collect,
    mart_path,
    render_json,
    render_table,
)

STRINGS = pa.list_(pa.string())
SCHEMAS = {
    "run_summary": pa.schema(
        [
            ("min_votes", pa.int32()),
            ("title_types", STRINGS),
            ("top_n", pa.int32()),
            ("ratings_processed", pa.int64()),
            ("average_number_of_votes", pa.float64()),
            ("batches", pa.int64()),
            ("records_per_batch", pa.int32()),
            ("stream_id", pa.string()),
            ("is_complete", pa.bool_()),
            ("duplicate_keys", pa.int64()),
            ("invocation_id", pa.string()),
            ("built_at", pa.timestamp("us")),
        ]
    ),
    "top_movies": pa.schema(
        [
            ("rank", pa.int32()),
            ("tconst", pa.string()),
            ("primary_title", pa.string()),
            ("original_title", pa.string()),
            ("start_year", pa.int32()),
            ("average_rating", pa.decimal128(3, 1)),
            ("num_votes", pa.int32()),
            ("ranking_score", pa.float64()),
            ("known_for_names", STRINGS),
            ("invocation_id", pa.string()),
        ]
    ),
    "top_movie_credits": pa.schema(
        [
            ("rank", pa.int32()),
            ("nconst", pa.string()),
            ("primary_name", pa.string()),
            ("credit_count", pa.int64()),
            ("movie_count", pa.int64()),
            ("categories", STRINGS),
            ("tconsts", STRINGS),
            ("invocation_id", pa.string()),
        ]
    ),
    "top_movie_titles": pa.schema(
        [
            ("tconst", pa.string()),
            ("title", pa.string()),
            ("regions", STRINGS),
            ("languages", STRINGS),
            ("is_primary", pa.bool_()),
            ("is_original", pa.bool_()),
            ("invocation_id", pa.string()),
        ]
    ),
    "transform_runs": pa.schema(
        [
            ("invocation_id", pa.string()),
            ("command", pa.string()),
            ("finished_at", pa.timestamp("us")),
            ("min_votes", pa.int32()),
            ("top_n", pa.int32()),
            ("title_types", STRINGS),
            ("status", pa.string()),
            ("detail", pa.string()),
        ]
    ),
}
SUMMARY = {
    "min_votes": 500,
    "title_types": ["movie", "tvMovie"],
    "top_n": 3,
    "ratings_processed": 7,
    "average_number_of_votes": 1234.5678901234567,
    "batches": 2,
    "records_per_batch": 4,
    "stream_id": "stream-abc",
    "is_complete": True,
    "duplicate_keys": 1,
    "built_at": datetime(2026, 11, 30, 9, 0),
}
PUBLISHED = {
    "invocation_id": "inv-1",
    "command": "build",
    "finished_at": datetime(2026, 11, 30, 9),
    "min_votes": 500,
    "top_n": 3,
    "title_types": ["movie", "tvMovie"],
    "status": "published",
    "detail": "",
}
MOVIES = [
    {
        "rank": 1,
        "tconst": "tt2",
        "primary_title": "Zeta",
        "original_title": "Zêta",
        "start_year": 1994,
        "average_rating": 8.0,
        "num_votes": 2000,
        "ranking_score": 12.960045814847015,
        "known_for_names": ["Ann", "Bob"],
    },
    {
        "rank": 2,
        "tconst": "tt1",
        "primary_title": "Alpha",
        "original_title": "Alpha",
        "start_year": None,
        "average_rating": 9.5,
        "num_votes": 1000,
        "ranking_score": 7.695027243815302,
        "known_for_names": [],
    },
]
CREDITS = [  # rank, then movie_count desc, then nconst
    {
        "rank": 1,
        "nconst": "nm3",
        "primary_name": "Cy",
        "credit_count": 2,
        "movie_count": 2,
        "categories": ["actor"],
        "tconsts": ["tt1", "tt2"],
    },
    {
        "rank": 1,
        "nconst": "nm1",
        "primary_name": None,
        "credit_count": 2,
        "movie_count": 1,
        "categories": ["director", "writer"],
        "tconsts": ["tt2"],
    },
    {
        "rank": 1,
        "nconst": "nm2",
        "primary_name": "Di",
        "credit_count": 2,
        "movie_count": 1,
        "categories": ["writer"],
        "tconsts": ["tt2"],
    },
    {
        "rank": 2,
        "nconst": "nm0",
        "primary_name": "Ed",
        "credit_count": 1,
        "movie_count": 1,
        "categories": ["self"],
        "tconsts": ["tt1"],
    },
]
TITLES = [  # tconst, then title (by code point: "Z" < "a" < "Ä")
    {
        "tconst": "tt1",
        "title": "Alpha",
        "regions": ["US"],
        "languages": [],
        "is_primary": True,
        "is_original": True,
    },
    {
        "tconst": "tt2",
        "title": "Zeta",
        "regions": [],
        "languages": [],
        "is_primary": True,
        "is_original": False,
    },
    {
        "tconst": "tt2",
        "title": "Zêta",
        "regions": ["FR", "BE"],
        "languages": ["fr"],
        "is_primary": False,
        "is_original": True,
    },
    {
        "tconst": "tt2",
        "title": "ゼータ",
        "regions": ["JP"],
        "languages": ["ja"],
        "is_primary": False,
        "is_original": False,
    },
]
EXPECTED = {
    "parameters": {"min_votes": 500, "title_types": ["movie", "tvMovie"], "top_n": 3},
    "ratings_processed": 7,
    "duplicate_keys": 1,
    "average_number_of_votes": 1234.5678901234567,
    "stream": {
        "batches": 2,
        "records_per_batch": 4,
        "stream_id": "stream-abc",
        "is_complete": True,
    },
    "top_movies": MOVIES,
    "top_movie_credits": CREDITS,
    "top_movie_titles": TITLES,
}


def write_marts(
    warehouse,
    marts: dict[str, list[dict]] | None = None,
    seed: int = 3,
    invocation_id: str = "inv-1",
) -> None:
    """The marts of one answer as Delta tables under ``warehouse`` (rows shuffled; ratings as
    decimals; each row with the ``invocation_id`` of the build that published it)."""
    marts = marts or {
        "run_summary": [SUMMARY],
        "top_movies": MOVIES,
        "top_movie_credits": CREDITS,
        "top_movie_titles": TITLES,
        "transform_runs": [PUBLISHED],
    }
    for table, rows in marts.items():
        rows = [
            dict(r) if table == "transform_runs" else {**r, "invocation_id": invocation_id}
            for r in rows
        ]
        for row in rows:
            if "average_rating" in row:
                row["average_rating"] = Decimal(str(row["average_rating"]))
        random.Random(seed).shuffle(rows)
        data = pa.Table.from_pylist(rows, schema=SCHEMAS[table])
        write_deltalake(str(mart_path(warehouse, table)), data, mode="overwrite")


def test_delta_marts_give_the_contract_in_order_with_the_spark_types(tmp_path):
    write_marts(tmp_path)
    results = collect(DeltaReader.of_warehouse(tmp_path))
    assert results == EXPECTED
    assert render_json(results) == render_json(EXPECTED)  # 8.0 stays a float, 2000 an int
    assert isinstance(results["top_movies"][0]["average_rating"], float)


def test_delta_reader_reads_the_latest_version_and_empty_marts(tmp_path):
    write_marts(tmp_path)
    write_marts(tmp_path, {"top_movie_credits": [], "top_movies": MOVIES[:1]})
    results = collect(DeltaReader.of_warehouse(tmp_path))
    assert results["top_movies"] == MOVIES[:1] and results["top_movie_credits"] == []


def test_a_mart_that_is_not_plain_files_is_read_by_delta_rs_and_the_process_exits_cleanly(tmp_path):
    # Partitioned: its files lack the partition column, so delta-rs' engine reads it. The
    # marts with timestamp_ntz (run_summary, transform_runs) stay on the plain Parquet path.
    # Before, such reads went through delta-rs' pyarrow dataset, and a short process
    # aborted at exit ("terminate called without an active exception") in about half the
    # runs: three runs here would all pass by luck about once in twenty.
    write_marts(tmp_path)
    titles = pa.Table.from_pylist(
        [{**r, "invocation_id": "inv-1"} for r in TITLES], schema=SCHEMAS["top_movie_titles"]
    )
    write_deltalake(
        str(mart_path(tmp_path, "top_movie_titles")),
        titles,
        mode="overwrite",
        partition_by=["tconst"],
        schema_mode="overwrite",
    )
    assert collect(DeltaReader.of_warehouse(tmp_path)) == EXPECTED
    read = (
        f"from imdb_pipeline.results import *; collect(DeltaReader.of_warehouse({str(tmp_path)!r}))"
    )
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-c", read], capture_output=True, text=True, check=False, timeout=60
        )
        assert done.returncode == 0, done.stderr


def test_a_failed_last_transform_is_reported_with_the_answer_the_marts_still_hold(tmp_path):
    write_marts(tmp_path)
    failed = {
        **PUBLISHED,
        "invocation_id": "inv-2",
        "min_votes": 2_000_000,
        "status": "failed",
        "detail": "consecutive_ranks_top_movies_rank (fail)",
        "finished_at": datetime(2026, 11, 30, 10),
    }
    write_deltalake(
        str(mart_path(tmp_path, "transform_runs")),
        pa.Table.from_pylist([failed], schema=SCHEMAS["transform_runs"]),
        mode="append",
    )
    with pytest.raises(ResultsError) as error:
        collect(DeltaReader.of_warehouse(tmp_path))
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(
        "the last transform (min_votes 2000000, top_n 3, title_types "
        "movie,tvMovie, at 2026-11-30 10:00:00 UTC) did not publish an answer "
        "(failed: consecutive_ranks_top_movies_rank (fail)); imdb still "
        "holds the answer built at 2026-11-30 09:00:00 UTC (min_votes 500"
    )


def test_marts_of_two_builds_are_never_shown_together(tmp_path):
    write_marts(tmp_path)
    write_marts(tmp_path, {"top_movie_titles": TITLES}, invocation_id="inv-2")
    with pytest.raises(ResultsError, match=r"do not hold one answer \(top_movie_titles from"):
        collect(DeltaReader.of_warehouse(tmp_path))
    write_marts(
        tmp_path,
        {"run_summary": [SUMMARY], "top_movies": MOVIES, "top_movie_credits": CREDITS},
        invocation_id="inv-2",
    )
    with pytest.raises(ResultsError, match=r"do not hold one answer \(run_summary from"):
        collect(DeltaReader.of_warehouse(tmp_path))  # transform_runs names inv-1 as published
    write_marts(tmp_path, {"transform_runs": [{**PUBLISHED, "invocation_id": "inv-2"}]})
    assert collect(DeltaReader.of_warehouse(tmp_path)) == EXPECTED


def test_no_marts_is_no_results_yet(tmp_path):
    with pytest.raises(ResultsError, match="no results yet"):
        collect(DeltaReader.of_warehouse(tmp_path))


def test_a_damaged_mart_is_one_line_naming_it(tmp_path):
    write_marts(tmp_path)
    log = Path(mart_path(tmp_path, "top_movies")) / "_delta_log"
    for entry in log.glob("*.json"):
        entry.write_text("not json\n")
    with pytest.raises(ResultsError, match=r"cannot read the mart imdb.top_movies at .*transform"):
        try:
            collect(DeltaReader.of_warehouse(tmp_path))
        except ResultsError as error:
            assert "\n" not in str(error)
            raise


# --- --format table -------------------------------------------------------------------------


def results(**movie) -> dict:
    top = {
        "rank": 1,
        "tconst": "tt1",
        "primary_title": "A",
        "start_year": 1994,
        "average_rating": 8.0,
        "num_votes": 900,
        "ranking_score": 7.25,
        **movie,
    }
    return {
        "parameters": {"min_votes": 500, "title_types": ["movie"], "top_n": 10},
        "ratings_processed": 3,
        "average_number_of_votes": 1000.0,
        "stream": {"batches": 1, "records_per_batch": 100},
        "top_movies": [top],
        "top_movie_credits": [],
        "top_movie_titles": [],
    }


def movie_row(table: str) -> str:
    lines = table.splitlines()
    return lines[lines.index("Top movies") + 3]


def test_a_rating_keeps_its_decimal_and_scores_lose_trailing_zeros():
    table = render_table(results())
    assert movie_row(table).split() == ["1", "tt1", "A", "1994", "8.0", "900", "7.25"]


def test_empty_sections_and_missing_values_are_shown():
    table = render_table(results(start_year=None))
    assert movie_row(table).split()[3] == "-"
    assert table.count("(none)") == 2
    assert table.startswith("3 ratings in 1 micro-batches of 100; average number of votes 1,000.00")


def test_table_lines_stay_within_100_characters_and_titles_go_by_rank():
    long_title = "The Lord of the Rings: The Return of the King (Extended Edition) " * 3
    data = json.loads(json.dumps(EXPECTED))
    data["top_movies"][0]["primary_title"] = long_title
    data["top_movie_titles"].append(
        {
            "tconst": "tt2",
            "title": "指輪物語" * 20,
            "regions": [f"R{i}" for i in range(60)],
            "languages": ["ja"] * 30,
            "is_primary": False,
            "is_original": False,
        }
    )
    table = render_table(data)
    widths = [
        sum(2 if "\u3000" <= ch <= "\u9fff" else 1 for ch in line) for line in table.splitlines()
    ]
    assert max(widths) <= 100
    movie = movie_row(table)
    assert "The Lord of the Rings" in movie and "…" in movie and "2,000" in movie
    titles = table.splitlines()[table.splitlines().index("Titles of the top movies, by rank") + 3 :]
    assert [line.split()[1] for line in titles] == ["tt2"] * 4 + ["tt1"]  # rank 1 first
    assert any("+" in line and "R0, R1" in line for line in titles)  # a long list says how many


def test_nanosecond_timestamps_are_read_as_datetimes_without_pandas(tmp_path):
    """Spark writes timestamps as INT96, which Arrow reads as nanoseconds; ``to_pylist`` would
    turn them into pandas Timestamps, importing pandas (2-3 s of a 3 s ``results``). The mart
    here is a Delta table over such a file (written by pyarrow as Spark does, then converted
    by delta-rs), read the way ``results`` reads it, in a fresh interpreter."""
    from deltalake import convert_to_deltalake

    folder = Path(mart_path(tmp_path, "transform_runs"))
    folder.mkdir(parents=True)
    nanos = pa.array([1_700_000_000_123_456_000, None], pa.int64()).cast(pa.timestamp("ns"))
    runs = pa.table(
        {
            "invocation_id": ["a", "b"],
            "finished_at": nanos,
            "min_votes": [1, 1],
            "top_n": [1, 1],
            "title_types": [["movie"]] * 2,
            "status": ["published"] * 2,
            "detail": ["", ""],
        }
    )
    pq.write_table(runs, folder / "part-0.parquet", use_deprecated_int96_timestamps=True)
    assert pq.ParquetFile(folder / "part-0.parquet").schema.column(1).physical_type == "INT96"
    convert_to_deltalake(str(folder))
    code = (
        "import sys, datetime\n"
        "from imdb_pipeline.results import DeltaReader\n"
        f"reader = DeltaReader.of_warehouse({str(tmp_path)!r})\n"
        "assert str(reader.tables['transform_runs'].schema.field('finished_at').type) == "
        "'timestamp[us]'\n"
        "rows = reader.rows('transform_runs', ['invocation_id', 'finished_at'], 'invocation_id')\n"
        "assert rows[0]['finished_at'] == datetime.datetime(2023, 11, 14, 22, 13, 20, 123456), rows\n"
        "assert type(rows[0]['finished_at']) is datetime.datetime\n"
        "assert rows[1]['finished_at'] is None, rows\n"
        "print('pandas' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
