"""The streaming query: feeds -> process function -> Delta tables in ``imdb_stream``.

Tables (Delta, in the warehouse):
  imdb_stream.ratings          every processed record (append-only log), with the votes its
                               title had before (``previous_votes``): the current titles are
                               the latest record per tconst that is not a deletion
  imdb_stream.batches          one row per micro-batch: running count, sum and average of
                               numVotes, the running top-N, the options, timings
  imdb_stream.stream_progress  one row per micro-batch from the query's progress reports:
                               input rows, rows/s, the duration and its parts

A stream is identified by the options that change its answer (``stream_id``); it has one
checkpoint and reads the feeds registered for it (streaming/feeds.py): the first ingest in
full, later ingests as changes. Exactly-once: each micro-batch is staged locally before
Spark commits it (streaming/staging.py) and reaches Delta with the others of the last few
seconds in one append per table (all or nothing), tagged with stream_id and batch_id. A run
first moves what an earlier run staged into Delta, skipping micro-batches that already
landed. Only the first micro-batch of a run can be a replay of one that died after staging;
for it the sink rebuilds the running state from the batches before it and does not write it
again — what Delta's txnAppId/txnVersion would do, without the ~1 s per append those cost
here (Delta rebuilds the table's transaction map on every such write). One stream process
per stream id.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.errors import StreamingQueryException

from imdb_pipeline import delta, storage
from imdb_pipeline.storage import Storage, join, spark_location
from ingest.lake import current_ingest
from streaming import feeds as feeds_registry
from streaming.process import Rated, Rules, RunningState, fold, tenths
from streaming.source import (
    SOURCE_NAME,
    FeedReader,
    RatingsFeedSource,
    caught_up,
    last_committed,
    planned_end,
)
from streaming.staging import Staging
from streaming.status import STATUS_FILE, Eta, StatusFile, duration

STREAM_SCHEMA = "imdb_stream"
RATINGS_TABLE = f"{STREAM_SCHEMA}.ratings"
BATCHES_TABLE = f"{STREAM_SCHEMA}.batches"
PROGRESS_TABLE = f"{STREAM_SCHEMA}.stream_progress"
TOP_TYPE = (
    "array<struct<rank:int,tconst:string,num_votes:int,average_rating:decimal(3,1),"
    "ranking_score:double>>"
)
BATCHES_DDL = f"""
    stream_id string, ingest_id string, batch_id bigint, batches bigint, records bigint,
    end_row bigint, feed_rows bigint, ratings_processed bigint, votes_sum bigint,
    average_number_of_votes double, records_per_batch int, min_votes int, top_n int,
    title_types array<string>, top {TOP_TYPE}, processed_at timestamp, duration_ms bigint
"""
RATINGS_COLUMNS = (
    ("stream_id", "string"), ("ingest_id", "string"), ("batch_id", "bigint"),
    ("feed_row", "bigint"), ("tconst", "string"), ("average_rating", "decimal(3,1)"),
    ("num_votes", "int"), ("is_deleted", "boolean"), ("previous_votes", "int"),
)
RATINGS_DDL = ", ".join(f"{name} {kind}" for name, kind in RATINGS_COLUMNS)
PROGRESS_DDL = """
    stream_id string, batch_id bigint, input_rows bigint, processed_rows_per_second double,
    duration_ms bigint, add_batch_ms bigint, latest_offset_ms bigint, get_batch_ms bigint,
    wal_commit_ms bigint, commit_offsets_ms bigint, average_number_of_votes double,
    number_one string, reported_at timestamp
"""
FAULT_ENV = "IMDB_PIPELINE_FAULT"  # tests: "<point>@<batch id>" kills the process there


class StreamError(Exception):
    pass


@dataclass(frozen=True)
class StreamOptions:
    records_per_batch: int = 100
    min_votes: int = 500
    top_n: int = 10
    title_types: tuple[str, ...] = ("movie",)
    flush_seconds: float = 10.0  # staged micro-batches reach Delta at least this often

    def answer_key(self) -> str:
        """What changes the stream's answer (not the batch size)."""
        key = json.dumps([self.min_votes, self.top_n, sorted(self.title_types)])
        return hashlib.sha1(key.encode()).hexdigest()[:8]

    @property
    def stream_id(self) -> str:
        return f"stream-{self.answer_key()}"


