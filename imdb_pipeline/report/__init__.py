"""``imdb-pipeline report``: one self-contained HTML page with the answer and how the stream
reached it.

Layers, each usable alone:

* :mod:`.data`: pure functions from the results contract, the micro-batches, the ingest
  manifest and dbt's run results (small in-memory tables) to the rows of each section;
* :mod:`.charts`: those rows as Vega-Lite charts (altair);
* :mod:`.page`: the HTML page, the charts' JavaScript inlined (no request to any host);
* :mod:`.sources`: what a home holds, read without a JVM (or through the Thrift server);
* :func:`make_report` and :func:`write_report` here: read, build, write atomically.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from imdb_pipeline.report.sources import ReportError

REPORT_FILE = "report.html"

__all__ = [
    "REPORT_FILE",
    "ReportError",
    "build_report",
    "default_folder",
    "make_report",
    "write_report",
]


def default_folder(home) -> Path:
    """Where ``report`` writes without ``--out``: ``<home>/reports``."""
    return home.root / "reports"


def build_report(source, home, *, now: datetime | None = None, lake: str | None = None) -> str:
    """The report's HTML for the answer a home holds.

    Args:
        source: a :class:`~imdb_pipeline.report.sources.DeltaSource` (embedded target) or
            :class:`~imdb_pipeline.report.sources.SqlSource` (Thrift server).
        home: the :class:`~imdb_pipeline.home.Home` (its lake's manifest, dbt's run results).
        now: the time written in the footer (default: now, UTC).
        lake: where the ingests are (default the home's; ``--storage``'s ``s3://`` lake).

    Raises:
        ResultsError: what ``results`` refuses (no marts, marts of two builds, an older
            answer after a failed transform), with the same line.
        ReportError: the stream's micro-batch log is missing or unreadable.
    """
    from imdb_pipeline.report import charts, data, page, sources
    from imdb_pipeline.results import collect

    results = collect(source.reader)
    summary = source.summary()
    batches = source.batches(results["stream"]["stream_id"])
    ingest_id = summary.get("ingest_id")
    lake = lake or str(home.lake)
    try:
        content = data.report_data(
            results,
            summary,
            batches,
            sources.ingest_manifest(lake, ingest_id),
            sources.dbt_run_results(home.dbt_target),
            current_ingest=sources.current_ingest(lake),
            trigger_ms=source.trigger_ms(results["stream"]["stream_id"]),
        )
    except ValueError as exc:
        raise ReportError(f"{exc}; run `imdb-pipeline stream` then `transform` again") from exc
    return page.render_page(
        content,
        charts.all_charts(content),
        home=str(home.root),
        generated_at=now or datetime.now(UTC),
    )


def write_report(html: str, folder: str | os.PathLike) -> Path:
    """Write ``html`` to ``<folder>/report.html`` atomically: a temporary file in the same
    folder, flushed to disk, then renamed over the old report (a reader sees the old page or
    the new one, never half of one). Creates ``folder``. Returns the file's path.

    Raises:
        ReportError: the folder cannot be created or written.
    """
    folder = Path(folder).expanduser()
    target = folder / REPORT_FILE
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{REPORT_FILE}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(html)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ReportError(
            f"cannot write the report to {target}: {exc.strerror or exc}; pass "
            "another folder with --out DIR"
        ) from exc
    return target


def make_report(source, home, folder: str | os.PathLike | None = None) -> Path:
    """Build the report (:func:`build_report`) and write it (:func:`write_report`) into
    ``folder`` (default ``<home>/reports``); returns the file's path."""
    html = build_report(source, home)
    return write_report(html, folder if folder is not None else default_folder(home))
