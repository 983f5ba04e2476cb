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
    """One home: ``root`` and the folders under it (see the module docstring)."""

    root: Path

    @classmethod
    def resolve(cls, path: str | os.PathLike | None = None) -> Home:
        """The home at ``path``, else ``$IMDB_PIPELINE_HOME``, else ``.home/`` in the
        repository, as an absolute path (``~`` expanded); nothing is created."""
        chosen = path or os.environ.get("IMDB_PIPELINE_HOME") or DEFAULT_HOME
        return cls(Path(chosen).expanduser().resolve())

    @property
    def lake(self) -> Path:
        """``<root>/lake``: the Parquet lookup tables, one folder per ingest (no ``--storage``)."""
        return self.root / "lake"

    @property
    def warehouse(self) -> Path:
        """``<root>/warehouse``: ``spark.sql.warehouse.dir`` (streamed Delta tables, dbt marts)
        when there is no ``--storage``."""
        return self.root / "warehouse"

    @property
    def metastore(self) -> Path:
        """``<root>/metastore``: the embedded Derby metastore (``--target local``)."""
        return self.root / "metastore"

    @property
    def checkpoints(self) -> Path:
        """``<root>/checkpoints``: a folder per stream with its buffered micro-batches
        (``staged/``) and, without ``--storage``, Spark's checkpoint, feeds.json and feeds/."""
        return self.root / "checkpoints"

    @property
    def logs(self) -> Path:
        """``<root>/logs``: pipeline.log, dbt.log and the logs of Spark, the JVM, the Thrift
        server and PostgreSQL."""
        return self.root / "logs"

    @property
    def downloads(self) -> Path:
        """``<root>/downloads``: the files fetched from HTTP and S3 sources, and the files
        generated for ``sample:`` sources."""
        return self.root / "downloads"

    @property
    def dbt_target(self) -> Path:
        """``<root>/dbt/target``: dbt's target folder (artifacts, partial parse) of this home."""
        return self.root / "dbt" / "target"

    def make(self) -> Home:
        """Create the lake, warehouse, metastore, checkpoints and logs folders (not downloads
        or dbt's target: those are made when used); returns ``self``."""
        for folder in (self.lake, self.warehouse, self.metastore, self.checkpoints, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        return self
