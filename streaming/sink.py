"""The ``foreachBatch`` target: each micro-batch folded, buffered, then landed in Delta.

Exactly-once: each micro-batch is buffered locally before Spark commits it
(streaming/buffer.py) and reaches Delta with the others of the last few seconds in one
append per table (all or nothing), tagged with stream_id and batch_id. A run first moves what
an earlier run buffered into Delta, skipping micro-batches that already landed. Only the first
micro-batch of a run can be a replay of one that died after it was buffered; for it the sink
rebuilds the running state from the batches before it and does not write it again — what Delta's
txnAppId/txnVersion would do, without the ~1 s per append those cost here (Delta rebuilds the
table's transaction map on every such write).
"""

from __future__ import annotations

import bisect
import logging
import os
import signal
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from imdb_pipeline import delta, storage
from ingest.schemas import STREAM_RATINGS
from streaming import feeds as feeds_registry
from streaming.buffer import MicroBatchBuffer
from streaming.process import Rules, RunningState, fold, tenths
from streaming.source import FeedReader, last_committed, planned_end
from streaming.state import BATCHES_TABLE, RATINGS_TABLE, StreamError, load_state

if TYPE_CHECKING:  # a type only: the job module, which builds the sink, imports this one
    from streaming.job import StreamOptions

FAULT_ENV = "IMDB_PIPELINE_FAULT"  # tests: "<point>@<batch id>" kills the process there
logger = logging.getLogger(__name__)


def fault(point: str, batch_id: int) -> None:
    """Die here, as SIGKILL would, when the test environment asks for it."""
    if os.environ.get(FAULT_ENV) == f"{point}@{batch_id}":
        os.kill(os.getpid(), signal.SIGKILL)