def fault(point: str, batch_id: int) -> None:
    """Die here, as SIGKILL would, when the test environment asks for it."""
    if os.environ.get(FAULT_ENV) == f"{point}@{batch_id}":
        os.kill(os.getpid(), signal.SIGKILL)


def ensure_tables(spark) -> dict[str, str]:
    """Create the stream's tables if needed; return their locations (micro-batches write by
    path: a name would cost metastore look-ups on every append).

    Existing tables are looked up in the metastore only (``delta.table_location``): a Delta
    statement on them (``create table if not exists``, ``describe detail``) costs Spark a job
    each to rebuild the table's state from a log that delta-rs appends to (2-3 s each)."""
    locations = {}
    for table, ddl in ((RATINGS_TABLE, RATINGS_DDL), (BATCHES_TABLE, BATCHES_DDL),
                       (PROGRESS_TABLE, PROGRESS_DDL)):
        location = delta.table_location(spark, table)
        if location is None:
            spark.sql(f"create database if not exists {STREAM_SCHEMA}")
            # One Delta log checkpoint per 100 commits, not 10 (a checkpoint is a Spark job
            # and 100-record micro-batches commit often); file statistics only for the leading
            # id columns (stream_id, ingest_id, batch_id), the ones the state rebuild filters on.
            spark.sql(
                f"create table if not exists {table} ({ddl}) using delta tblproperties ("
                "'delta.checkpointInterval' = '100', 'delta.dataSkippingNumIndexedCols' = '3')"
            )
            location = delta.table_location(spark, table)
        locations[table] = location
    return locations


def latest_per_title(log: pa.Table) -> pa.Table:
    """Per tconst its record with the largest ``feed_row`` (the log's columns, tconst order):
    the current titles once the deletions among them are dropped."""
    if log.num_rows == 0:
        return log
    ordered = log.sort_by([("tconst", "ascending"), ("feed_row", "descending")])
    tconst = ordered["tconst"].combine_chunks()
    first = pa.concat_arrays([pa.array([True]),
                              pc.not_equal(tconst.slice(1), tconst.slice(0, len(tconst) - 1))])
    return ordered.filter(first)


def load_state(locations: dict[str, str], stream_id: str, before_batch: int) -> RunningState:
    """The running state after the micro-batches before ``before_batch``, from the tables
    (``locations``: :func:`ensure_tables`'s); an empty state before the first one.

    Raises StreamError when the two tables disagree on the number of titles."""
    mine = (pc.field("stream_id") == stream_id) & (pc.field("batch_id") < before_batch)
    batches = delta.read(locations[BATCHES_TABLE],
                         ["batch_id", "batches", "end_row", "ratings_processed", "votes_sum", "top"],
                         mine)
    if batches.num_rows == 0:
        return RunningState()
    row = batches.sort_by([("batch_id", "descending")]).slice(0, 1).to_pylist()[0]
    log = delta.read(locations[RATINGS_TABLE],
                     ["tconst", "feed_row", "num_votes", "average_rating", "is_deleted"], mine)
    current = latest_per_title(log)
    current = current.filter(pc.invert(current["is_deleted"]))
    titles = dict(
        zip(
            current["tconst"].to_pylist(),
            zip(current["num_votes"].to_pylist(), tenths(current["average_rating"]).to_pylist()),
        )
    )
    top = tuple(Rated(t["tconst"], t["num_votes"], int(t["average_rating"] * 10))
                for t in row["top"] or ())
    state = RunningState(
        batches=row["batches"], records=row["end_row"], ratings_processed=row["ratings_processed"],
        votes_sum=row["votes_sum"], top=top, titles=titles,
    )
    if state.ratings_processed != len(titles):
        raise StreamError(
            f"{stream_id}: batches table says {state.ratings_processed} titles, ratings log "
            f"holds {len(titles)}; delete {stream_id} and its checkpoint to start over"
        )
    return state


