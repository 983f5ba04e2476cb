"""Fetch the IMDb dataset files from a source into a local cache folder.

Sources (``parse_source``):

  ``/some/dir``              the files are used where they are (no copy), found by ``locate_files``
  ``https://host/path/``     a base URL serving ``<name>.tsv.gz`` (IMDb: https://datasets.imdbws.com/)
  ``s3://BUCKET[/PREFIX]``   boto3; anonymous first, then the standard AWS credential chain;
                             ``s3`` alone is the project's bucket ``imdb-data-495700631743``
  ``sample:SCALE[:SEED]``    only parsed here: the sample generator makes those files

Downloads run in a thread pool, stream 1 MiB chunks into ``<dest>/<file>.part`` and rename it when
the size matches what the server announced. A ``.part`` left by a cut connection or an interrupted
run is resumed with a ranged GET (``If-Range``/``If-Match`` guard against a file that changed in
between); a server that ignores the range makes the download restart from byte 0. Each downloaded
file gets a ``<file>.meta.json`` sidecar (URL, size, ETag, Last-Modified): a re-run skips files whose
remote size and ETag (or Last-Modified) still match it. Transient failures (connection reset or cut,
timeouts, incomplete reads, 5xx, 429) are retried with exponential back-off; everything that a retry
cannot fix (403, 404, unknown bucket, DNS failure, refused connection) raises ``SourceError``, whose
text is one line naming the URL and what to try.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import http.client
import json
import logging
import math
import os
import random
import re
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from tqdm import tqdm

from ingest.convert import InputError, TableFiles
from ingest.layout import LayoutError, scan_folder, select_names
from ingest.progress import DownloadProgress
from ingest.schemas import ALL_FILES, ImdbFile

log = logging.getLogger(__name__)

IMDB_BASE_URL = "https://datasets.imdbws.com/"
DEFAULT_S3_BUCKET = "imdb-data-495700631743"

CHUNK_SIZE = 1 << 20  # bytes per read/write
TIMEOUT = 60.0  # seconds per socket operation (connect, each read)
BACKOFF_BASE = 1.0  # first retry after ~1 s, then ~2, ~4, ... (tests lower these)
BACKOFF_MAX = 30.0
MAX_RESTARTS = 3  # downloads restarted from byte 0 (range refused, file changed) before giving up
USER_AGENT = "imdb-pipeline/0.1 (python-urllib)"
PART_SUFFIX = ".part"
META_SUFFIX = ".meta.json"

_HINT_HTTPS = f"use --source {IMDB_BASE_URL}"
_HINT_CREDS = "set AWS credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
_HINT_OFFLINE = "no internet here? then use a local directory or sample:SCALE"


class SourceError(InputError):
    """A source cannot be read. ``str()`` is one line: the URL, what went wrong, what to try."""

    def __init__(self, message: object):
        super().__init__(" ".join(str(message).split()))


class S3Location(NamedTuple):
    bucket: str
    prefix: str  # "" or ending with "/"


class SampleSpec(NamedTuple):
    scale: float
    seed: int | None


@dataclass(frozen=True)
class FetchedFile:
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
        return sum(f.downloaded for f in self.files)

    def get(self, name: str) -> FetchedFile | None:
        return next((f for f in self.files if f.name == name), None)

    def summary(self) -> str:
        fetched = sum(1 for f in self.files if not f.skipped)
        skipped = len(self.files) - fetched
        verb = "downloaded" if self.kind != "dir" else "found"
        parts = [f"{len(self.files)} IMDb files ({fetched} {verb}"]
        if skipped:
            parts.append(f", {skipped} unchanged")
        parts.append(f"), {_human(self.downloaded_bytes)} transferred in {self.seconds:.1f}s")
        if self.missing:
            parts.append(f"; absent (optional): {', '.join(self.missing)}")
        if self.skipped:
            parts.append(f"; not asked for: {', '.join(self.skipped)}")
        return "".join(parts)


# --------------------------------------------------------------------------- source strings


def parse_source(source: str | os.PathLike[str]) -> tuple[str, Any]:
    """``(kind, location)`` for a source string.

    ``("dir", Path)``, ``("http", base_url_ending_with_slash)``, ``("s3", S3Location)``,
    ``("sample", SampleSpec)``. Raises ``SourceError`` for an empty or unsupported source.
    """
    if isinstance(source, os.PathLike):
        return "dir", Path(source).expanduser()
    s = str(source).strip()
    low = s.lower()
    if not s:
        raise SourceError(
            "empty source: give a directory, an http(s):// URL, s3://BUCKET[/PREFIX], s3 "
            "or sample:SCALE[:SEED]"
        )
    if low == "s3":
        return "s3", S3Location(DEFAULT_S3_BUCKET, "")
    if low.startswith("s3://"):
        bucket, _, prefix = s[5:].partition("/")
        if not bucket or any(c.isspace() for c in bucket):
            raise SourceError(f"bad S3 source {s!r}: expected s3://BUCKET[/PREFIX]")
        prefix = prefix.strip("/")
        return "s3", S3Location(bucket, prefix + "/" if prefix else "")
    if low.startswith(("http://", "https://")):
        parsed = urllib.parse.urlsplit(s)
        if not parsed.hostname:
            raise SourceError(f"bad URL source {s!r}: expected e.g. {IMDB_BASE_URL}")
        if parsed.query or parsed.fragment:
            raise SourceError(f"bad URL source {s!r}: give a base URL without ?query or #fragment")
        return "http", s if s.endswith("/") else s + "/"
    if low.startswith("sample:"):
        parts = s.split(":")
        try:
            if len(parts) not in (2, 3):
                raise ValueError
            scale = float(parts[1])
            seed = int(parts[2]) if len(parts) == 3 and parts[2].strip() else None
            if not math.isfinite(scale) or scale <= 0:
                raise ValueError
        except ValueError:
            raise SourceError(
                f"bad sample source {s!r}: expected sample:SCALE[:SEED], SCALE a positive "
                "number and SEED an integer (e.g. sample:0.01:42)"
            ) from None
        return "sample", SampleSpec(scale, seed)
    if low.startswith("file://"):
        return "dir", Path(urllib.request.url2pathname(urllib.parse.urlsplit(s).path))
    if re.match(r"^[a-z][a-z0-9+.-]*://", low):
        raise SourceError(
            f"unsupported source {s!r}: use a directory, http(s)://, s3://BUCKET[/PREFIX] "
            "or sample:SCALE[:SEED]"
        )
    return "dir", Path(s).expanduser()


def describe(source: str | os.PathLike[str]) -> str:
    """A short human description of a source, for log lines."""
    kind, loc = parse_source(source)
    if kind == "dir":
        return f"local directory {loc} (files used in place)"
    if kind == "http":
        return f"HTTP {loc}"
    if kind == "s3":
        default = " (the project's default bucket)" if loc.bucket == DEFAULT_S3_BUCKET else ""
        return f"S3 s3://{loc.bucket}/{loc.prefix}{default}, anonymous first, then AWS credentials"
    seed = "random seed" if loc.seed is None else f"seed {loc.seed}"
    return f"generated sample (scale {loc.scale:g}, {seed})"


# --------------------------------------------------------------------------- file names

def _wanted(tables) -> set[str]:
    return {f.name for f in ALL_FILES} if tables is None else set(tables)


def _select(filenames: Iterable[str], where: str, tables=None) -> dict[str, str]:
    """IMDb name -> the file name to fetch among a listing's names (``layout.select_names``)."""
    try:
        return select_names(list(filenames), where, None if tables is None else set(tables))
    except LayoutError as exc:
        raise SourceError(str(exc)) from None


