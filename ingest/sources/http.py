"""The HTTP(S) source: a base URL serving ``<name>.tsv.gz`` (IMDb: https://datasets.imdbws.com/).

``HttpSource.probe`` asks for each IMDb file with a HEAD (a GET whose body is not read, for a
server without HEAD); ``HttpSource.open`` GETs a file from an offset with ``Range`` and
``If-Range`` (a server that ignores the range answers 200 with the whole file). Statuses and
socket errors become ``Transient`` (retried: 5xx, 408, 425, 429, resets, time-outs),
``NotFound`` (404) or a ``SourceError`` naming the URL and what to try (401/403, DNS failure,
refused connection, TLS certificate).
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from ingest.schemas import ALL_FILES, ImdbFile
from ingest.sources import retry
from ingest.sources.download import Remote, Restart, Stream, content_range
from ingest.sources.errors import NotFound, SourceError
from ingest.sources.locate import HINT_HTTPS, HINT_OFFLINE, IMDB_BASE_URL, wanted_tables
from ingest.sources.retry import Transient, retrying, run_parallel

logger = logging.getLogger(__name__)

USER_AGENT = "imdb-pipeline/0.1 (python-urllib)"


class _Forbidden(SourceError):
    """HTTP 401/403."""


class _HeadUnsupported(Exception):
    """HEAD answered 405/501: ask with a GET (and read only its headers)."""


def _http_error(code: int, reason: str, url: str) -> Exception:
    status = f"{code} {reason}".strip()
    if code == 404:
        return NotFound(url, status)
    if code in (401, 403):
        return _Forbidden(
            f"{status} for {url}: the server refuses access; check the URL, or {HINT_HTTPS}"
        )
    if code in (408, 425, 429) or code >= 500:
        return Transient(f"{status} from {url}")
    return SourceError(f"{status} for {url}: unexpected answer; check the URL, or {HINT_HTTPS}")


def _net_error(exc: BaseException, url: str) -> Exception:
    """Classify a connection-level failure: ``SourceError`` (retry cannot help) or ``Transient``."""
    reason: Any = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    host = urllib.parse.urlsplit(url).netloc
    if isinstance(reason, socket.gaierror):
        return SourceError(
            f"cannot resolve host {host} for {url} ({reason.strerror or reason}): check the URL "
            f"and the network/DNS ({HINT_OFFLINE})"
        )
    if isinstance(reason, ConnectionRefusedError):
        return SourceError(
            f"connection refused by {host} for {url}: check the host and port ({HINT_OFFLINE})"
        )
    if isinstance(reason, ssl.SSLCertVerificationError):
        return SourceError(
            f"TLS certificate check failed for {url} ({reason.verify_message}): "
            "set SSL_CERT_FILE to your CA bundle"
        )
    if isinstance(reason, (OSError, http.client.HTTPException)):
        return Transient(f"{type(reason).__name__}: {reason}".rstrip(": "))
    return SourceError(f"cannot read {url}: {reason}")


def _http_open(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> Any:
    req = urllib.request.Request(
        url,
        method=method,
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **(headers or {})},
    )
    try:
        return urllib.request.urlopen(req, timeout=retry.TIMEOUT)
    except urllib.error.HTTPError as e:
        code, msg = e.code, e.reason
        e.close()
        if code == 416:
            raise Restart("416 Range Not Satisfiable") from None
        if method == "HEAD" and code in (405, 501):
            raise _HeadUnsupported from None
        raise _http_error(code, str(msg or ""), url) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        raise _net_error(e, url) from None


def _validator(meta: dict[str, Any] | None) -> str | None:
    """If-Range value for the version the .part belongs to (strong ETag, else date)."""
    if not meta:
        return None
    etag = meta.get("etag")
    if etag and not str(etag).startswith("W/"):
        return str(etag)
    return meta.get("last_modified")


class HttpSource:
    """The IMDb files under a base URL, ``<base><name>.tsv.gz`` each.

    Args:
        base: the base URL, ending with ``/`` (as ``parse_source`` gives it).
        tables: the IMDb names asked for (default all); no other is asked about.
    """

    kind = "http"

    def __init__(self, base: str, tables=None):
        self.base = base
        self.tables = wanted_tables(tables)

    def url_of(self, f: ImdbFile) -> str:
        """The URL of IMDb file ``f``."""
        return f"{self.base}{f.name}.tsv.gz"

    def probe(self, retries: int, parallel: int, cancel: threading.Event) -> dict[str, Remote]:
        """IMDb name -> ``Remote`` (size, ETag, Last-Modified) of each file asked for that is
        there, asked about ``parallel`` at a time.

        An optional file that answers 404 (or 403: S3-backed web servers) is left out.

        Raises:
            SourceError: a required file is not there (404, naming it and how many more), or
                a request failed for good.
        """
        files = [f for f in ALL_FILES if f.name in self.tables]  # asked for: asked about
        tasks = [lambda f=f: self._probe_one(f, retries, cancel) for f in files]
        found = run_parallel(tasks, parallel, cancel)
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

    def _probe_one(self, f: ImdbFile, retries: int, cancel: threading.Event) -> Remote | None:
        url = self.url_of(f)

        def head() -> Remote | None:
            for method in ("HEAD", "GET"):  # GET (headers only) for servers without HEAD
                try:
                    resp = _http_open(url, method)
                    break
                except NotFound:
                    return None
                except _HeadUnsupported:
                    continue
                except _Forbidden as e:
                    if f.required:
                        raise
                    # S3-backed web servers answer 403 for a missing object: optional -> absent
                    logger.warning("%s; %s is optional: treated as absent", e, f.name)
                    return None
            with resp:  # a GET's body is not read: closing drops the connection
                h = resp.headers
                length = h.get("Content-Length")
                return Remote(
                    f,
                    url,
                    f"{f.name}.tsv.gz",
                    int(length) if length and length.isdigit() else None,
                    h.get("ETag"),
                    h.get("Last-Modified"),
                )

        return retrying(head, f"HEAD {url}", retries, cancel)

    def open(self, r: Remote, offset: int, meta: dict[str, Any] | None) -> Stream:
        """A GET of ``r`` from byte ``offset``, guarded by ``If-Range`` when resuming.

        ``meta``: the sidecar of the ``.part`` being resumed (its strong ETag, else its date,
        is the ``If-Range``). Raises ``Restart`` (416, a 206 without a usable Content-Range),
        ``Transient``, or ``SourceError`` (the file disappeared, access refused, ...).
        """
        headers = {}
        if offset:
            headers["Range"] = f"bytes={offset}-"
            validator = _validator(meta)
            if validator:  # 206 only if still the .part's version, else 200 with everything
                headers["If-Range"] = validator
        try:
            resp = _http_open(r.url, "GET", headers)
        except NotFound as e:
            raise SourceError(
                f"{e} for {r.url}: the file disappeared during the fetch; run again"
            ) from None
        h = resp.headers
        if resp.status == 206:
            span = content_range(h.get("Content-Range", ""))
            if span is None:
                resp.close()
                raise Restart("206 without a usable Content-Range")
            start, total = span
        else:
            start = 0
            length = h.get("Content-Length")
            total = int(length) if length and length.isdigit() else None

        def read(n: int) -> bytes:
            try:  # read1: what has arrived (<= n), so a cut connection loses no received bytes
                return resp.read1(n)
            except (OSError, http.client.HTTPException) as e:
                raise Transient(f"{type(e).__name__} while reading {r.url}: {e}") from None

        return Stream(start, total, h.get("ETag"), h.get("Last-Modified"), read, resp.close)
