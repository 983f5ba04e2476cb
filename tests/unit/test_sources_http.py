"""ingest.sources.http: the HTTP(S) source against a loopback server (tests/loopback_sources.py):
all files, optional ones absent, 404/403, a server without HEAD, DNS and connection failures,
only the tables asked for."""

from __future__ import annotations

import socket
import time

import pytest

from ingest.sources import SourceError
from tests.loopback_sources import (
    BIG,
    OPTIONAL,
    REQUIRED,
    assert_all_downloaded,
    one_line,
    quiet_fetch,
)

pytestmark = pytest.mark.usefixtures("sources_isolated")


def test_http_downloads_all_files(http_server, imdb_data, tmp_path):
    result = quiet_fetch(http_server.url, tmp_path, parallel=3)
    assert_all_downloaded(result, tmp_path, imdb_data, imdb_data)
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
    result = quiet_fetch(http_server.url, tmp_path)
    assert_all_downloaded(result, tmp_path, imdb_data, REQUIRED)
    assert result.missing == tuple(OPTIONAL)


def test_http_required_404(http_server, tmp_path):
    del http_server.files[http_server.path("title.ratings")]
    with pytest.raises(SourceError) as exc:
        quiet_fetch(http_server.url, tmp_path)
    text = one_line(exc.value)
    assert text.startswith(f"404 Not Found for {http_server.url}title.ratings.tsv.gz")
    assert "https://datasets.imdbws.com/" in text
    assert not http_server.gets  # checked before downloading anything


def test_http_403(http_server, imdb_data, tmp_path):
    http_server.status[http_server.path("title.crew")] = 403  # optional: treated as absent
    result = quiet_fetch(http_server.url, tmp_path / "a")
    assert result.missing == ("title.crew",)
    http_server.status[http_server.path("name.basics")] = 403  # required: error
    with pytest.raises(SourceError) as exc:
        quiet_fetch(http_server.url, tmp_path / "b")
    text = one_line(exc.value)
    assert text.startswith(f"403 Forbidden for {http_server.url}name.basics.tsv.gz:")


def test_http_server_without_head(http_server, imdb_data, tmp_path):
    http_server.head_status = 405
    result = quiet_fetch(http_server.url, tmp_path)
    assert_all_downloaded(result, tmp_path, imdb_data, imdb_data)
    assert result.get(BIG).etag == http_server.files[http_server.path(BIG)][1]  # from the GET
    assert http_server.gets[http_server.path(BIG)] == 2  # headers-only GET, then the download
    again = quiet_fetch(http_server.url, tmp_path)
    assert all(f.skipped for f in again.files)
    assert http_server.gets[http_server.path(BIG)] == 3
    del http_server.files[http_server.path("title.episode")]  # optional, 404 on the GET too
    assert quiet_fetch(http_server.url, tmp_path).missing == ("title.episode",)


def test_http_dns_failure(monkeypatch, tmp_path):
    real = socket.getaddrinfo

    def fake_getaddrinfo(host, *args, **kwargs):
        if host == "imdb.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    t0 = time.monotonic()
    with pytest.raises(SourceError) as exc:
        quiet_fetch("https://imdb.invalid/", tmp_path)
    assert time.monotonic() - t0 < 5  # not retried
    text = one_line(exc.value)
    assert "cannot resolve host imdb.invalid" in text and "https://imdb.invalid/" in text


def test_http_connection_refused(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SourceError, match="connection refused"):
        quiet_fetch(f"http://127.0.0.1:{port}/", tmp_path)


def test_http_fetches_only_the_tables_asked_for(http_server, imdb_data, tmp_path):
    from ingest.schemas import tables_to_ingest

    result = quiet_fetch(http_server.url, tmp_path, tables=tables_to_ingest())
    asked = [n for n in imdb_data if n not in ("title.crew", "title.episode")]
    assert_all_downloaded(result, tmp_path, imdb_data, asked)
    assert result.skipped == ("title.crew", "title.episode") and result.missing == ()
    touched = {p for _, p, _, _ in http_server.requests}
    assert not touched & {http_server.path("title.crew"), http_server.path("title.episode")}
    assert "not asked for: title.crew, title.episode" in result.summary()
