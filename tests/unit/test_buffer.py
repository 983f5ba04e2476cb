"""The local buffer of processed micro-batches (streaming/buffer.py)."""

from __future__ import annotations

import pyarrow as pa

from streaming.buffer import MicroBatchBuffer


def log_rows(batch_id: int, tconsts: list[str]) -> pa.Table:
    return pa.table(
        {
            "tconst": tconsts,
            "batch_id": pa.array([batch_id] * len(tconsts), pa.int64()),
        }
    )


def test_buffered_batches_come_back_in_batch_order_with_their_batch_rows(tmp_path):
    buffer = MicroBatchBuffer(tmp_path / "buffer")
    buffer.add(11, log_rows(11, ["tt3"]), {"batch_id": 11, "end_row": 3})
    buffer.add(2, log_rows(2, ["tt1", "tt2"]), {"batch_id": 2, "end_row": 2})
    assert buffer.batch_ids() == [2, 11]
    rows, batch_rows = buffer.read([2, 11])
    assert rows["tconst"].to_pylist() == ["tt1", "tt2", "tt3"]
    assert rows.schema.metadata is None  # the batch row does not travel into Delta
    assert batch_rows == [{"batch_id": 2, "end_row": 2}, {"batch_id": 11, "end_row": 3}]


def test_a_half_written_file_is_not_a_buffered_batch_and_drop_removes_it(tmp_path):
    buffer = MicroBatchBuffer(tmp_path / "buffer")
    buffer.add(0, log_rows(0, ["tt1"]), {"batch_id": 0})
    (buffer.folder / "batch-000000000001.tmp").write_bytes(b"cut short")
    assert buffer.batch_ids() == [0]
    buffer.drop([0])
    assert buffer.batch_ids() == [] and list(buffer.folder.iterdir()) == []
    assert buffer.read([]) == (None, [])
