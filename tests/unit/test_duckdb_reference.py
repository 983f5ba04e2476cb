"""The DuckDB second engine (tests/reference/duckdb_reference.py) on real and hand-made data."""

from __future__ import annotations

import gzip
import json
import math
from decimal import Decimal
from pathlib import Path

import pytest

from ingest.schemas import TITLE_BASICS
from tests.reference.duckdb_reference import (
    ImdbFormatError,
    compute,
    find_file,
    rejected_rows,
)

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO.parent / "shared" / "data" / "imdb-samples"
FIXTURES = REPO / "tests" / "fixtures"

TOP_MOVIE_KEYS = {
    "rank",
    "tconst",
    "primary_title",
    "original_title",
    "start_year",
    "average_rating",
    "num_votes",
    "ranking_score",
    "known_for_names",
}
CREDIT_KEYS = {
    "rank",
    "nconst",
    "primary_name",
    "credit_count",
    "movie_count",
    "categories",
    "tconsts",
}
TITLE_KEYS = {"tconst", "title", "regions", "languages", "is_primary", "is_original"}

needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"no {SAMPLES}")


def _check_shape(result: dict, top_n: int = 10) -> None:
    assert set(result) == {
        "parameters",
        "ratings_processed",
        "average_number_of_votes",
        "top_movies",
        "top_movie_credits",
        "top_movie_titles",
    }
    movies = result["top_movies"]
    assert len(movies) <= top_n
    assert [m["rank"] for m in movies] == list(range(1, len(movies) + 1))
    for m in movies:
        assert set(m) == TOP_MOVIE_KEYS
        assert isinstance(m["num_votes"], int) and isinstance(m["average_rating"], float)
        assert m["start_year"] is None or isinstance(m["start_year"], int)
        assert m["known_for_names"] == sorted(m["known_for_names"])
    top = {m["tconst"] for m in movies}
    for c in result["top_movie_credits"]:
        assert set(c) == CREDIT_KEYS
        assert c["categories"] == sorted(set(c["categories"]))
        assert c["tconsts"] == sorted(set(c["tconsts"])) and set(c["tconsts"]) <= top
        assert c["credit_count"] >= c["movie_count"] == len(c["tconsts"])
    credits = result["top_movie_credits"]
    assert credits == sorted(
        credits, key=lambda c: (-c["credit_count"], -c["movie_count"], c["nconst"])
    )
    titles = result["top_movie_titles"]
    assert titles == sorted(titles, key=lambda t: (t["tconst"], t["title"]))
    for t in titles:
        assert set(t) == TITLE_KEYS and t["tconst"] in top
        assert t["regions"] == sorted(set(t["regions"]))
        assert t["languages"] == sorted(set(t["languages"]))
    if movies:  # every top movie has at least its primary title row
        assert {t["tconst"] for t in titles} == top
    if result["ratings_processed"] == 0:
        assert result["average_number_of_votes"] is None
    json.dumps(result)  # plain, serialisable values only


# ---------------------------------------------------------------------------------------------
# real IMDb samples

REAL_TOP10 = [
    ("tt0111161", "The Shawshank Redemption"),
    ("tt0468569", "The Dark Knight"),
    ("tt1375666", "Inception"),
    ("tt0137523", "Fight Club"),
    ("tt0110912", "Pulp Fiction"),
    ("tt0109830", "Forrest Gump"),
    ("tt0167260", "The Lord of the Rings: The Return of the King"),
    ("tt0120737", "The Lord of the Rings: The Fellowship of the Ring"),
    ("tt0068646", "The Godfather"),
    ("tt0133093", "The Matrix"),
]


@needs_samples
def test_real_2019_top10_matches_provenance():
    result = compute(SAMPLES / "real-2019-top25-repaired")
    _check_shape(result)
    assert [(m["tconst"], m["primary_title"]) for m in result["top_movies"]] == REAL_TOP10
    assert result["ratings_processed"] == 25
    assert rejected_rows(SAMPLES / "real-2019-top25-repaired") == {
        "title.basics": 0,
        "title.ratings": 0,
        "title.principals": 0,
        "name.basics": 0,
        "title.akas": 0,
    }
    shawshank = result["top_movies"][0]
    assert (shawshank["num_votes"], shawshank["average_rating"]) == (2131118, 9.3)
    assert shawshank["start_year"] == 1994
    assert "Stephen King" in shawshank["known_for_names"]
    avg = result["average_number_of_votes"]
    assert math.isclose(shawshank["ranking_score"], 2131118 / avg * 9.3, rel_tol=1e-12)
    nolan = next(c for c in result["top_movie_credits"] if c["nconst"] == "nm0634240")
    assert nolan["primary_name"] == "Christopher Nolan"
    assert nolan["tconsts"] == ["tt0468569", "tt1375666"]


OTHER_SAMPLES = [
    "IMDb-Dataset-Query-Tester",
    "imdb-dataset",
    "imdbSpark",
    "pimdb",
    "query-evaluation-imdb",
    "spark-structured-streaming-imdb",
]


