"""Failures worth another try, and the tries: the time-out of one network operation, the
back-off between tries, the retry loop, and the thread pool that stops on the first error.

``Transient`` is what the HTTP and S3 sources raise for a failure a retry can fix (connection
reset or cut, time-out, incomplete read, 5xx, 429); ``Cancelled`` is how a worker learns that
another one failed. ``TIMEOUT``, ``BACKOFF_BASE`` and ``BACKOFF_MAX`` are read when used: tests
lower them here, in this module.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import random
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from ingest.sources.errors import SourceError

logger = logging.getLogger(__name__)

TIMEOUT = 60.0  # seconds per socket operation (connect, each read)
BACKOFF_BASE = 1.0  # first retry after ~1 s, then ~2, ~4, ... (tests lower these)
BACKOFF_MAX = 30.0

T = TypeVar("T")


class Transient(Exception):
    """Worth retrying (and resuming)."""


class Cancelled(Exception):
    """Stop: another task failed, or the fetch was interrupted."""


def backoff(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (1, 2, ...).

    ``BACKOFF_BASE`` doubled per attempt, at most ``BACKOFF_MAX``, times a random 0.75-1.0
    (so that parallel downloads do not retry in step).
    """
    return min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (attempt - 1)) * random.uniform(0.75, 1.0)


def retrying(fn: Callable[[], T], what: str, retries: int, cancel: threading.Event) -> T:
    """Call ``fn`` until it does not raise ``Transient``, at most ``retries`` more times.

    Args:
        fn: the operation; any exception but ``Transient`` goes through at once.
        what: the operation for log lines and the error, e.g. ``"HEAD https://..."``.
        retries: how many times to call again after a ``Transient`` (0: once in all).
        cancel: set by another task's failure; checked before each call and while waiting.

    Returns:
        What ``fn`` returned.

    Raises:
        SourceError: still ``Transient`` after ``retries`` retries (one line naming ``what``).
        Cancelled: ``cancel`` was set.
    """
    attempt = 0
    while True:
        if cancel.is_set():
            raise Cancelled
        try:
            return fn()
        except Transient as e:
            attempt += 1
            if attempt > retries:
                raise SourceError(
                    f"{what}: {e} (gave up after {retries} retries); check the network and run "
                    "again"
                ) from e
            delay = backoff(attempt)
            logger.warning("%s: %s; retry %d/%d in %.1fs", what, e, attempt, retries, delay)
            if cancel.wait(delay):
                raise Cancelled from None


def run_parallel(
    tasks: Sequence[Callable[[], T]], parallel: int, cancel: threading.Event
) -> list[T]:
    """Run ``tasks`` in a thread pool; on the first error (or Ctrl-C) the others stop at their
    next chunk (their ``.part`` stays, to be resumed) and the error is raised.

    Args:
        tasks: callables without arguments; each should raise ``Cancelled`` soon after
            ``cancel`` is set.
        parallel: threads at most (fewer when there are fewer tasks).
        cancel: set here on the first error, for the other tasks to see.

    Returns:
        The tasks' results, in the order of ``tasks``.

    Raises:
        Exception: the first task error that is not ``Cancelled`` (``Cancelled`` only if
            there is no other).
    """
    if not tasks:
        return []
    pool = cf.ThreadPoolExecutor(max_workers=min(parallel, len(tasks)), thread_name_prefix="fetch")
    futures = [pool.submit(t) for t in tasks]
    try:
        pending: set[cf.Future[T]] = set(futures)
        while pending:
            done, pending = cf.wait(pending, timeout=0.25, return_when=cf.FIRST_EXCEPTION)
            if any(f.exception() is not None for f in done):
                cancel.set()
                break
    except BaseException:
        cancel.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    errors = [f.exception() for f in futures if not f.cancelled() and f.exception() is not None]
    real = [e for e in errors if not isinstance(e, Cancelled)]
    if real or errors:
        raise (real or errors)[0]  # type: ignore[misc]
    return [f.result() for f in futures]