def locate_files(directory: str | os.PathLike[str], tables=None) -> dict[str, TableFiles]:
    """IMDb file name -> the file(s) holding it in ``directory`` (only the tables present).

    Accepted (``ingest.layout``): ``<name>.tsv.gz``, ``<name>.tsv``, ``<name>.<tag>.tsv[.gz]``
    (e.g. ``title.ratings.small.tsv.gz``), a folder named like a table holding its one data
    file or its parts (``title.basics.tsv/data.tsv``), and the parts of a split file
    (``title.akas.tsv.part-aa``, ``-ab``, ...). ``title.basics-movie.tsv`` is not a match
    (``-`` is not ``.<tag>``). An exact name wins over tagged ones; two candidates of the same
    rank (e.g. ``title.basics.tsv`` and ``title.basics.tsv.gz``) raise ``SourceError`` naming
    both. ``tables``: the IMDb names to look for (default all). Does not check which files are
    required: ``fetch`` does.
    """
    return _scan(Path(directory).expanduser(), tables)[0]


def _scan(d: Path, tables=None):
    """(IMDb name -> TableFiles, notes, subfolders holding IMDb files) of a folder source."""
    if d.is_file():
        raise SourceError(
            f"{d}: a file, not a folder; give the folder that holds it and the other IMDb "
            f".tsv[.gz] files (--source {d.parent}), or {_HINT_HTTPS}"
        )
    if not d.is_dir():
        raise SourceError(
            f"{d}: no such directory; give a folder with the IMDb .tsv[.gz] files, or {_HINT_HTTPS}"
        )
    try:
        layout = scan_folder(d, None if tables is None else set(tables))
    except LayoutError as exc:
        raise SourceError(str(exc)) from None
    return layout.tables, layout.notes, layout.subfolders


