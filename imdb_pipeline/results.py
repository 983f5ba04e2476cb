"""Read the marts and render the results contract (JSON) or aligned tables.

Both targets run the same SQL through a small reader: :class:`SparkReader` (the pipeline's
own SparkSession, embedded target) or :class:`ThriftReader` (PyHive through the Thrift
server, ``--target thrift``). Array columns travel as JSON text (``to_json``): the Thrift
protocol sends complex types as strings, and Spark's string form of an array does not escape
quotes, so JSON is the one form both paths decode to the same Python values.
"""

from __future__ import annotations

import getpass
import json
from decimal import Decimal

MART_SCHEMA = "imdb"
NO_RESULTS = "no results yet: run `imdb-pipeline run --source DIR` (or ingest, stream, transform)"
ARRAY_COLUMNS = frozenset(
    {"known_for_names", "categories", "tconsts", "regions", "languages", "title_types"}
)


class ResultsError(Exception):
    pass


def _plain(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class SparkReader:
    """Rows of a SQL query from a SparkSession (the embedded target)."""

    def __init__(self, spark):
        self.spark = spark

    def exists(self, table: str) -> bool:
        return self.spark.catalog.tableExists(f"{MART_SCHEMA}.{table}")

    def query(self, sql: str) -> list[dict]:
        return [row.asDict() for row in self.spark.sql(sql).collect()]


class ThriftReader:
    """Rows of a SQL query through a Spark Thrift server (PyHive; no authentication)."""

    def __init__(self, host: str, port: int, username: str | None = None):
        from pyhive import hive

        try:
            self.connection = hive.connect(host=host, port=port, username=username or _user())
        except Exception as exc:  # thrift's TTransportException and socket errors alike
            raise ResultsError(f"cannot reach the Thrift server on {host}:{port}: {exc}") from exc

    def exists(self, table: str) -> bool:
        if not self.query(f"show databases like '{MART_SCHEMA}'"):
            return False
        return bool(self.query(f"show tables in {MART_SCHEMA} like '{table}'"))

    def query(self, sql: str) -> list[dict]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql)
            names = [d[0].split(".")[-1] for d in cursor.description or []]
            return [dict(zip(names, row)) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def close(self) -> None:
        self.connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a container
        return "imdb"


def _rows(reader, table: str, order: str, columns: list[str]) -> list[dict]:
    """``order``: comma-separated columns, each optionally followed by `desc`."""
    select = ", ".join(
        f"to_json(`{c}`) as `{c}`" if c in ARRAY_COLUMNS else f"`{c}`" for c in columns
    )
    keys = [part.split() for part in order.split(",")]
    sort = ", ".join(f"`{k[0]}` {'desc' if k[1:] == ['desc'] else 'asc'}" for k in keys)
    rows = reader.query(f"select {select} from {MART_SCHEMA}.{table} order by {sort}")
    return [{c: _value(c, row[c]) for c in columns} for row in rows]


def _value(column: str, value):
    if column in ARRAY_COLUMNS and value is not None:
        return json.loads(value)
    return _plain(value)


def collect(source) -> dict:
    """The results contract, read from the marts (``source``: a SparkSession or a reader)."""
    reader = source if hasattr(source, "query") else SparkReader(source)
    if not reader.exists("run_summary"):
        raise ResultsError(NO_RESULTS)
    summary = _rows(
        reader, "run_summary", "stream_id",
        ["min_votes", "title_types", "top_n", "ratings_processed", "average_number_of_votes",
         "batches", "records_per_batch", "stream_id", "is_complete"],
    )
    if not summary:
        raise ResultsError("no stream has been processed yet: run `imdb-pipeline stream` then `transform`")
    s = summary[0]
    return {
        "parameters": {
            "min_votes": s["min_votes"],
            "title_types": list(s["title_types"]),
            "top_n": s["top_n"],
        },
        "ratings_processed": s["ratings_processed"],
        "average_number_of_votes": s["average_number_of_votes"],
        "stream": {
            "batches": s["batches"],
            "records_per_batch": s["records_per_batch"],
            "stream_id": s["stream_id"],
            "is_complete": s["is_complete"],
        },
        "top_movies": _rows(
            reader, "top_movies", "rank",
            ["rank", "tconst", "primary_title", "original_title", "start_year",
             "average_rating", "num_votes", "ranking_score", "known_for_names"],
        ),
        "top_movie_credits": _rows(
            reader, "top_movie_credits", "rank, movie_count desc, nconst",
            ["rank", "nconst", "primary_name", "credit_count", "movie_count", "categories",
             "tconsts"],
        ),
        "top_movie_titles": _rows(
            reader, "top_movie_titles", "tconst, title",
            ["tconst", "title", "regions", "languages", "is_primary", "is_original"],
        ),
    }


def render_json(results: dict) -> str:
    return json.dumps(results, indent=2, ensure_ascii=False)


ONE_DECIMAL = {"average_rating"}  # IMDb ratings have one decimal: 8.0, not 8


def _table(title: str, rows: list[dict], columns: list[str]) -> str:
    def cell(value, column: str) -> str:
        if value is None:
            return "-"
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        if column in ONE_DECIMAL:
            return f"{value:.1f}"
        if isinstance(value, float):
            return f"{value:.4f}".rstrip("0").rstrip(".")
        return str(value)

    cells = [[cell(r[c], c) for c in columns] for r in rows]
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
