"""Land the IMDb files as partitioned Parquet lookup tables, one folder per ingest.

Layout under ``<home>/lake``::

    <ingest_id>/
      title_ratings/votes_floor=500/part-0.parquet    ratings by numVotes range
      title_basics/start_year=1994/part-0.parquet      titles by start year
      name_basics/primary_profession=actor/...         people by first profession
      title_principals/tconst_bucket=7/...             credits by tconst bucket
      title_akas/tconst_bucket=7/...                   alternative titles by tconst bucket
      title_names/tconst_bucket=7/part-0.parquet       per title, the people known for it
      title_crew/, title_episode/                      unpartitioned (optional files)
      ratings_feed/part-0.parquet                      title.ratings in file order: the stream's input
      _rejects/<table>.parquet                         quarantined rows: file, line, raw line, reason
      _checks/part-0.parquet                           per lookup: rows, null and duplicate keys
      _manifest.json                                   what was read, from where, how long
    CURRENT                                            the id of the published ingest

A new ingest is written to ``.<id>.partial`` and renamed when whole; ``CURRENT`` moves
last. A failed (or killed) ingest leaves the previous one published; the next ingest removes
the ``.partial`` folders whose process is gone. Nothing reads a ``.partial`` folder.

Files and memory: every partition gets files of at most ``MAX_ROWS_PER_FILE`` rows in row
groups of up to ``ROW_GROUP_ROWS`` rows (zstd). Rows are held back per partition to fill row
groups, at most ``BUFFER_BYTES`` per table being written; past that the largest partition's
rows are written out as a (smaller) row group. Files are converted ``workers`` at a time,
largest first, each by one thread (parse, check, write): both cores stay busy.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import threading
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from imdb_pipeline import storage
from imdb_pipeline.processes import pid_exists
from ingest.convert import (
    REJECTS_SCHEMA,
    FileStats,
    InputError,
    NoRowsError,
    TableFiles,
    check_header,
    read_file,
)
from ingest.keys import KEY_COLUMNS, TITLE_NAMES_KEY, KeyCounter, KeyCounts, latest_rows
from ingest.names import TCONST_BUCKETS, KnownForSpill, split_by_bucket, tconst_bucket
from ingest.progress import FileProgress
from ingest.schemas import (
    ALL_FILES,
    INGEST_CHECKS,
    NAME_BASICS,
    PARTITION_COLUMNS,
    RATINGS_FEED,
    TITLE_AKAS,
    TITLE_RATINGS,
    ImdbFile,
)

logger = logging.getLogger(__name__)

# Lower bounds of the numVotes ranges the ratings are partitioned by: `votes_floor >= 500`
# keeps every rating with numVotes >= 500 and skips the long tail of small titles.
VOTE_FLOORS = (0, 100, 500, 1_000, 10_000, 100_000, 1_000_000)

FEED_ROW_GROUP = 10_000  # rows per row group of the stream feed: a micro-batch reads one or two
MAX_ROWS_PER_FILE = 8_000_000  # one file per partition at IMDb's size (principals: 6.2M a bucket)
ROW_GROUP_ROWS = 1_000_000
BUFFER_BYTES = 256 << 20  # Arrow bytes held back per table to fill row groups
DEFAULT_MAX_REJECT_SHARE = 0.001
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
# 2: per-file "keys", "skipped", _checks/; 3: per-file "identity" (an older ingest is not reused)
MANIFEST_VERSION = 3
CHECKS_SCHEMA = INGEST_CHECKS.arrow_schema()
# Columns with (nearly) one value per row: a dictionary page would only be thrown away.
_NO_DICTIONARY = {
    "tconst",
    "nconst",
    "parent_tconst",
    "primary_title",
    "original_title",
    "title",
    "primary_name",
    "known_for_titles",
    "directors",
    "writers",
}
# Min/max statistics (for row-group pruning) on ids and numbers only: free text costs more
# to compare than any query gains from it.
_STATISTICS_KINDS = {"int", "rating", "bool"}
_STATISTICS_NAMES = {"tconst", "nconst", "parent_tconst"}


class RejectLimitError(InputError):
    """A file with a larger share of rejected rows than ``--max-reject-share`` (default
    0.1%); the message gives the share, the first reject and what to do."""


class LookupKeyError(InputError):
    """A lookup's key repeated or incomplete (title.ratings may repeat a tconst: the later
    line wins; no other file may repeat its key). ``report``: the file's counts."""

    def __init__(self, message: str, report: FileReport):
        super().__init__(message)
        self.report = report


class _Stopped(Exception):
    """A conversion ended early because another file of the same ingest failed."""


