"""The streaming query: feeds -> process function -> Delta tables in ``imdb_stream``.

This module starts, follows and tidies the query; the tables and the state rebuilt from them
are in streaming/state.py, the ``foreachBatch`` target (fold, buffer, land: exactly-once) in
streaming/sink.py, the progress it reports in streaming/progress.py.

A stream is identified by the options that change its answer (``stream_id``); it has one
checkpoint and reads the feeds registered for it (streaming/feeds.py): the first ingest in
full, later ingests as changes. A run first lands what an earlier run buffered, folds again what
Spark committed but no table holds (:meth:`BatchSink.recover`), finishes what the feeds held
before (a crash), then registers the current ingest's feed and processes it (or, with
``follow``, keeps registering new ingests). One stream process per stream id.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.errors import StreamingQueryException

from imdb_pipeline import delta
from imdb_pipeline.storage import Storage, join, spark_location
from ingest.lake import current_ingest
from streaming import feeds as feeds_registry
from streaming.process import Rules
from streaming.progress import ProgressReporter
from streaming.sink import BatchSink
from streaming.source import SOURCE_NAME, RatingsFeedSource, caught_up
from streaming.state import (
    BATCHES_TABLE,
    RATINGS_TABLE,
    StreamError,
    eligible_titles,
    ensure_tables,
    load_state,
)
from streaming.status import STATUS_FILE, StatusFile

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamOptions:
    """A stream's options: the answer's (``min_votes``, ``top_n``, ``title_types``: they make
    its ``stream_id``) and the run's (micro-batch size in records, seconds between flushes)."""

    records_per_batch: int = 100
    min_votes: int = 500
    top_n: int = 10
    title_types: tuple[str, ...] = ("movie",)
    flush_seconds: float = 10.0  # buffered micro-batches reach Delta at least this often

    def answer_key(self) -> str:
        """What changes the stream's answer (not the batch size)."""
        key = json.dumps([self.min_votes, self.top_n, sorted(self.title_types)])
        return hashlib.sha1(key.encode()).hexdigest()[:8]

    @property
    def stream_id(self) -> str:
        """``stream-<answer_key>``: the same answer options give the same stream (checkpoint,
        feeds and rows in the stream tables), whatever the batch size."""
        return f"stream-{self.answer_key()}"


def require_ingest(lake: str) -> str:
    """The lake's published ingest id; :class:`StreamError` when nothing was ingested there
    (checked before Spark starts, so an empty home fails at once)."""
    ingest_id = current_ingest(lake)
    if ingest_id is None:
        raise StreamError(f"no ingest in {lake}: run `imdb-pipeline ingest --source DIR` first")
    return ingest_id


def stream(
    spark,
    home,
    options: StreamOptions,
    *,
    follow: bool = False,
    stop: threading.Event | None = None,
    storage: Storage | None = None,
) -> dict:
    """Process what is new for this stream, then stop (or, with ``follow``, keep going until
    SIGINT/SIGTERM or ``stop`` is set).

    ``storage``: where the lake, the tables and the checkpoint are (default: the home). The
    stream's folder ``<checkpoints>/<stream_id>`` (checkpoint/, feeds.json, feeds/) is there;
    its micro-batch buffer is always in the home, on the driver's local disk.
    """
    storage = storage or Storage(home.root)
    lake = storage.lake
    ingest_id = require_ingest(lake)
    root = join(storage.checkpoints, options.stream_id)
    # the buffer's folder keeps its name, staged/: existing homes may hold micro-batches there
    buffer_folder = home.checkpoints / options.stream_id / "staged"
    if not storage.remote:
        Path(root).mkdir(parents=True, exist_ok=True)
    registry = join(root, "feeds.json")
    status = StatusFile(home.root / STATUS_FILE)
    status.update(
        state="starting",
        pid=os.getpid(),
        stream_id=options.stream_id,
        last_error=None,
        records_per_batch=options.records_per_batch,
    )
    locations = ensure_tables(spark)
    spark.dataSource.register(RatingsFeedSource)
    sink = BatchSink(
        spark,
        options,
        root,
        eligible_titles(lake, ingest_id, options.title_types),
        locations,
        buffer_folder=buffer_folder,
    )
    if landed := sink.flush():
        plural = "es" if landed != 1 else ""
        logger.info(
            f"stream: {landed} staged micro-batch{plural} from an earlier run landed in Delta"
        )
    sink.recover()
    before = _position(locations, options.stream_id)
    reporter = ProgressReporter(sink, status)
    try:
        if not caught_up(sink.checkpoint, feeds_registry.total_rows(feeds_registry.load(registry))):
            _run(spark, sink, reporter, root, options)  # what an earlier run left (a crash)
        _register(spark, lake, sink, registry, ingest_id)
        if follow:
            _follow(spark, lake, sink, reporter, root, options, registry, stop)
        else:
            _run(spark, sink, reporter, root, options)
        _tidy(spark, locations)
    except BaseException as exc:
        status.update(
            state="failed", last_error=str(exc).splitlines()[0] if str(exc) else repr(exc)
        )
        raise
    # the sink's state is the tables' (everything buffered has landed); rebuilt if no run made one
    state = (
        sink.state
        if sink.state is not None
        else load_state(locations, options.stream_id, sys.maxsize)
    )
    total = feeds_registry.total_rows(feeds_registry.load(registry))
    status.update(  # also after a run that had nothing new: the stream's answer as it stands
        state="finished",
        records_done=state.records,
        records_total=total,
        eta_seconds=0,
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
    rows = delta.read(
        locations[BATCHES_TABLE], ["batches", "end_row"], pc.field("stream_id") == stream_id
    )
    return (pc.max(rows["batches"]).as_py() or 0, pc.max(rows["end_row"]).as_py() or 0)


def _register(spark, lake: str, sink: BatchSink, registry: str, ingest_id: str) -> None:
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
    logger.info(f"stream: ingest {ingest_id}: {feed.rows:,} records to process ({feed.kind})")


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
    trigger: dict[str, str | bool] = (
        {"processingTime": "1 second"} if follow else {"availableNow": True}
    )
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


def _follow(spark, lake, sink, reporter, root, options, registry, stop) -> None:
    """Keep running: pick up each new ingest; SIGTERM/Ctrl-C stop after the current batch."""
    stopping = stop or threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {
            s: signal.signal(s, lambda *_: stopping.set()) for s in (signal.SIGINT, signal.SIGTERM)
        }
    query = _query(spark, sink, root, options, follow=True)
    logger.info("stream: following new ingests (Ctrl-C or SIGTERM to stop)")
    try:
        while not stopping.is_set() and query.isActive:
            query.awaitTermination(1)
            reporter.poll(query)
            ingest_id = current_ingest(lake)
            idle = sink.state is not None and sink.state.records == feeds_registry.total_rows(
                feeds_registry.load(registry)
            )
            if (
                ingest_id
                and idle
                and not any(f.ingest_id == ingest_id for f in feeds_registry.load(registry))
            ):
                with sink.busy:
                    eligible = eligible_titles(lake, ingest_id, options.title_types)
                    sink.rules = Rules(eligible, options.min_votes, options.top_n)
                    _register(spark, lake, sink, registry, ingest_id)
            if sink.flush_due():  # idle: no micro-batch has flushed what is buffered
                with sink.busy:
                    sink.flush()
            if len(reporter.rows) >= 50:
                with sink.busy:
                    reporter.flush()
        with sink.busy:  # the current micro-batch finishes first
            query.stop()
            sink.flush()
        reporter.poll(query, final=True)
        logger.info("stream: stopped")
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
