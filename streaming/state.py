"""The stream's Delta tables in ``imdb_stream`` and the running state rebuilt from them.

Tables (Delta, in the warehouse):
  imdb_stream.ratings          every processed record (append-only log), with the votes its
                               title had before (``previous_votes``): the current titles are
                               the latest record per tconst that is not a deletion
  imdb_stream.batches          one row per micro-batch: running count, sum and average of
                               numVotes, the running top-N, the options, timings
  imdb_stream.stream_progress  one row per micro-batch from the query's progress reports:
                               input rows, rows/s, the duration and its parts

Spark creates them (so the metastore, dbt and SQL clients know them); the driver then reads
and appends with delta-rs (``imdb_pipeline.delta``). A run that starts, or replays a
micro-batch, folds on from the state these tables hold (:func:`load_state`), not from Spark.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from imdb_pipeline import delta, storage
from imdb_pipeline.storage import join
from ingest.schemas import STREAM_BATCHES, STREAM_PROGRESS, STREAM_RATINGS, STREAM_SCHEMA
from streaming.process import Rated, RunningState, tenths

RATINGS_TABLE = f"{STREAM_SCHEMA}.{STREAM_RATINGS.name}"
BATCHES_TABLE = f"{STREAM_SCHEMA}.{STREAM_BATCHES.name}"
PROGRESS_TABLE = f"{STREAM_SCHEMA}.{STREAM_PROGRESS.name}"


class StreamError(Exception):
    """The stream cannot go on (its tables disagree, nothing to stream, the query failed):
    one line that says what to do."""


def ensure_tables(spark) -> dict[str, str]:
    """Create the stream's tables if needed; return their locations (micro-batches write by
    path: a name would cost metastore look-ups on every append).

    Existing tables are looked up in the metastore only (``delta.table_location``): a Delta
    statement on them (``create table if not exists``, ``describe detail``) costs Spark a job
    each to rebuild the table's state from a log that delta-rs appends to (2-3 s each)."""
    locations = {}
    for table, columns in (
        (RATINGS_TABLE, STREAM_RATINGS),
        (BATCHES_TABLE, STREAM_BATCHES),
        (PROGRESS_TABLE, STREAM_PROGRESS),
    ):
        location = delta.table_location(spark, table)
        if location is None:
            spark.sql(f"create database if not exists {STREAM_SCHEMA}")
            # One Delta log checkpoint per 100 commits, not 10 (a checkpoint is a Spark job
            # and 100-record micro-batches commit often); file statistics only for the leading
            # id columns (stream_id, ingest_id, batch_id), the ones the state rebuild filters on.
            spark.sql(
                f"create table if not exists {table} ({columns.ddl()}) using delta tblproperties ("
                "'delta.checkpointInterval' = '100', 'delta.dataSkippingNumIndexedCols' = '3')"
            )
            location = delta.table_location(spark, table)
            assert location is not None, table  # created just above
        locations[table] = location
    return locations


def latest_per_title(log: pa.Table) -> pa.Table:
    """Per tconst its record with the largest ``feed_row`` (the log's columns, tconst order):
    the current titles once the deletions among them are dropped."""
    if log.num_rows == 0:
        return log
    ordered = log.sort_by([("tconst", "ascending"), ("feed_row", "descending")])
    tconst = ordered["tconst"].combine_chunks()
    first = pa.concat_arrays(
        [pa.array([True]), pc.not_equal(tconst.slice(1), tconst.slice(0, len(tconst) - 1))]
    )
    return ordered.filter(first)


def load_state(locations: dict[str, str], stream_id: str, before_batch: int) -> RunningState:
    """The running state after the micro-batches before ``before_batch``, from the tables
    (``locations``: :func:`ensure_tables`'s); an empty state before the first one.

    Raises StreamError when the two tables disagree on the number of titles."""
    mine = (pc.field("stream_id") == stream_id) & (pc.field("batch_id") < before_batch)
    batches = delta.read(
        locations[BATCHES_TABLE],
        ["batch_id", "batches", "end_row", "ratings_processed", "votes_sum", "top"],
        mine,
    )
    if batches.num_rows == 0:
        return RunningState()
    row = batches.sort_by([("batch_id", "descending")]).slice(0, 1).to_pylist()[0]
    log = delta.read(
        locations[RATINGS_TABLE],
        ["tconst", "feed_row", "num_votes", "average_rating", "is_deleted"],
        mine,
    )
    current = latest_per_title(log)
    current = current.filter(pc.invert(current["is_deleted"]))
    titles = dict(
        zip(
            current["tconst"].to_pylist(),
            zip(current["num_votes"].to_pylist(), tenths(current["average_rating"]).to_pylist()),
        )
    )
    top = tuple(
        Rated(t["tconst"], t["num_votes"], int(t["average_rating"] * 10)) for t in row["top"] or ()
    )
    state = RunningState(
        batches=row["batches"],
        records=row["end_row"],
        ratings_processed=row["ratings_processed"],
        votes_sum=row["votes_sum"],
        top=top,
        titles=titles,
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
    ids = basics.to_table(columns=["tconst"], filter=pc.field("title_type").isin(list(title_types)))
    return frozenset(ids["tconst"].to_pylist())