@dataclass(frozen=True)
class Origin:
    """Where a file came from, for the manifest: URL (or local path), ETag, Last-Modified."""

    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class FileReport:
    """What the manifest records of one converted (or reused) file: where it came from, its
    size, rows read, written and rejected, seconds taken, what was written, its key counts."""

    file: str
    table: str
    source: str  # the URL it was fetched from, or the local path of a folder source
    etag: str | None
    last_modified: str | None
    size_bytes: int
    text_bytes: int
    rows_read: int
    rows_written: int
    rows_rejected: int
    seconds: float
    output: dict = field(default_factory=dict)  # files, partitions, row_groups written
    keys: dict = field(default_factory=dict)  # KeyCounts.as_dict(): columns, null/duplicate keys
    parts: list[str] = field(default_factory=list)  # the parts read, in order (split files)
    identity: list = field(default_factory=list)  # TableFiles.identity() of the file(s) read
    reused_from: str | None = None  # the ingest whose lookup was linked, the file unchanged
    # the ingest that converted the rows of this lookup: this one, or for a reused file the
    # one it was first converted in (None from a manifest older than this field)
    converted_in: str | None = None

    @property
    def mb_per_s(self) -> float:
        """Text converted per second, in MB (10^6 bytes of uncompressed text); 0.0 untimed."""
        return self.text_bytes / 1e6 / self.seconds if self.seconds else 0.0


def vote_floor(num_votes: pa.Array) -> pa.Array:
    """Each rating's ``votes_floor`` partition (int32): the largest of :data:`VOTE_FLOORS` at
    or below its ``num_votes`` (1234 -> 1000); the first floor (0) for a negative count,
    which the ingest's integer rule accepts. No nulls (numVotes may not be null)."""
    floors = np.asarray(VOTE_FLOORS)
    votes = num_votes.to_numpy(zero_copy_only=False)
    index = np.maximum(np.searchsorted(floors, votes, side="right") - 1, 0)
    return pa.array(floors[index], pa.int32())


def add_partition_column(batch: pa.RecordBatch, table: str) -> pa.RecordBatch:
    """``batch`` with the column ``table`` is partitioned by appended (``PARTITION_COLUMNS``
    of ingest.schemas): ``votes_floor``, ``tconst_bucket`` or ``primary_profession`` (the
    first profession); unchanged for title_basics (its own ``start_year``) and the tables
    that are not partitioned."""
    column, _ = PARTITION_COLUMNS.get(table, (None, None))
    if column == "votes_floor":
        return batch.append_column("votes_floor", vote_floor(batch.column("num_votes")))
    if column == "tconst_bucket":
        return batch.append_column("tconst_bucket", tconst_bucket(batch.column("tconst")))
    if column == "primary_profession":
        return batch.append_column(
            "primary_profession", first_element(batch.column("primary_professions"))
        )
    return batch


def first_element(lists: pa.ListArray) -> pa.Array:
    """The first string of each list; null for a null or empty list or an empty first string
    (a partition value must not be empty: ``col=`` is no directory name). One ``take`` at the
    list's own offsets: 25-30 ns a row, where ``list_element`` behind an ``if_else`` took
    150-200."""
    offsets = lists.offsets.to_numpy()
    has_first = np.diff(offsets) > 0
    if lists.null_count:
        has_first &= lists.is_valid().to_numpy(zero_copy_only=False)
    first = pc.take(lists.values, pa.array(offsets[:-1], pa.int32(), mask=~has_first))
    return pc.if_else(pc.equal(first, ""), pa.scalar(None, pa.string()), first)


def partitioned_schema(spec: ImdbFile) -> pa.Schema:
    """The schema ``spec``'s writer gets: its typed columns, then the partition column the
    ingest adds (``votes_floor``, ``primary_profession``, ``tconst_bucket``; ingest.schemas)."""
    return spec.lookup.partitioned_schema()


def write_options(spec: ImdbFile | None = None) -> dict:
    """ParquetWriter options: zstd, dictionaries and statistics only where they pay."""
    options: dict = {"compression": "zstd", "compression_level": 1}
    if spec is not None:
        options["use_dictionary"] = [c.name for c in spec.columns if c.name not in _NO_DICTIONARY]
        options["write_statistics"] = [
            c.name
            for c in spec.columns
            if c.kind in _STATISTICS_KINDS or c.name in _STATISTICS_NAMES
        ]
    return options


