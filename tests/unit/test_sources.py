"""ingest.sources: source strings, file location, HTTP and S3 downloads.

Every server here is started by the tests on 127.0.0.1: a ThreadingHTTPServer that speaks enough
HTTP (Range/206, If-Range, ETag, Last-Modified, and scripted failures), and moto's S3 server, put
behind a small TCP proxy that records the requests and can cut a response mid-body.
"""

from __future__ import annotations

import gzip
import hashlib
import io
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

from ingest import progress
from ingest.schemas import ALL_FILES, ImdbFile
from ingest.sources import (
    DEFAULT_S3_BUCKET,
    S3Location,
    SampleSpec,
    SourceError,
    describe,
    download,
    fetch,
    locate_files,
    parse_source,
    retry,
)

SAMPLES = Path("/work/shared/data/imdb-samples")
REQUIRED = [f.name for f in ALL_FILES if f.required]
OPTIONAL = [f.name for f in ALL_FILES if not f.required]
BIG = "title.basics"  # the file made large enough to be cut mid-body


# --------------------------------------------------------------------------- test data


def _imdb_tsv_gz(f: ImdbFile, rows: int, seed: int) -> bytes:
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
    return {f.name: _imdb_tsv_gz(f, 4000 if f.name == BIG else 100, 1) for f in ALL_FILES}