@needs_samples
@pytest.mark.parametrize("folder", OTHER_SAMPLES)
def test_every_other_sample_runs(folder):
    result = compute(SAMPLES / folder)
    _check_shape(result)
    assert result["ratings_processed"] > 0
    assert all(n == 0 for n in rejected_rows(SAMPLES / folder).values())


@needs_samples
def test_sample_folders_are_all_covered():
    folders = {p.name for p in SAMPLES.iterdir() if p.is_dir()}
    assert folders == set(OTHER_SAMPLES) | {"real-2019-top25-repaired", "code-exercise"}


@needs_samples
def test_code_exercise_mangled_header_is_a_clear_error():
    with pytest.raises(ImdbFormatError, match=r"title\.basics\.tsv: line 1: header"):
        compute(SAMPLES / "code-exercise")
    with pytest.raises(ImdbFormatError, match=r"title\.basics"):
        rejected_rows(SAMPLES / "code-exercise")


@needs_samples
def test_exact_file_name_wins():
    assert find_file(SAMPLES / "imdb-dataset", "title.basics").name == "title.basics.tsv"
    assert find_file(SAMPLES / "imdbSpark", "title.ratings").name == "title.ratings.small.tsv.gz"
    assert find_file(SAMPLES / "imdbSpark", "title.akas") is None


# ---------------------------------------------------------------------------------------------
# hand-made fixtures: the reference must agree with the numbers worked out by hand


def test_rules_fixture_matches_hand_expectations():
    expected = json.loads((FIXTURES / "rules" / "expected.json").read_text("utf-8"))
    result = compute(FIXTURES / "rules")
    _check_shape(result)
    assert rejected_rows(FIXTURES / "rules") == {
        "title.basics": 0,
        "title.ratings": 0,
        "title.principals": 0,
        "name.basics": 0,
        "title.akas": 0,
    }
    assert result["parameters"] == expected["parameters"]
    assert result["ratings_processed"] == expected["ratings_processed"]
    assert result["average_number_of_votes"] == expected["average_number_of_votes"]
    movies = result["top_movies"]
    assert [m["tconst"] for m in movies] == expected["top_tconsts"]
    for got, want in zip(movies, expected["top_movies"], strict=True):
        assert got["rank"] == want["rank"] and got["num_votes"] == want["num_votes"]
        assert got["average_rating"] == want["average_rating"]
        product = Decimal(got["num_votes"]) * Decimal(str(got["average_rating"]))
        assert product == Decimal(want["product"])
        assert math.isclose(got["ranking_score"], want["ranking_score"], rel_tol=1e-12)
    ranked = {m["tconst"] for m in movies}
    assert not ranked & set(expected["never_ranked"])
    by_tconst = {m["tconst"]: m for m in movies}
    for tconst, names in expected["known_for_names"].items():
        assert by_tconst[tconst]["known_for_names"] == names
    assert by_tconst["tt0100009"]["start_year"] is None

    credits = result["top_movie_credits"]
    assert len(credits) == expected["credit_count_people"]
    assert [c["nconst"] for c in credits] == expected["credit_order"]
    by_nconst = {c["nconst"]: c for c in credits}
    for want in expected["credits"]:
        got = by_nconst[want["nconst"]]
        assert {k: got[k] for k in want} == want
    assert by_nconst["nm0000001"]["categories"] == ["director", "writer"]

    titles = result["top_movie_titles"]
    assert len(titles) == expected["title_row_count"]
    for want in expected["titles"]:
        assert want in titles
    assert not any(t["title"] is None for t in titles)
    assert not any("XWW" in t["regions"] for t in titles if t["tconst"] == "tt0100002")


def test_rules_fixture_parameters():
    with_tv = compute(FIXTURES / "rules", title_types=("tvMovie", "movie"), top_n=3)
    assert with_tv["parameters"] == {
        "min_votes": 500,
        "title_types": ["movie", "tvMovie"],
        "top_n": 3,
    }
    assert [m["tconst"] for m in with_tv["top_movies"]] == ["tt0200005", "tt0100001", "tt0100002"]
    assert with_tv["ratings_processed"] == 30  # parameters never change the average
    assert with_tv["average_number_of_votes"] == 100000.0
    at_499 = compute(FIXTURES / "rules", min_votes=499)
    assert [m["tconst"] for m in at_499["top_movies"]][8:] == ["tt0100009", "tt0100012"]
    eleven = compute(FIXTURES / "rules", top_n=11)
    assert eleven["top_movies"][-1]["tconst"] == "tt0100011"
    assert compute(FIXTURES / "rules", top_n=0)["top_movies"] == []