class PartitionedWriter:
    """Write batches into ``folder/<column>=<value>/part-<n>.parquet`` (hive layout).

    Rows wait per partition until they fill a row group of ``row_group_rows``; when the rows
    waiting over all partitions pass ``budget`` bytes, the partition holding the most is
    written out (a smaller row group), so memory stays bounded whatever the partition count.

    ``held``: Arrow bytes of the rows waiting, over all partitions (at most ``budget`` once
    :meth:`write` returns); ``files``, ``row_groups``: written so far.
    """

    def __init__(
        self,
        folder: Path,
        schema: pa.Schema,
        column: str | None,
        options: dict,
        *,
        row_group_rows: int = ROW_GROUP_ROWS,
        max_rows_per_file: int = MAX_ROWS_PER_FILE,
        budget: int = BUFFER_BYTES,
    ):
        self.folder = folder
        self.column = column
        self.schema = pa.schema([f for f in schema if f.name != column])
        self.options = options
        self.row_group_rows = row_group_rows
        self.max_rows_per_file = max_rows_per_file
        self.budget = budget
        self._parts: dict = {}
        self.held = 0
        self.files = 0
        self.row_groups = 0
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, batch: pa.RecordBatch) -> None:
        """Hold ``batch``'s rows in their partitions (without the partition column: it is in
        the path); a partition that reaches ``row_group_rows`` is written as a row group, and
        while more than ``budget`` bytes are held the largest partition is written out."""
        if not batch.num_rows:
            return
        if self.column is None:
            self._hold(None, batch)
        else:
            keys = batch.column(self.column)
            data = batch.drop_columns([self.column])
            for key, rows in _split(data, keys):
                self._hold(key, rows)
        while self.held > self.budget:
            largest = max(self._parts.values(), key=lambda part: part.held)
            self._flush(largest)

    def _hold(self, key, rows: pa.RecordBatch) -> None:
        part = self._parts.get(key)
        if part is None:
            directory = (
                self.folder if self.column is None else self.folder / _hive(self.column, key)
            )
            part = self._parts[key] = _Partition(directory)
        part.batches.append(rows)
        part.rows += rows.num_rows
        size = rows.nbytes
        part.held += size
        self.held += size
        if part.rows >= self.row_group_rows:
            self._flush(part)

    def _flush(self, part: _Partition) -> None:
        if not part.rows:
            return
        table = pa.Table.from_batches(part.batches, self.schema)
        self.held -= part.held
        part.batches, part.rows, part.held = [], 0, 0
        while table.num_rows:
            if part.writer is None or part.file_rows >= self.max_rows_per_file:
                if part.writer is not None:
                    part.writer.close()
                part.directory.mkdir(parents=True, exist_ok=True)
                path = part.directory / f"part-{part.file_index}.parquet"
                part.writer = pq.ParquetWriter(path, self.schema, **self.options)
                part.file_index += 1
                part.file_rows = 0
                self.files += 1
            room = self.max_rows_per_file - part.file_rows
            chunk, table = table.slice(0, room), table.slice(room)
            part.writer.write_table(chunk, row_group_size=self.row_group_rows)
            part.file_rows += chunk.num_rows
            self.row_groups += -(-chunk.num_rows // self.row_group_rows)

    def close(self) -> dict:
        """Write what is held, close every file; return what was written."""
        for part in self._parts.values():
            self._flush(part)
            if part.writer is not None:
                part.writer.close()
                part.writer = None
        return {
            "files": self.files,
            "partitions": len(self._parts) if self.column else 0,
            "row_groups": self.row_groups,
        }

    def abort(self) -> None:
        """Close the open files without writing the rows held (after a failure)."""
        for part in self._parts.values():
            if part.writer is not None:
                part.writer.close()
                part.writer = None


@dataclass
class _Partition:
    directory: Path
    batches: list = field(default_factory=list)
    rows: int = 0
    held: int = 0
    writer: pq.ParquetWriter | None = None
    file_rows: int = 0
    file_index: int = 0


def _hive(column: str, key) -> str:
    if key is None:
        return f"{column}={HIVE_NULL}"
    return f"{column}={urllib.parse.quote(str(key), safe='')}"


def _split(data: pa.RecordBatch, keys: pa.Array):
    """Yield (key, rows) for each distinct partition key of one batch (null -> None)."""
    if keys.null_count == 0 and pa.types.is_integer(keys.type):
        bounds = pc.min_max(keys)
        if bounds["min"].as_py() == bounds["max"].as_py():  # one partition: no copy
            yield bounds["min"].as_py(), data
            return
    if pa.types.is_string(keys.type):  # sort the dictionary codes, not the strings
        encoded = pc.dictionary_encode(keys)
        for code, rows in split_by_bucket(data, encoded.indices):
            yield (None if code is None else encoded.dictionary[code].as_py()), rows
        return
    yield from split_by_bucket(data, keys)


def new_ingest_id() -> str:
    """A new ingest id: the UTC time to the second and 6 random hex digits, e.g.
    ``20260601T120000Z-1a2b3c`` (ids of different seconds sort by time)."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def current_ingest(lake: Path | str) -> str | None:
    """The id ``CURRENT`` names in ``lake`` (a folder, or an ``s3://`` prefix), or None."""
    text = storage.read_text(storage.join(lake, "CURRENT"))
    return text.strip() if text else None


def read_manifest(lake: Path | str, ingest_id: str) -> dict:
    """``_manifest.json`` of an ingest in ``lake`` (a folder, or an ``s3://`` prefix)."""
    text = storage.read_text(storage.join(lake, ingest_id, "_manifest.json"))
    if text is None:
        raise FileNotFoundError(f"no _manifest.json in {storage.join(lake, ingest_id)}")
    return json.loads(text)


def convert_file(
    path: TableFiles | Path,
    spec: ImdbFile,
    out: Path,
    max_reject_share: float,
    source: str | Origin,
    *,
    progress: FileProgress | None = None,
    names: KnownForSpill | None = None,
    stop: threading.Event | None = None,
) -> FileReport:
    """Convert one file (or the parts of one) into ``out/<table>`` (partitioned) and
    ``out/_rejects``, counting its null and duplicate keys (``ingest.keys``).

    title.ratings: the feed keeps every row in file order; the lookup keeps the later row of
    a duplicated tconst (the later line wins, as in the stream). ``stop`` set (another file
    failed) ends the conversion at the next batch. Raises ``RejectLimitError`` (rejects above
    ``max_reject_share``), ``NoRowsError`` (a required table with no row written),
    ``LookupKeyError`` (another file's key repeated, or with a null part) and the reading
    errors of ``ingest.convert``.
    """
    started = time.monotonic()
    files = TableFiles.of(path)
    origin = source if isinstance(source, Origin) else Origin(str(source))
    stats = FileStats(file=files.name)
    rejects_path = out / "_rejects" / f"{spec.table}.parquet"
    rejects_path.parent.mkdir(parents=True, exist_ok=True)
    rejects_writer = pq.ParquetWriter(rejects_path, REJECTS_SCHEMA)
    schema = partitioned_schema(spec)
    column, _ = PARTITION_COLUMNS.get(spec.table, (None, None))
    writer = PartitionedWriter(out / spec.table, schema, column, write_options(spec))
    progress = progress or FileProgress(files.name, files.size, enabled=False)
    keys = KeyCounter(KEY_COLUMNS[spec.name])
    ratings: list[pa.RecordBatch] = []

    def flush_rejects():
        if stats.rejects:
            rejects_writer.write_table(pa.Table.from_pylist(stats.rejects, REJECTS_SCHEMA))
            stats.rejects.clear()

    try:
        for batch in read_file(files, spec, stats):
            flush_rejects()
            keys.add(batch)
            if names is not None:
                names.add(batch)
            batch = add_partition_column(batch, spec.table)
            if spec is TITLE_RATINGS:
                ratings.append(batch)  # small (1.7M rows): the feed keeps the file order
            else:
                writer.write(batch)
            progress.update(stats)
            if stop is not None and stop.is_set():
                raise _Stopped(path)
        flush_rejects()
        if spec is TITLE_RATINGS:
            table = pa.Table.from_batches(ratings, schema=schema)
            counts = keys.result([[table.column("tconst")]])
            _write_ratings(table, counts, writer, out)
            output = writer.close()
        else:
            output = writer.close()
            counts = keys.result(None if keys.in_order else _keys_again(out / spec.table, spec))
    except BaseException:
        writer.abort()
        raise
    finally:
        rejects_writer.close()
        progress.close()

    if stats.rows_read != stats.rows_written + stats.rows_rejected:
        raise InputError(
            f"{files}: {stats.rows_read} rows read but {stats.rows_written} written and "
            f"{stats.rows_rejected} rejected; this is a bug, please report it"
        )
    if stats.rows_read and stats.rows_rejected / stats.rows_read > max_reject_share:
        first = pq.read_table(rejects_path).slice(0, 1).to_pylist()[0]
        where = f"{first['file']} line" if files.is_parts else "line"
        raise RejectLimitError(
            f"{files}: {stats.rows_rejected} of {stats.rows_read} rows rejected "
            f"({_share_over_limit(stats.rows_rejected / stats.rows_read, max_reject_share)}); "
            f"first at {where} {first['line']}: {first['reason']}; "
            + _reject_next_step(stats.rows_rejected / stats.rows_read, first["reason"])
        )
    if spec.required and stats.rows_written == 0:
        raise NoRowsError(
            f"{spec.name}: no rows in {files} ("
            + (
                f"all {stats.rows_rejected} rejected, see the rejects"
                if stats.rows_rejected
                else "only the header line"
            )
            + f"); {spec.name} must have rows: fetch the file again"
        )
    report = FileReport(
        file=files.name,
        table=spec.table,
        source=origin.url,
        etag=origin.etag,
        last_modified=origin.last_modified,
        size_bytes=files.size,
        text_bytes=stats.text_bytes,
        rows_read=stats.rows_read,
        rows_written=stats.rows_written,
        rows_rejected=stats.rows_rejected,
        seconds=round(time.monotonic() - started, 3),
        output=output,
        keys=counts.as_dict(),
        parts=[files.display(p) for p in files.paths] if files.is_parts else [],
    )
    if spec is not TITLE_RATINGS and (counts.duplicate_keys or counts.null_keys):
        raise LookupKeyError(_key_problem(files, spec, counts), report)
    return report


def _write_ratings(
    table: pa.Table, counts: KeyCounts, writer: PartitionedWriter, out: Path
) -> None:
    """The feed (every row, file order) and the lookup (the later row of a duplicate)."""
    _write_feed(table, out)
    if counts.duplicate_keys:
        table = table.take(pa.array(latest_rows(table.column("tconst").combine_chunks())))
    for batch in table.to_batches():
        writer.write(batch)


def _keys_again(folder: Path, spec: ImdbFile):
    """The key columns of a lookup just written, per tconst bucket where it has them (no key
    spans two buckets), else the whole lookup; for ``KeyCounter.result``."""
    columns = list(KEY_COLUMNS[spec.name])
    buckets = sorted(folder.glob("tconst_bucket=*"))
    groups = buckets if buckets else [folder]
    for group in groups:
        files = sorted(group.rglob("*.parquet"))
        if not files:
            continue
        tables = [pq.read_table(f, columns=columns) for f in files]
        table = pa.concat_tables(tables)
        yield [table.column(c) for c in columns]


def _write_feed(table: pa.Table, out: Path) -> None:
    """title.ratings in file order, the stream's input (one file, small row groups)."""
    table = table.select(RATINGS_FEED.names)  # the lookup's columns, without votes_floor
    feed = out / "ratings_feed"
    feed.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, feed / "part-0.parquet", row_group_size=FEED_ROW_GROUP)


def write_empty(spec: ImdbFile, out: Path) -> None:
    """An optional file that is absent becomes an empty table, so every source exists."""
    (out / spec.table).mkdir(parents=True, exist_ok=True)
    rejects = out / "_rejects" / f"{spec.table}.parquet"
    rejects.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(REJECTS_SCHEMA.empty_table(), rejects)


def clean_stale(lake: Path) -> list[Path]:
    """Remove ``.<id>.partial`` folders left by ingests whose process is gone."""
    removed = []
    for folder in sorted(lake.glob(".*.partial")):
        owner = folder / ".owner"
        try:
            pid = int(owner.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = None
        if pid is not None and pid != os.getpid() and pid_exists(pid):
            continue  # another ingest is writing it right now
        shutil.rmtree(folder, ignore_errors=True)
        logger.info(f"ingest: removed {folder.name}, left by an ingest that did not finish")
        removed.append(folder)
    return removed


def _origin(value: str | Origin | None, path: TableFiles | Path) -> Origin:
    if isinstance(value, Origin):
        return value
    return Origin(str(value) if value else str(path))


def land(
    files: Mapping[str, TableFiles | Path],
    lake: Path,
    *,
    sources: dict[str, str | Origin] | None = None,
    max_reject_share: float = DEFAULT_MAX_REJECT_SHARE,
    workers: int = 2,
    progress: bool = True,
    skipped=(),
    previous: Path | None = None,
) -> tuple[str, Path, list[FileReport]]:
    """Convert ``files`` (IMDb name -> local file or ``TableFiles``) into a new, unpublished
    ingest folder.

    Also builds ``title_names`` from name.basics, and writes ``_manifest.json`` and
    ``_checks/part-0.parquet`` (``CHECKS_SCHEMA``: one row per lookup, with its null and
    duplicate keys). Returns (ingest id, folder, reports); the caller calls :func:`publish`.
    ``sources`` gives each file's origin for the manifest; ``skipped``: optional IMDb names
    not asked for (empty tables, reported as skipped rather than absent). ``previous``: the
    published ingest's folder; a table whose file(s) it read are the same files
    (:meth:`TableFiles.identity`), read with the same ``max_reject_share``, is not converted
    again: its lookup (and for name.basics title_names, for title.ratings the feed) is linked
    from there, so a refresh in which only some files changed converts only those.
    """
    files = {name: TableFiles.of(value) for name, value in files.items()}
    missing = [f.name for f in ALL_FILES if f.required and f.name not in files]
    if missing:
        raise InputError(f"missing required IMDb file(s): {', '.join(missing)}")
    lake.mkdir(parents=True, exist_ok=True)
    clean_stale(lake)
    ingest_id = new_ingest_id()
    partial = lake / f".{ingest_id}.partial"
    partial.mkdir()
    (partial / ".owner").write_text(f"{os.getpid()}\n")
    sources = sources or {}
    started = time.monotonic()
    names = KnownForSpill(partial / "_work" / "title_names")
    title_names: dict = {}
    stop = threading.Event()
    skipped = [f.name for f in ALL_FILES if f.name in set(skipped) and f.name not in files]
    try:
        present = [f for f in ALL_FILES if f.name in files]
        present.sort(key=lambda f: TableFiles.of(files[f.name]).size, reverse=True)
        for spec in ALL_FILES:
            if spec.name in skipped:
                write_empty(spec, partial)
                logger.info(
                    f"ingest: {spec.name}: skipped (not asked for; --with-tables "
                    f"{spec.name} ingests it), empty table"
                )
            elif spec.name not in files:
                write_empty(spec, partial)
                logger.info(f"ingest: {spec.name}: absent (optional), empty table")
        positions = iter(range(1, len(present) + 1))

        def one(spec: ImdbFile) -> FileReport:
            path = TableFiles.of(files[spec.name])  # one already (files = above): of() for mypy
            reused = _reuse(spec, path, previous, partial, max_reject_share, title_names)
            if reused is not None:
                origin = _origin(sources.get(spec.name), path)
                reused.source, reused.etag = origin.url, origin.etag
                reused.last_modified = origin.last_modified
                logger.info(
                    f"ingest: {spec.name}: unchanged since ingest {reused.reused_from}, "
                    f"its lookup reused ({reused.rows_written:,} rows, "
                    f"{reused.seconds:.1f}s)"
                )
                return reused
            bar = FileProgress(spec.name, path.size, enabled=progress, position=next(positions))
            report = convert_file(
                path,
                spec,
                partial,
                max_reject_share,
                _origin(sources.get(spec.name), path),
                progress=bar,
                names=names if spec is NAME_BASICS else None,
                stop=stop,
            )
            report.identity = path.identity()
            report.converted_in = ingest_id
            logger.info(
                f"ingest: {spec.name}: {report.rows_written:,} rows, "
                f"{report.rows_rejected:,} rejected, {report.text_bytes / 1e6:,.0f} MB in "
                f"{report.seconds:.1f}s ({report.mb_per_s:.0f} MB/s), "
                f"{report.output['files']} files{_keys_note(report.keys, spec)}"
            )
            if spec is NAME_BASICS:
                built = time.monotonic()
                title_names.update(names.build(partial / "title_names", write_options()))
                title_names["seconds"] = round(time.monotonic() - built, 3)
                logger.info(
                    f"ingest: title_names: {title_names['rows']:,} titles in "
                    f"{title_names['seconds']:.1f}s{_keys_note(title_names['keys'])}"
                )
            return report

        for spec in present:  # a wrong file stops the run before any conversion starts
            check_header(files[spec.name], spec)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(one, spec) for spec in present]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in futures if f in done and f.exception() is not None]
            if failed:  # stop the other file now rather than after it has been converted
                stop.set()
                for future in futures:
                    future.cancel()
                wait(futures)
                errors = [
                    e
                    for f in futures
                    if f.done() and not f.cancelled() and (e := f.exception()) is not None
                ]
                raise next((e for e in errors if not isinstance(e, _Stopped)), errors[0])
            reports = [f.result() for f in futures]
        shutil.rmtree(partial / "_work", ignore_errors=True)
        write_checks(partial, ingest_id, reports, title_names)
        seconds = time.monotonic() - started
        text = sum(r.text_bytes for r in reports)
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "ingest_id": ingest_id,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": [{**asdict(r), "mb_per_s": round(r.mb_per_s, 1)} for r in reports],
            "absent": [f.name for f in ALL_FILES if f.name not in files and f.name not in skipped],
            "skipped": skipped,
            "title_names": title_names,
            "seconds": round(seconds, 3),
            "text_bytes": text,
            "mb_per_s": round(text / 1e6 / seconds, 1) if seconds else 0.0,
            "partitioning": {t: c for t, (c, _) in PARTITION_COLUMNS.items()},
            "vote_floors": VOTE_FLOORS,
            "tconst_buckets": TCONST_BUCKETS,
        }
        (partial / "_manifest.json").write_text(json.dumps(manifest, indent=2))
    except BaseException:
        names.discard()
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return ingest_id, partial, reports


