"""Read the marts and render the results contract (JSON) or aligned tables.

Three readers give :func:`collect` the same rows:

* :class:`DeltaReader` (``results`` on the embedded target): the marts' Delta tables read
  straight from ``<warehouse>/imdb.db/<mart>`` with delta-rs (``deltalake``), no JVM and no
  metastore, so it answers in a second and while a run holds the home;
* :class:`SparkReader` (a SparkSession: the in-process pipeline and its tests);
* :class:`ThriftReader` (PyHive through the Thrift server, ``--target thrift``).

The SQL readers send array columns as JSON text (``to_json``): the Thrift protocol sends
complex types as strings, and Spark's string form of an array does not escape quotes, so
JSON is the one form both decode to the same Python values. The Delta reader gets Python
lists from Arrow and sorts in Python the way Spark's ``order by`` does.
"""

from __future__ import annotations

import getpass
import json
import textwrap
import unicodedata
from abc import ABC, abstractmethod
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

MART_SCHEMA = "imdb"
NO_RESULTS = "no results yet: run `imdb-pipeline run --source DIR` (or ingest, stream, transform)"
ARRAY_COLUMNS = frozenset(
    {"known_for_names", "categories", "tconsts", "regions", "languages", "title_types"}
)
# mart -> (columns read, in the contract's order; sort order, each key optionally `desc`).
# Every mart of an answer carries the invocation_id of the dbt build that published it.
MARTS = {
    "run_summary": (
        [
            "min_votes",
            "title_types",
            "top_n",
            "ratings_processed",
            "duplicate_keys",
            "average_number_of_votes",
            "batches",
            "records_per_batch",
            "stream_id",
            "is_complete",
            "invocation_id",
            "built_at",
        ],
        "stream_id",
    ),
    "top_movies": (
        [
            "rank",
            "tconst",
            "primary_title",
            "original_title",
            "start_year",
            "average_rating",
            "num_votes",
            "ranking_score",
            "known_for_names",
            "invocation_id",
        ],
        "rank",
    ),
    "top_movie_credits": (
        [
            "rank",
            "nconst",
            "primary_name",
            "credit_count",
            "movie_count",
            "categories",
            "tconsts",
            "invocation_id",
        ],
        "rank, movie_count desc, nconst",
    ),
    "top_movie_titles": (
        ["tconst", "title", "regions", "languages", "is_primary", "is_original", "invocation_id"],
        "tconst, title",
    ),
    # one row per dbt invocation that built (or tried to build) an answer: the on-run-end
    # hook's record (macros/publish/publish_answer.sql)
    "transform_runs": (
        ["invocation_id", "finished_at", "min_votes", "top_n", "title_types", "status", "detail"],
        "finished_at desc",
    ),
}


class ResultsError(Exception):
    """The marts give no answer: none built yet, no stream processed, a mart unreadable, a
    transform that did not publish or a publish cut short, or no Thrift server to ask;
    ``str()`` is one line with the next step (exit 1)."""


