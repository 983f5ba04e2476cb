"""Per-file progress of the conversion on stderr: a bar per file on a terminal, else nothing.

The bar counts bytes of the file itself (compressed for a .gz: the total is known up front)
and shows rows done and the rate in MB/s of text. When stderr is not a terminal the bars are
off and the ingest logs one line per file when it is done (``ingest.lake.land``).
"""

from __future__ import annotations

import sys
import threading
import time

from tqdm import tqdm

_LOCK = threading.Lock()


def enabled(wanted: bool = True) -> bool:
    stream = sys.stderr
    try:
        return bool(wanted and stream is not None and stream.isatty())
    except (AttributeError, ValueError):
        return False


class FileProgress:
    """One file's bar; ``update(stats)`` after each batch (a convert.FileStats)."""

    def __init__(self, name: str, total_bytes: int, *, enabled: bool = True, position: int = 0,
                 every: float = 0.5):
        self.enabled = enabled and globals()["enabled"](True)
        self._started = time.monotonic()
        self._last = 0.0
        self._every = every
        self._bar = None
        if self.enabled:
            with _LOCK:
                self._bar = tqdm(total=total_bytes, desc=name, unit="B", unit_scale=True,
                                 unit_divisor=1024, position=position, leave=False,
                                 dynamic_ncols=True, file=sys.stderr)

    def update(self, stats) -> None:
        if self._bar is None:
            return
        now = time.monotonic()
        if now - self._last < self._every:
            return
        self._last = now
        rate = stats.text_bytes / 1e6 / max(now - self._started, 1e-9)
        with _LOCK:
            self._bar.n = stats.bytes_in
            self._bar.set_postfix_str(f"{stats.rows_read:,} rows, {rate:.0f} MB/s text",
                                      refresh=False)
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            with _LOCK:
                self._bar.close()
            self._bar = None