# --------------------------------------------------------------------------- internals


class _Transient(Exception):
    """Worth retrying (and resuming)."""


class _Restart(Exception):
    """Start this file again from byte 0 (range refused or not honoured, file changed)."""


class _NotFound(Exception):
    def __init__(self, url: str, message: str = "404 Not Found"):
        super().__init__(message)
        self.url = url


class _Cancelled(Exception):
    pass


class _Forbidden(SourceError):
    """HTTP 401/403."""


class _HeadUnsupported(Exception):
    """HEAD answered 405/501: ask with a GET (and read only its headers)."""


@dataclass
class _Remote:
    file: ImdbFile
    url: str
    filename: str  # local file name under dest_dir
    size: int | None
    etag: str | None
    last_modified: str | None
    key: str | None = None  # S3 object key


@dataclass
class _Stream:
    start: int  # offset of the first byte this response delivers
    total: int | None  # size of the whole file, when the server says
    etag: str | None
    last_modified: str | None
    read: Callable[[int], bytes]  # raises _Transient on network errors
    close: Callable[[], None]


@dataclass
class _Plan:
    remote: _Remote
    final: Path
    part: Path
    meta_path: Path
    meta: dict[str, Any] | None
    skip: bool
    offset: int  # bytes of .part to keep


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def _utc_iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).replace(microsecond=0).isoformat()


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


def _same_version(meta: dict[str, Any] | None, r: _Remote) -> bool:
    """The recorded download is the remote file as it is now (same URL, size and ETag/date)."""
    if not meta or meta.get("url") != r.url or r.size is None or meta.get("size") != r.size:
        return False
    if r.etag and meta.get("etag"):
        return meta["etag"] == r.etag
    if r.last_modified and meta.get("last_modified"):
        return meta["last_modified"] == r.last_modified
    return False


def _backoff(attempt: int) -> float:
    return min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (attempt - 1)) * random.uniform(0.75, 1.0)


T = TypeVar("T")


def _retrying(fn: Callable[[], T], what: str, retries: int, cancel: threading.Event) -> T:
    """Call ``fn`` until it does not raise ``_Transient``, at most ``retries`` more times."""
    attempt = 0
    while True:
        if cancel.is_set():
            raise _Cancelled
        try:
            return fn()
        except _Transient as e:
            attempt += 1
            if attempt > retries:
                raise SourceError(
                    f"{what}: {e} (gave up after {retries} retries); check the network and run "
                    "again"
                ) from e
            delay = _backoff(attempt)
            log.warning("%s: %s; retry %d/%d in %.1fs", what, e, attempt, retries, delay)
            if cancel.wait(delay):
                raise _Cancelled from None


def _run_parallel(tasks: list[Callable[[], T]], parallel: int, cancel: threading.Event) -> list[T]:
    """Run ``tasks`` in a thread pool; on the first error (or Ctrl-C) the others stop at their
    next chunk (their ``.part`` stays, to be resumed) and the error is raised."""
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
    real = [e for e in errors if not isinstance(e, _Cancelled)]
    if real or errors:
        raise (real or errors)[0]  # type: ignore[misc]
    return [f.result() for f in futures]


# --------------------------------------------------------------------------- HTTP


def _http_error(code: int, reason: str, url: str) -> Exception:
    status = f"{code} {reason}".strip()
    if code == 404:
        return _NotFound(url, status)
    if code in (401, 403):
        return _Forbidden(
            f"{status} for {url}: the server refuses access; check the URL, or {_HINT_HTTPS}"
        )
    if code in (408, 425, 429) or code >= 500:
        return _Transient(f"{status} from {url}")
    return SourceError(f"{status} for {url}: unexpected answer; check the URL, or {_HINT_HTTPS}")


def _net_error(exc: BaseException, url: str) -> Exception:
    """Classify a connection-level failure: ``SourceError`` (retry cannot help) or ``_Transient``."""
    reason: Any = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    host = urllib.parse.urlsplit(url).netloc
    if isinstance(reason, socket.gaierror):
        return SourceError(
            f"cannot resolve host {host} for {url} ({reason.strerror or reason}): check the URL "
            f"and the network/DNS ({_HINT_OFFLINE})"
        )
    if isinstance(reason, ConnectionRefusedError):
        return SourceError(f"connection refused by {host} for {url}: check the host and port "
                           f"({_HINT_OFFLINE})")
    if isinstance(reason, ssl.SSLCertVerificationError):
        return SourceError(
            f"TLS certificate check failed for {url} ({reason.verify_message}): "
            "set SSL_CERT_FILE to your CA bundle"
        )
    if isinstance(reason, (OSError, http.client.HTTPException)):
        return _Transient(f"{type(reason).__name__}: {reason}".rstrip(": "))
    return SourceError(f"cannot read {url}: {reason}")


