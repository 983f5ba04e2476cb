"""``fetch``: the IMDb files of a source, located in a folder or downloaded into a cache folder.

A folder source is only located (``locate.fetch_folder``). A URL or bucket is probed (which
files are there, their sizes and versions), each file planned (skip, resume or start:
``download.plan_download``) and downloaded, ``parallel`` at a time, under one set of bars.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from ingest.progress import DownloadProgress
from ingest.schemas import ALL_FILES
from ingest.sources.download import download, plan_download
from ingest.sources.errors import SourceError
from ingest.sources.http import HttpSource
from ingest.sources.locate import describe, fetch_folder, parse_source, wanted_tables
from ingest.sources.results import FetchResult
from ingest.sources.retry import Cancelled, run_parallel
from ingest.sources.s3 import S3Source

logger = logging.getLogger(__name__)


def fetch(
    source: str | os.PathLike[str],
    dest_dir: str | os.PathLike[str],
    *,
    s3_region: str | None = None,
    s3_endpoint_url: str | None = None,
    parallel: int = 4,
    progress: bool = True,
    retries: int = 5,
    tables=None,
) -> FetchResult:
    """Fetch the IMDb files of ``source`` into ``dest_dir`` (directory sources: located, not copied).

    Args:
        source: a folder, an ``http(s)://`` base URL or ``s3://BUCKET[/PREFIX]`` (see
            ``parse_source``); a ``sample:`` source is generated, not fetched (``SourceError``).
        dest_dir: the cache folder for downloads (made if missing; unused for a folder source).
        s3_region: the bucket's region; None: the AWS configuration's.
        s3_endpoint_url: an S3-compatible store instead of AWS, or None.
        parallel: downloads (and HTTP probes) at a time, >= 1.
        progress: progress bars on stderr, drawn only when it is a terminal.
        retries: retries per request, and failures in a row per download, >= 0.
        tables: the IMDb names to fetch (default all seven; see
            ``ingest.schemas.tables_to_ingest``); the others are neither downloaded nor read,
            and are listed in ``FetchResult.skipped``.

    Returns:
        The files found (in ``ALL_FILES`` order), the optional ones absent, and what this run
        did (``FetchResult.summary``).

    Raises:
        SourceError: the source cannot be read or lacks a required file (a one-line message).
        ValueError: ``parallel`` < 1 or ``retries`` < 0.
    """
    t0 = time.monotonic()
    kind, loc = parse_source(source)
    wanted = wanted_tables(tables)
    skipped = tuple(f.name for f in ALL_FILES if f.name not in wanted)
    if kind == "dir":
        files, missing, notes = fetch_folder(loc, wanted)
        logger.debug("source %s: %d files", describe(source), len(files))
        return FetchResult(
            str(source),
            kind,
            None,
            files,
            missing,
            time.monotonic() - t0,
            skipped=skipped,
            notes=notes,
        )
    if kind == "sample":
        raise SourceError(
            f"{source}: sample sources are generated, not fetched; hand it to the sample generator"
        )
    if parallel < 1:
        raise ValueError(f"parallel must be >= 1, not {parallel}")
    if retries < 0:
        raise ValueError(f"retries must be >= 0, not {retries}")
    dest = Path(dest_dir).expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    cancel = threading.Event()
    src: HttpSource | S3Source
    if kind == "http":
        src = HttpSource(loc, wanted)
    else:
        src = S3Source(loc, s3_region, s3_endpoint_url, parallel, wanted)
    try:
        remotes = src.probe(retries, parallel, cancel)
        plans = [plan_download(remotes[f.name], dest) for f in ALL_FILES if f.name in remotes]
        todo = sum((p.remote.size or 0) - p.offset for p in plans if not p.skip)
        bars = DownloadProgress(todo, wanted=progress)
        try:
            tasks = [lambda p=p: download(src, p, bars, retries, cancel) for p in plans]
            files = tuple(run_parallel(tasks, parallel, cancel))
        finally:
            bars.close()
    except Cancelled:  # pragma: no cover - only after another error, which is raised instead
        raise SourceError(f"{describe(source)}: fetch cancelled") from None
    missing = tuple(f.name for f in ALL_FILES if f.name in wanted and f.name not in remotes)
    result = FetchResult(
        str(source),
        kind,
        dest,
        files,
        missing,
        time.monotonic() - t0,
        src.auth if isinstance(src, S3Source) else None,
        skipped=skipped,
    )
    logger.debug("source %s: %s", describe(source), result.summary())
    return result
