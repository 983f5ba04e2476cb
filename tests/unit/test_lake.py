"""ingest.lake: partitioned files of a sensible size in bounded memory, the manifest, the
quarantine seen through land(), the reject limit, and the .partial folders."""

from __future__ import annotations

import gzip
import json
import logging
import subprocess
import sys

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from ingest.convert import CorruptFileError, HeaderError, NoRowsError, TableFiles
from ingest.lake import (
    CHECKS_SCHEMA,
    LookupKeyError,
    Origin,
    PartitionedWriter,
    RejectLimitError,
    clean_stale,
    convert_file,
    current_ingest,
    first_element,
    land,
    publish,
    vote_floor,
)
from ingest.schemas import ALL_FILES, BY_NAME, TITLE_BASICS, TITLE_RATINGS

ROWS = {
    "title.basics": [
        "tt0000001\tmovie\tA\tA\t0\t1994\t\\N\t142\tDrama",
        "tt0000002\tshort\tB\tB\t0\t\\N\t\\N\t\\N\t\\N",
        "tt0000017\tmovie\tC\tC\t0\t1994\t\\N\t90\tComedy,Drama",
    ],
    "title.ratings": ["tt0000001\t9.3\t2000", "tt0000002\t5.0\t12", "tt0000017\t7.0\t600"],
    "title.principals": [
        'tt0000001\t1\tnm0000001\tactor\t\\N\t["Andy"]',
        "tt0000017\t1\tnm0000002\tdirector\t\\N\t\\N",
    ],
    "name.basics": [
        "nm0000001\tTim\t1958\t\\N\tactor,producer\ttt0000001,tt0000017",
        "nm0000002\tFrank\t\\N\t\\N\t\\N\ttt0000017",
    ],
}


