"""Progress bars on stderr, only on a terminal: the conversion's and the download's.

``FileProgress``: one bar per file being converted. It counts bytes of the file itself
(compressed for a .gz: the total is known up front) and shows rows done and the rate in MB/s of
text. When stderr is not a terminal the bars are off and the ingest logs one line per file
when it is done (``ingest.lake.land``).

``DownloadProgress``: the bars of a fetch (``ingest.sources``): an overall "IMDb files" byte
bar plus one byte bar per file being downloaded.
"""

from __future__ import annotations

import sys
import threading
import time

from tqdm import tqdm

_LOCK = threading.Lock()


def enabled(wanted: bool = True) -> bool:
    """True when bars are ``wanted`` and stderr is a terminal (read when called)."""
    stream = sys.stderr
    try:
        return bool(wanted and stream is not None and stream.isatty())
    except (AttributeError, ValueError):
        return False


def _byte_bar(desc: str, total: int | None, position: int, **options) -> tqdm:
    """A tqdm bar on stderr counting bytes (shown in KiB, MiB, ...: 1024 apart)."""
    return tqdm(
        total=total,
        desc=desc,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        position=position,
        dynamic_ncols=True,
        file=sys.stderr,
        **options,
    )


class FileProgress:
    """One file's bar; ``update(stats)`` after each batch (a convert.FileStats)."""

    def __init__(
        self,
        name: str,
        total_bytes: int,
        *,
        enabled: bool = True,
        position: int = 0,
        every: float = 0.5,
    ):
        self.enabled = enabled and globals()["enabled"](True)
        self._started = time.monotonic()
        self._last = 0.0
        self._every = every
        self._bar = None
        if self.enabled:
            with _LOCK:
                self._bar = _byte_bar(name, total_bytes, position, leave=False)

    def update(self, stats) -> None:
        """Show ``stats`` (a convert.FileStats): bytes of the file consumed, rows read and MB/s
        of text; redrawn at most every ``every`` seconds, nothing without a bar."""
        if self._bar is None:
            return
        now = time.monotonic()
        if now - self._last < self._every:
            return
        self._last = now
        rate = stats.text_bytes / 1e6 / max(now - self._started, 1e-9)
        with _LOCK:
            self._bar.n = stats.bytes_in
            self._bar.set_postfix_str(
                f"{stats.rows_read:,} rows, {rate:.0f} MB/s text", refresh=False
            )
            self._bar.refresh()

    def close(self) -> None:
        """Remove the bar (it does not stay on screen); a second call does nothing."""
        if self._bar is not None:
            with _LOCK:
                self._bar.close()
            self._bar = None


class DownloadProgress:
    """The bars of a fetch: an overall "IMDb files" byte bar plus one per file.

    All of it is a no-op unless ``enabled(wanted)`` (bars wanted, stderr a terminal) when it
    is made. The overall bar stays on screen when closed; the per-file bars do not.

    Args:
        total: bytes the fetch is expected to download (what ``grow`` corrects later).
        wanted: whether the caller asks for bars at all (``fetch(progress=...)``).
    """

    def __init__(self, total: int, *, wanted: bool = True):
        self.enabled = enabled(wanted)
        self._next_position = 1
        self.overall = _byte_bar("IMDb files", total, 0, disable=not self.enabled)

    def file_bar(self, name: str, total: int | None, initial: int) -> tqdm:
        """A new bar for one file, below the others.

        Args:
            name: the file name shown.
            total: the file's size in bytes, None when unknown.
            initial: bytes already there (a resumed ``.part``).

        Returns:
            The tqdm bar: the caller ``update``s, ``reset``s and ``close``s it.
        """
        with _LOCK:
            position = self._next_position
            self._next_position += 1
        return _byte_bar(
            name, total, position, initial=initial, leave=False, disable=not self.enabled
        )

    def advance(self, n: int) -> None:
        """``n`` more bytes downloaded (of any file)."""
        with _LOCK:
            self.overall.update(n)

    def grow(self, n: int) -> None:
        """``n`` more bytes to download than expected (a restart, a file that grew)."""
        with _LOCK:
            self.overall.total = (self.overall.total or 0) + n
            self.overall.refresh()

    def close(self) -> None:
        """Close the overall bar (it stays on screen); each file bar is its caller's to close."""
        self.overall.close()
