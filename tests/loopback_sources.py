"""IMDb-like sources on 127.0.0.1 for the ingest.sources tests (tests/unit/test_sources_*.py).

A ThreadingHTTPServer that speaks enough HTTP (Range/206, If-Range, ETag, Last-Modified, and
scripted failures), and moto's S3 server, put behind a small TCP proxy that records the requests
and can cut a response mid-body; their fixtures, the test data, and the checks the tests share.

Loaded by tests/conftest.py as a plugin (``pytest_plugins``): its fixtures are there for any test
that names them, and its asserts report their values like a test module's own. The
``sources_isolated`` fixture (no proxies, no real AWS configuration or credentials, fast
back-off) is not autouse: a test module asks for it with
``pytestmark = pytest.mark.usefixtures("sources_isolated")``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import random
import re
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from ingest.schemas import ALL_FILES, ImdbFile

REQUIRED = [f.name for f in ALL_FILES if f.required]
OPTIONAL = [f.name for f in ALL_FILES if not f.required]
BIG = "title.basics"  # the file made large enough to be cut mid-body


# --------------------------------------------------------------------------- test data


def imdb_tsv_gz(f: ImdbFile, rows: int, seed: int) -> bytes:
    """``rows`` random rows of IMDb file ``f`` under its header, gzipped (the same bytes
    for the same seed)."""
    rng = random.Random(f"{f.name}-{seed}")

    def word() -> str:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 12)))

    lines = ["\t".join(f.header)]
    for i in range(rows):
        values = []
        for c in f.columns:
            if c is f.columns[0]:
                values.append(f"{'nm' if f.name == 'name.basics' else 'tt'}{i:07d}")
            elif c.kind == "int":
                values.append(str(rng.randint(1, 2025)) if rng.random() > 0.1 else "\\N")
            elif c.kind == "bool":
                values.append(rng.choice("01"))
            elif c.kind == "rating":
                values.append(f"{rng.randint(10, 100) / 10:.1f}")
            elif c.kind == "list":
                values.append(",".join(word() for _ in range(rng.randint(1, 3))))
            elif c.kind == "list02":
                values.append("\x02".join(word() for _ in range(rng.randint(1, 2))))
            else:
                values.append(" ".join(word() for _ in range(rng.randint(1, 4))))
        lines.append("\t".join(values))
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


@pytest.fixture(scope="module")
def imdb_data() -> dict[str, bytes]:
    """IMDb name -> gzipped TSV; title.basics ~100 KB, the others a few KB."""
    return {f.name: imdb_tsv_gz(f, 4000 if f.name == BIG else 100, 1) for f in ALL_FILES}


# --------------------------------------------------------------------------- environment


@pytest.fixture
def sources_isolated(monkeypatch, tmp_path):
    """No proxies, no real AWS config or credentials, fast back-off (patched in
    ``ingest.sources.retry``, where it is read)."""
    from ingest.sources import retry

    for var in (
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(retry, "BACKOFF_BASE", 0.01)
    monkeypatch.setattr(retry, "BACKOFF_MAX", 0.05)
    monkeypatch.setattr(retry, "TIMEOUT", 10.0)


@pytest.fixture
def aws_credentials(monkeypatch):
    """Fake AWS credentials in the environment: the signed client exists."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


# --------------------------------------------------------------------------- checks


def one_line(e: BaseException) -> str:
    """The text of ``e``, checked to be one non-empty line."""
    text = str(e)
    assert text and "\n" not in text, text
    return text


def quiet_fetch(source, dest, **kw):
    """``ingest.sources.fetch``, without progress bars unless asked for."""
    from ingest.sources import fetch

    kw.setdefault("progress", False)
    return fetch(source, dest, **kw)