def _plain(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _sort_keys(order: str) -> list[tuple[str, bool]]:
    """``"rank, movie_count desc"`` -> ``[("rank", False), ("movie_count", True)]``."""
    keys = [part.split() for part in order.split(",")]
    return [(k[0], k[1:] == ["desc"]) for k in keys]


class _SqlReader(ABC):
    """Rows through SQL (``query``): arrays as JSON text, ``order by`` in the engine."""

    @abstractmethod
    def query(self, sql: str) -> list[dict]:
        """The rows of ``sql`` as dicts keyed by column name (Spark or the Thrift server)."""

    def rows(self, table: str, columns: list[str], order: str) -> list[dict]:
        select = ", ".join(
            f"to_json(`{c}`) as `{c}`" if c in ARRAY_COLUMNS else f"`{c}`" for c in columns
        )
        sort = ", ".join(f"`{c}` {'desc' if desc else 'asc'}" for c, desc in _sort_keys(order))
        rows = self.query(f"select {select} from {MART_SCHEMA}.{table} order by {sort}")
        return [{c: _value(c, row[c]) for c in columns} for row in rows]


class SparkReader(_SqlReader):
    """Rows of a SQL query from a SparkSession (the embedded target)."""

    def __init__(self, spark):
        self.spark = spark

    def exists(self, table: str) -> bool:
        """True if ``imdb.<table>`` is in the session's catalog."""
        return self.spark.catalog.tableExists(f"{MART_SCHEMA}.{table}")

    def query(self, sql: str) -> list[dict]:
        """The rows of ``sql``, run by the session and collected to the driver, as dicts."""
        return [row.asDict() for row in self.spark.sql(sql).collect()]


class ThriftReader(_SqlReader):
    """Rows of a SQL query through a Spark Thrift server (PyHive; no authentication)."""

    def __init__(self, host: str, port: int, username: str | None = None):
        from pyhive import hive

        try:
            self.connection = hive.connect(host=host, port=port, username=username or _user())
        except Exception as exc:  # thrift's TTransportException and socket errors alike
            raise ResultsError(f"cannot reach the Thrift server on {host}:{port}: {exc}") from exc

    def exists(self, table: str) -> bool:
        """True if the server's metastore has the ``imdb`` schema and ``imdb.<table>`` in it."""
        if not self.query(f"show databases like '{MART_SCHEMA}'"):
            return False
        return bool(self.query(f"show tables in {MART_SCHEMA} like '{table}'"))

    def query(self, sql: str) -> list[dict]:
        """The rows of ``sql`` as dicts keyed by column name (``table.column`` names the server
        sends reduced to the column), on a cursor of its own."""
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql)
            names = [d[0].split(".")[-1] for d in cursor.description or []]
            return [dict(zip(names, row)) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def close(self) -> None:
        """Close the connection to the server (also done on leaving a ``with`` block)."""
        self.connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def mart_path(warehouse: str | Path, table: str) -> str:
    """Where a managed table of the mart schema lives: ``<warehouse>/imdb.db/<table>`` (a
    local path, or an ``s3://`` URI for a warehouse on S3)."""
    from imdb_pipeline.storage import join, s3_uri

    return join(s3_uri(str(warehouse)), f"{MART_SCHEMA}.db", table)


def read_marts(warehouse: str | Path) -> dict:
    """The marts ``results`` prints, as Arrow tables read from their Delta folders (delta-rs
    gives the latest snapshot's files; no JVM).

    Args:
        warehouse: Spark's ``spark.sql.warehouse.dir``: ``<home>/warehouse``, or
            ``s3://BUCKET/PREFIX/warehouse`` (also as ``s3a://``) for an S3 storage, read
            with the storage's connection settings (``imdb_pipeline.storage``).

    Returns:
        ``{mart name: pyarrow.Table}`` with the columns of :data:`MARTS`, in :data:`MARTS`
        order; a mart that does not exist yet is absent.

    Raises:
        ResultsError: a mart's folder exists but cannot be read as a Delta table.
    """
    from deltalake.exceptions import DeltaError, TableNotFoundError

    from imdb_pipeline.delta import delta_table
    from imdb_pipeline.storage import exists, join

    tables = {}
    for table, (columns, _) in MARTS.items():
        path = mart_path(warehouse, table)
        if not exists(join(path, "_delta_log")):
            continue
        try:
            tables[table] = read_delta(delta_table(path), columns)
        except TableNotFoundError:
            continue
        except (DeltaError, OSError, ValueError) as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]  # no backtrace
            raise ResultsError(
                f"cannot read the mart {MART_SCHEMA}.{table} at {path}: {reason}; rebuild the "
                "marts with `imdb-pipeline transform`"
            ) from exc
    return tables


# Reader features that change nothing in how a table's Parquet files map to its rows: a
# table that needs only these is its files, read as they are (Delta's PROTOCOL.md).
PLAIN_READER_FEATURES = frozenset({"timestampNtz"})


