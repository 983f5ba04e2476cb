"""ingest.run.local_files: every kind of source ends as local files."""

from __future__ import annotations

import threading

import pytest

from imdb_pipeline.home import Home
from ingest.run import in_background, local_files
from ingest.schemas import tables_to_ingest
from ingest.sources import SourceError
from tests.conftest import SAMPLES


def test_folder_is_used_in_place(tmp_path):
    files = local_files(Home.resolve(tmp_path), str(SAMPLES / "imdbSpark"))
    assert files["title.ratings"].paths == (SAMPLES / "imdbSpark" / "title.ratings.small.tsv.gz",)
    assert "title.akas" not in files


def test_sample_source_generates_once_per_scale_seed_and_file(tmp_path):
    home = Home.resolve(tmp_path)
    files = local_files(home, "sample:0.0002:3")
    assert sorted(files) == sorted(  # title.crew and title.episode only when asked for
        ["title.basics", "title.ratings", "title.principals", "name.basics", "title.akas"]
    )
    folder = files["title.ratings"].paths[0].parent
    assert not (folder / "title.crew.tsv.gz").exists()
    stamp = files["title.ratings"].paths[0].stat().st_mtime_ns
    again = local_files(home, "sample:0.0002:3", tables=tables_to_ingest("all"))
    assert sorted(again) == sorted([*files, "title.crew", "title.episode"])
    assert again["title.ratings"].paths[0].stat().st_mtime_ns == stamp  # generated once


def test_missing_required_file_is_one_line(tmp_path):
    (tmp_path / "title.ratings.tsv").write_text("tconst\taverageRating\tnumVotes\n")
    with pytest.raises(SourceError) as error:
        local_files(Home.resolve(tmp_path / "home"), str(tmp_path))
    assert "title.basics" in str(error.value) and "\n" not in str(error.value)


def test_the_spark_start_beside_the_conversion_hands_back_its_result_or_error_as_a_daemon():
    """run_ingest starts Spark in the background while pyarrow converts: the caller gets the
    result or the exception, and an interrupted caller does not wait for the start (the
    thread is a daemon, which a ThreadPoolExecutor's worker is not)."""
    assert in_background(lambda: 42, "spark-start").result(timeout=5) == 42

    def no_jars():
        raise RuntimeError("no Delta jars")

    with pytest.raises(RuntimeError, match="no Delta jars"):
        in_background(no_jars, "spark-start").result(timeout=5)
    started, release = threading.Event(), threading.Event()

    def starting():
        started.set()
        release.wait(5)

    future = in_background(starting, "spark-start-held")
    assert started.wait(5) and not future.done()
    held = [t for t in threading.enumerate() if t.name == "spark-start-held"]
    assert len(held) == 1 and held[0].daemon  # the process may exit while it runs
    release.set()
    assert future.result(timeout=5) is None