def _reuse(
    spec: ImdbFile,
    files: TableFiles,
    previous: Path | None,
    partial: Path,
    max_reject_share: float,
    title_names: dict,
) -> FileReport | None:
    """Link the previous ingest's lookup of ``spec`` into ``partial`` when it was read from
    the very same file(s) with the same reject share; None when it must be converted.

    Links (hard links: the same bytes, no copy; each ingest folder stays deletable on its
    own) the table's folder, its rejects, and for title.ratings the stream's feed, for
    name.basics ``title_names`` (then also filling ``title_names`` from the old manifest).
    """
    if previous is None or not (previous / "_manifest.json").is_file():
        return None
    manifest = json.loads((previous / "_manifest.json").read_text())
    entry = next((f for f in manifest.get("files", []) if f["table"] == spec.table), None)
    if (
        entry is None
        or manifest.get("manifest_version") != MANIFEST_VERSION
        or manifest.get("max_reject_share") != max_reject_share
        or entry.get("identity") != files.identity()
    ):
        return None
    started = time.monotonic()
    links = [spec.table, f"_rejects/{spec.table}.parquet"]
    if spec is TITLE_RATINGS:
        links.append("ratings_feed")
    if spec is NAME_BASICS:
        links.append("title_names")
    for name in links:
        source, target = previous / name, partial / name
        shutil.rmtree(target, ignore_errors=True)  # write_empty's placeholders, if any
        if source.is_dir():
            shutil.copytree(source, target, copy_function=os.link)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(source, target)
    if spec is NAME_BASICS:
        title_names.update(manifest["title_names"])
    report = FileReport(**{k: v for k, v in entry.items() if k in FileReport.__dataclass_fields__})
    report.reused_from = manifest["ingest_id"]
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _share_over_limit(share: float, limit: float) -> str:
    """``0.66% > --max-reject-share 0.10%``, with as many decimals as it takes for the two
    to differ (1 of 997 rows is ``0.1003% > 0.1000%``, not ``0.10% > 0.10%``)."""
    digits = 2
    while f"{share:.{digits}%}" == f"{limit:.{digits}%}" and digits < 8:
        digits += 1
    return f"{share:.{digits}%} > --max-reject-share {limit:.{digits}%}"


