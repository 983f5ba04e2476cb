"""ingest.lake: partitioned files of a sensible size in bounded memory, the manifest, the
quarantine seen through land(), the reject limit, and the .partial folders."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from ingest.convert import CorruptFileError, HeaderError
from ingest.lake import (
    Origin,
    PartitionedWriter,
    RejectLimitError,
    clean_stale,
    current_ingest,
    first_element,
    land,
    publish,
)
from ingest.schemas import ALL_FILES, BY_NAME

ROWS = {
    "title.basics": [
        "tt0000001\tmovie\tA\tA\t0\t1994\t\\N\t142\tDrama",
        "tt0000002\tshort\tB\tB\t0\t\\N\t\\N\t\\N\t\\N",
        "tt0000017\tmovie\tC\tC\t0\t1994\t\\N\t90\tComedy,Drama",
    ],
    "title.ratings": ["tt0000001\t9.3\t2000", "tt0000002\t5.0\t12", "tt0000017\t7.0\t600"],
    "title.principals": [
        "tt0000001\t1\tnm0000001\tactor\t\\N\t[\"Andy\"]",
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


def test_land_writes_every_table_and_a_manifest(tmp_path):
    files = imdb_folder(tmp_path / "src")
    origins = {"title.ratings": Origin("https://datasets.imdbws.com/title.ratings.tsv.gz",
                                       '"abc123"', "Mon, 01 Jun 2026 00:00:00 GMT")}
    messages = []
    ingest_id, folder, _ = land(files, tmp_path / "lake", sources=origins,
                                      log=messages.append, progress=False)
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


def test_bad_rows_are_quarantined_and_counted_per_file(tmp_path):
    basics = [f"tt{i:07d}\tmovie\tT{i}\tT{i}\t0\t2000\t\\N\t90\tDrama" for i in range(1, 2001)]
    basics[99] = "tt0000100\tmovie\tbroken"  # line 101: three columns
    basics[499] = "tt0000500\tmovie\tT\tT\t0\tyear\t\\N\t90\tDrama"  # line 501: bad startYear
    files = imdb_folder(tmp_path / "src", {"title.basics": basics})
    messages = []
    _, folder, reports = land(files, tmp_path / "lake", max_reject_share=0.01,
                              log=messages.append, progress=False)
    report = next(r for r in reports if r.file.startswith("title.basics"))
    assert (report.rows_read, report.rows_written, report.rows_rejected) == (2000, 1998, 2)
    assert any(m.startswith("ingest: title.basics: 1,998 rows, 2 rejected") for m in messages)
    rejects = pq.read_table(folder / "_rejects" / "title_basics.parquet").to_pylist()
    assert [(r["file"], r["line"]) for r in rejects] == [
        ("title.basics.tsv.gz", 101), ("title.basics.tsv.gz", 501),
    ]
    assert rejects[0]["raw_line"] == "tt0000100\tmovie\tbroken"
    assert rejects[0]["reason"] == "expected 9 columns, found 3"
    assert rejects[1]["reason"] == "startYear is not a valid int: 'year'"
    kept = ds.dataset(folder / "title_basics", partitioning="hive").to_table()
    assert kept.num_rows == 1998 and "tt0000500" not in kept.column("tconst").to_pylist()


def test_rejects_above_the_share_stop_the_run_with_one_line(tmp_path):
    ratings = [f"tt{i:07d}\t5.0\t{i}" for i in range(1, 1001)]
    ratings[10] = "tt0000011\t5.0"  # 2 of 1000 = 0.2% > 0.1%
    ratings[20] = "tt0000021\tfive\t21"
    files = imdb_folder(tmp_path / "src", {"title.ratings": ratings})
    lake = tmp_path / "lake"
    with pytest.raises(RejectLimitError) as error:
        land(files, lake, log=lambda m: None, progress=False)
    message = str(error.value)
    assert "\n" not in message and "title.ratings.tsv.gz" in message
    assert "2 of 1000 rows rejected" in message and "--max-reject-share" in message
    assert "first at line 12" in message
    assert not any(lake.iterdir())  # the unpublished folder is gone
    _, _, reports = land(files, lake, max_reject_share=0.005, log=lambda m: None, progress=False)
    assert next(r for r in reports if r.table == "title_ratings").rows_rejected == 2


def test_a_bad_header_stops_before_anything_is_published(tmp_path):
    files = imdb_folder(tmp_path / "src")
    files["title.crew"] = tmp_path / "src" / "title.crew.tsv"
    files["title.crew"].write_text("tconst\tdirector\twriter\ntt0000001\t\\N\t\\N\n")
    with pytest.raises(HeaderError, match="title.crew.tsv: header does not match title.crew"):
        land(files, tmp_path / "lake", log=lambda m: None, progress=False)
    assert not any((tmp_path / "lake").iterdir())


def test_optional_files_absent_or_present(tmp_path):
    extra = {
        "title.akas": ["tt0000001\t1\tA\tUS\ten\timdbDisplay\t\\N\t0"],
        "title.crew": ["tt0000001\tnm0000002\t\\N"],
        "title.episode": ["tt0000002\ttt0000001\t1\t2"],
    }
    files = imdb_folder(tmp_path / "src", extra, gz=False)
    _, folder, reports = land(files, tmp_path / "lake", log=lambda m: None, progress=False)
    assert {r.table for r in reports} == {s.table for s in ALL_FILES}
    akas = ds.dataset(folder / "title_akas", partitioning="hive").to_table().to_pylist()
    assert akas[0]["tconst_bucket"] == 1 and akas[0]["types"] == ["imdbDisplay"]
    assert pq.read_table(folder / "title_crew").column("directors").to_pylist() == [["nm0000002"]]


def test_missing_required_file_is_named_in_one_line(tmp_path):
    files = imdb_folder(tmp_path / "src", omit=("title.principals",))
    with pytest.raises(Exception) as error:
        land(files, tmp_path / "lake", log=lambda m: None, progress=False)
    assert str(error.value) == "missing required IMDb file(s): title.principals"


def test_writer_fills_row_groups_splits_files_and_bounds_memory(tmp_path):
    schema = pa.schema([("k", pa.int32()), ("v", pa.string())])
    writer = PartitionedWriter(tmp_path / "t", schema, "k", {"compression": "zstd"},
                               row_group_rows=1000, max_rows_per_file=2500, budget=200_000)
    held = []
    for start in range(0, 12_000, 500):
        keys = [(start + i) % 3 for i in range(500)]
        writer.write(pa.record_batch([pa.array(keys, pa.int32()),
                                      pa.array([f"value {start + i}" for i in range(500)])],
                                     schema=schema))
        held.append(writer._held)
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
        groups = [pq.ParquetFile(f).metadata.row_group(i).num_rows
                  for f in files for i in range(pq.ParquetFile(f).metadata.num_row_groups)]
        assert max(groups) <= 1000 and min(groups) >= 100  # no tiny row groups
        assert "k" not in pq.read_schema(files[0]).names  # the partition is in the path only


def test_writer_budget_spills_the_largest_partition_first(tmp_path):
    schema = pa.schema([("k", pa.int32()), ("v", pa.string())])
    writer = PartitionedWriter(tmp_path / "t", schema, "k", {}, row_group_rows=10**6,
                               budget=50_000)
    for _ in range(20):
        writer.write(pa.record_batch([pa.array([0] * 900 + [1] * 100, pa.int32()),
                                      pa.array(["x" * 20] * 1000)], schema=schema))
        assert writer._held <= 50_000
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


def test_stale_partial_folders_are_removed_live_ones_kept(tmp_path):
    lake = tmp_path / "lake"
    dead = lake / ".20260101T000000Z-dead00.partial"
    alive = lake / ".20260101T000000Z-live00.partial"
    orphan = lake / ".20260101T000000Z-none00.partial"
    for folder in (dead, alive, orphan):
        folder.mkdir(parents=True)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (dead / ".owner").write_text(gone + "\n")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (alive / ".owner").write_text(f"{sleeper.pid}\n")
        messages = []
        removed = clean_stale(lake, messages.append)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert sorted(removed) == sorted([dead, orphan])
    assert alive.exists() and not dead.exists() and not orphan.exists()
    assert len(messages) == 2 and all("did not finish" in m for m in messages)


def test_a_corrupt_file_stops_the_ingest_and_the_other_conversion(tmp_path):
    principals = [f"tt{i // 9 + 1:07d}\t{i % 9 + 1}\tnm{i % 5000 + 1:07d}\tactor\t\\N\t\\N"
                  for i in range(300_000)]
    files = imdb_folder(tmp_path / "src", {"title.principals": principals})
    data = files["title.ratings"].read_bytes()
    body = gzip.decompress(data) + b"".join(f"tt{i:07d}\t5.0\t{i}\n".encode()
                                            for i in range(100, 200_000))
    files["title.ratings"].write_bytes(gzip.compress(body)[:-5000])  # cut short
    with pytest.raises(CorruptFileError, match="title.ratings.tsv.gz"):
        land(files, tmp_path / "lake", log=lambda m: None, progress=False, workers=2)
    assert not any((tmp_path / "lake").iterdir())