def test_rules_no_akas_fixture():
    expected = json.loads((FIXTURES / "rules_no_akas" / "expected.json").read_text("utf-8"))
    assert find_file(FIXTURES / "rules_no_akas", "title.akas") is None
    result = compute(FIXTURES / "rules_no_akas")
    _check_shape(result)
    assert result["ratings_processed"] == expected["ratings_processed"]
    assert result["average_number_of_votes"] == expected["average_number_of_votes"]
    assert [m["tconst"] for m in result["top_movies"]] == expected["top_tconsts"]
    by_nconst = {c["nconst"]: c for c in result["top_movie_credits"]}
    for want in expected["credits"]:
        assert {k: by_nconst[want["nconst"]][k] for k in want} == want
    titles = result["top_movie_titles"]
    assert len(titles) == expected["title_row_count"]
    assert all(t["regions"] == [] and t["languages"] == [] for t in titles)
    cafe = [
        (t["title"], t["is_primary"], t["is_original"])
        for t in titles
        if t["tconst"] == "tt0500002"
    ]
    assert cafe == [("Café", True, False), ("Kaffee", False, True)]


# ---------------------------------------------------------------------------------------------
# the reader's quarantine rules, on small synthetic files


def _write(path: Path, lines: list[str], gz: bool = False) -> None:
    data = ("\n".join(lines) + "\n").encode("utf-8")
    path.write_bytes(gzip.compress(data) if gz else data)


def test_malformed_rows_are_excluded_whole(tmp_path):
    _write(
        tmp_path / "title.ratings.tsv",
        [
            "tconst\taverageRating\tnumVotes",
            "tt1\t8.0\t1000",
            "tt2\t7.0\t3000",
            "tt3\t9.0\t12x",  # unparsable numVotes
            "tt4\t8.25\t5000",  # not one decimal: not exact in DECIMAL(3,1)
            "tt5\t9.0",  # too few fields
            "tt6\t9.0\t100\textra",  # too many fields
            "",  # blank line: skipped, neither a row nor a reject
            "tt7\t6.0\t2000",
            "tt8\t\\N\t100",  # null rating: a rating row needs both numbers
            "tt9\t10.5\t100",  # above 10
            "x10\t5.0\t100",  # not a tconst
            "\\N\t5.0\t100",  # null key
            "tt11\t10\t3000",  # "10" is a valid rating; tt11 has no title.basics row
        ],
    )
    # a tagged gz name when no exact name exists
    _write(
        tmp_path / "title.basics.part1.tsv.gz",
        [
            "\t".join(TITLE_BASICS.header),
            'tt1\tmovie\t"Quoted" start\t"Quoted" start\t0\t2000\t\\N\t90\tDrama',
            "tt2\tmovie\tBad year\tBad year\t0\t20O1\t\\N\t90\tDrama",  # letter O in the year
            "tt7\tmovie\tSeven\tSeven\t0\t\\N\t\\N\t\\N\t\\N",
            "tt8\tmovie\tBad adult\tBad adult\t2\t2001\t\\N\t90\tDrama",
        ],
        gz=True,
    )
    _write(
        tmp_path / "title.principals.tsv",
        [
            "tconst\tordering\tnconst\tcategory\tjob\tcharacters",
            'tt1\t1\tnm1\tactor\t\\N\t["A \\"B\\" C"]',
            "tt1\tx\tnm2\tactor\t\\N\t\\N",  # unparsable ordering
            "tt1\t3\tbad\tactor\t\\N\t\\N",  # not an nconst
        ],
    )
    _write(
        tmp_path / "name.basics.tsv",
        [
            "nconst\tprimaryName\tbirthYear\tdeathYear\tprimaryProfession\tknownForTitles",
            'nm1\tAl "Q" Person\t1970\t\\N\tactor\ttt1',
        ],
    )
    assert rejected_rows(tmp_path) == {
        "title.basics": 2,
        "title.ratings": 8,
        "title.principals": 2,
        "name.basics": 0,
    }
    result = compute(tmp_path, min_votes=1)
    _check_shape(result)
    assert result["ratings_processed"] == 4  # tt1, tt2, tt7, tt11
    assert result["average_number_of_votes"] == 2250.0  # (1000 + 3000 + 2000 + 3000) / 4
    # tt2 is rated but its title.basics row was excluded: not ranked
    assert [m["tconst"] for m in result["top_movies"]] == ["tt7", "tt1"]
    assert result["top_movies"][1]["primary_title"] == '"Quoted" start'
    assert result["top_movies"][1]["known_for_names"] == ['Al "Q" Person']
    assert [c["nconst"] for c in result["top_movie_credits"]] == ["nm1"]


def test_missing_required_file_and_bad_header(tmp_path):
    with pytest.raises(ImdbFormatError, match="title.ratings"):
        compute(tmp_path)
    _write(tmp_path / "title.ratings.tsv", ["tconst\tnumVotes\taverageRating"])
    with pytest.raises(ImdbFormatError, match="header"):
        rejected_rows(tmp_path)


def test_several_tagged_files_are_ambiguous(tmp_path):
    for tag in ("a", "b"):
        _write(tmp_path / f"title.ratings.{tag}.tsv", ["tconst\taverageRating\tnumVotes"])
    with pytest.raises(ImdbFormatError, match="several files"):
        find_file(tmp_path, "title.ratings")
    _write(tmp_path / "title.ratings.tsv", ["tconst\taverageRating\tnumVotes"])
    assert find_file(tmp_path, "title.ratings").name == "title.ratings.tsv"
