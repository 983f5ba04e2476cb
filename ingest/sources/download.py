"""The resumable download of one remote file into the cache folder, and its sidecar.

``plan_download`` decides per file: skip it (the ``<file>.meta.json`` sidecar says the local copy is
the remote file as it is now), resume a ``<file>.part`` left by a cut connection or an
interrupted run, or start from byte 0. ``download`` streams ``CHUNK_SIZE`` chunks from a
source's ``open`` into the ``.part`` and renames it when the size matches what the server
announced; it resumes after a ``Transient`` failure (with back-off, ``retries`` failures in a
row at most) and starts again from byte 0 on ``Restart`` (range refused or not honoured, file
changed; ``MAX_RESTARTS`` at most). A source (``HttpSource``, ``S3Source``) describes its files
as ``Remote`` and hands each GET over as a ``Stream``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ingest.progress import DownloadProgress
from ingest.schemas import ImdbFile
from ingest.sources.errors import SourceError
from ingest.sources.results import FetchedFile, human
from ingest.sources.retry import Cancelled, Transient, backoff

if TYPE_CHECKING:
    from tqdm import tqdm

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20  # bytes per read/write
MAX_RESTARTS = 3  # downloads restarted from byte 0 (range refused, file changed) before giving up
PART_SUFFIX = ".part"
META_SUFFIX = ".meta.json"

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.IGNORECASE)


class Restart(Exception):
    """Start this file again from byte 0 (range refused or not honoured, file changed)."""


@dataclass
class Remote:
    """One IMDb file at a remote source, as its listing or HEAD describes it."""

    file: ImdbFile
    url: str
    filename: str  # local file name under dest_dir
    size: int | None  # bytes; None when the server does not say
    etag: str | None
    last_modified: str | None
    key: str | None = None  # S3 object key


@dataclass
class Stream:
    """One GET's response, as ``download`` reads it."""

    start: int  # offset of the first byte this response delivers
    total: int | None  # size of the whole file, when the server says
    etag: str | None
    last_modified: str | None
    read: Callable[[int], bytes]  # raises Transient on network errors
    close: Callable[[], None]


class RemoteSource(Protocol):
    """What ``download`` needs of a source: a GET from an offset."""

    def open(self, r: Remote, offset: int, meta: dict[str, Any] | None) -> Stream:
        """A GET of ``r`` from byte ``offset`` (0: the whole file).

        ``meta`` is the sidecar of the ``.part`` being resumed, for a guard that the file has
        not changed since (``If-Range``, ``If-Match``). Raises ``Transient``, ``Restart`` or
        ``SourceError``.
        """
        ...


def content_range(value: str | None) -> tuple[int, int | None] | None:
    """``(start, total)`` of a ``Content-Range: bytes START-END/TOTAL`` header, or None.

    ``total`` is None for ``/*`` (size unknown); None when ``value`` is missing or not a
    byte range.
    """
    m = _CONTENT_RANGE.match(value or "")
    if not m:
        return None
    return int(m.group(1)), (int(m.group(3)) if m.group(3) != "*" else None)


@dataclass
class Plan:
    """What to do for one file: skip it, or download it from ``offset``."""

    remote: Remote
    final: Path
    part: Path
    meta_path: Path
    meta: dict[str, Any] | None
    skip: bool
    offset: int  # bytes of .part to keep


