"""Running the ingest: locate the source files, land them (and the name lookup), publish.

``fetch_source`` (locate or download the files, no Spark), then ``run_ingest``: ``land`` (convert,
check, count keys; no Spark), ``publish`` and ``register`` (Spark: the metastore tables).
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from concurrent.futures import Future

from imdb_pipeline.storage import join
from ingest.convert import InputError, TableFiles, check_header
from ingest.lake import (
    DEFAULT_MAX_REJECT_SHARE,
    MANIFEST_VERSION,
    Origin,
    current_ingest,
    land,
    publish,
    publish_remote,
    read_manifest,
)
from ingest.schemas import ALL_FILES, tables_to_ingest
from ingest.sources import FetchResult, fetch, parse_source
from ingest.tables import prepare, register

logger = logging.getLogger(__name__)


def local_files(home, source: str, **fetch_options) -> dict[str, TableFiles]:
    """IMDb name -> local file(s): a folder as it is, a URL or bucket downloaded into the home,
    ``sample:SCALE[:SEED]`` generated into the home (once per scale, seed and file)."""
    return fetch_source(home, source, **fetch_options).paths


def fetch_source(home, source: str, *, tables=None, **fetch_options) -> FetchResult:
    """``local_files`` with where each file came from (URL, size, ETag) for the manifest.

    ``tables``: the IMDb names to fetch (default ``tables_to_ingest()``: the required four and
    title.akas); the others are not downloaded, generated or read (``FetchResult.skipped``).
    Logs one line per note (a file in the source that is not read, and why).
    """
    tables = tables_to_ingest() if tables is None else tuple(tables)
    kind, location = parse_source(source)
    if kind == "sample":
        from imdb_pipeline.generate.write import generate

        folder = home.downloads / f"sample-{location.scale:g}-{location.seed or 0}"
        todo = [n for n in tables if not (folder / f"{n}.tsv.gz").exists()]
        if todo and not (folder / ".complete").exists():  # .complete: all seven (older homes)
            logger.info(
                f"ingest: generating scale {location.scale:g} seed {location.seed or 0} "
                f"({', '.join(todo)}) into {folder}"
            )
            generate(folder, location.scale, location.seed or 0, names=todo)
        source = str(folder)
    dest = home.downloads / "fetched"
    try:
        result = fetch(source, dest, tables=tables, **fetch_options)
    except PermissionError as exc:  # e.g. a folder this user may not list
        where = exc.filename or source
        raise InputError(
            f"{where}: permission denied ({exc.strerror or exc}): make it readable by this user "
            f"(e.g. chmod a+rX {where}) or point --source at a copy you can read"
        ) from exc
    if kind in ("http", "s3"):
        logger.info(f"ingest: {result.summary()}")
    for note in result.notes:
        logger.info(f"ingest: note: {note}")
    return result


def fingerprint(files: dict) -> dict[str, list]:
    """IMDb name -> [path, size, mtime_ns] (a list of them for parts) of the files read."""
    return {name: TableFiles.of(files[name]).fingerprint() for name in sorted(files)}


def check_headers(files: dict) -> None:
    """Each table's header against IMDb's (the first 64 KiB of text only: milliseconds, also
    for a .gz or parts); raises ``InputError`` naming the file (wrong header, no text, no rows
    in a required table, not gzip, unreadable)."""
    for spec in ALL_FILES:
        if spec.name in files:
            check_header(files[spec.name], spec)


def in_background(work, name: str) -> Future:
    """``work()`` in a daemon thread called ``name``; its result, or its exception, through
    the returned Future. Unlike a ThreadPoolExecutor's worker, a daemon does not hold the
    process up when the caller fails or is interrupted: a Ctrl-C during the Spark start used
    to exit only once the start had finished (10-20 s later). The JVM goes with the process
    (pyspark's gateway exits when its stdin, held by this process, closes)."""
    future: Future = Future()

    def run() -> None:
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(work())
            except BaseException as error:  # noqa: BLE001 - re-raised by the caller's result()
                future.set_exception(error)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


def run_ingest(
    spark,
    home,
    source: str,
    *,
    max_reject_share: float = DEFAULT_MAX_REJECT_SHARE,
    force: bool = False,
    fetch_options: dict | None = None,
    tables=None,
    storage=None,
) -> dict:
    """Ingest ``source`` into ``home``; returns the manifest of the published ingest.

    ``storage``: an :class:`imdb_pipeline.storage.Storage`; on S3 the ingest is landed in
    the home (the driver's local disk) as always, then uploaded and published there
    (:func:`ingest.lake.publish_remote`). Default: the lake in the home.

    ``spark``: a SparkSession, or a function that starts one. The function is called only
    once the source's files are located (downloaded) and their headers checked, so a missing
    folder or file, a wrong header, an empty file, a damaged .gz or an unreachable URL fails
    before the Spark start; for a new ingest Spark then starts while pyarrow converts.
    ``tables``: the IMDb names to ingest (default ``tables_to_ingest()``: the required four
    and title.akas); the optional ones not named become empty tables, marked skipped.
    """
    start_spark = spark if callable(spark) else (lambda: spark)
    tables = tables_to_ingest() if tables is None else tuple(tables)
    fetched = fetch_source(home, source, tables=tables, **(fetch_options or {}))
    files = fetched.paths
    check_headers(files)
    prints = fingerprint(files)
    remote = storage is not None and storage.remote
    lake = storage.lake if remote else home.lake
    previous = current_ingest(lake)
    if previous and not force:
        manifest = read_manifest(lake, previous)
        if (
            manifest.get("fingerprint") == prints
            and manifest.get("max_reject_share") == max_reject_share
            and manifest.get("tables") == list(tables)
            and manifest.get("manifest_version") == MANIFEST_VERSION
        ):
            logger.info(f"ingest: {source} unchanged since ingest {previous}; reusing it")
            location = join(lake, previous) if remote else home.lake / previous
            register(start_spark(), location, manifest)
            return manifest
    logger.info(f"ingest: {source} -> {lake}")
    # Spark, the metastore and Delta start while pyarrow converts.
    warm_up = in_background(lambda: prepare(start_spark()), "spark-start")
    ingest_id, partial, _ = land(
        files,
        home.lake,
        max_reject_share=max_reject_share,
        sources={f.name: Origin(f.url, f.etag, f.last_modified) for f in fetched.files},
        skipped=fetched.skipped,
        # linking unchanged lookups needs the previous ingest on this disk: not on S3
        previous=home.lake / previous if previous and not remote else None,
    )
    try:
        warm_up.result()
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    session = start_spark()
    try:
        manifest_path = partial / "_manifest.json"
        manifest = json.loads(manifest_path.read_text())
        manifest.update(
            source=source,
            fingerprint=prints,
            max_reject_share=max_reject_share,
            tables=list(tables),
        )
        manifest_path.write_text(json.dumps(manifest, indent=2))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if remote:
        publish_remote(
            lake,
            ingest_id,
            partial,
            before_current=lambda folder: register(session, folder, manifest),
        )
    else:
        publish(
            home.lake,
            ingest_id,
            partial,
            before_current=lambda folder: register(session, folder, manifest),
        )
    rejected = sum(f["rows_rejected"] for f in manifest["files"])
    duplicates = sum(f["keys"]["duplicate_keys"] for f in manifest["files"])
    logger.info(
        f"ingest: published {ingest_id} ({rejected:,} rows rejected, see "
        f"imdb_lookup.ingest_rejects; {duplicates:,} duplicate keys, see "
        "imdb_lookup.ingest_checks)"
    )
    return manifest
