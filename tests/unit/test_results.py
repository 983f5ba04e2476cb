"""The aligned-table rendering of the results (imdb_pipeline.results.render_table)."""

from __future__ import annotations

from imdb_pipeline.results import render_table


def results(**movie) -> dict:
    top = {"rank": 1, "tconst": "tt1", "primary_title": "A", "start_year": 1994,
           "average_rating": 8.0, "num_votes": 900, "ranking_score": 7.25, **movie}
    return {
        "parameters": {"min_votes": 500, "title_types": ["movie"], "top_n": 10},
        "ratings_processed": 3, "average_number_of_votes": 1000.0,
        "stream": {"batches": 1, "records_per_batch": 100},
        "top_movies": [top], "top_movie_credits": [], "top_movie_titles": [],
    }


def test_a_rating_keeps_its_decimal_and_scores_lose_trailing_zeros():
    table = render_table(results())
    row = table.splitlines()[5]
    assert row.split() == ["1", "tt1", "A", "1994", "8.0", "900", "7.25"]


def test_empty_sections_and_missing_values_are_shown():
    table = render_table(results(start_year=None))
    assert table.splitlines()[5].split()[3] == "-"
    assert table.count("(none)") == 2
    assert table.startswith("3 ratings in 1 micro-batches of 100; average number of votes 1,000.00")