def _reject_next_step(share: float, reason: str) -> str:
    """What to do about a file with too many bad rows: re-encode it when its bytes are not
    UTF-8, else fix or fetch it, or accept the share (rounded up to 0.01%)."""
    allow = f"--max-reject-share {math.ceil(share * 10_000) / 10_000:g}"
    if "not valid UTF-8" in reason:
        return (
            f"the file is not UTF-8 (saved by another tool?): convert it, e.g. `iconv -f "
            f"cp1252 -t utf-8`, or fetch it again; or drop those rows with {allow}"
        )
    return f"fix those lines or fetch the file again; or drop those rows with {allow}"


def _key_problem(files: TableFiles, spec: ImdbFile, counts: KeyCounts) -> str:
    """The one line of a lookup whose key repeats or has a null part, in IMDb's column names
    (title.akas' ``titleId``)."""
    names = ", ".join(
        "titleId" if spec is TITLE_AKAS and c == "tconst" else c for c in counts.columns
    )
    found = [
        f"{n:,} {what} key{'s' if n != 1 else ''}"
        for n, what in ((counts.duplicate_keys, "repeated"), (counts.null_keys, "null"))
        if n
    ]
    fix = "remove the repeated lines" if counts.duplicate_keys else "fill in the missing ordering"
    return (
        f"{files}: {' and '.join(found)} ({names}): each {spec.name} row needs its own "
        f"complete key (only title.ratings may repeat a tconst: the later line wins); "
        f"{fix} or fetch the file again"
    )


