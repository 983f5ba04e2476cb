"""The synthetic IMDb generator (imdb_pipeline.generate: write.generate, read back with
stats.shape_stats): real format, real shapes, deterministic bytes.

Two folders are generated once per module (scale 0.001 and 0.01, about 4 s together);
the shape checks read them back with ``shape_stats`` (pyarrow, quoting off).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imdb_pipeline.generate.shape import CATEGORIES, REAL_ROWS, TYPES
from imdb_pipeline.generate.stats import shape_stats
from imdb_pipeline.generate.write import expected_rows, generate
from ingest.schemas import ALL_FILES, BY_NAME

NAMES = sorted(f.name for f in ALL_FILES)


def _hashes(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("gen_0001")
    seen: list[tuple[str, int]] = []
    rows = generate(d, 0.001, seed=0, progress=lambda name, n: seen.append((name, n)))
    return d, rows, shape_stats(d), seen


@pytest.fixture(scope="module")
def medium(tmp_path_factory):
    d = tmp_path_factory.mktemp("gen_001")
    rows = generate(d, 0.01, seed=0)
    return d, rows, shape_stats(d)


# ----------------------------------------------------------------------------------------
# format


def test_writes_the_seven_files_and_nothing_else(small):
    d, rows, _, _ = small
    assert sorted(p.name for p in d.iterdir()) == [f"{n}.tsv.gz" for n in NAMES]
    assert sorted(rows) == NAMES


def test_headers_are_exactly_the_real_ones(small):
    d, _, stats, _ = small
    for f in ALL_FILES:
        with gzip.open(d / f"{f.name}.tsv.gz", "rb") as fh:
            assert fh.readline() == ("\t".join(f.header) + "\n").encode()
        assert stats["headers"][f.name] == f.header


def test_every_line_has_the_right_field_count_and_no_quoting(small):
    d, rows, _, _ = small
    for name in NAMES:
        width = len(BY_NAME[name].header)
        data = gzip.decompress((d / f"{name}.tsv.gz").read_bytes())
        assert data.endswith(b"\n") and b"\r" not in data
        lines = data.decode("utf-8").split("\n")[1:-1]
        assert len(lines) == rows[name]
        assert all(line.count("\t") == width - 1 for line in lines), name
        assert all("" not in line.split("\t") for line in lines), f"{name}: empty field"


def test_quirks_bare_quotes_x02_unicode_and_json_characters(small):
    d, _, stats, _ = small
    assert stats["title.basics"]["titles_with_double_quote"] > 0
    assert '"' in stats["title.basics"]["double_quote_example"]
    assert stats["title.akas"]["values_with_x02"] > 0
    assert b"\x02" in gzip.decompress((d / "title.akas.tsv.gz").read_bytes())
    assert 0.01 < stats["title.basics"]["original_differs_share"] < 0.2
    basics = gzip.decompress((d / "title.basics.tsv.gz").read_bytes()).decode()
    assert any(ord(ch) > 127 for ch in basics) and "'" in basics
    assert stats["title.principals"]["characters_not_json_array"] == 0
    principals = gzip.decompress((d / "title.principals.tsv.gz").read_bytes()).decode()
    chars = [ln.split("\t")[5] for ln in principals.split("\n")[1:2000] if ln]
    parsed = [json.loads(c) for c in chars if c != "\\N"]
    assert parsed and all(isinstance(x, list) and x for x in parsed)


def test_progress_is_reported_per_file_up_to_the_row_count(small):
    _, rows, _, seen = small
    last = {}
    for name, n in seen:
        assert n >= last.get(name, 0)
        last[name] = n
    assert last == rows


# ----------------------------------------------------------------------------------------
# sizes and shapes


@pytest.mark.parametrize("fixture", ["small", "medium"])
def test_row_counts_follow_the_real_counts_times_scale(fixture, request):
    _, rows, stats = request.getfixturevalue(fixture)[:3]
    scale = 0.001 if fixture == "small" else 0.01
    want = expected_rows(scale)
    assert rows == stats["rows"]
    assert rows["title.basics"] == want["title.basics"]
    assert rows["name.basics"] == want["name.basics"]
    assert rows["title.crew"] == rows["title.basics"]
    assert rows["title.episode"] == stats["title.basics"]["type_counts"]["tvEpisode"]
    for name, tol in [
        ("title.episode", 0.05),
        ("title.ratings", 0.10),
        ("title.principals", 0.06),
        ("title.akas", 0.08),
    ]:
        assert abs(rows[name] / want[name] - 1) < tol, (name, rows[name], want[name])


@pytest.mark.parametrize("fixture", ["small", "medium"])
def test_title_shapes(fixture, request):
    stats = request.getfixturevalue(fixture)[2]
    b = stats["title.basics"]
    assert 0.05 < b["movie_share"] < 0.07
    assert 0.74 < b["episode_share"] < 0.79
    assert all(b["type_counts"][t] > 0 for t in TYPES)
    assert b["start_year_range"][0] >= 1874 and b["start_year_range"][1] <= 2026
    assert b["start_year_set_share"] > 0.8 and b["end_year_set_share"] < 0.1
    assert b["runtime_set_share"] < 0.6 and b["max_genres"] == 3
    e = stats["title.episode"]
    assert e == {"missing_titles": 0, "not_tv_episode": 0, "parent_not_series": 0}
    assert stats["title.crew"]["missing_titles"] == 0
    assert 0.5 < stats["title.crew"]["directors_set_share"] < 0.95


@pytest.mark.parametrize("fixture", ["small", "medium"])
def test_ratings_shapes(fixture, request):
    r = request.getfixturevalue(fixture)[2]["title.ratings"]
    assert 0.12 < r["rated_share"] < 0.15
    assert 15 <= r["votes_median"] <= 45
    assert r["votes_min"] == 5 and r["votes_max"] >= 1_000_000  # blockbusters at any scale
    assert r["rating_min"] >= 1.0 and r["rating_max"] <= 10.0
    assert r["ratings_not_one_decimal"] == 0
    assert 6.6 < r["rating_mean"] < 7.2
    assert r["missing_titles"] == 0
    assert r["movies_ge_500_votes"] >= 10


def test_votes_mean_is_about_a_thousand_at_scale_001(medium):
    assert 400 <= medium[2]["title.ratings"]["votes_mean"] <= 3000


def test_ten_movies_clear_500_votes_at_scale_0001(small):
    assert small[2]["title.ratings"]["movies_ge_500_votes"] >= 10


@pytest.mark.parametrize("fixture", ["small", "medium"])
def test_principals_akas_names_shapes(fixture, request):
    stats = request.getfixturevalue(fixture)[2]
    p = stats["title.principals"]
    assert 8.3 < p["per_title_mean"] < 9.3 and p["per_title_max"] <= 75
    assert set(p["categories"]) == set(CATEGORIES)
    assert p["job_set_share"] < 0.3
    assert p["missing_titles"] == 0
    assert 0 < p["missing_names_share"] < 0.01  # a few credits name unknown people, as in reality
    a = stats["title.akas"]
    assert 4.2 < a["per_title_mean"] < 5.0 and a["per_title_max"] > 300
    assert a["missing_titles"] == 0 and a["original_rows"] > 0
    n = stats["name.basics"]
    assert n["max_known_for_titles"] == 4 and n["known_for_missing_titles"] == 0
    assert 0 < n["known_for_null_share"] < 0.3
    assert n["max_professions"] == 3
    assert n["birth_year_set_share"] < 0.2 and n["death_year_set_share"] < 0.1


def test_tiny_scales_still_write_a_few_rows_of_everything(tmp_path):
    rows = generate(tmp_path, 1e-7)
    assert all(n >= 3 for n in rows.values()), rows
    assert shape_stats(tmp_path)["title.ratings"]["movies_ge_500_votes"] >= 10


# ----------------------------------------------------------------------------------------
# determinism, atomic writes


def test_same_seed_same_bytes_other_seed_other_bytes(small, tmp_path):
    d, rows, _, _ = small
    again = generate(tmp_path / "again", 0.001, seed=0)
    assert again == rows
    assert _hashes(tmp_path / "again") == _hashes(d)
    other = generate(tmp_path / "other", 0.001, seed=1)
    h_other = _hashes(tmp_path / "other")
    assert all(h_other[k] != v for k, v in _hashes(d).items())
    assert other["title.basics"] == rows["title.basics"]


def test_bytes_do_not_depend_on_the_number_of_workers(small, tmp_path):
    d = small[0]
    generate(tmp_path, 0.001, seed=0, workers=2)
    assert _hashes(tmp_path) == _hashes(d)


def test_a_failed_run_leaves_no_partial_file(tmp_path):
    def boom(name, n):
        if name == "title.akas":
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        generate(tmp_path, 0.001, progress=boom)
    names = [p.name for p in tmp_path.iterdir()]
    assert "title.akas.tsv.gz" not in names
    assert not [n for n in names if "tmp" in n]


def test_real_counts_are_the_documented_ones():
    assert REAL_ROWS["title.principals"] == 99_300_000
    assert REAL_ROWS["title.ratings"] / REAL_ROWS["title.basics"] == pytest.approx(0.1336)


def test_a_killed_generate_leaves_no_temporary_file_behind(tmp_path):
    """SIGKILL cannot be cleaned up after, so the next run removes what a dead writer left
    (a running writer's file is kept)."""
    out = tmp_path / "out"
    cli = str(Path(sys.executable).with_name("imdb-pipeline"))
    writer = subprocess.Popen(
        [cli, "generate", "--scale", "0.01", "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(out.glob(".*.tmp-*")):
            time.sleep(0.02)
    finally:
        writer.kill()
        writer.wait(timeout=30)
    left = list(out.glob(".*.tmp-*"))
    assert left and left[0].name.endswith(f".tmp-{writer.pid}")  # what a kill leaves
    running = out / f".title.crew.tsv.gz.tmp-{os.getppid()}"  # a writer that still runs
    running.write_bytes(b"")
    generate(out, 0.0002, seed=1)
    assert list(out.glob(".*.tmp-*")) == [running]


def test_a_terminated_generate_stops_its_workers_and_leaves_no_temporary_file(tmp_path):
    """SIGTERM (what `kill` and a container stop send) to the command: its worker processes
    stop with it and their temporary files go, as after Ctrl-C."""
    out = tmp_path / "out"
    cli = str(Path(sys.executable).with_name("imdb-pipeline"))
    writer = subprocess.Popen(
        [cli, "generate", "--scale", "0.02", "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list(out.glob(".*.tmp-*"))) < 2:
            time.sleep(0.02)
        workers = {int(p.name.rsplit("-", 1)[1]) for p in out.glob(".*.tmp-*")}
        assert len(workers) == 2 and writer.pid not in workers  # two worker processes write
        writer.send_signal(signal.SIGTERM)
        _, stderr = writer.communicate(timeout=60)
    finally:
        writer.kill()
    assert writer.returncode != 0 and stderr.strip().splitlines()[-1].startswith("error: ")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_running(pid) for pid in workers):
        time.sleep(0.05)
    assert not any(_running(pid) for pid in workers)
    assert list(out.glob(".*.tmp-*")) == []


def _running(pid: int) -> bool:
    """A live process (not a zombie waiting for its parent)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False
