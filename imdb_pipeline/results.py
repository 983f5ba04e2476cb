"""Read the marts and render the results contract (JSON) or aligned tables."""

from __future__ import annotations

import json
from decimal import Decimal

MART_SCHEMA = "imdb"


class ResultsError(Exception):
    pass


def _plain(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _rows(spark, table: str, order: str, columns: list[str]) -> list[dict]:
    """``order``: comma-separated columns, each optionally followed by `desc`."""
    from pyspark.sql import functions as F

    keys = [part.split() for part in order.split(",")]
    sort = [F.col(k[0]).desc() if k[1:] == ["desc"] else F.col(k[0]).asc() for k in keys]
    frame = spark.table(f"{MART_SCHEMA}.{table}").orderBy(*sort)
    return [{c: _plain(row[c]) for c in columns} for row in frame.select(*columns).collect()]


def collect(spark) -> dict:
    """The results contract, read from the marts."""
    if not spark.catalog.tableExists(f"{MART_SCHEMA}.run_summary"):
        raise ResultsError(
            "no results yet: run `imdb-pipeline run --source DIR` (or ingest, stream, transform)"
        )
    summary = spark.table(f"{MART_SCHEMA}.run_summary").collect()
    if not summary:
        raise ResultsError("no stream has been processed yet: run `imdb-pipeline stream` then `transform`")
    s = summary[0]
    return {
        "parameters": {
            "min_votes": s.min_votes,
            "title_types": list(s.title_types),
            "top_n": s.top_n,
        },
        "ratings_processed": s.ratings_processed,
        "average_number_of_votes": s.average_number_of_votes,
        "stream": {
            "batches": s.batches,
            "records_per_batch": s.records_per_batch,
            "stream_id": s.stream_id,
            "is_complete": s.is_complete,
        },
        "top_movies": _rows(
            spark, "top_movies", "rank",
            ["rank", "tconst", "primary_title", "original_title", "start_year",
             "average_rating", "num_votes", "ranking_score", "known_for_names"],
        ),
        "top_movie_credits": _rows(
            spark, "top_movie_credits", "rank, movie_count desc, nconst",
            ["rank", "nconst", "primary_name", "credit_count", "movie_count", "categories",
             "tconsts"],
        ),
        "top_movie_titles": _rows(
            spark, "top_movie_titles", "tconst, title",
            ["tconst", "title", "regions", "languages", "is_primary", "is_original"],
        ),
    }


def render_json(results: dict) -> str:
    return json.dumps(results, indent=2, ensure_ascii=False)


def _table(title: str, rows: list[dict], columns: list[str]) -> str:
    def cell(value) -> str:
        if value is None:
            return "-"
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        if isinstance(value, float):
            return f"{value:.4f}".rstrip("0").rstrip(".")
        return str(value)

    cells = [[cell(r[c]) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    numeric = [all(isinstance(r[c], (int, float)) for r in rows if r[c] is not None) and rows
               for c in columns]

    def line(values) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)
        ).rstrip()

    out = [title, line(columns), line(["-" * w for w in widths])]
    out += [line(row) for row in cells] or ["(none)"]
    return "\n".join(out)


def render_table(results: dict) -> str:
    p = results["parameters"]
    head = (
        f"{results['ratings_processed']:,} ratings in {results['stream']['batches']} micro-batches "
        f"of {results['stream']['records_per_batch']}; average number of votes "
        f"{results['average_number_of_votes']:,.2f}; top {p['top_n']} of "
        f"{'/'.join(p['title_types'])} with at least {p['min_votes']:,} votes"
    )
    return "\n\n".join(
        [
            head,
            _table("Top movies", results["top_movies"],
                   ["rank", "tconst", "primary_title", "start_year", "average_rating",
                    "num_votes", "ranking_score"]),
            _table("People most often credited", results["top_movie_credits"],
                   ["rank", "nconst", "primary_name", "credit_count", "movie_count",
                    "categories"]),
            _table("Titles", results["top_movie_titles"],
                   ["tconst", "title", "regions", "languages", "is_primary", "is_original"]),
        ]
    )