class BatchSink:
    """``foreachBatch`` target: the process function, a local micro-batch buffer, batched Delta
    appends."""

    def __init__(
        self,
        spark,
        options: StreamOptions,
        root: Path | str,
        eligible,
        locations,
        buffer_folder: Path | None = None,
    ):
        """``root``: the stream's folder (feeds.json, feeds/, checkpoint/): in the home or on
        S3. ``buffer_folder``: the local folder of buffered micro-batches (default
        ``root/staged``, which must then be local: the buffer is always on the driver's own
        disk)."""
        self.spark = spark
        self.locations = locations
        self.options = options
        self.stream_id = options.stream_id
        self.registry = storage.join(root, "feeds.json")
        self.checkpoint = storage.join(root, "checkpoint")
        self.reader = FeedReader()
        self._feeds: tuple[tuple, list] | None = None  # (registry file identity, feeds)
        self.buffer = MicroBatchBuffer(buffer_folder or Path(root) / "staged")
        self.rules = Rules(eligible, options.min_votes, options.top_n)
        self.state: RunningState | None = None
        self.checked = False  # buffered micro-batches may already be in Delta (an earlier run)
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
        """Fold, buffer and (every ``flush_seconds``) land one micro-batch.

        The rows are the feed range Spark planned and logged for ``batch_id`` (its offset
        log), read with pyarrow: ``batch``, the same rows as a DataFrame, is never evaluated,
        which would cost a Spark job and a Python worker task per micro-batch.
        """
        replay = False
        if self.state is None or self.state.batches != batch_id:
            # First micro-batch of this run: it may be a replay of one that died after it was
            # buffered. Land what is buffered, rebuild the state from the batches before it.
            self.flush()
            self.state = load_state(self.locations, self.stream_id, batch_id)
            replay = self._landed(batch_id)
        state = self._fold(
            batch_id, planned_end(self.checkpoint, batch_id), started, buffer=not replay
        )
        fault("after_stage", batch_id)  # once buffered (tests/e2e name the point after_stage)
        buffer_done = time.monotonic()
        if self.flush_due():
            self.flush()
        fault("after_flush", batch_id)
        self.state = state
        self.reports[batch_id]["ms"] = int((time.monotonic() - started) * 1000)
        self.reports[batch_id]["parts"]["flush"] = int((time.monotonic() - buffer_done) * 1000)

    def _fold(self, batch_id: int, end_row: int, started: float, buffer: bool = True):
        """Fold the feed rows from the state's end to ``end_row`` as micro-batch ``batch_id``,
        buffer it (unless ``buffer`` is false: a replay already in Delta); returns the new state
        (``fold`` updates ``self.state`` in place) and records the micro-batch's report."""
        assert self.state is not None  # loaded by the caller first
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
        ingest_ids = ingest_of_rows(feeds, first_row, len(records))
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
        if buffer:
            ingest_id = ingest_ids[-1] if ingest_ids else None
            duration_ms = int((fold_done - started) * 1000)
            row = self._batch_row(batch_id, ingest_id, len(records), state, feeds, duration_ms)
            self.buffer.add(batch_id, log_rows.select(STREAM_RATINGS.names), row)
        buffer_done = time.monotonic()
        self.reports[batch_id] = {
            "records": len(records),
            "end_row": state.records,
            "feed_rows": feeds_registry.total_rows(feeds),
            "average": state.average_number_of_votes,
            "number_one": state.top[0].tconst if state.top else None,
            "ms": int((buffer_done - started) * 1000),
            "parts": {
                "read": int((read_done - started) * 1000),
                "fold": int((fold_done - read_done) * 1000),
                "buffer": int((buffer_done - fold_done) * 1000),
                "flush": 0,
            },
        }
        return state

    def recover(self) -> int:
        """Fold again what Spark's checkpoint says is done but neither Delta nor this
        driver's buffered micro-batches hold; returns how many feed records that was.

        Micro-batches are buffered on the driver's local disk until a flush, and Spark commits
        each one as soon as it is buffered. A driver that dies with micro-batches buffered, and a
        restart on another driver (or after the local disk was lost), would leave those
        records committed in the checkpoint, so never replayed, and absent from the tables.
        Call this after :meth:`flush` has landed whatever this driver had buffered: if the
        tables still end before the checkpoint's last committed micro-batch C, the feed rows
        in between (the feeds are immutable, the ranges deterministic) are folded again as
        one micro-batch with C's id (its ``batches`` = C + 1, as if none had been lost) and
        landed at once. The query then goes on at C + 1 from that state.

        First, ratings-log rows of micro-batches the batches table does not hold are deleted:
        after :meth:`flush` only a flush cut short between its two appends on a driver whose
        buffer files are gone leaves them, and those micro-batches are folded again (here, or
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
        logger.info(
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
                f"stream_id = '{self.stream_id}' AND batch_id > {last_batch}"
            )
            logger.info(
                f"stream: {deleted.get('num_deleted_rows', '?')} ratings-log rows of micro-batches "
                f"{last_batch + 1}-{last[RATINGS_TABLE]} had no batches row (a flush cut short, "
                "its staged files not on this driver): deleted, to be folded again"
            )
        return last_batch

    def flush_due(self) -> bool:
        """True once ``flush_seconds`` have passed since the last flush (or the sink's start)."""
        return time.monotonic() - self.last_flush >= self.options.flush_seconds

    def flush(self) -> int:
        """Append the buffered micro-batches to Delta (one commit per table), then drop them.
        Until this run has checked once, micro-batches already in a table are skipped (an
        earlier flush may have died between its two appends). Returns how many it landed."""
        ids = self.buffer.batch_ids()
        if ids:
            self._land(ids)
        self.checked = True
        self.last_flush = time.monotonic()
        return len(ids)

    def _land(self, ids: list[int]) -> None:
        log_rows, batch_rows = self.buffer.read(ids)
        assert log_rows is not None  # a table for any ids (flush passes some)
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
        self.buffer.drop(ids)

    def _landed_ids(self, table: str, ids: list[int]) -> set[int]:
        mine = (
            (pc.field("stream_id") == self.stream_id)
            & (pc.field("batch_id") >= ids[0])
            & (pc.field("batch_id") <= ids[-1])
        )
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
        """The batches-table row, JSON-able (it is buffered before it reaches Delta)."""
        o = self.options
        top = [{**r, "average_rating": str(r["average_rating"])} for r in state.ranked()]
        return {
            "stream_id": self.stream_id,
            "ingest_id": ingest_id,
            "batch_id": batch_id,
            "batches": state.batches,
            "records": records,
            "end_row": state.records,
            "feed_rows": feeds_registry.total_rows(feeds),
            "ratings_processed": state.ratings_processed,
            "votes_sum": state.votes_sum,
            "average_number_of_votes": state.average_number_of_votes,
            "records_per_batch": o.records_per_batch,
            "min_votes": o.min_votes,
            "top_n": o.top_n,
            "title_types": sorted(o.title_types),
            "top": top,
            "processed_at": datetime.now(UTC).isoformat(),
            "duration_ms": duration_ms,
        }


def batch_record(row: dict) -> dict:
    """A buffered batch row (JSON) with its Python types back: decimals, a timestamp."""
    return {
        **row,
        "top": [{**r, "average_rating": Decimal(r["average_rating"])} for r in row["top"]],
        "processed_at": datetime.fromisoformat(row["processed_at"]),
    }


def ingest_of_rows(feeds, first_row: int, count: int) -> list[str]:
    """The ingest id of each of the ``count`` feed rows from ``first_row`` (rows of the
    concatenated ``feeds``, a list of ``streaming.feeds.Feed``); IndexError past their end."""
    ends, total = [], 0
    for feed in feeds:
        total += feed.rows
        ends.append(total)
    return [
        feeds[bisect.bisect_right(ends, row)].ingest_id
        for row in range(first_row, first_row + count)
    ]