def eligible_titles(lake: str, ingest_id: str, title_types) -> frozenset[str]:
    """The tconsts of the chosen title types in ingest ``ingest_id``'s title.basics, read
    from the lake (``lake/<ingest_id>/title_basics``, immutable once published) by pyarrow,
    collected once per stream run and per new ingest (driver side)."""
    import pyarrow.dataset as ds

    filesystem, path = storage.filesystem_for(join(lake, ingest_id, "title_basics"))
    basics = ds.dataset(path, format="parquet", filesystem=filesystem)
    ids = basics.to_table(columns=["tconst"],
                          filter=pc.field("title_type").isin(list(title_types)))
    return frozenset(ids["tconst"].to_pylist())


class BatchSink:
    """``foreachBatch`` target: the process function, local staging, batched Delta appends."""

    def __init__(self, spark, options: StreamOptions, root: Path | str, eligible, locations, log,
                 staged: Path | None = None):
        """``root``: the stream's folder (feeds.json, feeds/, checkpoint/): in the home or on
        S3. ``staged``: the local folder of staged micro-batches (default ``root/staged``,
        which must then be local: the buffer is always on the driver's own disk)."""
        self.spark = spark
        self.locations = locations
        self.options = options
        self.stream_id = options.stream_id
        self.registry = storage.join(root, "feeds.json")
        self.checkpoint = storage.join(root, "checkpoint")
        self.reader = FeedReader()
        self._feeds: tuple[tuple, list] | None = None  # (registry file identity, feeds)
        self.staging = Staging(staged or Path(root) / "staged")
        self.rules = Rules(eligible, options.min_votes, options.top_n)
        self.log = log
        self.state: RunningState | None = None
        self.checked = False  # staged micro-batches may already be in Delta (an earlier run)
        self.last_flush = time.monotonic()
        self.busy = threading.Lock()  # held while a micro-batch is processed
        self.reports: dict[int, dict] = {}

    def __call__(self, batch, batch_id: int) -> None:
        with self.busy:
            started = time.monotonic()
            try:
                self._process(batch, batch_id, started)
            except BaseException:
                self.state = None  # rebuilt from the tables on the next micro-batch
                self.checked = False
                raise

    def feeds(self) -> list:
        """The registered feeds, read again only when ``feeds.json`` changed."""
        changed = storage.identity(self.registry)  # replaced whole when it changes
        if self._feeds is None or self._feeds[0] != changed:
            self._feeds = (changed, feeds_registry.load(self.registry))
        return self._feeds[1]

    def _process(self, batch, batch_id: int, started: float) -> None:
        """Fold, stage and (every ``flush_seconds``) land one micro-batch.

        The rows are the feed range Spark planned and logged for ``batch_id`` (its offset
        log), read with pyarrow: ``batch``, the same rows as a DataFrame, is never evaluated,
        which would cost a Spark job and a Python worker task per micro-batch.
        """
        replay = False
        if self.state is None or self.state.batches != batch_id:
            # First micro-batch of this run: it may be a replay of one that died after
            # staging. Land what is staged, rebuild the state from the batches before it.
            self.flush()
            self.state = load_state(self.locations, self.stream_id, batch_id)
            replay = self._landed(batch_id)
        state = self._fold(batch_id, planned_end(self.checkpoint, batch_id), started,
                           stage=not replay)
        fault("after_stage", batch_id)
        stage_done = time.monotonic()
        if self.flush_due():
            self.flush()
        fault("after_flush", batch_id)
        self.state = state
        self.reports[batch_id]["ms"] = int((time.monotonic() - started) * 1000)
        self.reports[batch_id]["parts"]["flush"] = int((time.monotonic() - stage_done) * 1000)

    def _fold(self, batch_id: int, end_row: int, started: float, stage: bool = True):
        """Fold the feed rows from the state's end to ``end_row`` as micro-batch ``batch_id``,
        stage it (unless ``stage`` is false: a replay already in Delta); returns the new state
        (``fold`` updates ``self.state`` in place) and records the micro-batch's report."""
        feeds = self.feeds()
        first_row = self.state.records
        table = self.reader.read(feeds, first_row, end_row)
        read_done = time.monotonic()
        records = list(
            zip(
                table["tconst"].to_pylist(),
                tenths(table["average_rating"]).to_pylist(),
                table["num_votes"].to_pylist(),
                table["is_deleted"].to_pylist(),
            )
        )
        state, previous = fold(self.state, records, self.rules)
        ingest_ids = _ingest_of_rows(feeds, first_row, len(records))
        log_rows = table.append_column("stream_id", pa.array([self.stream_id] * table.num_rows))
        log_rows = (
            log_rows.append_column("ingest_id", pa.array(ingest_ids, pa.string()))
            .append_column("batch_id", pa.array([batch_id] * table.num_rows, pa.int64()))
            .append_column(
                "feed_row", pa.array(range(first_row, first_row + table.num_rows), pa.int64())
            )
            .append_column("previous_votes", pa.array(previous, pa.int32()))
        )
        fold_done = time.monotonic()
        if stage:
            ingest_id = ingest_ids[-1] if ingest_ids else None
            duration_ms = int((fold_done - started) * 1000)
            row = self._batch_row(batch_id, ingest_id, len(records), state, feeds, duration_ms)
            self.staging.stage(batch_id, log_rows.select([n for n, _ in RATINGS_COLUMNS]), row)
        stage_done = time.monotonic()
        self.reports[batch_id] = {
            "records": len(records),
            "end_row": state.records,
            "feed_rows": feeds_registry.total_rows(feeds),
            "average": state.average_number_of_votes,
            "number_one": state.top[0].tconst if state.top else None,
            "ms": int((stage_done - started) * 1000),
            "parts": {
                "read": int((read_done - started) * 1000),
                "fold": int((fold_done - read_done) * 1000),
                "stage": int((stage_done - fold_done) * 1000),
                "flush": 0,
            },
        }
        return state

    def recover(self) -> int:
        """Fold again what Spark's checkpoint says is done but neither Delta nor this
        driver's staged micro-batches hold; returns how many feed records that was.

        Micro-batches are staged on the driver's local disk until a flush, and Spark commits
        each one as soon as it is staged. A driver that dies with micro-batches staged, and a
        restart on another driver (or after the local disk was lost), would leave those
        records committed in the checkpoint, so never replayed, and absent from the tables.
        Call this after :meth:`flush` has landed whatever this driver had staged: if the
        tables still end before the checkpoint's last committed micro-batch C, the feed rows
        in between (the feeds are immutable, the ranges deterministic) are folded again as
        one micro-batch with C's id (its ``batches`` = C + 1, as if none had been lost) and
        landed at once. The query then goes on at C + 1 from that state.

        First, ratings-log rows of micro-batches the batches table does not hold are deleted:
        after :meth:`flush` only a flush cut short between its two appends on a driver whose
        staged files are gone leaves them, and those micro-batches are folded again (here, or
        as Spark's replay of an uncommitted one), so they would otherwise count twice.
        """
        last_batch = self._drop_unpaired_log_rows()
        committed = last_committed(self.checkpoint)
        if committed is None or committed[0] <= last_batch:
            return 0
        batch_id, end_row = committed
        self.state = load_state(self.locations, self.stream_id, batch_id + 1)
        first_row, last_landed = self.state.records, self.state.batches - 1
        self.state.batches = batch_id  # the lost micro-batches count as Spark counted them
        self.state = self._fold(batch_id, end_row, time.monotonic())
        self.reports.pop(batch_id, None)  # not a micro-batch of this run's query
        self.flush()
        self.log(
            f"stream: micro-batches {last_landed + 1}-{batch_id} were committed by Spark but are "
            f"neither in Delta nor staged on this driver (staged by another driver, or its disk "
            f"was lost): feed rows {first_row:,}-{end_row - 1:,} folded again from the feeds as "
            f"micro-batch {batch_id}"
        )
        return end_row - first_row

    def _drop_unpaired_log_rows(self) -> int:
        """Delete this stream's ratings-log rows past the batches table's last micro-batch
        (see :meth:`recover`); returns that micro-batch's id (-1 for none)."""
        mine = pc.field("stream_id") == self.stream_id
        last = {
            table: pc.max(delta.read(self.locations[table], ["batch_id"], mine)["batch_id"]).as_py()
            for table in (BATCHES_TABLE, RATINGS_TABLE)
        }
        last_batch = -1 if last[BATCHES_TABLE] is None else last[BATCHES_TABLE]
        if last[RATINGS_TABLE] is not None and last[RATINGS_TABLE] > last_batch:
            deleted = delta.delta_table(self.locations[RATINGS_TABLE]).delete(
                f"stream_id = '{self.stream_id}' AND batch_id > {last_batch}")
            self.log(
                f"stream: {deleted.get('num_deleted_rows', '?')} ratings-log rows of micro-batches "
                f"{last_batch + 1}-{last[RATINGS_TABLE]} had no batches row (a flush cut short, "
                "its staged files not on this driver): deleted, to be folded again"
            )
        return last_batch

    def flush_due(self) -> bool:
        return time.monotonic() - self.last_flush >= self.options.flush_seconds

    def flush(self) -> int:
        """Append the staged micro-batches to Delta (one commit per table), then drop them.
        Until this run has checked once, micro-batches already in a table are skipped (an
        earlier flush may have died between its two appends). Returns how many it landed."""
        ids = self.staging.batch_ids()
        if ids:
            self._land(ids)
        self.checked = True
        self.last_flush = time.monotonic()
        return len(ids)

    def _land(self, ids: list[int]) -> None:
        log_rows, batch_rows = self.staging.read(ids)
        in_log = self._landed_ids(RATINGS_TABLE, ids) if not self.checked else set()
        in_batches = self._landed_ids(BATCHES_TABLE, ids) if not self.checked else set()
        if in_log:
            keep = pa.array([b not in in_log for b in log_rows["batch_id"].to_pylist()])
            log_rows = log_rows.filter(keep)
        if log_rows.num_rows:
            delta.append(self.locations[RATINGS_TABLE], log_rows)
        fault("mid_flush", ids[-1])
        rows = [batch_record(r) for r in batch_rows if r["batch_id"] not in in_batches]
        if rows:
            delta.append(self.locations[BATCHES_TABLE], rows)
        self.staging.drop(ids)

    def _landed_ids(self, table: str, ids: list[int]) -> set[int]:
        mine = ((pc.field("stream_id") == self.stream_id) & (pc.field("batch_id") >= ids[0])
                & (pc.field("batch_id") <= ids[-1]))
        return set(delta.read(self.locations[table], ["batch_id"], mine)["batch_id"].to_pylist())

    def _landed(self, batch_id: int) -> bool:
        """Whether this micro-batch is in the tables (after ``flush``: in both or neither)."""
        found = {t: bool(self._landed_ids(t, [batch_id])) for t in (RATINGS_TABLE, BATCHES_TABLE)}
        if len(set(found.values())) > 1:
            raise StreamError(
                f"{self.stream_id}: micro-batch {batch_id} is in only one of {sorted(found)}; "
                f"delete {self.stream_id} and its checkpoint to start over"
            )
        return found[RATINGS_TABLE]

    def _batch_row(self, batch_id, ingest_id, records, state: RunningState, feeds, duration_ms):
        """The batches-table row, JSON-able (it is staged before it reaches Delta)."""
        o = self.options
        top = [{**r, "average_rating": str(r["average_rating"])} for r in state.ranked()]
        return {
            "stream_id": self.stream_id, "ingest_id": ingest_id, "batch_id": batch_id,
            "batches": state.batches, "records": records, "end_row": state.records,
            "feed_rows": feeds_registry.total_rows(feeds),
            "ratings_processed": state.ratings_processed, "votes_sum": state.votes_sum,
            "average_number_of_votes": state.average_number_of_votes,
            "records_per_batch": o.records_per_batch, "min_votes": o.min_votes, "top_n": o.top_n,
            "title_types": sorted(o.title_types), "top": top,
            "processed_at": datetime.now(UTC).isoformat(), "duration_ms": duration_ms,
        }


