"""Everything a pipeline run keeps lives under one home folder.

``--home DIR`` or ``IMDB_PIPELINE_HOME``; the default is ``.home/`` in the repository
(ignored by git). Two homes share nothing: each has its own lake, warehouse, metastore,
checkpoints and logs, so they never interfere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOME = REPO_ROOT / ".home"


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def resolve(cls, path: str | os.PathLike | None = None) -> Home:
        chosen = path or os.environ.get("IMDB_PIPELINE_HOME") or DEFAULT_HOME
        return cls(Path(chosen).expanduser().resolve())

    @property
    def lake(self) -> Path:  # Parquet lookup tables, one folder per ingest
        return self.root / "lake"

    @property
    def warehouse(self) -> Path:  # spark.sql.warehouse.dir: streamed Delta tables, dbt marts
        return self.root / "warehouse"

    @property
    def metastore(self) -> Path:  # embedded Derby metastore
        return self.root / "metastore"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def downloads(self) -> Path:  # files fetched from HTTP/S3 sources
        return self.root / "downloads"

    @property
    def dbt_target(self) -> Path:  # dbt's target/ (artifacts, partial parse) per home
        return self.root / "dbt" / "target"

    def make(self) -> Home:
        for folder in (self.lake, self.warehouse, self.metastore, self.checkpoints, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        return self