def imdb_folder(folder, rows=None, gz=True, omit=()):
    """A folder of tiny IMDb files: the required four (plus any given in ``rows``)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, lines in {**ROWS, **(rows or {})}.items():
        if name in omit:
            continue
        text = "\n".join(["\t".join(BY_NAME[name].header), *lines]) + "\n"
        path = folder / (f"{name}.tsv.gz" if gz else f"{name}.tsv")
        path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
        files[name] = path
    return files


def test_land_writes_every_table_and_a_manifest(tmp_path, caplog):
    files = imdb_folder(tmp_path / "src")
    origins = {
        "title.ratings": Origin(
            "https://datasets.imdbws.com/title.ratings.tsv.gz",
            '"abc123"',
            "Mon, 01 Jun 2026 00:00:00 GMT",
        )
    }
    caplog.set_level(logging.INFO)
    ingest_id, folder, _ = land(files, tmp_path / "lake", sources=origins, progress=False)
    messages = caplog.messages
    assert folder.name == f".{ingest_id}.partial" and (folder / ".owner").exists()
    for spec in ALL_FILES:
        assert (folder / spec.table).is_dir()
    assert (folder / "title_names" / "tconst_bucket=1").is_dir()
    assert any("title.akas: absent (optional), empty table" in m for m in messages)
    years = sorted(p.name for p in (folder / "title_basics").iterdir())
    assert years == ["start_year=1994", "start_year=__HIVE_DEFAULT_PARTITION__"]
    manifest = json.loads((folder / "_manifest.json").read_text())
    by_file = {f["file"]: f for f in manifest["files"]}
    ratings = by_file["title.ratings.tsv.gz"]
    assert ratings["source"] == "https://datasets.imdbws.com/title.ratings.tsv.gz"
    assert ratings["etag"] == '"abc123"' and ratings["last_modified"].startswith("Mon")
    assert ratings["size_bytes"] == files["title.ratings"].stat().st_size
    assert (ratings["rows_read"], ratings["rows_rejected"]) == (3, 0)
    assert ratings["seconds"] >= 0 and ratings["text_bytes"] > 0
    assert by_file["title.basics.tsv.gz"]["source"] == str(files["title.basics"])
    assert set(manifest["absent"]) == {"title.akas", "title.crew", "title.episode"}
    assert manifest["title_names"]["rows"] == 2
    feed = pq.read_table(folder / "ratings_feed" / "part-0.parquet")
    assert feed.column("tconst").to_pylist() == ["tt0000001", "tt0000002", "tt0000017"]
    final = publish(tmp_path / "lake", ingest_id, folder)
    assert current_ingest(tmp_path / "lake") == ingest_id and not (final / ".owner").exists()


def test_bad_rows_are_quarantined_and_counted_per_file(tmp_path, caplog):
    basics = [f"tt{i:07d}\tmovie\tT{i}\tT{i}\t0\t2000\t\\N\t90\tDrama" for i in range(1, 2001)]
    basics[99] = "tt0000100\tmovie\tbroken"  # line 101: three columns
    basics[499] = "tt0000500\tmovie\tT\tT\t0\tyear\t\\N\t90\tDrama"  # line 501: bad startYear
    files = imdb_folder(tmp_path / "src", {"title.basics": basics})
    caplog.set_level(logging.INFO)
    _, folder, reports = land(files, tmp_path / "lake", max_reject_share=0.01, progress=False)
    messages = caplog.messages
    report = next(r for r in reports if r.file.startswith("title.basics"))
    assert (report.rows_read, report.rows_written, report.rows_rejected) == (2000, 1998, 2)
    assert any(m.startswith("ingest: title.basics: 1,998 rows, 2 rejected") for m in messages)
    rejects = pq.read_table(folder / "_rejects" / "title_basics.parquet").to_pylist()
    assert [(r["file"], r["line"]) for r in rejects] == [
        ("title.basics.tsv.gz", 101),
        ("title.basics.tsv.gz", 501),
    ]
    assert rejects[0]["raw_line"] == "tt0000100\tmovie\tbroken"
    assert rejects[0]["reason"] == "expected 9 columns, found 3"
    assert rejects[1]["reason"] == "startYear is not a valid int: 'year'"
    kept = ds.dataset(folder / "title_basics", partitioning="hive").to_table()
    assert kept.num_rows == 1998 and "tt0000500" not in kept.column("tconst").to_pylist()


def reject_limit_line(folder, spec, lines: list[bytes], max_reject_share: float) -> str:
    """The line of the RejectLimitError that converting a file of ``spec`` holding ``lines``
    (after its header) stops with."""
    folder.mkdir(parents=True)
    path = folder / f"{spec.name}.tsv"
    path.write_bytes(b"\n".join(["\t".join(spec.header).encode(), *lines]) + b"\n")
    with pytest.raises(RejectLimitError) as error:
        convert_file(path, spec, folder / "out", max_reject_share, str(path))
    return str(error.value)


def test_a_share_just_over_the_limit_is_shown_with_the_decimals_that_tell_them_apart(tmp_path):
    ratings = [f"tt{i:07d}\t5.0\t{i}".encode() for i in range(1, 998)]
    ratings[9] = b"tt0000010\t5.0"  # one bad row of 997
    line = reject_limit_line(tmp_path / "a", TITLE_RATINGS, ratings, 0.001)
    assert "(0.1003% > --max-reject-share 0.1000%)" in line
    assert line.endswith(
        "; fix those lines or fetch the file again; or drop those rows with "
        "--max-reject-share 0.0011"
    )
    line = reject_limit_line(tmp_path / "b", TITLE_RATINGS, ratings[:152], 0.0)  # 1 of 152
    assert "(0.66% > --max-reject-share 0.00%)" in line
    basics = [f"tt{i:07d}\tmovie\tT\tT\t0\t2000\t\\N\t90\tDrama".encode() for i in range(1, 998)]
    for i in range(0, 850, 5):  # 170 of 997 titles saved in cp1252
        basics[i] = basics[i].replace(b"\tT\tT\t", b"\tKrstn\xfd\tT\t")
    line = reject_limit_line(tmp_path / "c", TITLE_BASICS, basics, 0.001)
    assert "; the file is not UTF-8 (saved by another tool?): convert it, e.g. `iconv" in line
    assert line.endswith("--max-reject-share 0.1706")


def test_rejects_above_the_share_stop_the_run_with_one_line(tmp_path):
    ratings = [f"tt{i:07d}\t5.0\t{i}" for i in range(1, 1001)]
    ratings[10] = "tt0000011\t5.0"  # 2 of 1000 = 0.2% > 0.1%
    ratings[20] = "tt0000021\tfive\t21"
    files = imdb_folder(tmp_path / "src", {"title.ratings": ratings})
    lake = tmp_path / "lake"
    with pytest.raises(RejectLimitError) as error:
        land(files, lake, progress=False)
    message = str(error.value)
    assert "\n" not in message and "title.ratings.tsv.gz" in message
    assert "2 of 1000 rows rejected" in message and "--max-reject-share" in message
    assert "first at line 12" in message
    assert "(0.20% > --max-reject-share 0.10%)" in message
    assert message.endswith(
        "; fix those lines or fetch the file again; or drop those rows with "
        "--max-reject-share 0.002"
    )
    assert not any(lake.iterdir())  # the unpublished folder is gone
    _, _, reports = land(files, lake, max_reject_share=0.005, progress=False)
    assert next(r for r in reports if r.table == "title_ratings").rows_rejected == 2


def test_a_bad_header_stops_before_anything_is_published(tmp_path):
    files = imdb_folder(tmp_path / "src")
    files["title.crew"] = tmp_path / "src" / "title.crew.tsv"
    files["title.crew"].write_text("tconst\tdirector\twriter\ntt0000001\t\\N\t\\N\n")
    with pytest.raises(HeaderError, match="title.crew.tsv: header does not match title.crew"):
        land(files, tmp_path / "lake", progress=False)
    assert not any((tmp_path / "lake").iterdir())


def test_optional_files_absent_or_present(tmp_path):
    extra = {
        "title.akas": ["tt0000001\t1\tA\tUS\ten\timdbDisplay\t\\N\t0"],
        "title.crew": ["tt0000001\tnm0000002\t\\N"],
        "title.episode": ["tt0000002\ttt0000001\t1\t2"],
    }
    files = imdb_folder(tmp_path / "src", extra, gz=False)
    _, folder, reports = land(files, tmp_path / "lake", progress=False)
    assert {r.table for r in reports} == {s.table for s in ALL_FILES}
    akas = ds.dataset(folder / "title_akas", partitioning="hive").to_table().to_pylist()
    assert akas[0]["tconst_bucket"] == 1 and akas[0]["types"] == ["imdbDisplay"]
    assert pq.read_table(folder / "title_crew").column("directors").to_pylist() == [["nm0000002"]]


def test_missing_required_file_is_named_in_one_line(tmp_path):
    files = imdb_folder(tmp_path / "src", omit=("title.principals",))
    with pytest.raises(Exception) as error:
        land(files, tmp_path / "lake", progress=False)
    assert str(error.value) == "missing required IMDb file(s): title.principals"


def test_writer_fills_row_groups_splits_files_and_bounds_memory(tmp_path):
    schema = pa.schema([("k", pa.int32()), ("v", pa.string())])
    writer = PartitionedWriter(
        tmp_path / "t",
        schema,
        "k",
        {"compression": "zstd"},
        row_group_rows=1000,
        max_rows_per_file=2500,
        budget=200_000,
    )
    held = []
    for start in range(0, 12_000, 500):
        keys = [(start + i) % 3 for i in range(500)]
        writer.write(
            pa.record_batch(
                [pa.array(keys, pa.int32()), pa.array([f"value {start + i}" for i in range(500)])],
                schema=schema,
            )
        )
        held.append(writer.held)
    summary = writer.close()
    assert max(held) <= 200_000
    assert summary["partitions"] == 3
    table = ds.dataset(tmp_path / "t", partitioning="hive").to_table()
    assert table.num_rows == 12_000 and set(table.column("k").to_pylist()) == {0, 1, 2}
    for key in range(3):
        files = sorted((tmp_path / "t" / f"k={key}").iterdir())
        assert [f.name for f in files] == ["part-0.parquet", "part-1.parquet"]  # 4,000 rows each
        sizes = [pq.ParquetFile(f).metadata.num_rows for f in files]
        assert sizes == [2500, 1500]
        groups = [
            pq.ParquetFile(f).metadata.row_group(i).num_rows
            for f in files
            for i in range(pq.ParquetFile(f).metadata.num_row_groups)
        ]
        assert max(groups) <= 1000 and min(groups) >= 100  # no tiny row groups
        assert "k" not in pq.read_schema(files[0]).names  # the partition is in the path only


def test_writer_budget_spills_the_largest_partition_first(tmp_path):
    schema = pa.schema([("k", pa.int32()), ("v", pa.string())])
    writer = PartitionedWriter(tmp_path / "t", schema, "k", {}, row_group_rows=10**6, budget=50_000)
    for _ in range(20):
        writer.write(
            pa.record_batch(
                [pa.array([0] * 900 + [1] * 100, pa.int32()), pa.array(["x" * 20] * 1000)],
                schema=schema,
            )
        )
        assert writer.held <= 50_000
    writer.close()
    big = pq.ParquetFile(tmp_path / "t" / "k=0" / "part-0.parquet").metadata
    assert big.num_rows == 18_000 and big.num_row_groups > 1


def test_first_profession_is_the_partition_value_or_null():
    lists = pa.array(
        [["actor", "producer"], None, [], [""], ["", "writer"], [None, "x"], ["director"]],
        pa.list_(pa.string()),
    )
    expected = ["actor", None, None, None, None, None, "director"]
    assert first_element(lists).to_pylist() == expected
    assert first_element(lists.slice(4)).to_pylist() == expected[4:]
    assert first_element(pa.array([None, []], pa.list_(pa.string()))).to_pylist() == [None, None]


def test_stale_partial_folders_are_removed_live_ones_kept(tmp_path, caplog):
    lake = tmp_path / "lake"
    dead = lake / ".20260101T000000Z-dead00.partial"
    alive = lake / ".20260101T000000Z-live00.partial"
    orphan = lake / ".20260101T000000Z-none00.partial"
    for folder in (dead, alive, orphan):
        folder.mkdir(parents=True)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (dead / ".owner").write_text(gone + "\n")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (alive / ".owner").write_text(f"{sleeper.pid}\n")
        caplog.set_level(logging.INFO)
        removed = clean_stale(lake)
        messages = caplog.messages
    finally:
        sleeper.kill()
        sleeper.wait()
    assert sorted(removed) == sorted([dead, orphan])
    assert alive.exists() and not dead.exists() and not orphan.exists()
    assert len(messages) == 2 and all("did not finish" in m for m in messages)


def test_a_corrupt_file_stops_the_ingest_and_the_other_conversion(tmp_path):
    principals = [
        f"tt{i // 9 + 1:07d}\t{i % 9 + 1}\tnm{i % 5000 + 1:07d}\tactor\t\\N\t\\N"
        for i in range(300_000)
    ]
    files = imdb_folder(tmp_path / "src", {"title.principals": principals})
    data = files["title.ratings"].read_bytes()
    body = gzip.decompress(data) + b"".join(
        f"tt{i:07d}\t5.0\t{i}\n".encode() for i in range(100, 200_000)
    )
    files["title.ratings"].write_bytes(gzip.compress(body)[:-5000])  # cut short
    with pytest.raises(CorruptFileError, match="title.ratings.tsv.gz"):
        land(files, tmp_path / "lake", progress=False, workers=2)
    assert not any((tmp_path / "lake").iterdir())


# --------------------------------------------------------------------------- key checks


def test_a_lookups_repeated_and_null_keys_are_counted_and_stop_the_ingest(tmp_path):
    principals = [f"tt{t:07d}\t{o}\tnm0000001\tactor\t\\N\t\\N" for t in (1, 17) for o in (1, 2)]
    principals.insert(2, "tt0000001\t2\tnm0000002\tactor\t\\N\t\\N")  # (tt1, 2) twice
    principals.append("tt0000017\t\\N\tnm0000002\tdirector\t\\N\t\\N")  # a null ordering
    files = imdb_folder(tmp_path / "src", {"title.principals": principals})
    with pytest.raises(LookupKeyError) as stopped:
        land(files, tmp_path / "lake", progress=False)
    assert str(stopped.value).startswith(
        f"{files['title.principals']}: 1 repeated key and 1 null key (tconst, ordering): each "
        "title.principals row needs its own complete key"
    )
    assert stopped.value.report.keys == {
        "columns": ["tconst", "ordering"],
        "null_keys": 1,
        "duplicate_keys": 1,
        "in_order": True,
    }
    assert list((tmp_path / "lake").iterdir()) == []  # no .partial folder is left


def test_the_manifest_and_ingest_checks_hold_every_lookups_keys(tmp_path, caplog):
    principals = [f"tt{t:07d}\t{o}\tnm0000001\tactor\t\\N\t\\N" for t in (1, 17) for o in (1, 2)]
    ratings = ["tt0000001\t7.0\t600", "tt0000017\t8.0\t900", "tt0000001\t7.5\t700"]
    files = imdb_folder(
        tmp_path / "src", {"title.principals": principals, "title.ratings": ratings}
    )
    caplog.set_level(logging.INFO)
    ingest_id, folder, reports = land(
        files, tmp_path / "lake", progress=False, skipped=["title.crew", "title.episode"]
    )
    messages = caplog.messages
    manifest = json.loads((folder / "_manifest.json").read_text())
    keys = {f["table"]: f["keys"] for f in manifest["files"]}
    assert keys["title_principals"] == {
        "columns": ["tconst", "ordering"],
        "null_keys": 0,
        "duplicate_keys": 0,
        "in_order": True,
    }
    assert keys["title_ratings"] == {
        "columns": ["tconst"],
        "null_keys": 0,
        "duplicate_keys": 1,
        "in_order": False,
    }
    assert keys["title_basics"] == {
        "columns": ["tconst"],
        "null_keys": 0,
        "duplicate_keys": 0,
        "in_order": True,
    }
    assert manifest["title_names"]["keys"]["duplicate_keys"] == 0
    assert (manifest["absent"], manifest["skipped"]) == (
        ["title.akas"],
        ["title.crew", "title.episode"],
    )
    assert any(
        m.startswith("ingest: title.ratings: 3 rows, 0 rejected")
        and m.endswith(", 1 duplicate keys (tconst; the later line wins)")
        for m in messages
    )
    assert (
        "ingest: title.crew: skipped (not asked for; --with-tables title.crew ingests it), "
        "empty table" in messages
    )
    assert "ingest: title.akas: absent (optional), empty table" in messages
    checks = pq.read_table(folder / "_checks" / "part-0.parquet")
    assert checks.schema.equals(CHECKS_SCHEMA) and [
        (f.name, str(f.type)) for f in checks.schema
    ] == [
        ("ingest_id", "string"),
        ("imdb_file", "string"),
        ("lookup_table", "string"),
        ("key_columns", "list<element: string>"),
        ("rows_read", "int64"),
        ("rows_written", "int64"),
        ("rows_rejected", "int64"),
        ("null_keys", "int64"),
        ("duplicate_keys", "int64"),
        ("converted_in", "string"),
    ]
    rows = {r["lookup_table"]: r for r in checks.to_pylist()}
    assert list(rows) == [
        "title_basics",
        "title_ratings",
        "title_principals",
        "name_basics",
        "title_akas",
        "title_crew",
        "title_episode",
        "title_names",
    ]
    assert rows["title_principals"] == {
        "ingest_id": ingest_id,
        "imdb_file": "title.principals",
        "lookup_table": "title_principals",
        "key_columns": ["tconst", "ordering"],
        "rows_read": 4,
        "rows_written": 4,
        "rows_rejected": 0,
        "null_keys": 0,
        "duplicate_keys": 0,
        "converted_in": ingest_id,
    }
    assert rows["title_ratings"] == {
        "ingest_id": ingest_id,
        "imdb_file": "title.ratings",
        "lookup_table": "title_ratings",
        "key_columns": ["tconst"],
        "rows_read": 3,
        "rows_written": 3,
        "rows_rejected": 0,
        "null_keys": 0,
        "duplicate_keys": 1,
        "converted_in": ingest_id,
    }
    assert rows["title_akas"]["key_columns"] == ["tconst", "ordering"]
    assert all(
        rows[t]["rows_read"] == 0
        and rows[t]["duplicate_keys"] == 0
        and rows[t]["converted_in"] is None  # nothing converted: no rows to keep marts of
        for t in ("title_akas", "title_crew", "title_episode")
    )
    assert rows["title_names"] == {
        "ingest_id": ingest_id,
        "imdb_file": "name.basics",
        "lookup_table": "title_names",
        "key_columns": ["tconst"],
        "rows_read": 2,
        "rows_written": 2,
        "rows_rejected": 0,
        "null_keys": 0,
        "duplicate_keys": 0,
        "converted_in": ingest_id,
    }
    for report in reports:  # nothing lost: every row read is written or rejected
        assert report.rows_read == report.rows_written + report.rows_rejected


def test_a_duplicate_rating_the_later_line_wins_in_the_lookup_the_feed_keeps_both(tmp_path, caplog):
    ratings = [
        "tt0000001\t9.3\t2000",
        "tt0000002\t5.0\t12",
        "tt0000017\t7.0\t600",
        "tt0000002\t6.0\t30",
    ]  # tt2 again, later: 6.0 from 30 votes wins
    files = imdb_folder(tmp_path / "src", {"title.ratings": ratings})
    caplog.set_level(logging.INFO)
    _, folder, reports = land(files, tmp_path / "lake", progress=False)
    messages = caplog.messages
    report = next(r for r in reports if r.table == "title_ratings")
    assert (report.rows_read, report.rows_written, report.keys["duplicate_keys"]) == (4, 4, 1)
    assert any(m.endswith("1 duplicate keys (tconst; the later line wins)") for m in messages)
    lookup = ds.dataset(folder / "title_ratings", partitioning="hive").to_table()
    assert sorted(
        (r["tconst"], str(r["average_rating"]), r["num_votes"]) for r in lookup.to_pylist()
    ) == [("tt0000001", "9.3", 2000), ("tt0000002", "6.0", 30), ("tt0000017", "7.0", 600)]
    feed = pq.read_table(folder / "ratings_feed" / "part-0.parquet")
    assert feed.column("tconst").to_pylist() == ["tt0000001", "tt0000002", "tt0000017", "tt0000002"]


def test_the_stream_and_the_reference_engine_follow_the_same_rule(tmp_path):
    """A tconst twice in title.ratings: DuckDB over the raw files and the stream's fold over
    the ingest's feed give the same count, average and top list (the later line wins)."""
    from streaming.process import Rules, RunningState, fold
    from tests.conftest import SAMPLES
    from tests.reference.duckdb_reference import compute

    source = tmp_path / "src"
    source.mkdir()
    real = SAMPLES / "real-2019-top25-repaired"
    for path in real.iterdir():
        (source / path.name).write_bytes(path.read_bytes())
    lines = (real / "title.ratings.tsv").read_text().splitlines()
    dark_knight = next(line for line in lines if line.startswith("tt0468569"))
    lines.append(dark_knight.split("\t")[0] + "\t9.9\t3000000")  # later: now the number one
    (source / "title.ratings.tsv").write_text("\n".join(lines) + "\n")
    reference = compute(source)
    assert (
        reference["ratings_processed"] == 25 and reference["top_movies"][0]["tconst"] == "tt0468569"
    )

    _, folder, reports = land(
        {
            n: source / f"{n}.tsv"
            for n in ("title.basics", "title.ratings", "title.principals", "name.basics")
        },
        tmp_path / "lake",
        progress=False,
    )
    assert next(r for r in reports if r.table == "title_ratings").keys["duplicate_keys"] == 1
    basics = ds.dataset(folder / "title_basics", partitioning="hive").to_table()
    movies = {r["tconst"] for r in basics.to_pylist() if r["title_type"] == "movie"}
    feed = pq.read_table(folder / "ratings_feed" / "part-0.parquet").to_pylist()
    records = [(r["tconst"], int(r["average_rating"] * 10), r["num_votes"], False) for r in feed]
    state, _ = fold(RunningState(), records, Rules(movies, 500, 10))
    assert state.ratings_processed == reference["ratings_processed"]
    assert state.average_number_of_votes == pytest.approx(
        reference["average_number_of_votes"], rel=1e-12
    )
    assert [r.tconst for r in state.top] == [m["tconst"] for m in reference["top_movies"]]