def batch_record(row: dict) -> dict:
    """A staged batch row (JSON) with its Python types back: decimals, a timestamp."""
    return {
        **row,
        "top": [{**r, "average_rating": Decimal(r["average_rating"])} for r in row["top"]],
        "processed_at": datetime.fromisoformat(row["processed_at"]),
    }


def _ingest_of_rows(feeds, first_row: int, count: int) -> list[str]:
    ends, total = [], 0
    for feed in feeds:
        total += feed.rows
        ends.append(total)
    return [feeds[bisect.bisect_right(ends, row)].ingest_id for row in range(first_row, first_row + count)]


class ProgressReporter:
    """The stream's progress, read from the query in the driver once a second and at the end:
    a console line, the status file, the ``stream_progress`` rows (one per micro-batch).

    A Python ``StreamingQueryListener`` would get every micro-batch's event, but each one
    crosses py4j as JSON into the Python driver: a no-op listener made Spark's own
    100-row micro-batch ~55 ms slower here (121 -> 176 ms median, 2 cores), and its events
    lagged so far behind that a run's last ones were lost. The query keeps its last 100
    progress reports (``spark.sql.streaming.numRecentProgressUpdates``); polled once a
    second, none is missed at ~15 micro-batches a second. The console gets at most one line
    a second: the first micro-batch of a run, then the latest one, and the last.
    """

    def __init__(self, sink: BatchSink, status: StatusFile, log, every: float = 1.0):
        self.sink = sink
        self.status = status
        self.log = log
        self.every = every
        self.rows: list[dict] = []  # stream_progress rows not yet in Delta
        self.seen = -1  # the last batch id reported
        self.unshown: tuple | None = None  # the latest micro-batch, not yet on the console
        self.shown_at: float | None = None
        self.eta = Eta()  # the ETA over the last minute of micro-batches, not the last one

    def poll(self, query, final: bool = False) -> None:
        """Report the micro-batches the query finished since the last poll; ``final``: the
        query has stopped, show the last micro-batch whatever the time."""
        last = query.lastProgress
        if last is not None and last["batchId"] > self.seen:
            for progress in query.recentProgress:
                batch_id = progress["batchId"]
                if batch_id <= self.seen:
                    continue
                self.seen = batch_id
                report = self.sink.reports.pop(batch_id, None)
                if report is None:  # a trigger that processed nothing
                    continue
                self._row(progress, report)
                self.unshown = (progress, report)
            if self.unshown is not None:
                self._status(*self.unshown)
        due = self.shown_at is None or time.monotonic() - self.shown_at >= self.every
        if self.unshown is not None and (final or due):
            self._show(*self.unshown)
            self.unshown, self.shown_at = None, time.monotonic()

    def _row(self, progress, report: dict) -> None:
        parts = {k: int(v) for k, v in progress["durationMs"].items()}
        self.eta.report(report["end_row"])
        self.rows.append({
            "stream_id": self.sink.stream_id, "batch_id": progress["batchId"],
            "input_rows": progress["numInputRows"],
            "processed_rows_per_second": progress["processedRowsPerSecond"] or 0.0,
            "duration_ms": parts.get("triggerExecution", 0),
            "add_batch_ms": parts.get("addBatch", 0),
            "latest_offset_ms": parts.get("latestOffset", 0),
            "get_batch_ms": parts.get("getBatch", 0), "wal_commit_ms": parts.get("walCommit", 0),
            "commit_offsets_ms": parts.get("commitOffsets", 0),
            "average_number_of_votes": report["average"], "number_one": report["number_one"],
            "reported_at": datetime.now(UTC),
        })

    def _show(self, progress, report: dict) -> None:
        done, total = report["end_row"], report["feed_rows"]
        eta = self.eta.seconds_left(total)
        parts = {k: int(v) for k, v in progress["durationMs"].items()}
        self.log(
            f"stream: batch {progress['batchId']}: {report['records']} records, "
            f"{done:,}/{total:,} ({done / max(total, 1):.0%}), average "
            f"{report['average'] or 0:.1f} votes, #1 {report['number_one'] or '-'} "
            f"({parts.get('triggerExecution', 0)} ms: "
            + ", ".join(f"{k} {v}" for k, v in report["parts"].items())
            + f", wal {parts.get('walCommit', 0)}, commit {parts.get('commitOffsets', 0)})"
            + (f", ETA {duration(eta)}" if eta is not None and done < total else "")
        )

    def _status(self, progress, report: dict) -> None:
        done, total = report["end_row"], report["feed_rows"]
        eta, rate = self.eta.seconds_left(total), self.eta.rate()
        self.status.update(
            state="running", stream_id=self.sink.stream_id, batch_id=progress["batchId"],
            records_done=done, records_total=total,
            rows_per_second=round(rate if rate else progress["processedRowsPerSecond"] or 0, 1),
            eta_seconds=None if eta is None else round(eta, 1),
            average_number_of_votes=report["average"], number_one=report["number_one"],
        )

    def flush(self) -> None:
        """Write the collected progress rows (called between micro-batches, never concurrently)."""
        rows, self.rows = self.rows, []
        if rows:
            delta.append(self.sink.locations[PROGRESS_TABLE], rows)