def assert_all_downloaded(result, dest: Path, data: dict[str, bytes], names) -> None:
    """``result`` holds exactly ``names`` (ALL_FILES order), each downloaded whole into
    ``dest`` as ``data`` has it, no ``.part`` left, a complete sidecar."""
    assert [f.name for f in result.files] == [f.name for f in ALL_FILES if f.name in names]
    for f in result.files:
        assert f.path == dest / f.path.name
        assert f.path.read_bytes() == data[f.name], f.name
        assert f.size == len(data[f.name])
        assert not f.path.with_name(f.path.name + ".part").exists()
        meta = json.loads(f.path.with_name(f.path.name + ".meta.json").read_text())
        assert meta["complete"] and meta["size"] == f.size and meta["url"] == f.url
        assert meta["etag"] == f.etag


# --------------------------------------------------------------------------- HTTP server


class FakeImdbHttp:
    """IMDb-like file server with scripted misbehaviour, counting requests."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str, str]] = {}  # "/name.tsv.gz" -> data, etag, date
        self.requests: list[
            tuple[str, str, str | None, str | None]
        ] = []  # method, path, Range, If-Range
        self.gets: Counter[str] = Counter()
        self.cut: dict[str, tuple[int, bool]] = {}  # path -> (body bytes, rst); next GET only
        self.fail: dict[str, list[int]] = {}  # path -> statuses for the next GETs
        self.status: dict[str, int] = {}  # path -> status for every request
        self.ignore_range = False
        self.head_status: int | None = None  # e.g. 405: a server without HEAD
        self.lock = threading.Lock()
        self._version = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.fake = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/imdb/"

    def put(self, name: str, data: bytes) -> None:
        self._version += 1
        etag = '"' + hashlib.sha1(data).hexdigest()[:16] + f'-{self._version}"'
        date = formatdate(1_700_000_000 + self._version, usegmt=True)
        self.files[f"/imdb/{name}.tsv.gz"] = (data, etag, date)

    def path(self, name: str) -> str:
        return f"/imdb/{name}.tsv.gz"

    def ranges(self, name: str) -> list[str | None]:
        return [r for m, p, r, _ in self.requests if m == "GET" and p == self.path(name)]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def do_HEAD(self):
        self._serve(body=False)

    def do_GET(self):
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        fake: FakeImdbHttp = self.server.fake  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        rng, if_range = self.headers.get("Range"), self.headers.get("If-Range")
        with fake.lock:
            fake.requests.append((self.command, path, rng, if_range))
            forced = fake.status.get(path)
            if not body and fake.head_status:
                forced = fake.head_status
            cut = None
            if body:
                fake.gets[path] += 1
                if fake.fail.get(path):
                    forced = fake.fail[path].pop(0)
                cut = fake.cut.pop(path, None)
            entry = fake.files.get(path)
        if forced:
            self.send_error(forced)
            return
        if entry is None:
            self.send_error(404)
            return
        data, etag, date = entry
        start, status = 0, 200
        m = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if m and not fake.ignore_range and (if_range is None or if_range in (etag, date)):
            start, status = int(m.group(1)), 206
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self.send_response(status)
        self.send_header("Content-Type", "application/gzip")
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", date)
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if not body:
            return
        payload = data[start:]
        if cut is None:
            self.wfile.write(payload)
            return
        nbytes, rst = cut
        self.wfile.write(payload[:nbytes])
        self.wfile.flush()
        self.close_connection = True
        if rst:  # abortive close: the client sees ECONNRESET
            time.sleep(0.2)  # let the client take the bytes first
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        else:  # orderly close: the client sees a short body
            self.connection.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def http_server(imdb_data):
    """A ``FakeImdbHttp`` serving ``imdb_data``, closed after the test."""
    fake = FakeImdbHttp()
    for name, data in imdb_data.items():
        fake.put(name, data)
    yield fake
    fake.close()


# --------------------------------------------------------------------------- S3 (moto)


class CuttingProxy:
    """TCP proxy on 127.0.0.1 in front of moto.

    Records each request (method, path, query, signed?, Range). ``cut[path] = n`` cuts the
    connection n bytes into the response of the next GET of ``path``; ``deny_unsigned_list``
    answers bucket listings without an Authorization header with 403 AccessDenied (moto lets
    anyone list).
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests: list[dict] = []
        self.cut: dict[str, int] = {}
        self.deny_unsigned_list = False
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def gets(self, key_suffix: str = "") -> list[dict]:
        return [
            r
            for r in self.requests
            if r["method"] == "GET" and r["path"].count("/") >= 2 and r["path"].endswith(key_suffix)
        ]

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    @staticmethod
    def _close(*socks: socket.socket) -> None:
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.upstream)
        conn = {"down": 0, "cut_at": None}
        threading.Thread(target=self._pump_down, args=(upstream, client, conn), daemon=True).start()
        buf = b""
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    return
                buf += data
                out = b""
                while (end := buf.find(b"\r\n\r\n")) >= 0:
                    head = buf[:end].decode("latin-1").split("\r\n")
                    headers = {
                        k.strip().lower(): v.strip()
                        for k, _, v in (h.partition(":") for h in head[1:])
                    }
                    length = int(headers.get("content-length", 0))
                    if len(buf) < end + 4 + length:
                        break
                    request, buf = buf[: end + 4 + length], buf[end + 4 + length :]
                    method, target, _ = head[0].split(" ", 2)
                    parts = urlsplit(target)
                    info = {
                        "method": method,
                        "path": parts.path,
                        "query": parse_qs(parts.query, keep_blank_values=True),
                        "signed": "authorization" in headers,
                        "range": headers.get("range"),
                        "if_match": headers.get("if-match"),
                    }
                    with self.lock:
                        self.requests.append(info)
                        cut = self.cut.pop(parts.path, None) if method == "GET" else None
                    bucket_level = parts.path.strip("/").count("/") == 0
                    if (
                        self.deny_unsigned_list
                        and method == "GET"
                        and bucket_level
                        and not info["signed"]
                    ):
                        body = (
                            b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied'
                            b"</Code><Message>Access Denied</Message></Error>"
                        )
                        client.sendall(
                            b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\n"
                            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
                        )
                        return
                    if cut is not None:
                        conn["cut_at"] = conn["down"] + cut
                    out += request
                if out:
                    upstream.sendall(out)
        except OSError:
            pass
        finally:
            self._close(client, upstream)

    def _pump_down(self, upstream: socket.socket, client: socket.socket, conn: dict) -> None:
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    return
                cut_at = conn["cut_at"]
                if cut_at is not None and conn["down"] + len(data) >= cut_at:
                    keep = data[: cut_at - conn["down"]]
                    conn["down"] += len(keep)
                    client.sendall(keep)
                    time.sleep(0.1)
                    return
                conn["down"] += len(data)
                client.sendall(data)
        except OSError:
            pass
        finally:
            self._close(client, upstream)


@pytest.fixture(scope="module")
def moto_server():
    """moto's S3 server on 127.0.0.1, one per test module: ``(host, port)``."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield (host, port)
    server.stop()


@pytest.fixture
def moto_s3(moto_server):
    """(admin boto3 client straight to moto, proxy in front of moto)."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=f"http://{moto_server[0]}:{moto_server[1]}",
        region_name="us-east-1",
        aws_access_key_id="admin",
        aws_secret_access_key="admin",
        config=Config(s3={"addressing_style": "path"}),
    )
    proxy = CuttingProxy(moto_server)
    yield client, proxy
    proxy.close()


def make_bucket(client, data: dict[str, bytes], *, prefix="imdb/2024/", public=False, names=None):
    """A new bucket holding ``data`` under ``prefix`` (``names``: IMDb name -> file name,
    default ``<name>.tsv.gz`` for all); its name."""
    bucket = f"imdb-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    names = names or {name: f"{name}.tsv.gz" for name in data}
    for name, filename in names.items():
        kw = {"ACL": "public-read"} if public else {}
        client.put_object(Bucket=bucket, Key=prefix + filename, Body=data[name], **kw)
    return bucket
