"""The streaming query: ratings feed -> process function -> Delta tables in ``imdb_stream``.

Tables (Delta, in the warehouse):
  imdb_stream.ratings   every processed rating record, tagged with its stream and batch
  imdb_stream.batches   one row per micro-batch: running count, sum and average of numVotes,
                        the running top-N (array of structs), the options, timings

A stream is identified by the ingest it reads and the options that change its answer
(``stream_id``); each has its own checkpoint, and its Delta writes carry
``txnAppId=stream_id`` / ``txnVersion=batch_id``, so a replayed micro-batch is skipped by
Delta instead of being written twice.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import functions as F

from ingest.lake import current_ingest
from streaming.process import Rated, RunningState, advance, summarise_batch
from streaming.source import SOURCE_NAME, RatingsFeedSource, feed_rows

STREAM_SCHEMA = "imdb_stream"
RATINGS_TABLE = f"{STREAM_SCHEMA}.ratings"
BATCHES_TABLE = f"{STREAM_SCHEMA}.batches"
TOP_TYPE = (
    "array<struct<rank:int,tconst:string,num_votes:int,average_rating:decimal(3,1),"
    "ranking_score:double>>"
)
BATCHES_DDL = f"""
    stream_id string, ingest_id string, batch_id bigint, batches bigint, records bigint,
    ratings_processed bigint, feed_rows bigint, votes_sum bigint,
    average_number_of_votes double, records_per_batch int, min_votes int, top_n int,
    title_types array<string>, top {TOP_TYPE}, processed_at timestamp, duration_ms bigint
"""
RATINGS_DDL = """
    stream_id string, ingest_id string, batch_id bigint,
    tconst string, average_rating decimal(3,1), num_votes int
"""


class StreamError(Exception):
    pass


@dataclass(frozen=True)
class StreamOptions:
    records_per_batch: int = 100
    min_votes: int = 500
    top_n: int = 10
    title_types: tuple[str, ...] = ("movie",)

    def answer_key(self) -> str:
        """What changes the stream's answer (not the batch size)."""
        key = json.dumps([self.min_votes, self.top_n, sorted(self.title_types)])
        return hashlib.sha1(key.encode()).hexdigest()[:8]


def ensure_tables(spark) -> None:
    spark.sql(f"create database if not exists {STREAM_SCHEMA}")
    spark.sql(f"create table if not exists {RATINGS_TABLE} ({RATINGS_DDL}) using delta")
    spark.sql(f"create table if not exists {BATCHES_TABLE} ({BATCHES_DDL}) using delta")


def restore_state(spark, stream_id: str, before_batch: int) -> RunningState:
    """The running state after the last micro-batch before ``before_batch`` (restart)."""
    rows = (
        spark.table(BATCHES_TABLE)
        .where((F.col("stream_id") == stream_id) & (F.col("batch_id") < before_batch))
        .orderBy(F.col("batch_id").desc())
        .limit(1)
        .collect()
    )
    if not rows:
        return RunningState()
    row = rows[0]
    top = tuple(Rated(t.tconst, t.num_votes, t.average_rating) for t in row.top)
    return RunningState(row.batches, row.ratings_processed, row.votes_sum, top)