def _keys_note(keys: dict, spec: ImdbFile | None = None) -> str:
    """``, 2 duplicate keys (tconst; ...)`` for a log line, or nothing when all is clean."""
    parts = []
    if keys.get("duplicate_keys"):
        rule = "; the later line wins" if spec is TITLE_RATINGS else ""
        parts.append(
            f"{keys['duplicate_keys']:,} duplicate keys ({', '.join(keys['columns'])}{rule})"
        )
    if keys.get("null_keys"):
        parts.append(f"{keys['null_keys']:,} null keys ({', '.join(keys['columns'])})")
    return "".join(f", {part}" for part in parts)


def checks_rows(ingest_id: str, reports: list[FileReport], title_names: dict) -> list[dict]:
    """One row of ``CHECKS_SCHEMA`` per lookup table (absent or skipped tables: zeros)."""
    by_table = {r.table: r for r in reports}
    rows = []
    for spec in ALL_FILES:
        report = by_table.get(spec.table)
        keys = report.keys if report else {}
        rows.append(
            {
                "ingest_id": ingest_id,
                "imdb_file": spec.name,
                "lookup_table": spec.table,
                "key_columns": list(KEY_COLUMNS[spec.name]),
                "rows_read": report.rows_read if report else 0,
                "rows_written": report.rows_written if report else 0,
                "rows_rejected": report.rows_rejected if report else 0,
                "null_keys": keys.get("null_keys", 0),
                "duplicate_keys": keys.get("duplicate_keys", 0),
                "converted_in": report.converted_in if report else None,
            }
        )
    names = by_table.get(NAME_BASICS.table)
    names_keys = title_names.get("keys", {})
    rows.append(
        {
            "ingest_id": ingest_id,
            "imdb_file": NAME_BASICS.name,
            "lookup_table": "title_names",
            "key_columns": list(TITLE_NAMES_KEY),
            "rows_read": title_names.get("rows", 0),
            "rows_written": title_names.get("rows", 0),
            "rows_rejected": 0,
            "null_keys": names_keys.get("null_keys", 0),
            "duplicate_keys": names_keys.get("duplicate_keys", 0),
            "converted_in": names.converted_in if names else None,  # built with name.basics
        }
    )
    return rows


