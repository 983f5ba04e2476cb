"""The ingest stage: locate the source files, land them, build the name lookup, publish."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from ingest.convert import InputError
from ingest.lake import (
    DEFAULT_MAX_REJECT_SHARE,
    current_ingest,
    land,
    publish,
    read_manifest,
)
from ingest.schemas import ALL_FILES
from ingest.tables import build_title_names, register

_NAME = re.compile(r"^(?P<name>[a-z]+\.[a-z]+)(?P<tag>\.[^/]+)?\.tsv(\.gz)?$")


def locate_files(directory: Path) -> dict[str, Path]:
    """IMDb name -> file in ``directory``: ``<name>.tsv[.gz]`` first, else one ``<name>.<tag>.tsv[.gz]``."""
    if not directory.is_dir():
        raise InputError(f"{directory}: not a folder; pass --source DIR with the IMDb .tsv/.tsv.gz files")
    candidates: dict[str, list[tuple[int, Path]]] = {}
    for path in sorted(directory.iterdir()):
        match = _NAME.match(path.name)
        if match and match["name"] in {f.name for f in ALL_FILES} and path.is_file():
            rank = 1 if match["tag"] else 0
            candidates.setdefault(match["name"], []).append((rank, path))
    found = {}
    for name, options in candidates.items():
        options.sort()
        best = [p for rank, p in options if rank == options[0][0]]
        if len(best) > 1:
            raise InputError(
                f"{directory}: several files for {name} ({', '.join(p.name for p in best)}); keep one"
            )
        found[name] = best[0]
    return found


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
    log=None,
) -> dict:
    """Ingest ``source`` into ``home``; returns the manifest of the published ingest."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    directory = Path(source).expanduser()
    files = locate_files(directory)
    missing = [f.name for f in ALL_FILES if f.required and f.name not in files]
    if missing:
        raise InputError(
            f"{directory}: missing required IMDb file(s) {', '.join(missing)} "
            f"(expected <name>.tsv or <name>.tsv.gz)"
        )
    prints = fingerprint(files)
    previous = current_ingest(home.lake)
    if previous and not force:
        manifest = read_manifest(home.lake, previous)
        if manifest.get("fingerprint") == prints and manifest.get("max_reject_share") == max_reject_share:
            log(f"ingest: {directory} unchanged since ingest {previous}; reusing it")
            register(spark, home.lake / previous)
            return manifest
    log(f"ingest: {directory} -> {home.lake}")
    ingest_id, staging, _ = land(
        files, home.lake, max_reject_share=max_reject_share, log=log,
        sources={name: str(path) for name, path in files.items()},
    )
    try:
        manifest_path = staging / "_manifest.json"
        manifest = json.loads(manifest_path.read_text())
        manifest.update(source=str(directory), fingerprint=prints, max_reject_share=max_reject_share)
        manifest_path.write_text(json.dumps(manifest, indent=2))
        build_title_names(spark, staging)
    except BaseException:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        raise
    final = publish(home.lake, ingest_id, staging)
    register(spark, final)
    rejected = sum(f["rows_rejected"] for f in manifest["files"])
    log(f"ingest: published {ingest_id} ({rejected:,} rows rejected, see imdb_lookup.ingest_rejects)")
    return manifest