def stream(
    spark, home, options: StreamOptions, *, follow: bool = False, stop: threading.Event | None = None,
    log=None, storage: Storage | None = None,
) -> dict:
    """Process what is new for this stream, then stop (or, with ``follow``, keep going until
    SIGINT/SIGTERM or ``stop`` is set).

    ``storage``: where the lake, the tables and the checkpoint are (default: the home). The
    stream's folder ``<checkpoints>/<stream_id>`` (checkpoint/, feeds.json, feeds/) is there;
    its staged micro-batches are always in the home, on the driver's local disk.
    """
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    storage = storage or Storage(home.root)
    lake = storage.lake
    ingest_id = current_ingest(lake)
    if ingest_id is None:
        raise StreamError(f"no ingest in {lake}: run `imdb-pipeline ingest --source DIR` first")
    root = join(storage.checkpoints, options.stream_id)
    staged = home.checkpoints / options.stream_id / "staged"
    if not storage.remote:
        Path(root).mkdir(parents=True, exist_ok=True)
    registry = join(root, "feeds.json")
    status = StatusFile(home.root / STATUS_FILE)
    status.update(state="starting", pid=os.getpid(), stream_id=options.stream_id, last_error=None,
                  records_per_batch=options.records_per_batch)
    locations = ensure_tables(spark)
    spark.dataSource.register(RatingsFeedSource)
    sink = BatchSink(spark, options, root, eligible_titles(lake, ingest_id, options.title_types),
                     locations, log, staged=staged)
    if landed := sink.flush():
        plural = "es" if landed != 1 else ""
        log(f"stream: {landed} staged micro-batch{plural} from an earlier run landed in Delta")
    sink.recover()
    before = _position(locations, options.stream_id)
    reporter = ProgressReporter(sink, status, log)
    try:
        if not caught_up(sink.checkpoint, feeds_registry.total_rows(feeds_registry.load(registry))):
            _run(spark, sink, reporter, root, options)  # what an earlier run left (a crash)
        _register(spark, lake, sink, registry, ingest_id, log)
        if follow:
            _follow(spark, lake, sink, reporter, root, options, registry, stop, log)
        else:
            _run(spark, sink, reporter, root, options)
        _tidy(spark, locations)
    except BaseException as exc:
        status.update(state="failed", last_error=str(exc).splitlines()[0] if str(exc) else repr(exc))
        raise
    # the sink's state is the tables' (everything staged has landed); rebuilt if no run made one
    state = sink.state if sink.state is not None else load_state(locations, options.stream_id, sys.maxsize)
    total = feeds_registry.total_rows(feeds_registry.load(registry))
    status.update(  # also after a run that had nothing new: the stream's answer as it stands
        state="finished", records_done=state.records, records_total=total, eta_seconds=0,
        average_number_of_votes=state.average_number_of_votes,
        number_one=state.top[0].tconst if state.top else None,
    )
    return {
        "stream_id": options.stream_id,
        "ingest_id": ingest_id,
        "batches": state.batches,
        "batches_this_run": state.batches - before[0],
        "ratings_processed": state.ratings_processed,
        "records": state.records,
        "records_this_run": state.records - before[1],
        "feed_rows": total,
        "average_number_of_votes": state.average_number_of_votes,
        "top": [r.tconst for r in state.top],
    }