def write_checks(
    folder: Path, ingest_id: str, reports: list[FileReport], title_names: dict
) -> Path:
    """``folder/_checks/part-0.parquet``: the table ``imdb_lookup.ingest_checks``."""
    path = folder / "_checks" / "part-0.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.Table.from_pylist(checks_rows(ingest_id, reports, title_names), CHECKS_SCHEMA), path
    )
    return path


def publish(lake: Path, ingest_id: str, partial: Path, keep: int = 2, before_current=None) -> Path:
    """Make ``partial`` (the ``.<id>.partial`` folder) the current ingest atomically; keep
    the ``keep`` newest ingests.

    ``before_current(folder)`` runs after the folder has its final name and before
    ``CURRENT`` names it (the tables are re-pointed there), so whoever follows ``CURRENT``
    (a ``stream --follow``) finds the tables ready.
    """
    (partial / ".owner").unlink(missing_ok=True)
    final = lake / ingest_id
    os.replace(partial, final)
    if before_current is not None:
        before_current(final)
    pointer = lake / "CURRENT.tmp"
    pointer.write_text(ingest_id + "\n")
    os.replace(pointer, lake / "CURRENT")
    current = ingest_id
    done = sorted(p for p in lake.iterdir() if p.is_dir() and not p.name.startswith("."))
    for old in done[:-keep]:
        if old.name != current:
            shutil.rmtree(old, ignore_errors=True)
    return final