def _http_open(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> Any:
    req = urllib.request.Request(
        url,
        method=method,
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **(headers or {})},
    )
    try:
        return urllib.request.urlopen(req, timeout=TIMEOUT)
    except urllib.error.HTTPError as e:
        code, msg = e.code, e.reason
        e.close()
        if code == 416:
            raise _Restart("416 Range Not Satisfiable") from None
        if method == "HEAD" and code in (405, 501):
            raise _HeadUnsupported from None
        raise _http_error(code, str(msg or ""), url) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        raise _net_error(e, url) from None


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.IGNORECASE)


class _HttpSource:
    kind = "http"

    def __init__(self, base: str, tables=None):
        self.base = base
        self.tables = _wanted(tables)

    def url_of(self, f: ImdbFile) -> str:
        return f"{self.base}{f.name}.tsv.gz"

    def probe(self, retries: int, parallel: int, cancel: threading.Event) -> dict[str, _Remote]:
        files = [f for f in ALL_FILES if f.name in self.tables]  # asked for: asked about
        tasks = [lambda f=f: self._probe_one(f, retries, cancel) for f in files]
        found = _run_parallel(tasks, parallel, cancel)
        remotes = {f.name: r for f, r in zip(files, found) if r is not None}
        missing_required = [f for f in files if f.required and f.name not in remotes]
        if missing_required:
            more = len(missing_required) - 1
            extra = f" (and {more} more required file{'s' if more > 1 else ''})" if more else ""
            raise SourceError(
                f"404 Not Found for {self.url_of(missing_required[0])}{extra}: this required IMDb "
                f"file is not at the source; check the base URL (IMDb's is {IMDB_BASE_URL})"
            )
        return remotes

    def _probe_one(self, f: ImdbFile, retries: int, cancel: threading.Event) -> _Remote | None:
        url = self.url_of(f)

        def head() -> _Remote | None:
            for method in ("HEAD", "GET"):  # GET (headers only) for servers without HEAD
                try:
                    resp = _http_open(url, method)
                    break
                except _NotFound:
                    return None
                except _HeadUnsupported:
                    continue
                except _Forbidden as e:
                    if f.required:
                        raise
                    # S3-backed web servers answer 403 for a missing object: optional -> absent
                    log.warning("%s; %s is optional: treated as absent", e, f.name)
                    return None
            with resp:  # a GET's body is not read: closing drops the connection
                h = resp.headers
                length = h.get("Content-Length")
                return _Remote(
                    f,
                    url,
                    f"{f.name}.tsv.gz",
                    int(length) if length and length.isdigit() else None,
                    h.get("ETag"),
                    h.get("Last-Modified"),
                )

        return _retrying(head, f"HEAD {url}", retries, cancel)

    def open(self, r: _Remote, offset: int, meta: dict[str, Any] | None) -> _Stream:
        headers = {}
        if offset:
            headers["Range"] = f"bytes={offset}-"
            validator = _validator(meta)
            if validator:  # 206 only if still the .part's version, else 200 with everything
                headers["If-Range"] = validator
        try:
            resp = _http_open(r.url, "GET", headers)
        except _NotFound as e:
            raise SourceError(
                f"{e} for {r.url}: the file disappeared during the fetch; run again"
            ) from None
        h = resp.headers
        if resp.status == 206:
            m = _CONTENT_RANGE.match(h.get("Content-Range", ""))
            if not m:
                resp.close()
                raise _Restart("206 without a usable Content-Range")
            start = int(m.group(1))
            total = int(m.group(3)) if m.group(3) != "*" else None
        else:
            start = 0
            length = h.get("Content-Length")
            total = int(length) if length and length.isdigit() else None

        def read(n: int) -> bytes:
            try:  # read1: what has arrived (<= n), so a cut connection loses no received bytes
                return resp.read1(n)
            except (OSError, http.client.HTTPException) as e:
                raise _Transient(f"{type(e).__name__} while reading {r.url}: {e}") from None

        return _Stream(start, total, h.get("ETag"), h.get("Last-Modified"), read, resp.close)


# --------------------------------------------------------------------------- S3


class _S3Denied(SourceError):
    """Access denied, anonymously and (if any) with the AWS credentials."""