def test_keys_out_of_order_are_counted_again_from_the_lookup(tmp_path):
    principals = [
        f"tt{t:07d}\t{o}\tnm0000001\tactor\t\\N\t\\N" for t in (17, 1, 33, 1, 17) for o in (1, 2)
    ]  # tt17 and tt1 come back
    names = [f"nm{i:07d}\tN{i}\t\\N\t\\N\tactor\ttt0000001" for i in (3, 1, 2, 1)]
    keys = {}
    for name, rows in (("title.principals", principals), ("name.basics", names)):
        files = imdb_folder(tmp_path / name, {name: rows})
        with pytest.raises(LookupKeyError) as stopped:
            land(files, tmp_path / name / "lake", progress=False)
        keys[stopped.value.report.table] = stopped.value.report.keys
    assert keys["title_principals"] == {
        "columns": ["tconst", "ordering"],
        "null_keys": 0,
        "duplicate_keys": 4,
        "in_order": False,
    }
    assert keys["name_basics"] == {
        "columns": ["nconst"],
        "null_keys": 0,
        "duplicate_keys": 1,
        "in_order": False,
    }


def test_duplicates_across_parts_and_batches(tmp_path):
    src = tmp_path / "src"
    files = imdb_folder(src)
    header = "\t".join(BY_NAME["title.basics"].header)
    rows = [f"tt{i:07d}\tmovie\tT\tT\t0\t2000\t\\N\t90\tDrama" for i in range(1, 3001)]
    rows.insert(1500, rows[1499])  # tt1500 twice: the end of part aa, the start of part ab
    files["title.basics"].unlink()
    (src / "title.basics.tsv.part-aa").write_text("\n".join([header, *rows[:1500]]) + "\n")
    (src / "title.basics.tsv.part-ab").write_text("\n".join(rows[1500:]) + "\n")
    files["title.basics"] = TableFiles(
        (src / "title.basics.tsv.part-aa", src / "title.basics.tsv.part-ab"), root=src
    )
    with pytest.raises(LookupKeyError) as stopped:
        land(files, tmp_path / "lake", progress=False)
    report = stopped.value.report
    assert report.file == "title.basics.tsv.part-aa .. title.basics.tsv.part-ab (2 parts)"
    assert report.parts == ["title.basics.tsv.part-aa", "title.basics.tsv.part-ab"]
    assert (report.rows_written, report.keys["duplicate_keys"], report.keys["in_order"]) == (
        3001,
        1,
        True,
    )


