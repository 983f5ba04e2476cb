"""ingest.sources.locate: source strings (parse_source, describe), SourceError's one line,
the files of a folder source (locate_files, and fetch of a folder: used in place)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.schemas import ALL_FILES
from ingest.sources import (
    DEFAULT_S3_BUCKET,
    S3Location,
    SampleSpec,
    SourceError,
    describe,
    fetch,
    locate_files,
    parse_source,
)
from tests.conftest import SAMPLES
from tests.loopback_sources import OPTIONAL, REQUIRED, one_line

pytestmark = pytest.mark.usefixtures("sources_isolated")


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
    one_line(exc.value)


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
    text = one_line(exc.value)
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
    with pytest.raises(
        SourceError,
        match=rf"title.ratings.tsv: a file, not a folder; give the "
        rf"folder that holds it .* \(--source {tmp_path}\)",
    ):
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
    assert "title.ratings" in one_line(exc.value)