class _S3Source:
    kind = "s3"

    def __init__(
        self, loc: S3Location, region: str | None, endpoint_url: str | None, parallel: int,
        tables=None,
    ):
        try:
            import boto3
            from botocore import UNSIGNED
            from botocore.config import Config
        except ImportError:  # pragma: no cover - boto3 is in requirements.lock
            raise SourceError(
                f"s3://{loc.bucket}/{loc.prefix} needs boto3 (pip install boto3), or {_HINT_HTTPS}"
            ) from None
        self.loc = loc
        self.tables = _wanted(tables)
        self.endpoint_url = endpoint_url
        self.where = f"s3://{loc.bucket}/{loc.prefix}"
        options: dict[str, Any] = {
            "connect_timeout": 20,
            "read_timeout": TIMEOUT,
            "retries": {"total_max_attempts": 1},  # we retry ourselves (and resume)
            "max_pool_connections": max(10, parallel + 2),
        }
        if endpoint_url:
            options["s3"] = {"addressing_style": "path"}  # MinIO & co.; IP endpoints need it
        self._session = boto3.session.Session(region_name=region)
        self._config = Config
        self._options = options
        self._anonymous = self._session.client(
            "s3", endpoint_url=endpoint_url, config=Config(signature_version=UNSIGNED, **options)
        )
        self._signed: Any = None
        self._signed_checked = False
        self._lock = threading.Lock()
        self.auth = "anonymous"

    # -- clients and errors

    def _signed_client(self) -> Any:
        from botocore.exceptions import BotoCoreError

        with self._lock:
            if not self._signed_checked:
                self._signed_checked = True
                try:
                    credentials = self._session.get_credentials()
                except BotoCoreError as e:  # e.g. ProfileNotFound
                    raise SourceError(
                        f"AWS credentials for {self.where}: {e}; fix AWS_PROFILE/~/.aws/config"
                    ) from None
                if credentials is not None:
                    self._signed = self._session.client(
                        "s3", endpoint_url=self.endpoint_url, config=self._config(**self._options)
                    )
            return self._signed

    def _denied_message(self, url: str, signed: bool) -> str:
        if signed:
            return (
                f"403 Forbidden for {url}: access denied also with your AWS credentials; check "
                f"the bucket/IAM policy and AWS_PROFILE, or {_HINT_HTTPS}"
            )
        return (
            f"403 Forbidden for {url}: the bucket is not public and no AWS credentials were "
            f"found; {_HINT_CREDS}, or {_HINT_HTTPS}"
        )

    def _classify(self, e: Exception, url: str, signed: bool) -> Exception:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            HTTPClientError,
            IncompleteReadError,
            NoCredentialsError,
        )

        if isinstance(e, ClientError):
            err = e.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            if code == "NoSuchBucket":
                return SourceError(
                    f"404 Not Found for s3://{self.loc.bucket}/: no such bucket; check the name "
                    f"in s3://BUCKET[/PREFIX] (and --s3-endpoint-url for S3-compatible stores)"
                )
            if code in ("AccessDenied", "AllAccessDisabled", "403", "Forbidden") or status == 403:
                return _S3Denied(self._denied_message(url, signed))
            if code in ("NoSuchKey", "404", "NotFound") or status == 404:
                return _NotFound(url)
            if code in ("PreconditionFailed", "412", "InvalidRange", "416") or status in (412, 416):
                return _Restart(f"{code or status}: the object changed or the range is invalid")
            if code in (
                "InvalidAccessKeyId",
                "SignatureDoesNotMatch",
                "ExpiredToken",
                "InvalidToken",
                "TokenRefreshRequired",
            ):
                return SourceError(
                    f"{code} for {url}: the AWS credentials were rejected; check AWS_PROFILE / "
                    f"AWS_ACCESS_KEY_ID / AWS_SESSION_TOKEN, or {_HINT_HTTPS}"
                )
            if (
                code in ("PermanentRedirect", "301", "AuthorizationHeaderMalformed")
                or status == 301
            ):
                return SourceError(
                    f"{code or status} for {url}: the bucket is in another region; pass "
                    "--s3-region (or set AWS_DEFAULT_REGION)"
                )
            if (
                status >= 500
                or status in (408, 429)
                or code
                in (
                    "SlowDown",
                    "InternalError",
                    "ServiceUnavailable",
                    "RequestTimeout",
                )
            ):
                return _Transient(f"{code or status} from {url}")
            return SourceError(f"{code or status} for {url}: {err.get('Message', '')}")
        if isinstance(e, NoCredentialsError):
            return _S3Denied(self._denied_message(url, False))
        if isinstance(e, EndpointConnectionError):
            parts = urllib.parse.urlsplit(e.kwargs.get("endpoint_url") or self.endpoint_url or "")
            endpoint = f"{parts.scheme}://{parts.netloc}" if parts.netloc else "the S3 endpoint"
            return SourceError(
                f"cannot connect to {endpoint} for {url}: check the network/DNS, "
                f"--s3-endpoint-url and --s3-region ({_HINT_OFFLINE})"
            )
        if isinstance(e, (ConnectTimeoutError, HTTPClientError, IncompleteReadError)):
            return _Transient(f"{type(e).__name__}: {e}")
        if isinstance(e, BotoCoreError):
            return SourceError(f"{url}: {e}")
        if isinstance(e, (OSError, http.client.HTTPException)):
            return _Transient(f"{type(e).__name__}: {e}")
        return e

    def _invoke(self, client: Any, op: str, url: str, signed: bool, **kw: Any) -> Any:
        try:
            return getattr(client, op)(**kw)
        except Exception as e:
            classified = self._classify(e, url, signed)
            if classified is e:
                raise
            raise classified from None

    def call(self, op: str, url: str, **kw: Any) -> Any:
        """``op`` anonymously first; on AccessDenied switch (for good) to the credential chain."""
        if self.auth == "anonymous":
            try:
                return self._invoke(self._anonymous, op, url, False, **kw)
            except _S3Denied:
                client = self._signed_client()
                if client is None:
                    raise
                with self._lock:
                    if self.auth == "anonymous":
                        log.info("%s: anonymous access denied; using AWS credentials", url)
                        self.auth = "credentials"
        return self._invoke(self._signed_client(), op, url, True, **kw)

    # -- listing

    def probe(self, retries: int, parallel: int, cancel: threading.Event) -> dict[str, _Remote]:
        try:
            objects = _retrying(self._list, f"list {self.where}", retries, cancel)
        except _S3Denied:
            # No ListBucket right: a bucket may still allow GetObject. Try the IMDb names.
            remotes = self._probe_direct(retries, cancel)
            if any(f.required and f.name not in remotes for f in ALL_FILES):
                raise
            return remotes
        chosen = _select(objects, self.where, self.tables)
        missing = [f.name for f in ALL_FILES if f.required and f.name not in chosen]
        if missing:
            name = missing[0]
            raise SourceError(
                f"no {name} file under {self.where} ({len(objects)} objects there; expected "
                f"{name}.tsv.gz, {name}.tsv or {name}.<tag>.tsv[.gz]): check the bucket and prefix"
            )
        remotes = {}
        for f in ALL_FILES:
            if f.name in chosen:
                fn = chosen[f.name]
                key, size, etag, lm = objects[fn]
                url = f"s3://{self.loc.bucket}/{key}"
                remotes[f.name] = _Remote(f, url, fn, size, etag, lm, key)
        return remotes

    def _list(self) -> dict[str, tuple[str, int, str | None, str | None]]:
        objects: dict[str, tuple[str, int, str | None, str | None]] = {}
        kw: dict[str, Any] = {
            "Bucket": self.loc.bucket,
            "Prefix": self.loc.prefix,
            "Delimiter": "/",
        }
        while True:
            page = self.call("list_objects_v2", self.where, **kw)
            for obj in page.get("Contents", ()):
                key = obj["Key"]
                name = key[len(self.loc.prefix) :]
                if name and "/" not in name:
                    objects[name] = (
                        key,
                        int(obj["Size"]),
                        obj.get("ETag"),
                        _utc_iso(obj.get("LastModified")),
                    )
            for prefix in page.get("CommonPrefixes", ()):  # "folders": seen, never fetched
                name = prefix["Prefix"][len(self.loc.prefix) :]
                if name:
                    objects[name] = (prefix["Prefix"], 0, None, None)
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return objects
            kw["ContinuationToken"] = token

    def _probe_direct(self, retries: int, cancel: threading.Event) -> dict[str, _Remote]:
        remotes: dict[str, _Remote] = {}
        self.auth = "anonymous"
        for f in ALL_FILES:
            if f.name not in self.tables:
                continue
            key = f"{self.loc.prefix}{f.name}.tsv.gz"
            url = f"s3://{self.loc.bucket}/{key}"

            def head(key: str = key, url: str = url) -> Any:
                return self._invoke(
                    self._anonymous, "head_object", url, False, Bucket=self.loc.bucket, Key=key
                )

            try:
                h = _retrying(head, f"HEAD {url}", retries, cancel)
            except (_S3Denied, _NotFound):  # without ListBucket a missing key is a 403
                continue
            remotes[f.name] = _Remote(
                f,
                url,
                f"{f.name}.tsv.gz",
                int(h["ContentLength"]),
                h.get("ETag"),
                _utc_iso(h.get("LastModified")),
                key,
            )
        return remotes

    # -- download

    def open(self, r: _Remote, offset: int, meta: dict[str, Any] | None) -> _Stream:
        kw: dict[str, Any] = {"Bucket": self.loc.bucket, "Key": r.key}
        if offset:
            kw["Range"] = f"bytes={offset}-"
            etag = (meta or {}).get("etag")
            if etag and not str(etag).startswith("W/"):  # 412 if the object changed: restart
                kw["IfMatch"] = etag
        try:
            resp = self.call("get_object", r.url, **kw)
        except _NotFound:
            raise SourceError(
                f"404 Not Found for {r.url}: the object disappeared during the fetch; run again"
            ) from None
        m = _CONTENT_RANGE.match(resp.get("ContentRange") or "")
        if m:
            start, total = int(m.group(1)), (int(m.group(3)) if m.group(3) != "*" else None)
        else:
            start, total = 0, resp.get("ContentLength")
        body = resp["Body"]

        def read(n: int) -> bytes:
            try:
                return body.read(n)
            except Exception as e:
                classified = self._classify(e, r.url, self.auth == "credentials")
                if isinstance(classified, _Transient):
                    raise classified from None
                raise

        return _Stream(
            start, total, resp.get("ETag"), _utc_iso(resp.get("LastModified")), read, body.close
        )


