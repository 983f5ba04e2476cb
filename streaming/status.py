"""``<home>/stream.status.json``: what ``imdb-pipeline status`` shows, readable without Spark.

Kept free of pyspark so that ``status`` answers in a fraction of a second, also while a
stream runs (it never takes the home's writer lock).
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

from imdb_pipeline.processes import pid_exists

STATUS_FILE = "stream.status.json"


class StatusFile:
    """Writes the status file atomically; ``update`` merges fields into what this run wrote."""

    def __init__(self, path: Path):
        self.path = path
        self.data: dict = {}

    def update(self, **fields) -> None:
        """Merge ``fields`` and ``updated_at`` (UTC, ISO 8601 to the second) into this run's
        status and replace the file atomically (a temporary file renamed); values JSON has
        no type for are written as ``str``."""
        self.data.update(fields, updated_at=datetime.now(UTC).isoformat(timespec="seconds"))
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=str))
        os.replace(tmp, self.path)


def read_status(home) -> dict | None:
    """The last status a stream wrote in ``home``, or None if no stream ran there. A
    ``running`` state whose process is gone reads as stopped."""
    path = home.root / STATUS_FILE
    if not path.exists():
        return None
    status = json.loads(path.read_text())
    if status.get("state") == "running" and not _alive(status.get("pid")):
        status["state"] = "stopped (the process is gone; run `imdb-pipeline stream` to resume)"
    return status


def _alive(pid) -> bool:
    # the pid as the status file holds it (an int, or missing); another user's process counts
    return isinstance(pid, int) and pid_exists(pid)


def duration(seconds: float) -> str:
    """``75`` -> ``1m15s``, ``3725`` -> ``1h02m05s``, ``9`` -> ``9s``."""
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _shown(value, fmt: str = "{}") -> str:
    return "-" if value is None or value == "" else fmt.format(value)


def render_status(current: dict) -> str:
    """The lines ``imdb-pipeline status`` prints for a status record; a field the stream has
    not reported (no micro-batch yet, nothing to process) shows as ``-``, never ``None``."""
    done, total = current.get("records_done") or 0, current.get("records_total") or 0
    eta = current.get("eta_seconds")
    rate = current.get("rows_per_second")
    average = current.get("average_number_of_votes")
    lines = [
        (
            f"stream:     {_shown(current.get('stream_id'))} ({_shown(current.get('state'))}, "
            f"pid {_shown(current.get('pid'))})"
        ),
        f"records:    {done:,} of {total:,} done, {max(total - done, 0):,} left",
        (
            f"batches:    last {_shown(current.get('batch_id'))}, "
            f"{_shown(current.get('records_per_batch'))} records each"
        ),
        f"speed:      {_shown(rate, '{:,.1f}')} rows/s, ETA "
        + ("-" if eta is None else duration(eta)),
        f"average:    {_shown(average, '{:,.1f}')} votes, #1 {_shown(current.get('number_one'))}",
        f"last error: {_shown(current.get('last_error'))}",
        f"updated:    {_shown(current.get('updated_at'))}",
    ]
    return "\n".join(lines)


class Eta:
    """Rows per second and time left, over a moving window of recent micro-batches.

    One micro-batch's own rate swings widely (a flush, a GC pause, the first batch's Python
    worker start), so the rate is measured between the oldest and the newest progress report
    of the last ``window`` seconds (at least two reports apart), which also leaves the first
    micro-batch's start-up out. Reports are (time in seconds, rows done in total).
    """

    def __init__(self, window: float = 60.0, clock=time.monotonic):
        self.window = window
        self.clock = clock
        self.points: deque[tuple[float, int]] = deque()

    def report(self, done: int) -> None:
        """A micro-batch finished; ``done`` rows are processed in total."""
        now = self.clock()
        self.points.append((now, done))
        while len(self.points) > 2 and now - self.points[1][0] >= self.window:
            self.points.popleft()

    def rate(self) -> float | None:
        """Rows per second over the window; None before two reports."""
        if len(self.points) < 2:
            return None
        (t0, d0), (t1, d1) = self.points[0], self.points[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 and d1 > d0 else None

    def seconds_left(self, total: int) -> float | None:
        """Seconds until ``total`` rows are done at :meth:`rate`; None without a rate."""
        rate = self.rate()
        if rate is None:
            return None
        return max(total - self.points[-1][1], 0) / rate
