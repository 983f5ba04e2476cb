"""Local staging of processed micro-batches (streaming/staging.py)."""

from __future__ import annotations

import pyarrow as pa

from streaming.staging import Staging


def log_rows(batch_id: int, tconsts: list[str]) -> pa.Table:
    return pa.table({
        "tconst": tconsts,
        "batch_id": pa.array([batch_id] * len(tconsts), pa.int64()),
    })


def test_staged_batches_come_back_in_batch_order_with_their_batch_rows(tmp_path):
    staging = Staging(tmp_path / "staged")
    staging.stage(11, log_rows(11, ["tt3"]), {"batch_id": 11, "end_row": 3})
    staging.stage(2, log_rows(2, ["tt1", "tt2"]), {"batch_id": 2, "end_row": 2})
    assert staging.batch_ids() == [2, 11]
    rows, batch_rows = staging.read([2, 11])
    assert rows["tconst"].to_pylist() == ["tt1", "tt2", "tt3"]
    assert rows.schema.metadata is None  # the batch row does not travel into Delta
    assert batch_rows == [{"batch_id": 2, "end_row": 2}, {"batch_id": 11, "end_row": 3}]


def test_a_half_written_file_is_not_a_staged_batch_and_drop_removes_it(tmp_path):
    staging = Staging(tmp_path / "staged")
    staging.stage(0, log_rows(0, ["tt1"]), {"batch_id": 0})
    (staging.folder / "batch-000000000001.tmp").write_bytes(b"cut short")
    assert staging.batch_ids() == [0]
    staging.drop([0])
    assert staging.batch_ids() == [] and list(staging.folder.iterdir()) == []
    assert staging.read([]) == (None, [])