# --------------------------------------------------------------------------- download


def _plan(r: _Remote, dest: Path) -> _Plan:
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
        return _Plan(r, final, part, meta_path, meta, True, 0)
    offset = 0
    if part.is_file():
        size = part.stat().st_size
        if meta and not meta.get("complete") and _same_version(meta, r) and size <= (r.size or 0):
            offset = size
        else:
            part.unlink()
    return _Plan(r, final, part, meta_path, meta, False, offset)


def _validator(meta: dict[str, Any] | None) -> str | None:
    """If-Range / If-Match value for the version the .part belongs to (strong ETag, else date)."""
    if not meta:
        return None
    etag = meta.get("etag")
    if etag and not str(etag).startswith("W/"):
        return str(etag)
    return meta.get("last_modified")


@dataclass
class _State:
    """One file's download in progress."""

    offset: int  # bytes in the .part
    resumed_from: int  # offset the latest GET started at
    meta: dict[str, Any] | None  # the sidecar describing the .part's version
    downloaded: int = 0  # bytes received in this run


def _download(
    src: _HttpSource | _S3Source,
    plan: _Plan,
    progress: DownloadProgress,
    retries: int,
    cancel: threading.Event,
) -> FetchedFile:
    r = plan.remote
    t0 = time.monotonic()
    if plan.skip:
        log.info("%s: unchanged (%s), skipped", r.filename, r.etag or r.last_modified)
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
                raise _Cancelled
            before = state.offset
            try:
                info = _attempt(src, plan, state, bar, progress, cancel)
                break
            except _Restart as e:
                restarts += 1
                lost = plan.part.stat().st_size if plan.part.exists() else 0
                plan.part.unlink(missing_ok=True)
                if restarts > MAX_RESTARTS:
                    raise SourceError(
                        f"{r.url}: download restarted {restarts} times ({e}); run again later"
                    ) from None
                log.info("%s: %s; restarting from byte 0", r.filename, e)
                progress.grow(lost)
                bar.reset()
                state.offset = state.resumed_from = 0
                state.meta = None
            except _Transient as e:
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
                delay = _backoff(attempt)
                log.warning(
                    "%s: %s; retry %d/%d in %.1fs from byte %d",
                    r.filename,
                    e,
                    attempt,
                    retries,
                    delay,
                    state.offset,
                )
                if cancel.wait(delay):
                    raise _Cancelled from None
    finally:
        bar.close()
    seconds = time.monotonic() - t0
    log.info(
        "%s: %s in %.1fs%s",
        r.filename,
        _human(info["size"]),
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


def _finish(plan: _Plan, info: dict[str, Any], size: int) -> dict[str, Any]:
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
    src: _HttpSource | _S3Source,
    plan: _Plan,
    state: _State,
    bar: tqdm,
    progress: DownloadProgress,
    cancel: threading.Event,
) -> dict[str, Any]:
    """One GET appending to the .part from ``state.offset``; rename it when whole.

    Returns the sidecar written for the finished file. Raises ``_Transient`` (retry, resuming)
    or ``_Restart`` (discard the .part).
    """
    r = plan.remote
    if state.offset and state.meta and state.offset == r.size:  # whole already (same version)
        return _finish(plan, state.meta, state.offset)
    stream = src.open(r, state.offset, state.meta)
    try:
        if state.offset and stream.start != state.offset:
            if stream.start != 0:
                raise _Restart(f"server sent a range from byte {stream.start}, not {state.offset}")
            log.info("%s: the server ignored the Range request; restarting from 0", r.filename)
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
                    raise _Cancelled
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
        raise _Transient(f"connection closed after {state.offset} of {total} bytes")
    if total is not None and state.offset > total:
        raise _Restart(f"got {state.offset} bytes, more than the announced {total}")
    return _finish(plan, info, state.offset)


