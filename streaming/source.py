"""A Structured Streaming source over a stream's feeds (streaming/feeds.py), N records at a time.

An offset is ``{"row": n}``: the number of rows before it in the concatenation of the
registered feeds; a micro-batch reads rows ``[start, end)``. ``getDefaultReadLimit`` returns ``ReadMaxRows(records_per_batch)`` and the
reader supports ``availableNow``, so ``trigger(availableNow=True)`` keeps the per-batch
limit and stops at the end. ``read`` is deterministic for a range, so a restart that
replays a range reads the same rows.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import (
    ReadAllAvailable,
    ReadLimit,
    ReadMaxRows,
    SupportsTriggerAvailableNow,
)

SOURCE_NAME = "imdb_ratings_feed"
SCHEMA = "tconst string, average_rating decimal(3,1), num_votes int, is_deleted boolean"


class RowRange(InputPartition):
    def __init__(self, pieces: list[tuple[str, int, int]]):
        self.pieces = pieces  # (feed file, first row, end row) in feed order


def feed_rows(registry: str) -> int:
    from streaming.feeds import load, total_rows

    return total_rows(load(Path(registry)))


def pieces_of(feeds, start: int, end: int) -> list[tuple[str, int, int]]:
    """The global row range [start, end) as (file, local start, local end) pieces."""
    pieces, first = [], 0
    for feed in feeds:
        lo, hi = max(start, first), min(end, first + feed.rows)
        if lo < hi:
            pieces.append((feed.path, lo - first, hi - first))
        first += feed.rows
    return pieces


def next_end(start: int, available: int, limit: ReadLimit) -> int:
    """End offset of the next micro-batch: admission control in one pure function."""
    if isinstance(limit, ReadAllAvailable):
        return available
    if isinstance(limit, ReadMaxRows):
        return min(available, start + limit.max_rows)
    raise ValueError(f"unsupported read limit {limit!r}")


def read_range(path: str, start: int, end: int):
    """The feed rows [start, end) as Arrow batches, reading only the row groups needed."""
    import pyarrow.parquet as pq

    feed = pq.ParquetFile(path)
    first_row = 0
    for group in range(feed.metadata.num_row_groups):
        rows = feed.metadata.row_group(group).num_rows
        lo, hi = max(start, first_row), min(end, first_row + rows)
        if lo < hi:
            table = feed.read_row_group(group).slice(lo - first_row, hi - lo)
            yield from table.to_batches()
        first_row += rows
        if first_row >= end:
            break


class RatingsFeedReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    def __init__(self, options: dict):
        self.registry = options["registry"]
        self.records_per_batch = int(options.get("records_per_batch", 100))
        if self.records_per_batch < 1:
            raise ValueError("records_per_batch must be at least 1")
        self.stop_at: int | None = None

    @property
    def available(self) -> int:  # feeds are appended while a --follow stream runs
        return feed_rows(self.registry)

    def initialOffset(self) -> dict:
        return {"row": 0}

    def getDefaultReadLimit(self) -> ReadLimit:
        return ReadMaxRows(self.records_per_batch)

    def prepareForTriggerAvailableNow(self) -> None:
        self.stop_at = self.available

    def latestOffset(self, start: dict, limit: ReadLimit) -> dict:
        available = self.available if self.stop_at is None else self.stop_at
        return {"row": next_end(start["row"], available, limit)}

    def reportLatestOffset(self) -> dict:
        return {"row": self.available}

    def partitions(self, start: dict, end: dict):
        if end["row"] <= start["row"]:
            return []
        from streaming.feeds import load

        return [RowRange(pieces_of(load(Path(self.registry)), start["row"], end["row"]))]

    def read(self, partition: RowRange):
        for path, start, end in partition.pieces:
            yield from read_range(path, start, end)

    def commit(self, end: dict) -> None:
        pass


class RatingsFeedSource(DataSource):
    @classmethod
    def name(cls) -> str:
        return SOURCE_NAME

    def schema(self) -> str:
        return SCHEMA

    def streamReader(self, schema):
        return RatingsFeedReader(self.options)