def read_delta(table, columns: list[str]):
    """``columns`` of a Delta table's current snapshot as one Arrow table.

    A plain table (not partitioned, no reader feature beyond :data:`PLAIN_READER_FEATURES`:
    what dbt-spark writes for the marts and delta-rs for the stream's tables) is its Parquet
    files, read with ``pyarrow.parquet``. Anything else (deletion vectors, column mapping,
    partitions) is read by delta-rs' own query engine (``QueryBuilder``, DataFusion), about
    1.5 s more. Not its pyarrow dataset: that scans through a Python file system whose
    last reference an Arrow thread can drop while the interpreter exits, which aborts the
    process ("terminate called without an active exception", delta-io/delta-rs#2184) in
    about half the runs of a short command such as ``results``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from imdb_pipeline.storage import filesystem_for

    protocol = table.protocol()
    plain = not table.metadata().partition_columns and (
        protocol.min_reader_version == 1
        or (
            protocol.min_reader_version == 3
            and set(protocol.reader_features or ()) <= PLAIN_READER_FEATURES
        )
    )
    if not plain:
        from deltalake import QueryBuilder

        select = ", ".join('"' + column.replace('"', '""') + '"' for column in columns)
        read = pa.table(
            QueryBuilder().register("t", table).execute(f"select {select} from t").read_all()
        )
        # DataFusion hands strings over as string_view; give them the type the files hold
        schema = pa.schema(
            [
                field.with_type(pa.string()) if field.type == pa.string_view() else field
                for field in read.schema
            ]
        )
        return read.cast(schema)
    files = [urlsplit(uri).path if uri.startswith("file:") else uri for uri in table.file_uris()]
    parts = []
    for file in files:
        filesystem, path = filesystem_for(file)
        with filesystem.open_input_file(path) as handle:
            parts.append(pq.ParquetFile(handle).read(columns=columns))
    if not parts:
        schema = table.schema().to_arrow()
        return pa.schema(schema).empty_table().select(columns)
    return _microseconds(pa.concat_tables(parts))


def _microseconds(table):
    """Spark's INT96 timestamps come back from Parquet as nanoseconds, which ``to_pylist``
    turns into pandas Timestamps (importing pandas: 2-3 s of a 3 s ``results``); Spark keeps
    microseconds, so the cast loses nothing and gives ``datetime`` objects."""
    import pyarrow as pa

    schema = pa.schema(
        [
            f.with_type(pa.timestamp("us", f.type.tz))
            if pa.types.is_timestamp(f.type) and f.type.unit == "ns"
            else f
            for f in table.schema
        ]
    )
    return table.cast(schema)


class DeltaReader:
    """Rows of the marts from Arrow tables (:func:`read_marts`), sorted as Spark's
    ``order by`` sorts them: ascending keys put nulls first, descending keys last."""

    def __init__(self, tables: dict):
        self.tables = tables

    @classmethod
    def of_warehouse(cls, warehouse: str | Path) -> DeltaReader:
        """A reader of the marts under ``warehouse``, read now (:func:`read_marts`, whose
        ResultsError it raises)."""
        return cls(read_marts(warehouse))

    def exists(self, table: str) -> bool:
        """True if the mart was read (its Delta table exists)."""
        return table in self.tables

    def rows(self, table: str, columns: list[str], order: str) -> list[dict]:
        """``columns`` of every row of ``table``, sorted by ``order`` (e.g. ``"rank,
        movie_count desc"``) as Spark's ``order by`` sorts; decimals as floats. KeyError for
        a mart that was not read."""
        rows = self.tables[table].select(columns).to_pylist()
        for column, desc in reversed(_sort_keys(order)):  # stable sorts, last key first
            present = [r for r in rows if r[column] is not None]
            missing = [r for r in rows if r[column] is None]
            present.sort(key=lambda r: r[column], reverse=desc)
            rows = present + missing if desc else missing + present
        return [{c: _plain(row[c]) for c in columns} for row in rows]


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a container
        return "imdb"


def _value(column: str, value):
    if column in ARRAY_COLUMNS and value is not None:
        return json.loads(value)
    return _plain(value)


def collect(source) -> dict:
    """The results contract, read from the marts.

    Args:
        source: a SparkSession, or a reader (:class:`DeltaReader`, :class:`SparkReader`,
            :class:`ThriftReader`: ``exists(table)`` and ``rows(table, columns, order)``).

    Returns:
        ``{"parameters", "ratings_processed", "average_number_of_votes", "stream",
        "top_movies", "top_movie_credits", "top_movie_titles"}`` (README, results).

    Raises:
        ResultsError: no marts yet, or no stream processed.
    """
    reader = source if hasattr(source, "rows") else SparkReader(source)
    if not reader.exists("run_summary"):
        raise ResultsError(NO_RESULTS)

    def rows(table: str) -> list[dict]:
        columns, order = MARTS[table]
        return reader.rows(table, columns, order)

    summary = rows("run_summary")
    if not summary:
        raise ResultsError(
            "no stream has been processed yet: run `imdb-pipeline stream` then `transform`"
        )
    s = summary[0]
    marts = {
        table: rows(table) for table in ("top_movies", "top_movie_credits", "top_movie_titles")
    }
    last = rows("transform_runs")[:1] if reader.exists("transform_runs") else []
    check_published(s, marts, last[0] if last else None)
    return {
        "parameters": {
            "min_votes": s["min_votes"],
            "title_types": list(s["title_types"]),
            "top_n": s["top_n"],
        },
        "ratings_processed": s["ratings_processed"],
        "duplicate_keys": s["duplicate_keys"],
        "average_number_of_votes": s["average_number_of_votes"],
        "stream": {
            "batches": s["batches"],
            "records_per_batch": s["records_per_batch"],
            "stream_id": s["stream_id"],
            "is_complete": s["is_complete"],
        },
        **{
            table: [_without(row, "invocation_id") for row in found]
            for table, found in marts.items()
        },
    }


def _without(row: dict, column: str) -> dict:
    return {k: v for k, v in row.items() if k != column}


def _answer(parameters: dict) -> str:
    """``min_votes 500, top_n 10, title_types movie``."""
    types = parameters["title_types"]
    return (
        f"min_votes {parameters['min_votes']}, top_n {parameters['top_n']}, title_types "
        f"{','.join(types) if isinstance(types, list) else types}"
    )


def _when(moment) -> str:
    """A timestamp to the second, in UTC (Spark's session time zone)."""
    if hasattr(moment, "isoformat"):
        return moment.isoformat(sep=" ", timespec="seconds") + " UTC"
    return str(moment)


def check_published(summary: dict, marts: dict, last_run: dict | None) -> None:
    """Raise unless the marts hold one answer, the one the last transform asked for.

    Args:
        summary: the run_summary row (with ``invocation_id``, ``built_at`` and the vars).
        marts: ``{mart: rows}`` of top_movies, top_movie_credits and top_movie_titles.
        last_run: the latest transform_runs row, or None when no transform recorded one
            (a home from before the record existed): then only the marts are compared.

    Raises:
        ResultsError: the last transform did not publish (a test failed, a model did not
            build) while the marts hold an older answer, or the marts carry the ids of two
            builds (a publish cut short); one line naming both answers and the next step.
    """
    published = summary["invocation_id"]
    if last_run is not None and last_run["status"] != "published":
        why = (
            f"{last_run['status']}: {last_run['detail']}"
            if last_run["detail"]
            else last_run["status"]
        )
        raise ResultsError(
            f"the last transform ({_answer(last_run)}, at {_when(last_run['finished_at'])}) did not "
            f"publish an answer ({why}); {MART_SCHEMA} still holds the answer built at "
            f"{_when(summary['built_at'])} ({_answer(summary)}): see the failures in the home's "
            "logs/dbt.log, then run `imdb-pipeline transform` again"
        )
    mixed = sorted(
        t for t, rows in marts.items() if any(r["invocation_id"] != published for r in rows)
    )
    if mixed or (last_run is not None and last_run["invocation_id"] != published):
        raise ResultsError(
            f"the marts do not hold one answer ({', '.join(mixed) or 'run_summary'} from another "
            "build than the last one published): a publish is under way or was cut short; run "
            "`imdb-pipeline transform` again"
        )


def render_json(results: dict) -> str:
    """The results contract as indented JSON (UTF-8 text, not ASCII-escaped)."""
    return json.dumps(results, indent=2, ensure_ascii=False)


TABLE_WIDTH = 100  # characters per line of `--format table`
MIN_TEXT_WIDTH = 12  # a shortened text column keeps at least this many characters
ONE_DECIMAL = {"average_rating"}  # IMDb ratings have one decimal: 8.0, not 8
THOUSANDS = {"num_votes"}  # 2,131,118


def _width(text: str) -> int:
    """Terminal columns of ``text``: East Asian wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cut(text: str, width: int) -> str:
    """``text`` shortened to ``width`` columns, ending in ``…`` when something was cut."""
    if _width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = _width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out).rstrip() + "…"


def _cut_list(items: list[str], width: int) -> str:
    """As many items as fit in ``width`` columns, then ``+N`` for the others."""
    text = ", ".join(items)
    if _width(text) <= width:
        return text
    for keep in range(len(items) - 1, 0, -1):
        text = f"{', '.join(items[:keep])} +{len(items) - keep}"
        if _width(text) <= width:
            return text
    return _cut(f"{items[0]} +{len(items) - 1}", width)


def _cell(value, column: str) -> str | list[str]:
    if value is None:
        return "-"
    if isinstance(value, list):
        return [str(v) for v in value] or ["-"]
    if isinstance(value, bool):
        return "yes" if value else "no"
    if column in ONE_DECIMAL:
        return f"{value:.1f}"
    if column in THOUSANDS:
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value)


def _table(
    title: str, rows: list[dict], columns: list[tuple[str, str]], width: int = TABLE_WIDTH
) -> str:
    """An aligned table of ``rows`` within ``width`` columns.

    ``columns``: (field, header) pairs. Numbers are right-aligned; when the lines would be
    wider than ``width``, the widest text columns are shortened (``…``, lists as ``a, b +N``).
    """
    fields = [f for f, _ in columns]
    cells = [[_cell(r[f], f) for f in fields] for r in rows]
    plain = [[", ".join(c) if isinstance(c, list) else c for c in row] for row in cells]
    widths = [
        max([_width(h)] + [_width(row[i]) for row in plain]) for i, (_, h) in enumerate(columns)
    ]
    numeric = [
        bool(rows)
        and all(
            isinstance(r[f], (int, float)) and not isinstance(r[f], bool)
            for r in rows
            if r[f] is not None
        )
        for f in fields
    ]
    room = width - 2 * (len(columns) - 1)
    lists = [any(isinstance(row[i], list) for row in cells) for i in range(len(columns))]
    for shrink_lists in (True, False):  # lists (regions, ...) give way before titles and names
        while sum(widths) > room:
            floor = [max(MIN_TEXT_WIDTH, _width(h)) for _, h in columns]
            candidates = [
                i
                for i in range(len(columns))
                if not numeric[i] and lists[i] == shrink_lists and widths[i] > floor[i]
            ]
            if not candidates:
                break
            widest = max(candidates, key=lambda i: widths[i])
            widths[widest] -= min(sum(widths) - room, widths[widest] - floor[widest])

    def fit(value, w: int) -> str:
        return _cut_list(value, w) if isinstance(value, list) else _cut(value, w)

    def line(values) -> str:
        out = []
        for value, w, num in zip(values, widths, numeric):
            pad = " " * (w - _width(value))
            out.append(pad + value if num else value + pad)
        return "  ".join(out).rstrip()

    out = [title, line([h for _, h in columns]), line(["-" * w for w in widths])]
    out += [line([fit(c, w) for c, w in zip(row, widths)]) for row in cells] or ["(none)"]
    return "\n".join(out)


def render_table(results: dict, width: int = TABLE_WIDTH) -> str:
    """Aligned tables of the results, every line within ``width`` characters: the top
    movies, the people most often credited, and each top movie's titles (by rank)."""
    p = results["parameters"]
    head = (
        f"{results['ratings_processed']:,} ratings in {results['stream']['batches']} micro-batches "
        f"of {results['stream']['records_per_batch']}; average number of votes "
        f"{results['average_number_of_votes']:,.2f}; top {p['top_n']} of "
        f"{'/'.join(p['title_types'])} with at least {p['min_votes']:,} votes"
    )
    rank_of = {m["tconst"]: m["rank"] for m in results["top_movies"]}
    titles = sorted(  # stable: each movie's titles keep their order
        ({**t, "rank": rank_of.get(t["tconst"])} for t in results["top_movie_titles"]),
        key=lambda t: (t["rank"] is None, t["rank"] or 0),
    )
    return "\n\n".join(
        [
            textwrap.fill(head, width, break_on_hyphens=False),
            _table(
                "Top movies",
                results["top_movies"],
                [
                    ("rank", "rank"),
                    ("tconst", "tconst"),
                    ("primary_title", "title"),
                    ("start_year", "year"),
                    ("average_rating", "rating"),
                    ("num_votes", "votes"),
                    ("ranking_score", "score"),
                ],
                width,
            ),
            _table(
                "People most often credited",
                results["top_movie_credits"],
                [
                    ("rank", "rank"),
                    ("nconst", "nconst"),
                    ("primary_name", "name"),
                    ("credit_count", "credits"),
                    ("movie_count", "movies"),
                    ("categories", "categories"),
                ],
                width,
            ),
            _table(
                "Titles of the top movies, by rank",
                titles,
                [
                    ("rank", "rank"),
                    ("tconst", "tconst"),
                    ("title", "title"),
                    ("regions", "regions"),
                    ("languages", "languages"),
                    ("is_primary", "primary"),
                    ("is_original", "original"),
                ],
                width,
            ),
        ]
    )
