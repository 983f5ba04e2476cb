"""One comparison of the pipeline's answer (the results contract) with DuckDB's
(tests/reference/duckdb_reference.py), shared by the end-to-end tests."""

from __future__ import annotations

import math

# The top 10 of the real-2019 sample (shared/data/imdb-samples/real-2019-top25-repaired,
# PROVENANCE.md), in rank order.
REAL_2019_TOP10 = [
    "tt0111161",
    "tt0468569",
    "tt1375666",
    "tt0137523",
    "tt0110912",
    "tt0109830",
    "tt0167260",
    "tt0120737",
    "tt0068646",
    "tt0133093",
]


def assert_same_answer(ours: dict, reference: dict) -> None:
    """``ours`` and ``reference`` (results-contract dicts) hold the same answer: ratings and
    average of votes, the top movies (ranking_score to 1e-9 relative), the credits and the
    titles. Neither dict is changed."""
    assert ours["parameters"] == reference["parameters"]
    assert ours["ratings_processed"] == reference["ratings_processed"]
    assert math.isclose(
        ours["average_number_of_votes"], reference["average_number_of_votes"], rel_tol=1e-12
    )
    assert len(ours["top_movies"]) == len(reference["top_movies"])
    for mine, theirs in zip(ours["top_movies"], reference["top_movies"]):
        assert math.isclose(mine["ranking_score"], theirs["ranking_score"], rel_tol=1e-9)
        assert _without_score(mine) == _without_score(theirs)
    assert ours["top_movie_credits"] == reference["top_movie_credits"]
    assert ours["top_movie_titles"] == reference["top_movie_titles"]


def _without_score(movie: dict) -> dict:
    return {k: v for k, v in movie.items() if k != "ranking_score"}
