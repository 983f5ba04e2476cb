"""The ingest stage: locate the source files, land them (and the name lookup), publish."""

from __future__ import annotations

import json
import shutil
import sys
import threading
from pathlib import Path

from ingest.lake import (
    DEFAULT_MAX_REJECT_SHARE,
    Origin,
    current_ingest,
    land,
    publish,
    read_manifest,
)
from ingest.sources import FetchResult, fetch, parse_source
from ingest.tables import prepare, register


def local_files(home, source: str, log, **fetch_options) -> dict[str, Path]:
    """IMDb name -> local file: a folder as it is, a URL or bucket downloaded into the home,
    ``sample:SCALE[:SEED]`` generated into the home (once per scale and seed)."""
    return fetch_source(home, source, log, **fetch_options).paths


def fetch_source(home, source: str, log, **fetch_options) -> FetchResult:
    """``local_files`` with where each file came from (URL, size, ETag) for the manifest."""
    kind, location = parse_source(source)
    if kind == "sample":
        from ingest.generate import generate

        folder = home.downloads / f"sample-{location.scale:g}-{location.seed or 0}"
        if not (folder / ".complete").exists():
            log(f"ingest: generating scale {location.scale:g} seed {location.seed or 0} into {folder}")
            generate(folder, location.scale, location.seed or 0)
            (folder / ".complete").touch()
        source = str(folder)
    dest = home.downloads / "fetched"
    result = fetch(source, dest, **fetch_options)
    if kind in ("http", "s3"):
        log(f"ingest: {result.summary()}")
    return result


def fingerprint(files: dict[str, Path]) -> dict[str, list]:
    return {
        name: [str(path.resolve()), path.stat().st_size, path.stat().st_mtime_ns]
        for name, path in sorted(files.items())
    }


def run_ingest(
    spark,
    home,
    source: str,
    *,
    max_reject_share: float = DEFAULT_MAX_REJECT_SHARE,
    force: bool = False,
    fetch_options: dict | None = None,
    log=None,
) -> dict:
    """Ingest ``source`` into ``home``; returns the manifest of the published ingest."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    fetched = fetch_source(home, source, log=log, **(fetch_options or {}))
    files = fetched.paths
    prints = fingerprint(files)
    previous = current_ingest(home.lake)
    if previous and not force:
        manifest = read_manifest(home.lake, previous)
        if manifest.get("fingerprint") == prints and manifest.get("max_reject_share") == max_reject_share:
            log(f"ingest: {source} unchanged since ingest {previous}; reusing it")
            register(spark, home.lake / previous)
            return manifest
    log(f"ingest: {source} -> {home.lake}")
    warm_up = threading.Thread(target=prepare, args=(spark,), daemon=True)
    warm_up.start()  # the metastore and Delta start while pyarrow converts
    ingest_id, staging, _ = land(
        files, home.lake, max_reject_share=max_reject_share, log=log,
        sources={f.name: Origin(f.url, f.etag, f.last_modified) for f in fetched.files},
    )
    warm_up.join()
    try:
        manifest_path = staging / "_manifest.json"
        manifest = json.loads(manifest_path.read_text())
        manifest.update(source=source, fingerprint=prints, max_reject_share=max_reject_share)
        manifest_path.write_text(json.dumps(manifest, indent=2))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    publish(home.lake, ingest_id, staging, before_current=lambda folder: register(spark, folder))
    rejected = sum(f["rows_rejected"] for f in manifest["files"])
    log(f"ingest: published {ingest_id} ({rejected:,} rows rejected, see imdb_lookup.ingest_rejects)")
    return manifest