# --------------------------------------------------------------------------- public entry point


def _fetch_dir(directory: Path, tables=None):
    """(files found, optional files asked for but absent, notes) of a folder source."""
    wanted = _wanted(tables)
    found, notes, subfolders = _scan(directory, wanted)
    absent = [f for f in ALL_FILES if f.name in wanted and f.name not in found]
    required = [f.name for f in absent if f.required]
    if required:
        where = (f"--source {subfolders[0]}" if subfolders
                 else f"point --source at a folder with the IMDb files, or {_HINT_HTTPS}")
        raise SourceError(
            f"{directory}: no {required[0]} file (expected {required[0]}.tsv.gz, .tsv, "
            f"{required[0]}.<tag>.tsv[.gz], a folder {required[0]}.tsv/ or parts "
            f"{required[0]}.tsv.part-aa, ...; {len(required)} required file(s) missing); {where}"
        )
    files = []
    for name, table_files in found.items():
        first = table_files.paths[0]
        mtime = datetime.fromtimestamp(max(p.stat().st_mtime for p in table_files.paths), UTC)
        files.append(FetchedFile(name, first, str(table_files), table_files.size, None,
                                 _utc_iso(mtime), 0.0, False, parts=table_files))
    return tuple(files), tuple(f.name for f in absent), tuple(notes)