def _position(locations: dict[str, str], stream_id: str) -> tuple[int, int]:
    """(micro-batches, feed records) the stream has processed so far."""
    rows = delta.read(locations[BATCHES_TABLE], ["batches", "end_row"],
                    pc.field("stream_id") == stream_id)
    return (pc.max(rows["batches"]).as_py() or 0, pc.max(rows["end_row"]).as_py() or 0)


def _register(spark, lake: str, sink: BatchSink, registry: str, ingest_id: str, log) -> None:
    """Register the current ingest's feed unless it is there (all earlier ones are processed)."""
    if any(f.ingest_id == ingest_id for f in feeds_registry.load(registry)):
        return
    if sink.state is None:  # kept: the next micro-batch folds on from it (see BatchSink)
        sink.state = load_state(sink.locations, sink.stream_id, sys.maxsize)
    state = sink.state
    current = pa.table(
        {
            "tconst": pa.array(list(state.titles), pa.string()),
            "num_votes": pa.array([v for v, _ in state.titles.values()], pa.int32()),
            "rating_tenths": pa.array([r for _, r in state.titles.values()], pa.int32()),
        }
    )
    feed = feeds_registry.register(
        registry, ingest_id, join(lake, ingest_id, "ratings_feed", "part-0.parquet"), current
    )
    log(f"stream: ingest {ingest_id}: {feed.rows:,} records to process ({feed.kind})")


