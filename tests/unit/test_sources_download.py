"""ingest.sources.download over loopback HTTP (tests/loopback_sources.py): a cut file resumed
with a ranged GET, unchanged files skipped by their sidecar, a changed or damaged one fetched
again, a .part of another version discarded, a server ignoring the range; and the download's
progress bars (ingest.progress.DownloadProgress), only on a terminal."""

from __future__ import annotations

import io
import re
from collections import Counter

import pytest

from ingest import progress
from ingest.schemas import ALL_FILES
from ingest.sources import SourceError, fetch
from tests.loopback_sources import BIG, assert_all_downloaded, imdb_tsv_gz, one_line, quiet_fetch

pytestmark = pytest.mark.usefixtures("sources_isolated")


@pytest.mark.parametrize("rst", [False, True], ids=["fin", "reset"])
def test_http_cut_mid_file_resumes_with_range(http_server, imdb_data, tmp_path, rst):
    size = len(imdb_data[BIG])
    cut = size // 3
    http_server.cut[http_server.path(BIG)] = (cut, rst)
    result = quiet_fetch(http_server.url, tmp_path)
    assert_all_downloaded(result, tmp_path, imdb_data, imdb_data)
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
    quiet_fetch(http_server.url, tmp_path)
    gets = sum(http_server.gets.values())
    assert gets == len(ALL_FILES)
    again = quiet_fetch(http_server.url, tmp_path)
    assert sum(http_server.gets.values()) == gets  # only HEADs the second time
    assert all(f.skipped and f.downloaded == 0 for f in again.files)
    assert {n: t.paths for n, t in again.paths.items()} == {
        f.name: (tmp_path / f"{f.name}.tsv.gz",) for f in ALL_FILES
    }
    assert "7 unchanged" in again.summary()


def test_http_changed_file_is_downloaded_again(http_server, imdb_data, tmp_path):
    first = quiet_fetch(http_server.url, tmp_path)
    new = imdb_tsv_gz(ALL_FILES[1], 150, seed=2)  # title.ratings, new content and ETag
    http_server.put("title.ratings", new)
    before = Counter(http_server.gets)
    second = quiet_fetch(http_server.url, tmp_path)
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
    quiet_fetch(http_server.url, tmp_path)
    (tmp_path / "title.crew.tsv.gz").write_bytes(b"truncated")
    second = quiet_fetch(http_server.url, tmp_path)
    assert not second.get("title.crew").skipped
    assert (tmp_path / "title.crew.tsv.gz").read_bytes() == imdb_data["title.crew"]


def test_http_server_ignoring_range_restarts_from_zero(http_server, imdb_data, tmp_path):
    size = len(imdb_data[BIG])
    http_server.cut[http_server.path(BIG)] = (size // 2, False)
    http_server.ignore_range = True
    result = quiet_fetch(http_server.url, tmp_path)
    assert_all_downloaded(result, tmp_path, imdb_data, imdb_data)
    ranges = http_server.ranges(BIG)
    assert ranges == [None, f"bytes={size // 2}-"]  # asked to resume, got a 200 with everything
    basics = result.get(BIG)
    assert basics.resumed_from == 0 and basics.downloaded == size // 2 + size


def test_http_part_of_another_version_is_discarded(http_server, imdb_data, tmp_path):
    size = len(imdb_data[BIG])
    http_server.cut[http_server.path(BIG)] = (size // 2, False)
    with pytest.raises(SourceError, match="gave up after 0 retries"):
        quiet_fetch(http_server.url, tmp_path, retries=0)
    part = tmp_path / f"{BIG}.tsv.gz.part"
    assert part.stat().st_size == size // 2  # kept for a later run
    # the file changes upstream before the next run: the .part must not be resumed
    new = imdb_tsv_gz(ALL_FILES[0], 3000, seed=3)
    http_server.put(BIG, new)
    result = quiet_fetch(http_server.url, tmp_path)
    assert result.get(BIG).path.read_bytes() == new
    assert http_server.ranges(BIG)[-1] is None and result.get(BIG).resumed_from == 0


def test_http_part_resumed_by_next_run(http_server, imdb_data, tmp_path):
    size = len(imdb_data[BIG])
    http_server.cut[http_server.path(BIG)] = (size // 4, False)
    with pytest.raises(SourceError) as exc:
        quiet_fetch(http_server.url, tmp_path, retries=0)
    assert "run again to resume" in one_line(exc.value)
    result = quiet_fetch(http_server.url, tmp_path)
    assert http_server.ranges(BIG)[-1] == f"bytes={size // 4}-"
    assert result.get(BIG).resumed_from == size // 4
    assert result.get(BIG).path.read_bytes() == imdb_data[BIG]


def test_progress_bars_only_on_a_terminal(http_server, tmp_path, capsys, monkeypatch):
    quiet_fetch(http_server.url, tmp_path, progress=True)
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