class BatchSink:
    """``foreachBatch`` target: the process function plus idempotent Delta writes."""

    def __init__(self, spark, stream_id, ingest_id, options, eligible, total_rows, log):
        self.spark = spark
        self.stream_id = stream_id
        self.ingest_id = ingest_id
        self.options = options
        self.eligible = eligible
        self.total_rows = total_rows
        self.log = log
        self.state: RunningState | None = None

    def __call__(self, batch, batch_id: int) -> None:
        started = time.monotonic()
        if self.state is None or self.state.batches != batch_id:
            self.state = restore_state(self.spark, self.stream_id, batch_id)
        batch = batch.persist()
        try:
            totals, candidates = summarise_batch(
                batch, self.eligible, self.options.min_votes, self.options.top_n
            )
            records, votes_sum = totals.first()
            found = [Rated(r.tconst, r.num_votes, r.average_rating) for r in candidates.collect()]
            state = advance(self.state, records, votes_sum, found, self.options.top_n)
            writer_options = {"txnAppId": self.stream_id, "txnVersion": str(batch_id)}
            (
                batch.select(
                    F.lit(self.stream_id).alias("stream_id"),
                    F.lit(self.ingest_id).alias("ingest_id"),
                    F.lit(batch_id).cast("bigint").alias("batch_id"),
                    "tconst",
                    "average_rating",
                    "num_votes",
                )
                .write.format("delta")
                .mode("append")
                .options(**writer_options)
                .saveAsTable(RATINGS_TABLE)
            )
            duration_ms = int((time.monotonic() - started) * 1000)
            self._batch_row(batch_id, records, state, duration_ms).write.format("delta").mode(
                "append"
            ).options(**writer_options).saveAsTable(BATCHES_TABLE)
        finally:
            batch.unpersist()
        self.state = state
        self._report(batch_id, records, state, started)

    def _batch_row(self, batch_id, records, state: RunningState, duration_ms):
        o = self.options
        row = (
            self.stream_id, self.ingest_id, batch_id, state.batches, records,
            state.ratings_processed, self.total_rows, state.votes_sum,
            state.average_number_of_votes, o.records_per_batch, o.min_votes, o.top_n,
            sorted(o.title_types), state.ranked(), datetime.now(UTC), duration_ms,
        )
        return self.spark.createDataFrame([row], BATCHES_DDL)

    def _report(self, batch_id, records, state: RunningState, started):
        done = state.ratings_processed
        first = state.top[0].tconst if state.top else "-"
        self.log(
            f"stream: batch {batch_id}: {records} records, {done:,}/{self.total_rows:,} "
            f"({done / max(self.total_rows, 1):.0%}), average {state.average_number_of_votes:.1f}"
            f" votes, #1 {first} ({(time.monotonic() - started) * 1000:.0f} ms)"
        )


def stream(spark, home, options: StreamOptions, log=None) -> dict:
    """Process every rating of the current ingest not processed yet, then stop."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    ingest_id = current_ingest(home.lake)
    if ingest_id is None:
        raise StreamError(
            f"no ingest in {home.lake}: run `imdb-pipeline ingest --source DIR` first"
        )
    feed = home.lake / ingest_id / "ratings_feed" / "part-0.parquet"
    stream_id = f"{ingest_id}-{options.answer_key()}"
    total_rows = feed_rows(str(feed))
    ensure_tables(spark)
    spark.dataSource.register(RatingsFeedSource)
    eligible = (
        spark.table("imdb_lookup.title_basics")
        .where(F.col("title_type").isin(list(options.title_types)))
        .select("tconst")
        .cache()
    )
    sink = BatchSink(spark, stream_id, ingest_id, options, eligible, total_rows, log)
    checkpoint: Path = home.checkpoints / f"stream-{stream_id}"
    query = (
        spark.readStream.format(SOURCE_NAME)
        .option("path", str(feed))
        .option("records_per_batch", str(options.records_per_batch))
        .load()
        .writeStream.queryName(f"ratings-{stream_id}")
        .foreachBatch(sink)
        .option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True)
        .start()
    )
    try:
        query.awaitTermination()
    finally:
        eligible.unpersist()
    if query.exception() is not None:
        raise StreamError(f"stream {stream_id} failed: {query.exception()}")
    state = restore_state(spark, stream_id, sys.maxsize)
    return {
        "stream_id": stream_id,
        "ingest_id": ingest_id,
        "batches": state.batches,
        "ratings_processed": state.ratings_processed,
        "feed_rows": total_rows,
        "average_number_of_votes": state.average_number_of_votes,
        "top": [r.tconst for r in state.top],
    }

