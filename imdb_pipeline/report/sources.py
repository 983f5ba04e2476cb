"""What the report reads from a home, without a JVM on the embedded target.

* The marts: :func:`imdb_pipeline.results.collect` over a :class:`~imdb_pipeline.results.DeltaReader`
  (their Delta files, delta-rs) or a :class:`~imdb_pipeline.results.ThriftReader` (``--target
  thrift``), so the report refuses exactly what ``results`` refuses.
* The run_summary row's ingest id, dbt invocation and build time (not in the results JSON).
* ``imdb_stream.batches``: the stream's micro-batches, from ``<warehouse>/imdb_stream.db/batches``
  with delta-rs, or through the Thrift server.
* Files of the home: the ingest's ``lake/<ingest_id>/_manifest.json`` and dbt's
  ``dbt/target/run_results.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

from imdb_pipeline.results import MART_SCHEMA, DeltaReader, mart_path
from ingest.schemas import STREAM_SCHEMA

BATCH_COLUMNS = [
    "stream_id",
    "ingest_id",
    "batch_id",
    "batches",
    "records",
    "end_row",
    "ratings_processed",
    "average_number_of_votes",
    "duration_ms",
    "processed_at",
    "top",
]
SUMMARY_COLUMNS = ["stream_id", "ingest_id", "invocation_id", "built_at"]
PROGRESS_COLUMNS = ["batch_id", "duration_ms"]  # Spark's trigger time per micro-batch


class ReportError(Exception):
    """The report cannot be built or written: a stream table missing or unreadable, a
    manifest that is not JSON, data the page cannot show, a folder it cannot write; ``str()``
    is one line with the next step (exit 1)."""


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def batches_path(warehouse: str | Path, table: str = "batches") -> str:
    """Where the stream's micro-batch log lives: ``<warehouse>/imdb_stream.db/batches`` (a
    local path, or an ``s3://`` URI for a warehouse on S3); ``table``: another stream table
    (``stream_progress``)."""
    from imdb_pipeline.storage import join, s3_uri

    return join(s3_uri(str(warehouse)), f"{STREAM_SCHEMA}.db", table)


def _trigger_ms(rows: list[dict]) -> dict[int, int]:
    """batch_id -> Spark's duration of that micro-batch's trigger in ms (the last report of a
    micro-batch run twice, after a restart)."""
    return {
        row["batch_id"]: row["duration_ms"] for row in rows if row.get("duration_ms") is not None
    }


def _read_table(path: str, columns: list[str], what: str):
    """``columns`` of the Delta table at ``path`` (local or ``s3://``) as Arrow (delta-rs,
    no JVM)."""
    from deltalake.exceptions import DeltaError

    from imdb_pipeline.delta import delta_table
    from imdb_pipeline.results import read_delta
    from imdb_pipeline.storage import exists, join

    if not exists(join(path, "_delta_log")):
        raise ReportError(
            f"{what} is missing at {path}: run `imdb-pipeline stream` and "
            "`transform` (or `run`) in this home"
        )
    try:
        return read_delta(delta_table(path), columns)
    except (DeltaError, OSError, ValueError, KeyError) as exc:
        raise ReportError(
            f"cannot read {what} at {path}: {_first_line(exc)}; run `imdb-pipeline stream` again"
        ) from exc


class DeltaSource:
    """The embedded target: marts and micro-batches read from their Delta files."""

    def __init__(self, warehouse: str | Path):
        self.warehouse = warehouse
        self.reader = DeltaReader.of_warehouse(self.warehouse)

    def summary(self) -> dict:
        """The run_summary row: ``{stream_id, ingest_id, invocation_id, built_at}``."""
        rows = _read_table(
            mart_path(self.warehouse, "run_summary"), SUMMARY_COLUMNS, f"{MART_SCHEMA}.run_summary"
        ).to_pylist()
        return rows[0] if rows else {}

    def batches(self, stream_id: str) -> list[dict]:
        """The micro-batches of ``stream_id`` (any order), ``top`` as a list of dicts."""
        import pyarrow.compute as pc

        table = _read_table(batches_path(self.warehouse), BATCH_COLUMNS, f"{STREAM_SCHEMA}.batches")
        return table.filter(pc.field("stream_id") == stream_id).to_pylist()

    def trigger_ms(self, stream_id: str) -> dict[int, int]:
        """batch_id -> Spark's trigger duration in ms, from ``imdb_stream.stream_progress``
        (empty when that table is missing: the page then shows the driver's fold time)."""
        import pyarrow.compute as pc

        try:
            table = _read_table(
                batches_path(self.warehouse, "stream_progress"),
                ["stream_id", *PROGRESS_COLUMNS],
                f"{STREAM_SCHEMA}.stream_progress",
            )
        except ReportError:
            return {}
        return _trigger_ms(table.filter(pc.field("stream_id") == stream_id).to_pylist())


class SqlSource:
    """``--target thrift``: the same rows through the Thrift server (a
    :class:`~imdb_pipeline.results.ThriftReader`); arrays as JSON text, like ``results``."""

    def __init__(self, reader):
        self.reader = reader

    def summary(self) -> dict:
        """The run_summary row: ``{stream_id, ingest_id, invocation_id, built_at}`` (``{}``
        when the mart has none)."""
        select = ", ".join(f"`{c}`" for c in SUMMARY_COLUMNS)
        rows = self.reader.query(f"select {select} from {MART_SCHEMA}.run_summary")
        return rows[0] if rows else {}

    def batches(self, stream_id: str) -> list[dict]:
        """The micro-batches of ``stream_id`` (any order), ``top`` decoded from its JSON text
        into a list of dicts (``[]`` for null).

        Raises:
            ReportError: ``stream_id`` holds a quote or a backslash (it goes into the SQL).
        """
        if "'" in stream_id or "\\" in stream_id:  # ids are stream-<hex>; never quote-able text
            raise ReportError(f"unexpected stream id {stream_id!r} in run_summary")
        select = ", ".join(
            "to_json(`top`) as `top`" if c == "top" else f"`{c}`" for c in BATCH_COLUMNS
        )
        rows = self.reader.query(
            f"select {select} from {STREAM_SCHEMA}.batches where stream_id = '{stream_id}'"
        )
        return [{**row, "top": json.loads(row["top"]) if row["top"] else []} for row in rows]

    def trigger_ms(self, stream_id: str) -> dict[int, int]:
        """batch_id -> Spark's trigger duration in ms, from ``imdb_stream.stream_progress`` in
        ``reported_at`` order (a micro-batch reported twice keeps its last report). Unlike
        :meth:`DeltaSource.trigger_ms`, a missing table is not caught."""
        select = ", ".join(f"`{c}`" for c in PROGRESS_COLUMNS)
        return _trigger_ms(
            self.reader.query(
                f"select {select} from {STREAM_SCHEMA}.stream_progress where stream_id = "
                f"'{stream_id}' order by reported_at"
            )
        )


def current_ingest(lake: str | Path) -> str | None:
    """The lake's published ingest (``lake/CURRENT``; a folder or an ``s3://`` prefix), or
    None."""
    from imdb_pipeline.storage import join, read_text

    text = read_text(join(lake, "CURRENT"))
    return text.strip() if text else None


def ingest_manifest(lake: str | Path, ingest_id: str | None) -> dict | None:
    """``lake/<ingest_id>/_manifest.json``; None when that ingest is gone from the lake.

    Raises:
        ReportError: the file is there but is not JSON.
    """
    if not ingest_id:
        return None
    from imdb_pipeline.storage import join, read_text

    path = join(lake, ingest_id, "_manifest.json")
    try:
        text = read_text(path)
        return None if text is None else json.loads(text)
    except (OSError, ValueError) as exc:
        raise ReportError(
            f"cannot read the ingest manifest {path}: {_first_line(exc)}; "
            "ingest again with `imdb-pipeline ingest --force`"
        ) from exc


def dbt_run_results(target: Path) -> dict | None:
    """dbt's ``run_results.json`` in the home's dbt target folder, or None (absent or not
    JSON: the timings are then left out, the rest of the report does not depend on it)."""
    path = Path(target) / "run_results.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