def fetch(
    source: str | os.PathLike[str],
    dest_dir: str | os.PathLike[str],
    *,
    s3_region: str | None = None,
    s3_endpoint_url: str | None = None,
    parallel: int = 4,
    progress: bool = True,
    retries: int = 5,
    tables=None,
) -> FetchResult:
    """Fetch the IMDb files of ``source`` into ``dest_dir`` (directory sources: located, not copied).

    ``tables``: the IMDb names to fetch (default all seven; see
    ``ingest.schemas.tables_to_ingest``); the others are neither downloaded nor read, and are
    listed in ``FetchResult.skipped``. Raises ``SourceError`` (one-line message) when the source
    cannot be read or lacks a required file. Progress bars go to stderr, only when it is a
    terminal and ``progress`` is true.
    """
    t0 = time.monotonic()
    kind, loc = parse_source(source)
    wanted = _wanted(tables)
    skipped = tuple(f.name for f in ALL_FILES if f.name not in wanted)
    if kind == "dir":
        files, missing, notes = _fetch_dir(loc, wanted)
        log.info("source %s: %d files", describe(source), len(files))
        return FetchResult(str(source), kind, None, files, missing, time.monotonic() - t0,
                           skipped=skipped, notes=notes)
    if kind == "sample":
        raise SourceError(
            f"{source}: sample sources are generated, not fetched; hand it to the sample generator"
        )
    if parallel < 1:
        raise ValueError(f"parallel must be >= 1, not {parallel}")
    if retries < 0:
        raise ValueError(f"retries must be >= 0, not {retries}")
    dest = Path(dest_dir).expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    cancel = threading.Event()
    src: _HttpSource | _S3Source
    if kind == "http":
        src = _HttpSource(loc, wanted)
    else:
        src = _S3Source(loc, s3_region, s3_endpoint_url, parallel, wanted)
    try:
        remotes = src.probe(retries, parallel, cancel)
        plans = [_plan(remotes[f.name], dest) for f in ALL_FILES if f.name in remotes]
        todo = sum((p.remote.size or 0) - p.offset for p in plans if not p.skip)
        bars = DownloadProgress(todo, wanted=progress)
        try:
            tasks = [lambda p=p: _download(src, p, bars, retries, cancel) for p in plans]
            files = tuple(_run_parallel(tasks, parallel, cancel))
        finally:
            bars.close()
    except _Cancelled:  # pragma: no cover - only after another error, which is raised instead
        raise SourceError(f"{describe(source)}: fetch cancelled") from None
    missing = tuple(f.name for f in ALL_FILES if f.name in wanted and f.name not in remotes)
    result = FetchResult(
        str(source),
        kind,
        dest,
        files,
        missing,
        time.monotonic() - t0,
        src.auth if isinstance(src, _S3Source) else None,
        skipped=skipped,
    )
    log.info("source %s: %s", describe(source), result.summary())
    return result


__all__ = [
    "DEFAULT_S3_BUCKET",
    "IMDB_BASE_URL",
    "FetchResult",
    "FetchedFile",
    "S3Location",
    "SampleSpec",
    "SourceError",
    "describe",
    "fetch",
    "locate_files",
    "parse_source",
]