def _read_meta(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_meta(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _same_version(meta: dict[str, Any] | None, r: Remote) -> bool:
    """The recorded download is the remote file as it is now (same URL, size and ETag/date)."""
    if not meta or meta.get("url") != r.url or r.size is None or meta.get("size") != r.size:
        return False
    if r.etag and meta.get("etag"):
        return meta["etag"] == r.etag
    if r.last_modified and meta.get("last_modified"):
        return meta["last_modified"] == r.last_modified
    return False


def plan_download(r: Remote, dest: Path) -> Plan:
    """Skip, resume or start ``r`` in ``dest``, by its sidecar and what is on disk.

    Skipped: a complete sidecar of the same version (URL, size, ETag or else Last-Modified)
    and a final file of that size; a stale ``.part`` is removed. Resumed: a ``.part`` whose
    incomplete sidecar is of the same version and that is not longer than the file. Any other
    ``.part`` is removed (start from byte 0).
    """
    final = dest / r.filename
    part = final.with_name(final.name + PART_SUFFIX)
    meta_path = final.with_name(final.name + META_SUFFIX)
    meta = _read_meta(meta_path)
    if (
        meta
        and meta.get("complete")
        and _same_version(meta, r)
        and final.is_file()
        and final.stat().st_size == r.size
    ):
        part.unlink(missing_ok=True)
        return Plan(r, final, part, meta_path, meta, True, 0)
    offset = 0
    if part.is_file():
        size = part.stat().st_size
        if meta and not meta.get("complete") and _same_version(meta, r) and size <= (r.size or 0):
            offset = size
        else:
            part.unlink()
    return Plan(r, final, part, meta_path, meta, False, offset)


@dataclass
class _State:
    """One file's download in progress."""

    offset: int  # bytes in the .part
    resumed_from: int  # offset the latest GET started at
    meta: dict[str, Any] | None  # the sidecar describing the .part's version
    downloaded: int = 0  # bytes received in this run


def download(
    src: RemoteSource,
    plan: Plan,
    progress: DownloadProgress,
    retries: int,
    cancel: threading.Event,
) -> FetchedFile:
    """Carry out ``plan``: nothing for a skipped file, else download it (resuming, retrying).

    Args:
        src: the source whose ``open`` GETs the file.
        plan: from ``plan_download``.
        progress: the fetch's bars (this file gets one of its own).
        retries: failures in a row allowed (a retry that made progress resets the count).
        cancel: checked between chunks and while waiting to retry.

    Returns:
        The file as fetched: ``skipped``, or the bytes ``downloaded`` in this run and the
        offset the successful GET ``resumed_from``.

    Raises:
        SourceError: still failing after ``retries`` retries (the ``.part`` is kept for the
            next run), restarted more than ``MAX_RESTARTS`` times, or an error a retry cannot
            fix.
        Cancelled: ``cancel`` was set.
    """
    r = plan.remote
    t0 = time.monotonic()
    if plan.skip:
        logger.debug("%s: unchanged (%s), skipped", r.filename, r.etag or r.last_modified)
        return FetchedFile(
            r.file.name,
            plan.final,
            r.url,
            plan.final.stat().st_size,
            r.etag,
            r.last_modified,
            time.monotonic() - t0,
            True,
        )
    state = _State(plan.offset, plan.offset, plan.meta)
    attempt = restarts = 0
    bar = progress.file_bar(r.filename, r.size, plan.offset)
    try:
        while True:
            if cancel.is_set():
                raise Cancelled
            before = state.offset
            try:
                info = _attempt(src, plan, state, bar, progress, cancel)
                break
            except Restart as e:
                restarts += 1
                lost = plan.part.stat().st_size if plan.part.exists() else 0
                plan.part.unlink(missing_ok=True)
                if restarts > MAX_RESTARTS:
                    raise SourceError(
                        f"{r.url}: download restarted {restarts} times ({e}); run again later"
                    ) from None
                logger.debug("%s: %s; restarting from byte 0", r.filename, e)
                progress.grow(lost)
                bar.reset()
                state.offset = state.resumed_from = 0
                state.meta = None
            except Transient as e:
                state.offset = plan.part.stat().st_size if plan.part.exists() else 0
                state.meta = _read_meta(plan.meta_path)
                if state.offset > before:  # progress made: the budget is for failures in a row
                    attempt = 0
                attempt += 1
                if attempt > retries:
                    raise SourceError(
                        f"{r.url}: {e} (gave up after {retries} retries, {state.offset} bytes "
                        f"kept in {plan.part.name}); check the network and run again to resume"
                    ) from None
                delay = backoff(attempt)
                logger.warning(
                    "%s: %s; retry %d/%d in %.1fs from byte %d",
                    r.filename,
                    e,
                    attempt,
                    retries,
                    delay,
                    state.offset,
                )
                if cancel.wait(delay):
                    raise Cancelled from None
    finally:
        bar.close()
    seconds = time.monotonic() - t0
    logger.debug(
        "%s: %s in %.1fs%s",
        r.filename,
        human(info["size"]),
        seconds,
        f" (resumed at byte {state.resumed_from})" if state.resumed_from else "",
    )
    return FetchedFile(
        r.file.name,
        plan.final,
        r.url,
        info["size"],
        info["etag"],
        info["last_modified"],
        seconds,
        False,
        state.downloaded,
        state.resumed_from,
    )


def _finish(plan: Plan, info: dict[str, Any], size: int) -> dict[str, Any]:
    os.replace(plan.part, plan.final)
    info = {
        **info,
        "size": size,
        "complete": True,
        "fetched_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
    }
    _write_meta(plan.meta_path, info)
    return info


def _attempt(
    src: RemoteSource,
    plan: Plan,
    state: _State,
    bar: tqdm,
    progress: DownloadProgress,
    cancel: threading.Event,
) -> dict[str, Any]:
    """One GET appending to the .part from ``state.offset``; rename it when whole.

    Returns the sidecar written for the finished file. Raises ``Transient`` (retry, resuming)
    or ``Restart`` (discard the .part).
    """
    r = plan.remote
    if state.offset and state.meta and state.offset == r.size:  # whole already (same version)
        return _finish(plan, state.meta, state.offset)
    stream = src.open(r, state.offset, state.meta)
    try:
        if state.offset and stream.start != state.offset:
            if stream.start != 0:
                raise Restart(f"server sent a range from byte {stream.start}, not {state.offset}")
            logger.debug("%s: the server ignored the Range request; restarting from 0", r.filename)
            progress.grow(state.offset)
            bar.reset()
            state.offset = state.resumed_from = 0
        state.resumed_from = state.offset
        total = stream.total if stream.total is not None else r.size
        if stream.etag or stream.last_modified:
            etag, last_modified = stream.etag, stream.last_modified
        else:
            etag, last_modified = r.etag, r.last_modified
        if total is not None and r.size is not None and total != r.size:
            # changed since the listing/HEAD: the bars follow the new size
            progress.grow(total - r.size)
            bar.total = total
        info = {
            "url": r.url,
            "size": total,
            "etag": etag,
            "last_modified": last_modified,
            "complete": False,
        }
        _write_meta(plan.meta_path, info)
        state.meta = info
        with open(plan.part, "ab" if state.offset else "wb") as out:
            while True:
                if cancel.is_set():
                    raise Cancelled
                chunk = stream.read(CHUNK_SIZE)
                if not chunk:
                    break
                out.write(chunk)
                n = len(chunk)
                state.offset += n
                state.downloaded += n
                bar.update(n)
                progress.advance(n)
                if total is not None and state.offset > total:
                    break
    finally:
        with contextlib.suppress(Exception):  # closing a broken connection
            stream.close()
    if total is not None and state.offset < total:
        raise Transient(f"connection closed after {state.offset} of {total} bytes")
    if total is not None and state.offset > total:
        raise Restart(f"got {state.offset} bytes, more than the announced {total}")
    return _finish(plan, info, state.offset)
