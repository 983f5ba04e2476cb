"""Land the IMDb files as partitioned Parquet lookup tables, one folder per ingest.

Layout under ``<home>/lake``::

    <ingest_id>/
      title_ratings/votes_floor=500/part-0.parquet    ratings by numVotes range
      title_basics/start_year=1994/...                 titles by start year
      name_basics/primary_profession=actor/...         people by first profession
      title_principals/tconst_bucket=7/...             credits by tconst bucket
      title_akas/tconst_bucket=7/...                   alternative titles by tconst bucket
      title_crew/, title_episode/                      unpartitioned (optional files)
      ratings_feed/part-0.parquet                      title.ratings in file order: the stream's input
      _rejects/<table>.parquet                         quarantined rows: file, line, raw line, reason
      _manifest.json                                   what was read, from where, how long
    CURRENT                                            the id of the published ingest

A new ingest is written to ``.<id>.partial`` and renamed when whole; ``CURRENT`` moves
last. A failed ingest leaves the previous one published.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ingest.convert import REJECTS_SCHEMA, FileStats, InputError, arrow_schema, read_file
from ingest.schemas import ALL_FILES, TITLE_RATINGS, ImdbFile

# Lower bounds of the numVotes ranges the ratings are partitioned by: `votes_floor >= 500`
# keeps every rating with numVotes >= 500 and skips the long tail of small titles.
VOTE_FLOORS = (0, 100, 500, 1_000, 10_000, 100_000, 1_000_000)
TCONST_BUCKETS = 16  # principals and akas: bucket = numeric part of tconst % 16

PARTITION_COLUMNS = {
    "title_ratings": ("votes_floor", pa.int32()),
    "title_basics": ("start_year", None),  # an existing column
    "name_basics": ("primary_profession", pa.string()),
    "title_principals": ("tconst_bucket", pa.int32()),
    "title_akas": ("tconst_bucket", pa.int32()),
}
FEED_ROW_GROUP = 10_000  # rows per row group of the stream feed: a micro-batch reads one or two
MAX_ROWS_PER_FILE = 4_000_000
DEFAULT_MAX_REJECT_SHARE = 0.001


class RejectLimitError(InputError):
    pass


@dataclass
class FileReport:
    file: str
    table: str
    source: str
    size_bytes: int
    rows_read: int
    rows_written: int
    rows_rejected: int
    seconds: float


def vote_floor(num_votes: pa.Array) -> pa.Array:
    floors = np.asarray(VOTE_FLOORS)
    votes = num_votes.to_numpy(zero_copy_only=False)
    return pa.array(floors[np.searchsorted(floors, votes, side="right") - 1], pa.int32())


def tconst_bucket(tconst: pa.Array) -> pa.Array:
    """Numeric part of the id modulo TCONST_BUCKETS (SQL: cast(substr(tconst, 3) as int) % 16)."""
    digits = pc.cast(pc.utf8_slice_codeunits(tconst, 2), pa.int64()).to_numpy()
    return pa.array(digits % TCONST_BUCKETS, pa.int32())


def add_partition_column(batch: pa.RecordBatch, table: str) -> pa.RecordBatch:
    column, _ = PARTITION_COLUMNS.get(table, (None, None))
    if column == "votes_floor":
        return batch.append_column("votes_floor", vote_floor(batch.column("num_votes")))
    if column == "tconst_bucket":
        return batch.append_column("tconst_bucket", tconst_bucket(batch.column("tconst")))
    if column == "primary_profession":
        professions = batch.column("primary_professions")
        has_one = pc.fill_null(pc.greater(pc.list_value_length(professions), 0), False)
        first = pc.list_element(pc.if_else(has_one, professions, pa.scalar(None, professions.type)), 0)
        first = pc.if_else(pc.equal(first, ""), pa.scalar(None, pa.string()), first)  # no `col=` dirs
        return batch.append_column("primary_profession", first)
    return batch


def partitioned_schema(spec: ImdbFile) -> pa.Schema:
    schema = arrow_schema(spec)
    column, arrow_type = PARTITION_COLUMNS.get(spec.table, (None, None))
    if column and arrow_type is not None:
        schema = schema.append(pa.field(column, arrow_type))
    return schema


def new_ingest_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def current_ingest(lake: Path) -> str | None:
    pointer = lake / "CURRENT"
    return pointer.read_text().strip() if pointer.exists() else None


def read_manifest(lake: Path, ingest_id: str) -> dict:
    return json.loads((lake / ingest_id / "_manifest.json").read_text())


def convert_file(
    path: Path, spec: ImdbFile, out: Path, max_reject_share: float, source: str
) -> FileReport:
    """Convert one file into ``out/<table>`` (partitioned) and ``out/_rejects``."""
    started = time.monotonic()
    stats = FileStats(file=path.name)
    rejects_path = out / "_rejects" / f"{spec.table}.parquet"
    rejects_path.parent.mkdir(parents=True, exist_ok=True)
    rejects_writer = pq.ParquetWriter(rejects_path, REJECTS_SCHEMA)
    schema = partitioned_schema(spec)

    def batches():
        for batch in read_file(path, spec, stats):
            if stats.rejects:
                rejects_writer.write_table(pa.Table.from_pylist(stats.rejects, REJECTS_SCHEMA))
                stats.rejects.clear()
            yield add_partition_column(batch, spec.table)

    try:
        if spec is TITLE_RATINGS:
            _write_ratings(batches(), schema, out)
        else:
            _write_dataset(batches(), schema, out / spec.table, spec.table)
        if stats.rejects:
            rejects_writer.write_table(pa.Table.from_pylist(stats.rejects, REJECTS_SCHEMA))
            stats.rejects.clear()
    finally:
        rejects_writer.close()

    if stats.rows_read != stats.rows_written + stats.rows_rejected:
        raise InputError(
            f"{path}: {stats.rows_read} rows read but {stats.rows_written} written and "
            f"{stats.rows_rejected} rejected; this is a bug, please report it"
        )
    if stats.rows_read and stats.rows_rejected / stats.rows_read > max_reject_share:
        first = pq.read_table(rejects_path).slice(0, 1).to_pylist()[0]
        raise RejectLimitError(
            f"{path}: {stats.rows_rejected} of {stats.rows_read} rows rejected "
            f"({stats.rows_rejected / stats.rows_read:.2%} > --max-reject-share "
            f"{max_reject_share:.2%}); first at line {first['line']}: {first['reason']}"
        )
    return FileReport(
        file=path.name,
        table=spec.table,
        source=source,
        size_bytes=path.stat().st_size,
        rows_read=stats.rows_read,
        rows_written=stats.rows_written,
        rows_rejected=stats.rows_rejected,
        seconds=round(time.monotonic() - started, 3),
    )


def _write_dataset(batches, schema: pa.Schema, folder: Path, table: str) -> None:
    column, _ = PARTITION_COLUMNS.get(table, (None, None))
    partitioning = (
        ds.partitioning(pa.schema([schema.field(column)]), flavor="hive") if column else None
    )
    ds.write_dataset(
        pa.RecordBatchReader.from_batches(schema, batches),
        folder,
        format="parquet",
        partitioning=partitioning,
        basename_template="part-{i}.parquet",
        max_rows_per_file=MAX_ROWS_PER_FILE,
        max_rows_per_group=1_000_000,
        existing_data_behavior="error",
        create_dir=True,
    )
    folder.mkdir(parents=True, exist_ok=True)  # an empty file still gets its (empty) table


def _write_ratings(batches, schema: pa.Schema, out: Path) -> None:
    """Ratings are small (1.7M rows): keep them whole, write the lookup and the stream feed."""
    table = pa.Table.from_batches(list(batches), schema=schema)
    _write_dataset(table.to_batches(), schema, out / "title_ratings", "title_ratings")
    feed = out / "ratings_feed"
    feed.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        table.drop_columns(["votes_floor"]), feed / "part-0.parquet", row_group_size=FEED_ROW_GROUP
    )


def write_empty(spec: ImdbFile, out: Path) -> None:
    """An optional file that is absent becomes an empty table, so every source exists."""
    schema = partitioned_schema(spec)
    _write_dataset(iter(()), schema, out / spec.table, spec.table)
    rejects = out / "_rejects" / f"{spec.table}.parquet"
    rejects.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(REJECTS_SCHEMA.empty_table(), rejects)


def land(
    files: dict[str, Path],
    lake: Path,
    *,
    sources: dict[str, str] | None = None,
    max_reject_share: float = DEFAULT_MAX_REJECT_SHARE,
    workers: int = 2,
    log=None,
) -> tuple[str, Path, list[FileReport]]:
    """Convert ``files`` (IMDb name -> local path) into a new, unpublished ingest folder.

    Returns (ingest id, folder, reports). The caller finishes the folder (Spark-built
    lookups) and then calls :func:`publish`.
    """
    log = log or (lambda message: print(message, file=sys.stderr))
    missing = [f.name for f in ALL_FILES if f.required and f.name not in files]
    if missing:
        raise InputError(f"missing required IMDb file(s): {', '.join(missing)}")
    lake.mkdir(parents=True, exist_ok=True)
    ingest_id = new_ingest_id()
    staging = lake / f".{ingest_id}.partial"
    staging.mkdir()
    sources = sources or {}
    try:
        present = [f for f in ALL_FILES if f.name in files]
        present.sort(key=lambda f: files[f.name].stat().st_size, reverse=True)
        for spec in ALL_FILES:
            if spec.name not in files:
                write_empty(spec, staging)
                log(f"ingest: {spec.name}: absent (optional), empty table")

        def one(spec: ImdbFile) -> FileReport:
            report = convert_file(
                files[spec.name], spec, staging, max_reject_share,
                sources.get(spec.name, str(files[spec.name])),
            )
            log(
                f"ingest: {spec.name}: {report.rows_written:,} rows, "
                f"{report.rows_rejected:,} rejected, {report.seconds:.1f}s"
            )
            return report

        with ThreadPoolExecutor(max_workers=workers) as pool:
            reports = list(pool.map(one, present))
        manifest = {
            "ingest_id": ingest_id,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": [asdict(r) for r in reports],
            "partitioning": {t: c for t, (c, _) in PARTITION_COLUMNS.items()},
            "vote_floors": VOTE_FLOORS,
            "tconst_buckets": TCONST_BUCKETS,
        }
        (staging / "_manifest.json").write_text(json.dumps(manifest, indent=2))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ingest_id, staging, reports


def publish(lake: Path, ingest_id: str, staging: Path, keep: int = 2, before_current=None) -> Path:
    """Make ``staging`` the current ingest atomically; keep the ``keep`` newest ingests.

    ``before_current(folder)`` runs after the folder has its final name and before
    ``CURRENT`` names it (the tables are re-pointed there), so whoever follows ``CURRENT``
    finds the tables ready.
    """
    final = lake / ingest_id
    os.replace(staging, final)
    if before_current is not None:
        before_current(final)
    pointer = lake / "CURRENT.tmp"
    pointer.write_text(ingest_id + "\n")
    os.replace(pointer, lake / "CURRENT")
    done = sorted(p for p in lake.iterdir() if p.is_dir() and not p.name.startswith("."))
    for old in done[:-keep]:
        if old.name != ingest_id:
            shutil.rmtree(old, ignore_errors=True)
    return final
