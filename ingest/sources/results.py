"""What a fetch returns: a ``FetchedFile`` per IMDb file and the ``FetchResult`` of a source,
and the formats of their fields (``human`` sizes, ``utc_iso`` dates)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingest.convert import TableFiles


@dataclass(frozen=True)
class FetchedFile:
    """One IMDb file of a fetch: where it is, where it came from, and what this run did."""

    name: str  # IMDb file name, e.g. "title.basics"
    path: Path  # the local file to read
    url: str  # where it came from: http(s):// or s3:// URL, or the path of a directory source
    size: int  # bytes of the local file
    etag: str | None  # as the server sent it (quotes included); None for directory sources
    last_modified: str | None  # HTTP date / ISO-8601 UTC (S3) / file mtime (directory sources)
    seconds: float  # wall time spent on this file in this run
    skipped: bool  # True: unchanged since the last fetch, not downloaded again
    downloaded: int = 0  # bytes transferred in this run (less than size after a resume)
    resumed_from: int = 0  # offset the successful GET started at (bytes kept from a .part)
    parts: TableFiles | None = None  # folder sources: the file(s) holding the table

    @property
    def files(self) -> TableFiles:
        """The file(s) to read: ``path`` alone, or a folder's file or parts."""
        return self.parts if self.parts is not None else TableFiles((self.path,))

    @property
    def version(self) -> str | None:
        """ETag, or Last-Modified when the server gives no ETag."""
        return self.etag or self.last_modified


@dataclass(frozen=True)
class FetchResult:
    """What ``fetch`` found or downloaded for one source, in ``schemas.ALL_FILES`` order."""

    source: str  # as given
    kind: str  # "dir", "http" or "s3"
    dest_dir: Path | None  # the cache folder; None for a directory source (files used in place)
    files: tuple[FetchedFile, ...]  # in schemas.ALL_FILES order, only the files found
    missing: tuple[str, ...]  # optional IMDb files asked for that the source does not have
    seconds: float
    auth: str | None = None  # S3 only: "anonymous" or "credentials" (what finally worked)
    skipped: tuple[str, ...] = ()  # optional IMDb files not asked for: neither fetched nor read
    notes: tuple[str, ...] = ()  # lines to report: files in the source that are not read, and why

    @property
    def paths(self) -> dict[str, TableFiles]:
        """IMDb name -> the file(s) holding it (one file, or a folder's file or parts)."""
        return {f.name: f.files for f in self.files}

    @property
    def downloaded_bytes(self) -> int:
        """Bytes transferred in this run, all files together."""
        return sum(f.downloaded for f in self.files)

    def get(self, name: str) -> FetchedFile | None:
        """The file of IMDb name ``name`` (e.g. "title.basics"), None when not fetched."""
        return next((f for f in self.files if f.name == name), None)

    def summary(self) -> str:
        """One line for the log: files found or downloaded, unchanged, bytes, time, absent."""
        fetched = sum(1 for f in self.files if not f.skipped)
        skipped = len(self.files) - fetched
        verb = "downloaded" if self.kind != "dir" else "found"
        parts = [f"{len(self.files)} IMDb files ({fetched} {verb}"]
        if skipped:
            parts.append(f", {skipped} unchanged")
        parts.append(f"), {human(self.downloaded_bytes)} transferred in {self.seconds:.1f}s")
        if self.missing:
            parts.append(f"; absent (optional): {', '.join(self.missing)}")
        if self.skipped:
            parts.append(f"; not asked for: {', '.join(self.skipped)}")
        return "".join(parts)


def human(n: float) -> str:
    """A byte count for people: ``"512 B"``, ``"1.5 KiB"``, ... up to GiB (1024 apart)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def utc_iso(dt: datetime | None) -> str | None:
    """ISO-8601 in UTC to the second (``2024-01-31T12:00:00+00:00``); a naive time is UTC."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).replace(microsecond=0).isoformat()
