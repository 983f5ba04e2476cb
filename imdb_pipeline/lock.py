"""One writer per home: an OS file lock (``flock``, through portalocker) on ``<home>/.lock``.

Every command that writes to a home (ingest, stream, transform, run, thrift start/stop) holds
the lock for its whole life; ``results`` and ``status`` never take it. The kernel releases an
``flock`` when its holder dies, however it dies (SIGKILL included), so a crashed run never
leaves a home locked. The holder writes who it is into the lock file (JSON: pid, command,
start time) once it has the lock, so a second writer can say who is in its way, and empties it
before releasing the lock (a killed holder's record stays, with no lock behind it).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import portalocker

from imdb_pipeline.home import Home

LOCK_FILE = ".lock"
logger = logging.getLogger(__name__)


class HomeBusy(Exception):
    """Another process holds the home's writer lock; ``str()`` is one line with the next step."""


def lock_path(home: Home) -> Path:
    """``<home>/.lock``: the file the writer lock is taken on, holding its holder's JSON."""
    return home.root / LOCK_FILE


def holder(home: Home) -> dict | None:
    """Who holds the lock: ``{"pid", "command", "started_at"}`` as the holder wrote it, or None
    if the file is empty (no writer, or one that has not written yet) or unreadable. The holder
    empties it before releasing the lock."""
    try:
        record = json.loads(lock_path(home).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _who(record: dict | None) -> str:
    if not record:
        return "another process"
    return (
        f"pid {record.get('pid', '?')} ({record.get('command', '?')}, started at "
        f"{record.get('started_at', '?')})"
    )


def busy_message(home: Home, record: dict | None) -> str:
    """``home H is in use by pid N (run, started at ...)`` plus what to do."""
    return (
        f"home {home.root} is in use by {_who(record)}: wait for it to finish "
        "(`imdb-pipeline status` shows a stream's progress), pass --wait to run after it, "
        "or use another --home"
    )


@contextmanager
def writer_lock(home: Home, command: str, *, wait: bool = False) -> Iterator[None]:
    """Hold ``<home>/.lock`` for the ``with`` block.

    Args:
        home: the home to write to (its folder is created if needed).
        command: what holds it, e.g. ``"run"``: shown to a second writer.
        wait: block until the holder is done instead of failing (logging one line first).

    Raises:
        HomeBusy: another process holds the lock and ``wait`` is false.
    """
    home.root.mkdir(parents=True, exist_ok=True)
    path = lock_path(home)
    flags = portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING
    lock = portalocker.Lock(path, mode="w", timeout=0, fail_when_locked=True, flags=flags)
    try:
        handle = lock.acquire()
    except portalocker.AlreadyLocked:
        if not wait:
            raise HomeBusy(busy_message(home, holder(home))) from None
        logger.info(f"lock: home {home.root} is in use by {_who(holder(home))}; waiting for it")
        # A blocking flock: the kernel wakes us when the holder releases it or dies.
        lock = portalocker.Lock(path, mode="w", flags=portalocker.LockFlags.EXCLUSIVE)
        handle = lock.acquire()
    try:
        record = {
            "pid": os.getpid(),
            "command": command,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        yield
    finally:
        # emptied before the release: a finished writer leaves no pid that looks like a holder
        handle.seek(0)
        handle.truncate()
        lock.release()
