"""streaming.source: admission control, the planned range of a micro-batch, range reads."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadMaxRows

from streaming.feeds import FEED_SCHEMA, Feed
from streaming.source import (
    FeedReader,
    RatingsFeedReader,
    caught_up,
    next_end,
    pieces_of,
    planned_end,
)


def test_next_end_takes_at_most_the_limit_and_never_passes_the_end():
    assert next_end(0, 250, ReadMaxRows(100)) == 100
    assert next_end(200, 250, ReadMaxRows(100)) == 250
    assert next_end(250, 250, ReadMaxRows(100)) == 250
    assert next_end(0, 250, ReadAllAvailable()) == 250
    assert next_end(7, 250, 3) == 10


def write_feed(path, tconsts, row_group_size=10):
    rows = len(tconsts)
    table = pa.table(
        {
            "tconst": tconsts,
            "average_rating": pa.array([None] * rows, pa.decimal128(3, 1)),
            "num_votes": pa.array(range(rows), pa.int32()),
            "is_deleted": [False] * rows,
        }
    ).cast(FEED_SCHEMA)
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def test_the_reader_cuts_the_feeds_into_micro_batches_and_stops_where_available_now_began(tmp_path):
    path = write_feed(tmp_path / "feed.parquet", [f"tt{i:07d}" for i in range(25)])
    registry = tmp_path / "feeds.json"
    one = {"ingest_id": "a", "path": str(path), "rows": 25, "kind": "full"}
    registry.write_text(json.dumps([one]))
    reader = RatingsFeedReader({"registry": str(registry), "records_per_batch": "10"})
    assert reader.getDefaultReadLimit().max_rows == 10
    reader.prepareForTriggerAvailableNow()
    registry.write_text(json.dumps([one, {**one, "ingest_id": "b", "kind": "changes"}]))
    offset, sizes = reader.initialOffset(), []
    while (end := reader.latestOffset(offset, reader.getDefaultReadLimit())) != offset:
        sizes.append(end["row"] - offset["row"])
        offset = end
    assert sizes == [10, 10, 5] and offset == {"row": 25}  # the later feed waits for a later run
    following = RatingsFeedReader({"registry": str(registry), "records_per_batch": "10"})
    assert following.latestOffset({"row": 25}, ReadAllAvailable()) == {"row": 50}


def test_a_partition_reads_its_range_across_feeds(tmp_path):
    path = write_feed(tmp_path / "feed.parquet", [f"tt{i:07d}" for i in range(25)])
    registry = tmp_path / "feeds.json"
    one = {"ingest_id": "a", "path": str(path), "rows": 25, "kind": "full"}
    registry.write_text(json.dumps([one, {**one, "ingest_id": "b", "kind": "changes"}]))
    reader = RatingsFeedReader({"registry": str(registry)})
    (partition,) = reader.partitions({"row": 20}, {"row": 30})
    got = pa.Table.from_batches(list(reader.read(partition)))
    assert got["tconst"].to_pylist() == [f"tt{i:07d}" for i in (*range(20, 25), *range(5))]
    assert reader.partitions({"row": 30}, {"row": 30}) == []


def test_the_feed_reader_spans_row_groups_and_reuses_the_last_one(tmp_path):
    path = write_feed(tmp_path / "feed.parquet", [f"tt{i:07d}" for i in range(95)])
    feeds = [Feed("a", str(path), 95, "full")]
    reader = FeedReader()
    assert reader.read(feeds, 7, 33)["num_votes"].to_pylist() == list(range(7, 33))
    assert reader.read(feeds, 90, 95).num_rows == 5
    assert reader.read(feeds, 91, 93)["num_votes"].to_pylist() == [91, 92]
    assert reader.read(feeds, 40, 40).num_rows == 0
    assert reader.read(feeds, 40, 40).schema == FEED_SCHEMA


def test_a_range_across_feeds_is_cut_into_pieces():
    feeds = [Feed("a", "a.parquet", 10, "full"), Feed("b", "b.parquet", 5, "changes")]
    assert pieces_of(feeds, 8, 13) == [("a.parquet", 8, 10), ("b.parquet", 0, 3)]
    assert pieces_of(feeds, 10, 15) == [("b.parquet", 0, 5)]


def test_planned_end_reads_the_offset_spark_logged_for_the_micro_batch(tmp_path):
    offsets = tmp_path / "offsets"
    offsets.mkdir()
    (offsets / "3").write_text('v1\n{"batchWatermarkMs":0,"conf":{}}\n{"row": 400}')
    assert planned_end(tmp_path, 3) == 400
    (offsets / "4").write_text("v1\n")
    with pytest.raises(ValueError, match="not a Structured Streaming offset log entry"):
        planned_end(tmp_path, 4)


def test_caught_up_only_when_every_planned_micro_batch_is_committed_up_to_the_feeds_end(tmp_path):
    assert caught_up(tmp_path, 0)  # no query ever ran, nothing registered
    assert not caught_up(tmp_path, 30)  # feeds registered, no micro-batch planned yet
    (tmp_path / "offsets").mkdir()
    (tmp_path / "commits").mkdir()
    for batch_id, end in ((0, 10), (1, 20)):
        (tmp_path / "offsets" / str(batch_id)).write_text(f'v1\n{{}}\n{{"row": {end}}}')
    (tmp_path / "commits" / "0").write_text("v1\n{}")
    assert not caught_up(tmp_path, 20)  # micro-batch 1 planned, not committed: Spark replays it
    (tmp_path / "commits" / "1").write_text("v1\n{}")
    assert caught_up(tmp_path, 20)
    assert not caught_up(tmp_path, 30)  # a newer feed's rows are still to come