# --------------------------------------------------------------------------- environment


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No proxies, no real AWS config or credentials, fast back-off."""
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
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def _one_line(e: BaseException) -> str:
    text = str(e)
    assert text and "\n" not in text, text
    return text


# --------------------------------------------------------------------------- parse_source / describe


@pytest.mark.parametrize(
    ("source", "kind", "location"),
    [
        ("s3", "s3", S3Location(DEFAULT_S3_BUCKET, "")),
        ("s3://bucket", "s3", S3Location("bucket", "")),
        ("s3://bucket/", "s3", S3Location("bucket", "")),
        ("s3://bucket/imdb/2024", "s3", S3Location("bucket", "imdb/2024/")),
        ("s3://bucket/imdb/", "s3", S3Location("bucket", "imdb/")),
        ("https://datasets.imdbws.com", "http", "https://datasets.imdbws.com/"),
        ("https://datasets.imdbws.com/", "http", "https://datasets.imdbws.com/"),
        ("http://127.0.0.1:8000/imdb", "http", "http://127.0.0.1:8000/imdb/"),
        ("sample:0.01", "sample", SampleSpec(0.01, None)),
        ("sample:2:42", "sample", SampleSpec(2.0, 42)),
        ("/data/imdb", "dir", Path("/data/imdb")),
        ("file:///data/imdb", "dir", Path("/data/imdb")),
        ("relative/dir", "dir", Path("relative/dir")),
    ],
)
def test_parse_source(source, kind, location):
    assert parse_source(source) == (kind, location)


@pytest.mark.parametrize(
    "source", ["", "  ", "ftp://host/x", "s3://", "sample:", "sample:abc", "sample:0", "sample:1:x"]
)
def test_parse_source_rejects(source):
    with pytest.raises(SourceError) as exc:
        parse_source(source)
    _one_line(exc.value)


def test_describe():
    assert "imdb-data-495700631743" in describe("s3")
    assert describe("https://datasets.imdbws.com") == "HTTP https://datasets.imdbws.com/"
    assert "scale 0.5" in describe("sample:0.5:7") and "seed 7" in describe("sample:0.5:7")
    assert "in place" in describe("/x")


def test_source_error_is_one_line():
    assert str(SourceError("a\nb   c\n")) == "a b c"
    assert isinstance(SourceError("x"), Exception)


def test_fetch_sample_is_not_fetched(tmp_path):
    with pytest.raises(SourceError, match="generated"):
        fetch("sample:0.1", tmp_path)


# --------------------------------------------------------------------------- locate_files


def test_locate_files_tagged_names():
    found = locate_files(SAMPLES / "imdbSpark")
    assert {n: p.name for n, p in found.items()} == {
        "title.basics": "title.basics.small.tsv.gz",
        "title.ratings": "title.ratings.small.tsv.gz",
        "title.principals": "title.principals.small.tsv.gz",
        "name.basics": "name.basics.small.tsv.gz",
    }


def test_locate_files_prefers_exact_name():
    found = locate_files(SAMPLES / "imdb-dataset")
    assert set(found) == {f.name for f in ALL_FILES}
    assert found["title.basics"].paths == (SAMPLES / "imdb-dataset" / "title.basics.tsv",)


def test_locate_files_ranks_and_ties(tmp_path):
    for name in [
        "title.ratings.small.tsv.gz",
        "title.ratings.tsv.gz",  # exact beats tagged
        "name.basics.big.tsv",  # tagged only: taken
        "title.crew.2024.v2.tsv.gz",  # a tag may hold dots
        "title.basics-movie.tsv",  # "-" is not ".<tag>": ignored
        "title.basics.tsv.gz.part",  # download leftovers: ignored
        "title.basics.tsv.gz.meta.json",
        "title.basicstsv",
        "notes.tsv",
    ]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "akas").mkdir()  # a folder not named like a table is not looked into
    (tmp_path / "akas" / "title.akas.tsv").write_bytes(b"x")
    found = locate_files(tmp_path)
    assert {n: p.name for n, p in found.items()} == {
        "title.ratings": "title.ratings.tsv.gz",
        "name.basics": "name.basics.big.tsv",
        "title.crew": "title.crew.2024.v2.tsv.gz",
    }
    (tmp_path / "name.basics.small.tsv.gz").write_bytes(b"x")
    with pytest.raises(SourceError) as exc:
        locate_files(tmp_path)
    text = _one_line(exc.value)
    assert "name.basics.big.tsv" in text and "name.basics.small.tsv.gz" in text
    (tmp_path / "name.basics.tsv").write_bytes(b"x")  # an exact name settles it
    assert locate_files(tmp_path)["name.basics"].name == "name.basics.tsv"
    (tmp_path / "name.basics.tsv.gz").write_bytes(b"x")  # two exact names: ambiguous
    with pytest.raises(SourceError, match=r"name\.basics\.tsv and name\.basics\.tsv\.gz"):
        locate_files(tmp_path)


def test_locate_files_missing_directory(tmp_path):
    with pytest.raises(SourceError, match="no such directory"):
        locate_files(tmp_path / "nope")
    (tmp_path / "title.ratings.tsv").write_text("tconst\taverageRating\tnumVotes\n")
    with pytest.raises(SourceError, match=rf"title.ratings.tsv: a file, not a folder; give the "
                       rf"folder that holds it .* \(--source {tmp_path}\)"):
        locate_files(tmp_path / "title.ratings.tsv")


def test_fetch_directory_uses_files_in_place(tmp_path):
    dest = tmp_path / "cache"
    result = fetch(str(SAMPLES / "imdbSpark"), dest)
    assert result.kind == "dir" and result.dest_dir is None
    assert not dest.exists()  # nothing copied
    assert set(result.paths) == set(REQUIRED)
    assert result.missing == tuple(OPTIONAL)
    basics = result.get("title.basics")
    assert basics.path.parent == SAMPLES / "imdbSpark"
    assert basics.size == basics.path.stat().st_size and basics.downloaded == 0


def test_fetch_directory_missing_required(tmp_path):
    (tmp_path / "title.basics.tsv").write_text("tconst\n")
    with pytest.raises(SourceError) as exc:
        fetch(tmp_path, tmp_path / "cache")
    assert "title.ratings" in _one_line(exc.value)


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
    fake = FakeImdbHttp()
    for name, data in imdb_data.items():
        fake.put(name, data)
    yield fake
    fake.close()


def _fetch(source, dest, **kw):
    kw.setdefault("progress", False)
    return fetch(source, dest, **kw)


def _assert_all_downloaded(result, dest: Path, data: dict[str, bytes], names) -> None:
    assert [f.name for f in result.files] == [f.name for f in ALL_FILES if f.name in names]
    for f in result.files:
        assert f.path == dest / f.path.name
        assert f.path.read_bytes() == data[f.name], f.name
        assert f.size == len(data[f.name])
        assert not f.path.with_name(f.path.name + ".part").exists()
        meta = json.loads(f.path.with_name(f.path.name + ".meta.json").read_text())
        assert meta["complete"] and meta["size"] == f.size and meta["url"] == f.url
        assert meta["etag"] == f.etag


# --------------------------------------------------------------------------- HTTP tests


def test_http_downloads_all_files(http_server, imdb_data, tmp_path):
    result = _fetch(http_server.url, tmp_path, parallel=3)
    _assert_all_downloaded(result, tmp_path, imdb_data, imdb_data)
    assert result.kind == "http" and result.dest_dir == tmp_path and result.missing == ()
    basics = result.get("title.basics")
    assert basics.url == http_server.url + "title.basics.tsv.gz"
    assert basics.etag == http_server.files[http_server.path(BIG)][1]
    assert basics.last_modified == http_server.files[http_server.path(BIG)][2]
    assert basics.version == basics.etag
    assert not basics.skipped and basics.downloaded == basics.size and basics.resumed_from == 0
    assert basics.seconds >= 0
    assert result.downloaded_bytes == sum(len(d) for d in imdb_data.values())
    assert "7 IMDb files (7 downloaded" in result.summary()
    assert all(r is None for m, _, r, _ in http_server.requests)  # no Range for fresh files


def test_http_optional_files_absent(http_server, imdb_data, tmp_path):
    for name in OPTIONAL:
        del http_server.files[http_server.path(name)]
    result = _fetch(http_server.url, tmp_path)
    _assert_all_downloaded(result, tmp_path, imdb_data, REQUIRED)
    assert result.missing == tuple(OPTIONAL)


def test_http_required_404(http_server, tmp_path):
    del http_server.files[http_server.path("title.ratings")]
    with pytest.raises(SourceError) as exc:
        _fetch(http_server.url, tmp_path)
    text = _one_line(exc.value)
    assert text.startswith(f"404 Not Found for {http_server.url}title.ratings.tsv.gz")
    assert "https://datasets.imdbws.com/" in text
    assert not http_server.gets  # checked before downloading anything


def test_http_403(http_server, imdb_data, tmp_path):
    http_server.status[http_server.path("title.crew")] = 403  # optional: treated as absent
    result = _fetch(http_server.url, tmp_path / "a")
    assert result.missing == ("title.crew",)
    http_server.status[http_server.path("name.basics")] = 403  # required: error
    with pytest.raises(SourceError) as exc:
        _fetch(http_server.url, tmp_path / "b")
    text = _one_line(exc.value)
    assert text.startswith(f"403 Forbidden for {http_server.url}name.basics.tsv.gz:")


@pytest.mark.parametrize("rst", [False, True], ids=["fin", "reset"])
def test_http_cut_mid_file_resumes_with_range(http_server, imdb_data, tmp_path, rst):
    size = len(imdb_data[BIG])
    cut = size // 3
    http_server.cut[http_server.path(BIG)] = (cut, rst)
    result = _fetch(http_server.url, tmp_path)
    _assert_all_downloaded(result, tmp_path, imdb_data, imdb_data)
    basics = result.get(BIG)
    ranges = http_server.ranges(BIG)
    assert len(ranges) == 2 and ranges[0] is None
    start = int(re.fullmatch(r"bytes=(\d+)-", ranges[1]).group(1))
    assert 0 < start <= cut
    if not rst:
        assert start == cut
    assert basics.resumed_from == start and basics.downloaded == size
    if_range = [ir for m, p, r, ir in http_server.requests if r]
    assert if_range == [basics.etag]  # the resume is guarded by the .part's version


def test_http_rerun_skips_unchanged(http_server, imdb_data, tmp_path):
    _fetch(http_server.url, tmp_path)
    gets = sum(http_server.gets.values())
    assert gets == len(ALL_FILES)
    again = _fetch(http_server.url, tmp_path)
    assert sum(http_server.gets.values()) == gets  # only HEADs the second time
    assert all(f.skipped and f.downloaded == 0 for f in again.files)
    assert {n: t.paths for n, t in again.paths.items()} == {
        f.name: (tmp_path / f"{f.name}.tsv.gz",) for f in ALL_FILES}
    assert "7 unchanged" in again.summary()


def test_http_changed_file_is_downloaded_again(http_server, imdb_data, tmp_path):
    first = _fetch(http_server.url, tmp_path)
    new = _imdb_tsv_gz(ALL_FILES[1], 150, seed=2)  # title.ratings, new content and ETag
    http_server.put("title.ratings", new)
    before = Counter(http_server.gets)
    second = _fetch(http_server.url, tmp_path)
    fetched = {p for p, n in http_server.gets.items() if n > before[p]}
    assert fetched == {http_server.path("title.ratings")}
    ratings = second.get("title.ratings")
    assert not ratings.skipped and ratings.path.read_bytes() == new
    assert ratings.etag != first.get("title.ratings").etag
    assert [f.name for f in second.files if f.skipped] == [
        f.name for f in ALL_FILES if f.name != "title.ratings"
    ]


def test_http_same_etag_but_local_file_damaged_is_downloaded_again(
    http_server, imdb_data, tmp_path
):
    _fetch(http_server.url, tmp_path)
    (tmp_path / "title.crew.tsv.gz").write_bytes(b"truncated")
    second = _fetch(http_server.url, tmp_path)
    assert not second.get("title.crew").skipped
    assert (tmp_path / "title.crew.tsv.gz").read_bytes() == imdb_data["title.crew"]


def test_http_server_ignoring_range_restarts_from_zero(http_server, imdb_data, tmp_path):
    size = len(imdb_data[BIG])
    http_server.cut[http_server.path(BIG)] = (size // 2, False)
    http_server.ignore_range = True
    result = _fetch(http_server.url, tmp_path)
    _assert_all_downloaded(result, tmp_path, imdb_data, imdb_data)
    ranges = http_server.ranges(BIG)
    assert ranges == [None, f"bytes={size // 2}-"]  # asked to resume, got a 200 with everything
    basics = result.get(BIG)
    assert basics.resumed_from == 0 and basics.downloaded == size // 2 + size


def test_http_part_of_another_version_is_discarded(http_server, imdb_data, tmp_path):
    size = len(imdb_data[BIG])
    http_server.cut[http_server.path(BIG)] = (size // 2, False)
    with pytest.raises(SourceError, match="gave up after 0 retries"):
        _fetch(http_server.url, tmp_path, retries=0)
    part = tmp_path / f"{BIG}.tsv.gz.part"
    assert part.stat().st_size == size // 2  # kept for a later run
    # the file changes upstream before the next run: the .part must not be resumed
    new = _imdb_tsv_gz(ALL_FILES[0], 3000, seed=3)
    http_server.put(BIG, new)
    result = _fetch(http_server.url, tmp_path)
    assert result.get(BIG).path.read_bytes() == new
    assert http_server.ranges(BIG)[-1] is None and result.get(BIG).resumed_from == 0


def test_http_part_resumed_by_next_run(http_server, imdb_data, tmp_path):
    size = len(imdb_data[BIG])
    http_server.cut[http_server.path(BIG)] = (size // 4, False)
    with pytest.raises(SourceError) as exc:
        _fetch(http_server.url, tmp_path, retries=0)
    assert "run again to resume" in _one_line(exc.value)
    result = _fetch(http_server.url, tmp_path)
    assert http_server.ranges(BIG)[-1] == f"bytes={size // 4}-"
    assert result.get(BIG).resumed_from == size // 4
    assert result.get(BIG).path.read_bytes() == imdb_data[BIG]


def test_http_server_without_head(http_server, imdb_data, tmp_path):
    http_server.head_status = 405
    result = _fetch(http_server.url, tmp_path)
    _assert_all_downloaded(result, tmp_path, imdb_data, imdb_data)
    assert result.get(BIG).etag == http_server.files[http_server.path(BIG)][1]  # from the GET
    assert http_server.gets[http_server.path(BIG)] == 2  # headers-only GET, then the download
    again = _fetch(http_server.url, tmp_path)
    assert all(f.skipped for f in again.files)
    assert http_server.gets[http_server.path(BIG)] == 3
    del http_server.files[http_server.path("title.episode")]  # optional, 404 on the GET too
    assert _fetch(http_server.url, tmp_path).missing == ("title.episode",)


def test_http_transient_errors_are_retried(http_server, imdb_data, tmp_path):
    http_server.fail[http_server.path("title.akas")] = [503, 500, 429]
    result = _fetch(http_server.url, tmp_path, retries=3)
    _assert_all_downloaded(result, tmp_path, imdb_data, imdb_data)
    assert http_server.gets[http_server.path("title.akas")] == 4


def test_http_gives_up_after_retries(http_server, tmp_path):
    http_server.fail[http_server.path("title.akas")] = [503] * 10
    with pytest.raises(SourceError) as exc:
        _fetch(http_server.url, tmp_path, retries=2)
    text = _one_line(exc.value)
    assert "title.akas.tsv.gz" in text and "503" in text and "gave up after 2 retries" in text
    assert http_server.gets[http_server.path("title.akas")] == 3


def test_http_dns_failure(monkeypatch, tmp_path):
    real = socket.getaddrinfo

    def fake_getaddrinfo(host, *args, **kwargs):
        if host == "imdb.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    t0 = time.monotonic()
    with pytest.raises(SourceError) as exc:
        _fetch("https://imdb.invalid/", tmp_path)
    assert time.monotonic() - t0 < 5  # not retried
    text = _one_line(exc.value)
    assert "cannot resolve host imdb.invalid" in text and "https://imdb.invalid/" in text


def test_http_connection_refused(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SourceError, match="connection refused"):
        _fetch(f"http://127.0.0.1:{port}/", tmp_path)


def test_progress_bars_only_on_a_terminal(http_server, tmp_path, capsys, monkeypatch):
    _fetch(http_server.url, tmp_path, progress=True)
    assert "IMDb files" not in capsys.readouterr().err  # stderr is captured: not a TTY
    assert progress.enabled(False) is False

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stderr", Tty())
    assert progress.enabled(True) is True
    assert progress.enabled(False) is False


def test_progress_bars_render(http_server, imdb_data, tmp_path, monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    err = Tty()
    monkeypatch.setattr("sys.stderr", err)
    result = fetch(http_server.url, tmp_path, progress=True)
    assert result.get(BIG).path.read_bytes() == imdb_data[BIG]
    assert "IMDb files" in err.getvalue() and "title.basics.tsv.gz" in err.getvalue()


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
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield (host, port)
    server.stop()


@pytest.fixture
def s3(moto_server):
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


def _bucket(client, data: dict[str, bytes], *, prefix="imdb/2024/", public=False, names=None):
    bucket = f"imdb-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    names = names or {name: f"{name}.tsv.gz" for name in data}
    for name, filename in names.items():
        kw = {"ACL": "public-read"} if public else {}
        client.put_object(Bucket=bucket, Key=prefix + filename, Body=data[name], **kw)
    return bucket


def test_s3_with_credentials(s3, imdb_data, tmp_path, aws_credentials):
    client, proxy = s3
    # tagged names, and decoys: a deeper key and a "-" name that are not IMDb files of the prefix
    names = {name: f"{name}.small.tsv.gz" for name in REQUIRED}
    bucket = _bucket(client, imdb_data, names=names)
    client.put_object(Bucket=bucket, Key="imdb/2024/old/title.basics.tsv.gz", Body=b"old")
    client.put_object(Bucket=bucket, Key="imdb/2024/title.basics-movie.tsv", Body=b"movie")
    result = _fetch(f"s3://{bucket}/imdb/2024", tmp_path, s3_endpoint_url=proxy.url)
    _assert_all_downloaded(result, tmp_path, imdb_data, REQUIRED)
    assert result.missing == tuple(OPTIONAL) and result.kind == "s3"
    basics = result.get(BIG)
    assert basics.path.name == "title.basics.small.tsv.gz"
    assert basics.url == f"s3://{bucket}/imdb/2024/title.basics.small.tsv.gz"
    assert basics.etag.startswith('"') and basics.last_modified.endswith("+00:00")
    # anonymous first: the listing and a first GET went unsigned; the private objects were
    # denied (403) and the rest of the fetch used the credentials
    assert result.auth == "credentials"
    assert not proxy.requests[0]["signed"]
    object_gets = proxy.gets()
    assert not object_gets[0]["signed"] and object_gets[-1]["signed"]
    assert sum(not r["signed"] for r in object_gets) <= 4  # at most one per worker thread


def test_s3_anonymous_first_on_public_objects(s3, imdb_data, tmp_path, aws_credentials):
    client, proxy = s3
    bucket = _bucket(client, imdb_data, public=True)
    result = _fetch(f"s3://{bucket}/imdb/2024/", tmp_path, s3_endpoint_url=proxy.url)
    _assert_all_downloaded(result, tmp_path, imdb_data, imdb_data)
    assert result.auth == "anonymous"
    assert proxy.requests and not any(r["signed"] for r in proxy.requests)


def test_s3_anonymous_without_credentials(s3, imdb_data, tmp_path):
    client, proxy = s3
    bucket = _bucket(client, imdb_data, public=True)
    result = _fetch(f"s3://{bucket}/imdb/2024", tmp_path, s3_endpoint_url=proxy.url)
    _assert_all_downloaded(result, tmp_path, imdb_data, imdb_data)
    assert result.auth == "anonymous"


def test_s3_private_without_credentials(s3, imdb_data, tmp_path):
    client, proxy = s3
    bucket = _bucket(client, imdb_data)
    with pytest.raises(SourceError) as exc:
        _fetch(f"s3://{bucket}/imdb/2024", tmp_path, s3_endpoint_url=proxy.url)
    text = _one_line(exc.value)
    assert text.startswith(f"403 Forbidden for s3://{bucket}/imdb/2024/")
    assert "AWS_PROFILE" in text and "--source https://datasets.imdbws.com/" in text


def test_s3_bucket_policy_denies_everyone(s3, imdb_data, tmp_path, aws_credentials):
    client, proxy = s3
    bucket = _bucket(client, imdb_data)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    with pytest.raises(SourceError) as exc:
        _fetch(f"s3://{bucket}/imdb/2024", tmp_path, s3_endpoint_url=proxy.url)
    text = _one_line(exc.value)
    assert text.startswith(f"403 Forbidden for s3://{bucket}/imdb/2024/")
    assert "also with your AWS credentials" in text
    gets = proxy.gets()
    assert not gets[0]["signed"] and any(r["signed"] for r in gets)  # both were tried


def test_s3_listing_denied_anonymously_uses_credentials(s3, imdb_data, tmp_path, aws_credentials):
    client, proxy = s3
    bucket = _bucket(client, imdb_data, public=True)
    proxy.deny_unsigned_list = True
    result = _fetch(f"s3://{bucket}/imdb/2024", tmp_path, s3_endpoint_url=proxy.url)
    _assert_all_downloaded(result, tmp_path, imdb_data, imdb_data)
    assert result.auth == "credentials"
    lists = [r for r in proxy.requests if r["path"] == f"/{bucket}"]
    assert [r["signed"] for r in lists] == [False, True]


def test_s3_listing_denied_without_credentials_gets_known_names(s3, imdb_data, tmp_path):
    client, proxy = s3
    bucket = _bucket(client, imdb_data, public=True)
    proxy.deny_unsigned_list = True
    result = _fetch(f"s3://{bucket}/imdb/2024", tmp_path, s3_endpoint_url=proxy.url)
    _assert_all_downloaded(result, tmp_path, imdb_data, imdb_data)
    assert result.auth == "anonymous"
    # ... but when the objects are private too, the listing's 403 is the error
    private = _bucket(client, imdb_data)
    with pytest.raises(SourceError) as exc:
        _fetch(f"s3://{private}/imdb/2024", tmp_path / "b", s3_endpoint_url=proxy.url)
    assert _one_line(exc.value).startswith(f"403 Forbidden for s3://{private}/imdb/2024/:")


def test_s3_missing_bucket(s3, tmp_path, aws_credentials):
    _, proxy = s3
    with pytest.raises(SourceError) as exc:
        _fetch("s3://no-such-bucket-here/imdb", tmp_path, s3_endpoint_url=proxy.url)
    text = _one_line(exc.value)
    assert text.startswith("404 Not Found for s3://no-such-bucket-here/: no such bucket")


def test_s3_missing_required_file_under_prefix(s3, imdb_data, tmp_path, aws_credentials):
    client, proxy = s3
    bucket = _bucket(client, imdb_data, names={"title.basics": "title.basics.tsv.gz"})
    with pytest.raises(SourceError) as exc:
        _fetch(f"s3://{bucket}/imdb/2024", tmp_path, s3_endpoint_url=proxy.url)
    assert f"no title.ratings file under s3://{bucket}/imdb/2024/" in _one_line(exc.value)


def test_s3_cut_mid_object_resumes_with_ranged_get(
    s3, imdb_data, tmp_path, aws_credentials, monkeypatch
):
    # botocore's read(n) drops what it got in a call that ends with a broken connection: with
    # small reads most of the received bytes are on disk when the proxy cuts
    monkeypatch.setattr(download, "CHUNK_SIZE", 8 * 1024)
    client, proxy = s3
    bucket = _bucket(client, imdb_data, public=True)
    key_path = f"/{bucket}/imdb/2024/{BIG}.tsv.gz"
    size = len(imdb_data[BIG])
    proxy.cut[key_path] = size // 2  # response headers + about half the body
    result = _fetch(f"s3://{bucket}/imdb/2024", tmp_path, s3_endpoint_url=proxy.url)
    _assert_all_downloaded(result, tmp_path, imdb_data, imdb_data)
    gets = proxy.gets(f"{BIG}.tsv.gz")
    assert len(gets) == 2 and gets[0]["range"] is None
    basics = result.get(BIG)
    assert 0 < basics.resumed_from < size // 2
    assert gets[1]["range"] == f"bytes={basics.resumed_from}-"
    assert gets[1]["if_match"] == basics.etag  # resumed only if the object is unchanged


def test_s3_rerun_skips_unchanged(s3, imdb_data, tmp_path, aws_credentials):
    client, proxy = s3
    bucket = _bucket(client, imdb_data, public=True)
    _fetch(f"s3://{bucket}/imdb/2024", tmp_path, s3_endpoint_url=proxy.url)
    gets = len(proxy.gets())
    assert gets == len(ALL_FILES)
    new = _imdb_tsv_gz(ALL_FILES[3], 50, seed=9)  # name.basics changes
    client.put_object(
        Bucket=bucket, Key="imdb/2024/name.basics.tsv.gz", Body=new, ACL="public-read"
    )
    again = _fetch(f"s3://{bucket}/imdb/2024", tmp_path, s3_endpoint_url=proxy.url)
    assert [r["path"] for r in proxy.gets()[gets:]] == [f"/{bucket}/imdb/2024/name.basics.tsv.gz"]
    assert [f.name for f in again.files if not f.skipped] == ["name.basics"]
    assert again.get("name.basics").path.read_bytes() == new


def test_s3_endpoint_unreachable(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SourceError) as exc:
        _fetch("s3://bucket/imdb", tmp_path, s3_endpoint_url=f"http://127.0.0.1:{port}")
    text = _one_line(exc.value)
    assert text.startswith(f"cannot connect to http://127.0.0.1:{port} for s3://bucket/imdb/")


# --------------------------------------------------------------------------- only what is asked for


def test_http_fetches_only_the_tables_asked_for(http_server, imdb_data, tmp_path):
    from ingest.schemas import tables_to_ingest

    result = _fetch(http_server.url, tmp_path, tables=tables_to_ingest())
    asked = [n for n in imdb_data if n not in ("title.crew", "title.episode")]
    _assert_all_downloaded(result, tmp_path, imdb_data, asked)
    assert result.skipped == ("title.crew", "title.episode") and result.missing == ()
    touched = {p for _, p, _, _ in http_server.requests}
    assert not touched & {http_server.path("title.crew"), http_server.path("title.episode")}
    assert "not asked for: title.crew, title.episode" in result.summary()


def test_s3_fetches_only_the_tables_asked_for(s3, imdb_data, tmp_path):
    from ingest.schemas import tables_to_ingest

    client, proxy = s3
    bucket = _bucket(client, imdb_data, public=True)
    result = _fetch(f"s3://{bucket}/imdb/2024/", tmp_path, s3_endpoint_url=proxy.url,
                    tables=tables_to_ingest(["title.episode"]))
    assert [f.name for f in result.files] == [
        "title.basics", "title.ratings", "title.principals", "name.basics", "title.akas",
        "title.episode"]
    assert result.skipped == ("title.crew",)
    assert not proxy.gets("title.crew.tsv.gz") and proxy.gets("title.episode.tsv.gz")


def test_s3_parts_are_named_not_passed_over(s3, imdb_data, tmp_path):
    client, proxy = s3
    names = {name: f"{name}.tsv.gz" for name in REQUIRED}
    bucket = _bucket(client, imdb_data, public=True, names=names)
    for part in ("aa", "ab"):
        client.put_object(Bucket=bucket, Key=f"imdb/2024/title.akas.tsv.gz.part-{part}",
                          Body=b"x", ACL="public-read")
    with pytest.raises(SourceError) as exc:
        _fetch(f"s3://{bucket}/imdb/2024/", tmp_path, s3_endpoint_url=proxy.url)
    assert _one_line(exc.value) == (
        f"s3://{bucket}/imdb/2024/: title.akas is there only as title.akas.tsv.gz.part-aa, "
        "title.akas.tsv.gz.part-ab: parts and folders per table are read from a folder source; "
        "download them into a folder and pass it as --source, or upload the whole "
        "title.akas.tsv.gz"
    )
