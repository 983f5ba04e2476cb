"""Micro-batches processed but not yet in Delta: one local Arrow file per micro-batch.

A Delta commit costs 200-400 ms here, Spark's whole micro-batch about 100 ms, so the sink
does not commit every 100-record micro-batch. It buffers each one here, as one file written
under a temporary name and renamed when whole (the ratings-log rows, with the batch row in
the file's metadata), before ``foreachBatch`` returns, that is before Spark commits the
micro-batch to its checkpoint. Every few seconds (and at the end of a run) the buffered
micro-batches go to Delta in one commit per table and their files are removed.

So whatever Spark's checkpoint says is done is in Delta or buffered here; a run first moves
what an earlier run buffered into Delta (skipping micro-batches a flush cut short already
wrote), and only then rebuilds its state from the tables. Same durability as Spark's own
checkpoint files on a local disk: written and renamed, not fsynced.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
from pyarrow import ipc

SUFFIX = ".arrow"
BATCH_KEY = b"imdb_pipeline.batch"


class MicroBatchBuffer:
    """The micro-batches processed but not yet in Delta, in ``folder``: one Arrow IPC file
    per micro-batch, ``batch-<id, 12 digits>.arrow`` (its ratings-log rows, its batch row in
    the schema metadata)."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _path(self, batch_id: int) -> Path:
        return self.folder / f"batch-{batch_id:012d}{SUFFIX}"

    def add(self, batch_id: int, log_rows: pa.Table, batch_row: dict) -> None:
        """Keep one processed micro-batch: its log rows and its batch row (JSON-able)."""
        metadata = {**(log_rows.schema.metadata or {}), BATCH_KEY: json.dumps(batch_row).encode()}
        table = log_rows.replace_schema_metadata(metadata)
        final = self._path(batch_id)
        tmp = final.with_suffix(".tmp")
        with ipc.new_file(tmp, table.schema) as writer:
            writer.write_table(table)
        os.replace(tmp, final)

    def batch_ids(self) -> list[int]:
        """The buffered micro-batches, oldest first (half-written files are not listed)."""
        return sorted(int(p.name[6 : -len(SUFFIX)]) for p in self.folder.glob(f"batch-*{SUFFIX}"))

    def read(self, batch_ids: list[int]) -> tuple[pa.Table | None, list[dict]]:
        """The log rows of ``batch_ids`` (one table) and their batch rows, in batch order."""
        tables, rows = [], []
        for batch_id in batch_ids:
            with ipc.open_file(self._path(batch_id)) as reader:
                table = reader.read_all()
            rows.append(json.loads(table.schema.metadata[BATCH_KEY]))
            tables.append(table.replace_schema_metadata(None))
        return (pa.concat_tables(tables) if tables else None), rows

    def drop(self, batch_ids: list[int]) -> None:
        """Remove the files of ``batch_ids`` (once they are in Delta; one already gone is no
        error) and any ``.tmp`` a process killed while writing left."""
        for batch_id in batch_ids:
            self._path(batch_id).unlink(missing_ok=True)
        for tmp in self.folder.glob("*.tmp"):  # left by a process killed while writing
            tmp.unlink(missing_ok=True)
