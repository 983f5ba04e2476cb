"""streaming.source: admission control and deterministic range reads."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadMaxRows

from streaming.source import next_end, read_range


def test_next_end_honours_max_rows_and_read_all():
    assert next_end(0, 250, ReadMaxRows(100)) == 100
    assert next_end(200, 250, ReadMaxRows(100)) == 250
    assert next_end(250, 250, ReadMaxRows(100)) == 250
    assert next_end(0, 250, ReadAllAvailable()) == 250
    with pytest.raises(ValueError):
        next_end(0, 1, object())


def test_read_range_spans_row_groups(tmp_path):
    path = tmp_path / "feed.parquet"
    table = pa.table({"tconst": [f"tt{i:07d}" for i in range(95)], "num_votes": list(range(95))})
    pq.write_table(table, path, row_group_size=10)
    got = pa.Table.from_batches(list(read_range(str(path), 7, 33)))
    assert got.column("num_votes").to_pylist() == list(range(7, 33))
    assert pa.Table.from_batches(list(read_range(str(path), 90, 95))).num_rows == 5
    assert list(read_range(str(path), 40, 40)) == []


def test_a_range_across_feeds_is_cut_into_pieces():
    from streaming.feeds import Feed
    from streaming.source import pieces_of

    feeds = [Feed("a", "a.parquet", 10, "full"), Feed("b", "b.parquet", 5, "changes")]
    assert pieces_of(feeds, 8, 13) == [("a.parquet", 8, 10), ("b.parquet", 0, 3)]
    assert pieces_of(feeds, 10, 15) == [("b.parquet", 0, 5)]
