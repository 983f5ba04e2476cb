"""A Structured Streaming source over a stream's feeds (streaming/feeds.py), N records at a time.

An offset is ``{"row": n}``: the number of rows before it in the concatenation of the
registered feeds; a micro-batch is rows ``[start, end)``, at most ``records_per_batch`` of them.

Admission control is Spark's own: ``getDefaultReadLimit`` is ``ReadMaxRows(records_per_batch)``
and ``latestOffset(start, limit)`` honours whatever limit the engine passes (``ReadAllAvailable``
included). With ``SupportsTriggerAvailableNow``, ``trigger(availableNow=True)`` stops at the
rows there were when the query started, still N per micro-batch. Spark writes each planned
range to the checkpoint's offset log before it runs the micro-batch, and a restart replays an
uncommitted range: reads are deterministic for a range (the feeds are immutable files).

The rows of a range: :class:`FeedReader` (pyarrow, in the process that asks) or, for any
Spark sink, the DataFrame (``read`` runs in a Python worker). The pipeline's own sink reads
the range Spark planned with :class:`FeedReader` and never evaluates the DataFrame: a
100-record micro-batch then costs no Spark job and no Python worker task (streaming/sink.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import (
    ReadAllAvailable,
    ReadMaxRows,
    SupportsTriggerAvailableNow,
)

from ingest.schemas import STREAM_FEED

SOURCE_NAME = "imdb_ratings_feed"
SCHEMA = STREAM_FEED.ddl()  # the DataSource's schema: the feeds' columns (FEED_SCHEMA) in SQL


def feed_rows(registry: str | Path) -> int:
    """Rows in every feed registered in ``registry`` (a ``feeds.json``: a path or s3:// URI)."""
    from streaming.feeds import load, total_rows

    return total_rows(load(registry))


def pieces_of(feeds, start: int, end: int) -> list[tuple[str, int, int]]:
    """The global row range [start, end) as (file, local start, local end) pieces."""
    pieces, first = [], 0
    for feed in feeds:
        lo, hi = max(start, first), min(end, first + feed.rows)
        if lo < hi:
            pieces.append((feed.path, lo - first, hi - first))
        first += feed.rows
    return pieces


def next_end(start: int, available: int, limit) -> int:
    """End offset of the next micro-batch: admission control in one pure function.

    ``limit``: a ``ReadMaxRows``, ``ReadAllAvailable``, or a plain number of rows.
    """
    if isinstance(limit, ReadAllAvailable):
        return available
    max_rows = limit.max_rows if isinstance(limit, ReadMaxRows) else int(limit)
    return min(available, start + max_rows)


def _offset_entry(path: str) -> int:
    """The end row in one offset log entry (a version line, a metadata line, then one offset
    per source: ours is the last line)."""
    from imdb_pipeline.storage import read_text

    text = read_text(path)
    if text is None:
        raise FileNotFoundError(f"{path}: no such offset log entry")
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 3 or not lines[0].startswith("v"):
        raise ValueError(f"{path}: not a Structured Streaming offset log entry")
    return int(json.loads(lines[-1])["row"])


def planned_end(checkpoint: str | Path, batch_id: int) -> int:
    """The end offset (a feed row) Spark planned for micro-batch ``batch_id``.

    Spark writes the offsets of a micro-batch to ``<checkpoint>/offsets/<batch_id>`` before
    it runs the micro-batch; a replay after a restart reads the same file. ``checkpoint``: a
    local path or an ``s3://`` URI.
    """
    from imdb_pipeline.storage import join

    return _offset_entry(join(checkpoint, "offsets", str(batch_id)))


def last_committed(checkpoint: str | Path) -> tuple[int, int] | None:
    """(batch id, end row) of the last micro-batch Spark committed in ``checkpoint``
    (``commits/<id>`` written after the sink returned), or None before the first one."""
    from imdb_pipeline.storage import join, list_names

    ids = [int(name) for name in list_names(join(checkpoint, "commits")) if name.isdigit()]
    if not ids:
        return None
    return max(ids), planned_end(checkpoint, max(ids))


def caught_up(checkpoint: str | Path, feed_rows: int) -> bool:
    """Whether Spark's checkpoint has nothing left for the feeds: every micro-batch it
    planned (``offsets/``) is committed (``commits/``) and the last one ends at ``feed_rows``
    (the registered feeds' total). A query started then would only plan nothing, for
    ~5 s of Spark's query start and stop."""
    from imdb_pipeline.storage import join, list_names

    planned = [int(name) for name in list_names(join(checkpoint, "offsets")) if name.isdigit()]
    if not planned:
        return feed_rows == 0
    committed = last_committed(checkpoint)
    return committed is not None and committed == (max(planned), feed_rows)


class FeedReader:
    """Rows of the feeds by global range, as one Arrow table (``FEED_SCHEMA``).

    Keeps each feed file open and the last row group it decoded: consecutive 100-record
    micro-batches read one 10,000-row group once between them (a fraction of a millisecond
    each, where a Spark job over the micro-batch costs tens of milliseconds).
    """

    def __init__(self) -> None:
        self._files: dict[str, pq.ParquetFile] = {}
        self._group: tuple[str, int, pa.Table] | None = None

    def read(self, feeds, start: int, end: int) -> pa.Table:
        """Rows [start, end) of the concatenated ``feeds`` (a list of ``streaming.feeds.Feed``)."""
        from streaming.feeds import FEED_SCHEMA

        parts = [
            piece
            for path, lo, hi in pieces_of(feeds, start, end)
            for piece in self._range(path, lo, hi)
        ]
        return pa.concat_tables(parts) if parts else FEED_SCHEMA.empty_table()

    def _range(self, path: str, start: int, end: int):
        feed = self._files.get(path)
        if feed is None:
            from imdb_pipeline.storage import filesystem_for

            filesystem, where = filesystem_for(path)
            feed = self._files[path] = pq.ParquetFile(filesystem.open_input_file(where))
        first_row = 0
        for group in range(feed.metadata.num_row_groups):
            rows = feed.metadata.row_group(group).num_rows
            lo, hi = max(start, first_row), min(end, first_row + rows)
            if lo < hi:
                yield self._row_group(path, feed, group).slice(lo - first_row, hi - lo)
            first_row += rows
            if first_row >= end:
                break

    def _row_group(self, path: str, feed: pq.ParquetFile, group: int) -> pa.Table:
        if self._group is None or self._group[:2] != (path, group):
            self._group = (path, group, feed.read_row_group(group))
        return self._group[2]


class RangePartition(InputPartition):
    """One micro-batch's rows [start, end): a single partition (100 rows need no more)."""

    def __init__(self, start: int, end: int):
        super().__init__((start, end))
        self.start, self.end = start, end


class RatingsFeedReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    """Spark's stream reader of a stream's feeds (PySpark's Python data source API): offsets
    ``{"row": n}``, at most ``records_per_batch`` rows a micro-batch.

    Options: ``registry`` (the stream's ``feeds.json``) and ``records_per_batch`` (default
    100; ValueError below 1).
    """

    def __init__(self, options: dict):
        self.registry = options["registry"]
        self.records_per_batch = int(options.get("records_per_batch", 100))
        if self.records_per_batch < 1:
            raise ValueError("records_per_batch must be at least 1")
        self.stop_at: int | None = None

    def initialOffset(self) -> dict:
        """Where a new query starts: ``{"row": 0}``, the first row of the first feed."""
        return {"row": 0}

    def getDefaultReadLimit(self):
        """Spark's admission control: ``ReadMaxRows(records_per_batch)`` per micro-batch."""
        return ReadMaxRows(self.records_per_batch)

    def prepareForTriggerAvailableNow(self) -> None:
        """For ``trigger(availableNow=True)``: end at the rows registered now, however many
        feeds are registered while the query runs."""
        self.stop_at = feed_rows(self.registry)

    def latestOffset(self, start: dict, limit) -> dict:
        """The end of the next micro-batch from ``start`` under Spark's ``limit``
        (:func:`next_end`), over the rows registered now (or up to the availableNow end)."""
        # the registry grows while a --follow stream runs; availableNow stops where it started
        available = feed_rows(self.registry) if self.stop_at is None else self.stop_at
        return {"row": next_end(start["row"], available, limit)}

    def partitions(self, start: dict, end: dict) -> list[RangePartition]:
        """One :class:`RangePartition` for rows [start, end); none for an empty range."""
        return [RangePartition(start["row"], end["row"])] if end["row"] > start["row"] else []

    def read(self, partition: InputPartition):
        """Yield the partition's rows as Arrow record batches (the feeds' columns), read from
        the feeds registered now; runs in a Python worker."""
        from streaming.feeds import load

        assert isinstance(partition, RangePartition)  # one that partitions() returned
        table = FeedReader().read(load(self.registry), partition.start, partition.end)
        yield from table.to_batches()

    def commit(self, end: dict) -> None:
        """Nothing to release: the feeds are immutable and stay, to fold a range again."""


class RatingsFeedSource(DataSource):
    """The ``imdb_ratings_feed`` streaming source (``spark.dataSource.register``); options
    ``registry`` and ``records_per_batch`` (:class:`RatingsFeedReader`)."""

    @classmethod
    def name(cls) -> str:
        """The format name ``spark.readStream.format`` takes: ``imdb_ratings_feed``."""
        return SOURCE_NAME

    def schema(self) -> str:
        """The rows' schema in Spark DDL: tconst, average_rating, num_votes, is_deleted."""
        return SCHEMA

    def streamReader(self, schema):
        """A :class:`RatingsFeedReader` with this source's options (``schema`` is unused)."""
        return RatingsFeedReader(self.options)