def _query(spark, sink: BatchSink, root: str, options: StreamOptions, follow: bool):
    writer = (
        spark.readStream.format(SOURCE_NAME)
        .option("registry", join(root, "feeds.json"))
        .option("records_per_batch", str(options.records_per_batch))
        .load()
        .writeStream.queryName(f"ratings-{options.stream_id}")
        .foreachBatch(sink)
        .option("checkpointLocation", spark_location(join(root, "checkpoint")))
    )
    trigger = {"processingTime": "1 second"} if follow else {"availableNow": True}
    return writer.trigger(**trigger).start()


def _run(spark, sink, reporter: ProgressReporter, root, options) -> None:
    """Process what the feeds hold now (availableNow), reporting progress once a second."""
    query = _query(spark, sink, root, options, follow=False)
    try:
        while not query.awaitTermination(reporter.every):
            reporter.poll(query)
    except StreamingQueryException as exc:
        raise StreamError(f"stream {options.stream_id} failed: {_reason(exc)}") from exc
    sink.flush()
    reporter.poll(query, final=True)
    reporter.flush()


def _reason(exc) -> str:
    """The last line of the Python traceback inside Spark's error, else its first line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    python = [line for line in lines if re.match(r"^[A-Za-z_.]+(Error|Exception)\b", line)]
    return (python[0] if python else lines[0])[:500] if lines else repr(exc)


def _follow(spark, lake, sink, reporter, root, options, registry, stop, log) -> None:
    """Keep running: pick up each new ingest; SIGTERM/Ctrl-C stop after the current batch."""
    stopping = stop or threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, lambda *_: stopping.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    query = _query(spark, sink, root, options, follow=True)
    log("stream: following new ingests (Ctrl-C or SIGTERM to stop)")
    try:
        while not stopping.is_set() and query.isActive:
            query.awaitTermination(1)
            reporter.poll(query)
            ingest_id = current_ingest(lake)
            idle = sink.state is not None and sink.state.records == feeds_registry.total_rows(
                feeds_registry.load(registry)
            )
            if ingest_id and idle and not any(
                f.ingest_id == ingest_id for f in feeds_registry.load(registry)
            ):
                with sink.busy:
                    eligible = eligible_titles(lake, ingest_id, options.title_types)
                    sink.rules = Rules(eligible, options.min_votes, options.top_n)
                    _register(spark, lake, sink, registry, ingest_id, log)
            if sink.flush_due():  # idle: no micro-batch has flushed what is staged
                with sink.busy:
                    sink.flush()
            if len(reporter.rows) >= 50:
                with sink.busy:
                    reporter.flush()
        with sink.busy:  # the current micro-batch finishes first
            query.stop()
            sink.flush()
        reporter.poll(query, final=True)
        log("stream: stopped")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    reporter.flush()
    if query.exception() is not None:
        raise StreamError(f"stream {options.stream_id} failed: {_reason(query.exception())}")


def _tidy(spark, locations: dict[str, str]) -> None:
    """Compact the small files of 100-record appends and drop files no version needs."""
    for table in (RATINGS_TABLE, BATCHES_TABLE):
        if len(delta.delta_table(locations[table]).file_uris()) > 200:  # the log only: no Spark job
            spark.sql(f"optimize {table}")
            spark.sql(f"vacuum {table}")  # default retention: 7 days of versions stay readable
