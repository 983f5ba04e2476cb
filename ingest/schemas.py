"""The IMDb dataset files and every table derived from them: columns, types, table names.

One source of truth for every reader and writer in the project: the converter, the generator,
the stream source and the tests' second engine all take the expected headers from here; the
ingest, the metastore registration (ingest/tables.py) and the stream (streaming/) take the
Arrow schemas and the Spark DDL of the tables they write from here.

Column types (``kind``; :data:`TYPES` gives each one's Spark SQL and Arrow type):
  string  text, ``\\N`` -> null
  int     whole number (years, counts, orderings)
  bool    ``0``/``1``
  rating  averageRating, one decimal (1.0-10.0): kept exact as DECIMAL(3,1)
  list    comma-separated list -> array<string>
  list02  ``\\x02``-separated list (title.akas types/attributes) -> array<string>
and in the derived tables (where ``list`` is any array<string>):
  bigint     counts, row and line numbers, micro-batch ids (int64)
  double     averages, rates
  timestamp  a point in time (Arrow: microseconds, UTC)
  persons    title_names.known_for: array<struct<nconst:string,primary_name:string>>
  ranking    imdb_stream.batches.top, the running top-N: array<struct<rank:int,tconst:string,...>>

pyarrow is imported only when an Arrow type is asked for: the report and the CLI read table
names from here without loading it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class Column:
    """One column of an IMDb file: its header name, its name in the lake and SQL, and its
    ``kind`` (a key of :data:`TYPES`)."""

    imdb_name: str  # as in the file header
    name: str  # snake_case name in the lake and in SQL
    kind: str


@dataclass(frozen=True)
class ImdbFile:
    """One IMDb dataset file (IMDb's layout: tab-separated, a header line, ``\\N`` for null):
    its name, its lake table, its columns in header order, and whether an ingest needs it."""

    name: str  # e.g. "title.ratings"
    table: str  # lake/metastore table name, e.g. "title_ratings"
    columns: tuple[Column, ...]
    required: bool

    @property
    def header(self) -> list[str]:
        """The header line IMDb's file starts with, as its column names in order."""
        return [c.imdb_name for c in self.columns]

    @property
    def key(self) -> str:
        """The lake name of the id column, the first (``tconst``; ``nconst`` for name.basics):
        a row without it is rejected. title.principals and title.akas key on it with
        ``ordering`` (ingest.keys)."""
        return self.columns[0].name

    @property
    def lookup(self) -> Table:
        """The file's table in the lake, ``imdb_lookup.<table>`` (its :data:`LOOKUPS` entry)."""
        return LOOKUPS[self.table]


def _cols(*spec: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(*s) for s in spec)


TITLE_BASICS = ImdbFile(
    "title.basics",
    "title_basics",
    _cols(
        ("tconst", "tconst", "string"),
        ("titleType", "title_type", "string"),
        ("primaryTitle", "primary_title", "string"),
        ("originalTitle", "original_title", "string"),
        ("isAdult", "is_adult", "bool"),
        ("startYear", "start_year", "int"),
        ("endYear", "end_year", "int"),
        ("runtimeMinutes", "runtime_minutes", "int"),
        ("genres", "genres", "list"),
    ),
    required=True,
)
TITLE_RATINGS = ImdbFile(
    "title.ratings",
    "title_ratings",
    _cols(
        ("tconst", "tconst", "string"),
        ("averageRating", "average_rating", "rating"),
        ("numVotes", "num_votes", "int"),
    ),
    required=True,
)
TITLE_PRINCIPALS = ImdbFile(
    "title.principals",
    "title_principals",
    _cols(
        ("tconst", "tconst", "string"),
        ("ordering", "ordering", "int"),
        ("nconst", "nconst", "string"),
        ("category", "category", "string"),
        ("job", "job", "string"),
        ("characters", "characters", "string"),
    ),
    required=True,
)
NAME_BASICS = ImdbFile(
    "name.basics",
    "name_basics",
    _cols(
        ("nconst", "nconst", "string"),
        ("primaryName", "primary_name", "string"),
        ("birthYear", "birth_year", "int"),
        ("deathYear", "death_year", "int"),
        ("primaryProfession", "primary_professions", "list"),
        ("knownForTitles", "known_for_titles", "list"),
    ),
    required=True,
)
TITLE_AKAS = ImdbFile(
    "title.akas",
    "title_akas",
    _cols(
        ("titleId", "tconst", "string"),
        ("ordering", "ordering", "int"),
        ("title", "title", "string"),
        ("region", "region", "string"),
        ("language", "language", "string"),
        ("types", "types", "list02"),
        ("attributes", "attributes", "list02"),
        ("isOriginalTitle", "is_original_title", "bool"),
    ),
    required=False,
)
TITLE_CREW = ImdbFile(
    "title.crew",
    "title_crew",
    _cols(
        ("tconst", "tconst", "string"),
        ("directors", "directors", "list"),
        ("writers", "writers", "list"),
    ),
    required=False,
)
TITLE_EPISODE = ImdbFile(
    "title.episode",
    "title_episode",
    _cols(
        ("tconst", "tconst", "string"),
        ("parentTconst", "parent_tconst", "string"),
        ("seasonNumber", "season_number", "int"),
        ("episodeNumber", "episode_number", "int"),
    ),
    required=False,
)

ALL_FILES: tuple[ImdbFile, ...] = (
    TITLE_BASICS,
    TITLE_RATINGS,
    TITLE_PRINCIPALS,
    NAME_BASICS,
    TITLE_AKAS,
    TITLE_CREW,
    TITLE_EPISODE,
)
BY_NAME = {f.name: f for f in ALL_FILES}

NULL = "\\N"

OPTIONAL_NAMES = tuple(f.name for f in ALL_FILES if not f.required)
DEFAULT_OPTIONAL = ("title.akas",)  # the marts use it; title.crew and title.episode they do not


def tables_to_ingest(with_tables=None) -> tuple[str, ...]:
    """The IMDb names an ingest reads: the four required ones, title.akas, and ``with_tables``.

    ``with_tables``: optional tables to ingest as well, an iterable of IMDb names or one
    comma-separated string (``"title.crew,title.episode"``, ``"all"``, ``""``); the lake names
    (``title_crew``) are accepted too. Returns names in ``ALL_FILES`` order. Raises
    ``ValueError`` (one line) for a name that is no optional IMDb table.
    """
    if with_tables is None:
        asked: list[str] = []
    elif isinstance(with_tables, str):
        asked = [t.strip() for t in with_tables.split(",") if t.strip()]
    else:
        asked = [str(t).strip() for t in with_tables if str(t).strip()]
    chosen = set(DEFAULT_OPTIONAL)
    by_table = {f.table: f.name for f in ALL_FILES}
    for item in asked:
        if item == "all":
            chosen.update(OPTIONAL_NAMES)
            continue
        name = by_table.get(item, item)
        if name not in OPTIONAL_NAMES:
            what = "is required, always ingested" if name in BY_NAME else "is no IMDb table"
            raise ValueError(
                f"{item} {what}: name optional tables among {', '.join(OPTIONAL_NAMES)} (or all)"
            )
        chosen.add(name)
    return tuple(f.name for f in ALL_FILES if f.required or f.name in chosen)


# --- column types: one map, each type's Spark SQL spelling and its Arrow type ---------------


@dataclass(frozen=True)
class SqlType:
    """A logical column type: ``sql``, its Spark SQL spelling (DDL, schema strings), and
    :attr:`arrow`, its Arrow type (built on first use: pyarrow is imported only then)."""

    sql: str
    make_arrow: Callable[[Any], pa.DataType] = field(repr=False, compare=False)

    @property
    def arrow(self) -> pa.DataType:
        """The Arrow type; every child (list item, struct field) nullable, as Spark's are."""
        import pyarrow

        return self.make_arrow(pyarrow)


def array_of(element: SqlType) -> SqlType:
    """``array<element>``; in Arrow a ``list<item: element>``."""
    return SqlType(f"array<{element.sql}>", lambda pa: pa.list_(element.arrow))


def struct_of(*fields: tuple[str, SqlType]) -> SqlType:
    """``struct<name:type,...>`` of ``fields``, (name, type) pairs in order; in Arrow a
    ``struct`` of the same fields."""
    return SqlType(
        "struct<" + ",".join(f"{name}:{kind.sql}" for name, kind in fields) + ">",
        lambda pa: pa.struct([pa.field(name, kind.arrow) for name, kind in fields]),
    )


_STRING = SqlType("string", lambda pa: pa.string())
_INT = SqlType("int", lambda pa: pa.int32())
_RATING = SqlType("decimal(3,1)", lambda pa: pa.decimal128(3, 1))
_DOUBLE = SqlType("double", lambda pa: pa.float64())
_STRINGS = array_of(_STRING)
TYPES: dict[str, SqlType] = {
    # the IMDb files' column kinds
    "string": _STRING,
    "int": _INT,
    "bool": SqlType("boolean", lambda pa: pa.bool_()),
    "rating": _RATING,
    "list": _STRINGS,
    "list02": _STRINGS,
    # the derived tables' other types
    "bigint": SqlType("bigint", lambda pa: pa.int64()),
    "double": _DOUBLE,
    "timestamp": SqlType("timestamp", lambda pa: pa.timestamp("us", tz="UTC")),
    "persons": array_of(struct_of(("nconst", _STRING), ("primary_name", _STRING))),
    "ranking": array_of(
        struct_of(
            ("rank", _INT),
            ("tconst", _STRING),
            ("num_votes", _INT),
            ("average_rating", _RATING),
            ("ranking_score", _DOUBLE),
        )
    ),
}


# --- the tables derived from the files ------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A table the pipeline writes: its ``columns``, (name, kind) pairs in order, each kind a
    key of :data:`TYPES`; every column nullable.

    ``partition``: the column its folders are named by (``<column>=<value>/``), or None;
    ``partition_kind``: that column's kind when it is none of ``columns`` (the ingest computes
    it; it lives in the folder names only), None when it is one of them.

    Raises ``ValueError`` for a kind that is not in :data:`TYPES`.
    """

    name: str  # the metastore table's name (without its schema)
    columns: tuple[tuple[str, str], ...]
    partition: str | None = None
    partition_kind: str | None = None

    def __post_init__(self):
        unknown = [kind for _, kind in self.table_columns if kind not in TYPES]
        if unknown:
            raise ValueError(f"{self.name}: no such column type {', '.join(unknown)}")

    @property
    def names(self) -> list[str]:
        """The names of ``columns``, in order (the files' columns)."""
        return [name for name, _ in self.columns]

    @property
    def table_columns(self) -> tuple[tuple[str, str], ...]:
        """``columns`` and, last, a partition column that is none of them: the table's."""
        if self.partition is None or self.partition_kind is None:
            return self.columns
        return (*self.columns, (self.partition, self.partition_kind))

    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema of ``columns`` (what the table's files hold), no metadata."""
        return _arrow_schema(self.columns)

    def partitioned_schema(self) -> pa.Schema:
        """The Arrow schema of :attr:`table_columns`: the files' columns and the partition
        column the ingest adds (what it hands its partitioned writer)."""
        return _arrow_schema(self.table_columns)

    def ddl(self, quoted: bool = False) -> str:
        """The Spark DDL of :attr:`table_columns`, ``"name type, ..."``: the columns of a
        ``create table`` and a DataSource's schema string. ``quoted``: names in backticks."""
        return ", ".join(
            f"`{name}` {TYPES[kind].sql}" if quoted else f"{name} {TYPES[kind].sql}"
            for name, kind in self.table_columns
        )


def _arrow_schema(columns: tuple[tuple[str, str], ...]) -> pa.Schema:
    import pyarrow

    return pyarrow.schema([pyarrow.field(name, TYPES[kind].arrow) for name, kind in columns])


LOOKUP_SCHEMA = "imdb_lookup"  # the metastore schema of the lake's tables (ingest/tables.py)
STREAM_SCHEMA = "imdb_stream"  # the metastore schema of the stream's Delta tables

# The column each lookup's folders are named by: one the ingest adds (with its kind), or one
# of the file's own (None). The other lookups are not partitioned.
PARTITION_COLUMNS: dict[str, tuple[str, str | None]] = {
    "title_ratings": ("votes_floor", "int"),
    "title_basics": ("start_year", None),  # an existing column
    "name_basics": ("primary_profession", "string"),
    "title_principals": ("tconst_bucket", "int"),
    "title_akas": ("tconst_bucket", "int"),
}
# imdb_lookup.<table>: one lookup per IMDb file, its columns those of the file
LOOKUPS: dict[str, Table] = {
    f.table: Table(
        f.table,
        tuple((c.name, c.kind) for c in f.columns),
        *PARTITION_COLUMNS.get(f.table, (None, None)),
    )
    for f in ALL_FILES
}
# imdb_lookup.title_names: per title, the people known for it (ingest/names.py)
TITLE_NAMES = Table(
    "title_names", (("tconst", "string"), ("known_for", "persons")), "tconst_bucket", "int"
)
# imdb_lookup.ingest_rejects: the quarantined lines (the lake's _rejects/<table>.parquet)
INGEST_REJECTS = Table(
    "ingest_rejects",
    (("file", "string"), ("line", "bigint"), ("raw_line", "string"), ("reason", "string")),
)
# imdb_lookup.ingest_checks: one row per lookup table of an ingest (the lake's _checks/)
INGEST_CHECKS = Table(
    "ingest_checks",
    (
        ("ingest_id", "string"),
        ("imdb_file", "string"),
        ("lookup_table", "string"),
        ("key_columns", "list"),
        ("rows_read", "bigint"),
        ("rows_written", "bigint"),
        ("rows_rejected", "bigint"),
        ("null_keys", "bigint"),
        ("duplicate_keys", "bigint"),
        # the ingest whose conversion wrote these rows (null: not known); the marts built from
        # a lookup whose converted_in did not change may be kept (macros/marts/kept_mart.sql)
        ("converted_in", "string"),
    ),
)
# imdb_lookup.ingests (Delta): one row per published ingest; dbt's source freshness reads it
INGESTS = Table(
    "ingests", (("ingest_id", "string"), ("created_at", "timestamp"), ("location", "string"))
)
# The lake's ratings_feed/: title.ratings in file order, every row (the stream's input)
RATINGS_FEED = Table("ratings_feed", LOOKUPS["title_ratings"].columns)
# A stream's feeds (streaming/feeds.py): the ratings feed's rows, then deletions; its source's
# schema (streaming/source.py)
STREAM_FEED = Table("feeds", (*RATINGS_FEED.columns, ("is_deleted", "bool")))
# imdb_stream.ratings: every processed feed record, and the votes its title had before
STREAM_RATINGS = Table(
    "ratings",
    (
        ("stream_id", "string"),
        ("ingest_id", "string"),
        ("batch_id", "bigint"),
        ("feed_row", "bigint"),
        *STREAM_FEED.columns,
        ("previous_votes", "int"),
    ),
)
# imdb_stream.batches: one row per micro-batch, the running figures and top-N
STREAM_BATCHES = Table(
    "batches",
    (
        ("stream_id", "string"),
        ("ingest_id", "string"),
        ("batch_id", "bigint"),
        ("batches", "bigint"),
        ("records", "bigint"),
        ("end_row", "bigint"),
        ("feed_rows", "bigint"),
        ("ratings_processed", "bigint"),
        ("votes_sum", "bigint"),
        ("average_number_of_votes", "double"),
        ("records_per_batch", "int"),
        ("min_votes", "int"),
        ("top_n", "int"),
        ("title_types", "list"),
        ("top", "ranking"),
        ("processed_at", "timestamp"),
        ("duration_ms", "bigint"),
    ),
)
# imdb_stream.stream_progress: one row per micro-batch from Spark's progress reports
STREAM_PROGRESS = Table(
    "stream_progress",
    (
        ("stream_id", "string"),
        ("batch_id", "bigint"),
        ("input_rows", "bigint"),
        ("processed_rows_per_second", "double"),
        ("duration_ms", "bigint"),
        ("add_batch_ms", "bigint"),
        ("latest_offset_ms", "bigint"),
        ("get_batch_ms", "bigint"),
        ("wal_commit_ms", "bigint"),
        ("commit_offsets_ms", "bigint"),
        ("average_number_of_votes", "double"),
        ("number_one", "string"),
        ("reported_at", "timestamp"),
    ),
)