MANIFEST = "_manifest.json"


def publish_remote(
    lake: str, ingest_id: str, partial: Path, keep: int = 2, before_current=None
) -> str:
    """Publish a landed ingest (``partial``, its local ``.<id>.partial`` folder) to an S3
    ``lake``; returns its location, ``<lake>/<ingest_id>``.

    S3 has no rename, so the guarantee rests on the order of the writes: every file is
    uploaded under ``<lake>/<ingest_id>/`` (a prefix nothing reads yet), ``_manifest.json``
    last (a prefix without it is an upload that did not finish); then ``before_current``
    (the tables are re-pointed there), then ``CURRENT`` is replaced by one PUT (S3 shows an
    object whole or not at all, and reads after a PUT see it). A failure before that PUT
    leaves ``CURRENT`` on the previous ingest. Afterwards the local folder is removed, and
    on S3 every ingest but the ``keep`` newest complete ones (``CURRENT`` always stays),
    unfinished uploads included.
    """
    from pyarrow import fs as pafs

    (partial / ".owner").unlink(missing_ok=True)
    final = storage.join(lake, ingest_id)
    target_fs, target = storage.filesystem_for(final)
    manifest = partial / MANIFEST
    held = partial.parent / f".{ingest_id}{MANIFEST}"
    os.replace(manifest, held)  # uploaded last: it marks the prefix complete
    started = time.monotonic()
    try:
        pafs.copy_files(
            str(partial),
            target,
            source_filesystem=pafs.LocalFileSystem(),
            destination_filesystem=target_fs,
            use_threads=True,
        )
        pafs.copy_files(
            str(held),
            f"{target}/{MANIFEST}",
            source_filesystem=pafs.LocalFileSystem(),
            destination_filesystem=target_fs,
        )
    finally:
        os.replace(held, manifest)
    size = sum(p.stat().st_size for p in partial.rglob("*") if p.is_file())
    logger.info(
        f"ingest: uploaded {size / 1e6:,.1f} MB to {final} in {time.monotonic() - started:.1f}s"
    )
    if before_current is not None:
        before_current(final)
    storage.write_text(storage.join(lake, "CURRENT"), ingest_id + "\n")
    shutil.rmtree(partial, ignore_errors=True)
    names = [n for n in storage.list_names(lake) if n != "CURRENT" and not n.startswith(".")]
    complete = [n for n in names if storage.exists(storage.join(lake, n, MANIFEST))]
    for name in names:
        if name != ingest_id and (name not in complete or name in complete[:-keep]):
            storage.remove_tree(storage.join(lake, name))
    return final
