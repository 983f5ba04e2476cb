"""Every table the pipeline derives from the IMDb files keeps its schema: column names, order,
types and nullability, in Arrow (the files the ingest and the stream write) and in SQL (the
DDL Spark gets). The expected strings below were written from the code before the schemas
moved into one registry (``ingest.schemas``), so they also prove the move changed nothing;
the registry's own answers are pinned against the same strings.

(The Arrow schemas of the stream's Delta tables and of ``ingests`` are new with the registry:
Spark creates those tables from the DDL and delta-rs reads their schema from the table.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from imdb_pipeline import delta
from imdb_pipeline.home import REPO_ROOT
from ingest import convert, lake, names, schemas, tables
from ingest.schemas import ALL_FILES, TITLE_RATINGS
from streaming import feeds, source, state


def arrow_text(schema: pa.Schema) -> str:
    """``name: type`` per field, ``not null`` where it is; no schema or field metadata."""
    assert schema.metadata is None and all(f.metadata is None for f in schema)
    return ", ".join(f"{f.name}: {f.type}{'' if f.nullable else ' not null'}" for f in schema)


STRINGS = "list<item: string>"
# IMDb lookups: the Arrow schema of a converted batch, the same with the partition column the
# ingest adds (the writer's schema), the columns of `create table` and the partition column.
LOOKUPS = {
    "title_basics": (
        (
            "tconst: string, title_type: string, primary_title: string, original_title: string, "
            "is_adult: bool, start_year: int32, end_year: int32, runtime_minutes: int32, "
            f"genres: {STRINGS}"
        ),
        "",
        (
            "`tconst` string, `title_type` string, `primary_title` string, "
            "`original_title` string, `is_adult` boolean, `start_year` int, `end_year` int, "
            "`runtime_minutes` int, `genres` array<string>"
        ),
        "start_year",
    ),
    "title_ratings": (
        "tconst: string, average_rating: decimal128(3, 1), num_votes: int32",
        ", votes_floor: int32",
        "`tconst` string, `average_rating` decimal(3,1), `num_votes` int, `votes_floor` int",
        "votes_floor",
    ),
    "title_principals": (
        (
            "tconst: string, ordering: int32, nconst: string, category: string, job: string, "
            "characters: string"
        ),
        ", tconst_bucket: int32",
        (
            "`tconst` string, `ordering` int, `nconst` string, `category` string, `job` string, "
            "`characters` string, `tconst_bucket` int"
        ),
        "tconst_bucket",
    ),
    "name_basics": (
        (
            "nconst: string, primary_name: string, birth_year: int32, death_year: int32, "
            f"primary_professions: {STRINGS}, known_for_titles: {STRINGS}"
        ),
        ", primary_profession: string",
        (
            "`nconst` string, `primary_name` string, `birth_year` int, `death_year` int, "
            "`primary_professions` array<string>, `known_for_titles` array<string>, "
            "`primary_profession` string"
        ),
        "primary_profession",
    ),
    "title_akas": (
        (
            "tconst: string, ordering: int32, title: string, region: string, language: string, "
            f"types: {STRINGS}, attributes: {STRINGS}, is_original_title: bool"
        ),
        ", tconst_bucket: int32",
        (
            "`tconst` string, `ordering` int, `title` string, `region` string, `language` string, "
            "`types` array<string>, `attributes` array<string>, `is_original_title` boolean, "
            "`tconst_bucket` int"
        ),
        "tconst_bucket",
    ),
    "title_crew": (
        f"tconst: string, directors: {STRINGS}, writers: {STRINGS}",
        "",
        "`tconst` string, `directors` array<string>, `writers` array<string>",
        None,
    ),
    "title_episode": (
        "tconst: string, parent_tconst: string, season_number: int32, episode_number: int32",
        "",
        "`tconst` string, `parent_tconst` string, `season_number` int, `episode_number` int",
        None,
    ),
}
TITLE_NAMES_ARROW = (
    "tconst: string, known_for: list<item: struct<nconst: string, primary_name: string>>"
)
REJECTS_ARROW = "file: string, line: int64, raw_line: string, reason: string"
CHECKS_ARROW = (
    f"ingest_id: string, imdb_file: string, lookup_table: string, key_columns: {STRINGS}, "
    "rows_read: int64, rows_written: int64, rows_rejected: int64, null_keys: int64, "
    "duplicate_keys: int64, converted_in: string"
)
LAKE_FEED_ARROW = "tconst: string, average_rating: decimal128(3, 1), num_votes: int32"
STREAM_FEED_ARROW = f"{LAKE_FEED_ARROW}, is_deleted: bool"
STREAM_FEED_DDL = "tconst string, average_rating decimal(3,1), num_votes int, is_deleted boolean"
# the `create table` statements ingest.tables.register sends Spark for an ingest at LAKE
REGISTER_SQL = [
    "create database if not exists imdb_lookup",
    *(
        statement
        for table, (_, _, columns, partition) in LOOKUPS.items()
        for statement in (
            f"drop table if exists imdb_lookup.{table}",
            (
                f"create table imdb_lookup.{table} ({columns}) using parquet "
                f"{f'partitioned by ({partition})' if partition else ''} location 'LAKE/{table}'"
            ),
        )
    ),
    "drop table if exists imdb_lookup.title_names",
    (
        "create table imdb_lookup.title_names (tconst string, known_for "
        "array<struct<nconst:string,primary_name:string>>, tconst_bucket int) using parquet "
        "partitioned by (tconst_bucket) location 'LAKE/title_names'"
    ),
    "drop table if exists imdb_lookup.ingest_rejects",
    (
        "create table imdb_lookup.ingest_rejects (file string, line bigint, raw_line string, "
        "reason string) using parquet  location 'LAKE/_rejects'"
    ),
    "drop table if exists imdb_lookup.ingest_checks",
    (
        "create table imdb_lookup.ingest_checks (ingest_id string, imdb_file string, lookup_table "
        "string, key_columns array<string>, rows_read bigint, rows_written bigint, rows_rejected "
        "bigint, null_keys bigint, duplicate_keys bigint, converted_in string) using parquet  "
        "location 'LAKE/_checks'"
    ),
    (
        "create table if not exists imdb_lookup.ingests (ingest_id string, created_at timestamp, "
        "location string) using delta"
    ),
]
STREAM_DDL = {
    "imdb_stream.ratings": (
        "stream_id string, ingest_id string, batch_id bigint, feed_row bigint, tconst string, "
        "average_rating decimal(3,1), num_votes int, is_deleted boolean, previous_votes int"
    ),
    "imdb_stream.batches": (
        "stream_id string, ingest_id string, batch_id bigint, batches bigint, records bigint, "
        "end_row bigint, feed_rows bigint, ratings_processed bigint, votes_sum bigint, "
        "average_number_of_votes double, records_per_batch int, min_votes int, top_n int, "
        "title_types array<string>, top array<struct<rank:int,tconst:string,num_votes:int,"
        "average_rating:decimal(3,1),ranking_score:double>>, processed_at timestamp, "
        "duration_ms bigint"
    ),
    "imdb_stream.stream_progress": (
        "stream_id string, batch_id bigint, input_rows bigint, processed_rows_per_second double, "
        "duration_ms bigint, add_batch_ms bigint, latest_offset_ms bigint, get_batch_ms bigint, "
        "wal_commit_ms bigint, commit_offsets_ms bigint, average_number_of_votes double, "
        "number_one string, reported_at timestamp"
    ),
}
STREAM_TBLPROPERTIES = (
    "'delta.checkpointInterval' = '100', 'delta.dataSkippingNumIndexedCols' = '3'"
)


class RecordingSpark:
    """Records the SQL it is sent; the metastore knows the tables it was asked to create."""

    def __init__(self):
        self.statements: list[str] = []
        self.created: set[str] = set()

    def sql(self, statement: str) -> None:
        self.statements.append(statement)
        found = re.match(r"create table (?:if not exists )?(\S+)", statement)
        if found:
            self.created.add(found.group(1))


@pytest.fixture
def spark(monkeypatch):
    recording = RecordingSpark()
    monkeypatch.setattr(
        delta,
        "table_location",
        lambda _, table: f"loc:{table}" if table in recording.created else None,
    )
    monkeypatch.setattr(delta, "append", lambda *args, **kwargs: None)
    return recording


def one_line(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).replace("( ", "(").replace(" )", ")")


@pytest.mark.parametrize("table", list(LOOKUPS))
def test_the_lookups_arrow_schemas(table):
    spec = next(f for f in ALL_FILES if f.table == table)
    columns, partition_column, _, _ = LOOKUPS[table]
    assert arrow_text(convert.arrow_schema(spec)) == columns
    assert arrow_text(lake.partitioned_schema(spec)) == columns + partition_column


def test_the_derived_arrow_schemas(tmp_path):
    assert arrow_text(names.TITLE_NAMES_SCHEMA) == TITLE_NAMES_ARROW
    assert arrow_text(convert.REJECTS_SCHEMA) == REJECTS_ARROW
    assert arrow_text(lake.CHECKS_SCHEMA) == CHECKS_ARROW
    assert arrow_text(feeds.FEED_SCHEMA) == STREAM_FEED_ARROW
    ratings = tmp_path / "title.ratings.tsv"
    ratings.write_text("\t".join(TITLE_RATINGS.header) + "\ntt0000001\t7.3\t1000\n")
    lake.convert_file(ratings, TITLE_RATINGS, tmp_path, 0.0, str(ratings))
    assert arrow_text(pq.read_schema(tmp_path / "ratings_feed" / "part-0.parquet")) == (
        LAKE_FEED_ARROW
    )


def test_the_streams_source_schema():
    assert source.RatingsFeedSource.schema(None) == STREAM_FEED_DDL


def test_the_lookup_tables_spark_creates(spark, tmp_path):
    manifest = {"ingest_id": "i1", "created_at": "2024-01-01T00:00:00+00:00"}
    tables.register(spark, tmp_path, manifest)
    assert [s.replace(str(tmp_path), "LAKE") for s in spark.statements] == REGISTER_SQL


def test_the_stream_tables_spark_creates(spark):
    locations = state.ensure_tables(spark)
    assert locations == {table: f"loc:{table}" for table in STREAM_DDL}
    assert [one_line(s) for s in spark.statements] == [
        statement
        for table, ddl in STREAM_DDL.items()
        for statement in (
            "create database if not exists imdb_stream",
            (
                f"create table if not exists {table} ({ddl}) using delta tblproperties "
                f"({STREAM_TBLPROPERTIES})"
            ),
        )
    ]


# --- the registry itself -------------------------------------------------------------------

RANKED = (
    "struct<rank: int32, tconst: string, num_votes: int32, average_rating: decimal128(3, 1), "
    "ranking_score: double>"
)
TYPES = {
    "string": ("string", "string"),
    "int": ("int", "int32"),
    "bool": ("boolean", "bool"),
    "rating": ("decimal(3,1)", "decimal128(3, 1)"),
    "list": ("array<string>", STRINGS),
    "list02": ("array<string>", STRINGS),
    "bigint": ("bigint", "int64"),
    "double": ("double", "double"),
    "timestamp": ("timestamp", "timestamp[us, tz=UTC]"),
    "persons": (
        "array<struct<nconst:string,primary_name:string>>",
        "list<item: struct<nconst: string, primary_name: string>>",
    ),
    "ranking": (
        (
            "array<struct<rank:int,tconst:string,num_votes:int,average_rating:decimal(3,1),"
            "ranking_score:double>>"
        ),
        f"list<item: {RANKED}>",
    ),
}
# the derived tables: (the registry's entry, the Arrow schema of its files, its DDL)
DERIVED = [
    (
        schemas.TITLE_NAMES,
        TITLE_NAMES_ARROW,
        (
            "tconst string, known_for array<struct<nconst:string,primary_name:string>>, "
            "tconst_bucket int"
        ),
    ),
    (
        schemas.INGEST_REJECTS,
        REJECTS_ARROW,
        "file string, line bigint, raw_line string, reason string",
    ),
    (
        schemas.INGEST_CHECKS,
        CHECKS_ARROW,
        (
            "ingest_id string, imdb_file string, lookup_table string, key_columns array<string>, "
            "rows_read bigint, rows_written bigint, rows_rejected bigint, null_keys bigint, "
            "duplicate_keys bigint, converted_in string"
        ),
    ),
    (
        schemas.INGESTS,
        "ingest_id: string, created_at: timestamp[us, tz=UTC], location: string",
        "ingest_id string, created_at timestamp, location string",
    ),
    (
        schemas.RATINGS_FEED,
        LAKE_FEED_ARROW,
        "tconst string, average_rating decimal(3,1), num_votes int",
    ),
    (schemas.STREAM_FEED, STREAM_FEED_ARROW, STREAM_FEED_DDL),
    (
        schemas.STREAM_RATINGS,
        (
            "stream_id: string, ingest_id: string, batch_id: int64, feed_row: int64, "
            "tconst: string, average_rating: decimal128(3, 1), num_votes: int32, is_deleted: bool, "
            "previous_votes: int32"
        ),
        STREAM_DDL["imdb_stream.ratings"],
    ),
    (
        schemas.STREAM_BATCHES,
        (
            "stream_id: string, ingest_id: string, batch_id: int64, batches: int64, "
            "records: int64, end_row: int64, feed_rows: int64, ratings_processed: int64, "
            "votes_sum: int64, average_number_of_votes: double, records_per_batch: int32, "
            f"min_votes: int32, top_n: int32, title_types: {STRINGS}, top: list<item: {RANKED}>, "
            "processed_at: timestamp[us, tz=UTC], duration_ms: int64"
        ),
        STREAM_DDL["imdb_stream.batches"],
    ),
    (
        schemas.STREAM_PROGRESS,
        (
            "stream_id: string, batch_id: int64, input_rows: int64, "
            "processed_rows_per_second: double, duration_ms: int64, add_batch_ms: int64, "
            "latest_offset_ms: int64, get_batch_ms: int64, wal_commit_ms: int64, "
            "commit_offsets_ms: int64, average_number_of_votes: double, number_one: string, "
            "reported_at: timestamp[us, tz=UTC]"
        ),
        STREAM_DDL["imdb_stream.stream_progress"],
    ),
]


@pytest.mark.parametrize("kind", list(TYPES))
def test_one_type_map_gives_the_sql_and_the_arrow_type(kind):
    assert (schemas.TYPES[kind].sql, str(schemas.TYPES[kind].arrow)) == TYPES[kind]
    assert set(schemas.TYPES) == set(TYPES)


@pytest.mark.parametrize("table", list(LOOKUPS))
def test_the_registrys_lookups(table):
    spec = next(f for f in ALL_FILES if f.table == table)
    columns, partition_column, ddl, partition = LOOKUPS[table]
    assert spec.lookup is schemas.LOOKUPS[table]
    assert arrow_text(spec.lookup.arrow_schema()) == columns
    assert arrow_text(spec.lookup.partitioned_schema()) == columns + partition_column
    assert spec.lookup.ddl(quoted=True) == ddl
    assert spec.lookup.partition == partition


@pytest.mark.parametrize(("table", "arrow", "ddl"), DERIVED, ids=lambda t: getattr(t, "name", ""))
def test_the_registrys_derived_tables(table, arrow, ddl):
    assert arrow_text(table.arrow_schema()) == arrow
    assert table.ddl() == ddl


def test_the_stream_tables_names():
    assert [state.RATINGS_TABLE, state.BATCHES_TABLE, state.PROGRESS_TABLE] == list(STREAM_DDL)


def test_a_column_type_not_in_the_map_is_refused():
    with pytest.raises(ValueError, match="t: no such column type varchar"):
        schemas.Table("t", (("a", "string"), ("b", "varchar")))


def test_the_registry_loads_no_pyarrow_until_a_type_is_asked_for():
    """The report (``--target thrift``) and the CLI take table names from it without Arrow."""
    code = (
        "import sys, ingest.schemas as s; s.STREAM_BATCHES.ddl(); print('pyarrow' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}  # this checkout, not the installed one
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "False"