def test_a_required_table_whose_rows_are_all_rejected_has_no_rows(tmp_path):
    files = imdb_folder(tmp_path / "src", {"title.ratings": ["tt1\tx\t1", "tt2\t5.0"]})
    files["title.ratings"].write_bytes(
        gzip.compress(
            (
                "\t".join(BY_NAME["title.ratings"].header) + "\ntt0000001\tx\t1\ntt0000002\t5.0\n"
            ).encode()
        )
    )
    with pytest.raises(NoRowsError) as error:
        land(files, tmp_path / "lake", max_reject_share=1.0, progress=False)
    assert str(error.value) == (
        f"title.ratings: no rows in {files['title.ratings']} (all 2 rejected, see the rejects); "
        "title.ratings must have rows: fetch the file again"
    )


def test_a_refresh_converts_only_the_files_that_changed(tmp_path, caplog):
    """The files the published ingest read (the same files: a hard link counts, a copy does
    not) are linked from it; the changed ones are converted; the lookups are those of a fresh
    ingest of the new files."""
    lake = tmp_path / "lake"
    files = imdb_folder(tmp_path / "day1")
    ingest_id, folder, _ = land(files, lake, progress=False)
    manifest = json.loads((folder / "_manifest.json").read_text())
    (folder / "_manifest.json").write_text(json.dumps({**manifest, "max_reject_share": 0.001}))
    first = publish(lake, ingest_id, folder)

    day2 = tmp_path / "day2"
    day2.mkdir()
    for name in ("title.principals", "name.basics"):  # the same files under a new folder
        (day2 / files[name].name).hardlink_to(files[name])
    rated = [*ROWS["title.ratings"], "tt0000003\t8.0\t700"]
    new = imdb_folder(tmp_path / "new", {"title.ratings": rated})
    for name in ("title.ratings", "title.basics"):  # a copy is another file, even if equal
        (day2 / new[name].name).write_bytes(new[name].read_bytes())
    caplog.set_level(logging.INFO)
    second_id, second, reports = land(
        {n: day2 / files[n].name for n in files}, lake, progress=False, previous=first
    )
    messages = caplog.messages
    reused = {r.table: r.reused_from for r in reports}
    assert reused == {
        "title_principals": ingest_id,
        "name_basics": ingest_id,
        "title_ratings": None,
        "title_basics": None,
    }
    assert any(m.startswith("ingest: title.principals: unchanged since ingest") for m in messages)
    old_part = next((first / "title_principals").rglob("*.parquet"))
    new_part = second / old_part.relative_to(first)
    assert new_part.stat().st_ino == old_part.stat().st_ino  # linked, not copied
    assert (second / "title_names").is_dir()
    assert (second / "_rejects" / "name_basics.parquet").exists()
    fresh_id, fresh, _ = land(
        {n: day2 / files[n].name for n in files}, tmp_path / "fresh", progress=False
    )

    def rows(folder, table):
        key = "nconst" if table == "name_basics" else "tconst"
        return ds.dataset(folder / table, partitioning="hive").to_table().sort_by(key)

    for table in (
        "title_principals",
        "name_basics",
        "title_names",
        "title_ratings",
        "title_basics",
    ):
        assert rows(second, table) == rows(fresh, table), table
    assert pq.read_table(second / "ratings_feed").num_rows == 4
    checks = pq.read_table(second / "_checks" / "part-0.parquet").to_pylist()
    assert {r["lookup_table"]: r["rows_written"] for r in checks}["title_principals"] == 2
    assert {r["lookup_table"]: r["rows_written"] for r in checks}["title_names"] == 2
    # where each lookup's rows were converted: what lets dbt keep the marts built from them
    assert {r["lookup_table"]: r["converted_in"] for r in checks if r["rows_written"]} == {
        "title_principals": ingest_id,
        "name_basics": ingest_id,
        "title_names": ingest_id,
        "title_ratings": second_id,
        "title_basics": second_id,
    }
    manifest = json.loads((second / "_manifest.json").read_text())
    (second / "_manifest.json").write_text(json.dumps({**manifest, "max_reject_share": 0.001}))
    second = publish(lake, second_id, second)
    third_id, third, _ = land(
        {n: day2 / files[n].name for n in files}, lake, progress=False, previous=second
    )
    checks = pq.read_table(third / "_checks" / "part-0.parquet").to_pylist()
    assert {r["lookup_table"]: r["converted_in"] for r in checks if r["rows_written"]} == {
        t: ingest_id for t in ("title_principals", "name_basics", "title_names")
    } | {"title_ratings": second_id, "title_basics": second_id}  # reused twice: still the first
    assert third_id != second_id
    assert current_ingest(lake) == second_id and fresh_id


def test_each_rating_lands_in_the_partition_of_its_vote_range():
    votes = pa.array([0, 99, 100, 499, 500, 1_234, 9_999_999, -5], pa.int32())
    assert vote_floor(votes).to_pylist() == [0, 0, 100, 100, 500, 1_000, 1_000_000, 0]
