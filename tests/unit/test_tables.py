"""ingest.tables without Spark: the DDL ``register`` sends for a landed ingest (columns and SQL
types from the registry, partition columns, locations local or ``s3a://``), the ingest's row
appended to ``imdb_lookup.ingests`` (a real Delta table here), and a ``prepare`` that never
fails. The session is a fake that records its SQL, whitespace-normalised."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from ingest.schemas import ALL_FILES
from ingest.tables import prepare, register

MANIFEST = {"ingest_id": "i1", "created_at": "2026-01-02T03:04:05+00:00"}
INGESTS = pa.schema(
    [
        ("ingest_id", pa.string()),
        ("created_at", pa.timestamp("us", "UTC")),
        ("location", pa.string()),
    ]
)  # `create table ... using delta` by Spark


class FakeSpark:
    """Records every statement; ``imdb_lookup.ingests`` becomes a Delta table at ``ingests``
    when its ``create table`` is sent (as Spark would), and ``describe detail`` points there
    (there is no ``_jsparkSession``: delta.table_location takes its Spark Connect path)."""

    def __init__(self, ingests, fail=False):
        self.ingests, self.fail, self.statements, self.read = ingests, fail, [], []
        self.catalog = SimpleNamespace(tableExists=self._exists)

    def _exists(self, table):
        return table == "imdb_lookup.ingests" and (self.ingests / "_delta_log").exists()

    def sql(self, statement):
        if self.fail:
            raise RuntimeError("no metastore")
        self.statements.append(" ".join(statement.split()))
        if statement.startswith("create table if not exists imdb_lookup.ingests"):
            write_deltalake(str(self.ingests), INGESTS.empty_table())
        return SimpleNamespace(
            collect=list, first=lambda: SimpleNamespace(location=f"file:{self.ingests}")
        )

    def table(self, name):
        self.read.append(name)
        return SimpleNamespace(limit=lambda n: SimpleNamespace(collect=list))


def creates(spark) -> dict[str, str]:
    """``{table: what follows its name in 'create table imdb_lookup.<table>'}``."""
    found = {}
    for statement in spark.statements:
        if statement.startswith("create table imdb_lookup."):
            name, _, rest = statement.removeprefix("create table imdb_lookup.").partition(" ")
            found[name] = rest
    return found


def test_register_points_every_lookup_table_at_the_ingest_folder(tmp_path):
    folder = tmp_path / "lake" / "i1"
    folder.mkdir(parents=True)
    spark = FakeSpark(tmp_path / "ingests")
    register(spark, folder, MANIFEST)
    assert spark.statements[0] == "create database if not exists imdb_lookup"
    made = creates(spark)
    assert sorted(made) == sorted(
        [f.table for f in ALL_FILES] + ["title_names", "ingest_rejects", "ingest_checks"]
    )
    for table in made:  # each dropped right before it is created
        at = spark.statements.index(f"create table imdb_lookup.{table} {made[table]}")
        assert spark.statements[at - 1] == f"drop table if exists imdb_lookup.{table}"
    assert made["title_ratings"] == (
        "(`tconst` string, `average_rating` decimal(3,1), `num_votes` int, `votes_floor` int) "
        f"using parquet partitioned by (votes_floor) location '{folder}/title_ratings'"
    )
    assert made["title_basics"] == (  # start_year is a column already: not added again
        "(`tconst` string, `title_type` string, `primary_title` string, `original_title` string, "
        "`is_adult` boolean, `start_year` int, `end_year` int, `runtime_minutes` int, "
        "`genres` array<string>) "
        f"using parquet partitioned by (start_year) location '{folder}/title_basics'"
    )
    assert made["name_basics"].endswith(
        "`known_for_titles` array<string>, `primary_profession` string) using parquet "
        f"partitioned by (primary_profession) location '{folder}/name_basics'"
    )
    assert made["title_akas"] == (  # list02 is an array too
        "(`tconst` string, `ordering` int, `title` string, `region` string, `language` string, "
        "`types` array<string>, `attributes` array<string>, `is_original_title` boolean, "
        "`tconst_bucket` int) using parquet partitioned by (tconst_bucket) "
        f"location '{folder}/title_akas'"
    )
    assert made["title_crew"] == (
        "(`tconst` string, `directors` array<string>, "
        f"`writers` array<string>) using parquet location "
        f"'{folder}/title_crew'"
    )
    assert made["ingest_rejects"] == (
        "(file string, line bigint, raw_line string, reason string) using parquet "
        f"location '{folder}/_rejects'"
    )
    assert made["ingest_checks"].endswith(f"using parquet location '{folder}/_checks'")
    assert (folder / "_checks").is_dir()  # an ingest from before the checks: an empty table


def test_each_registered_ingest_is_appended_to_imdb_lookup_ingests(tmp_path):
    spark = FakeSpark(tmp_path / "ingests")
    for ingest_id in ("i1", "i2"):
        folder = tmp_path / "lake" / ingest_id
        folder.mkdir(parents=True)
        manifest = {"ingest_id": ingest_id, "created_at": f"2026-01-0{ingest_id[1]}T10:00:00"}
        (folder / "_manifest.json").write_text(json.dumps(manifest))
        register(spark, folder)  # the manifest read from the folder
    assert (
        sum(
            s.startswith("create table if not exists imdb_lookup.ingests") for s in spark.statements
        )
        == 1
    )
    assert DeltaTable(str(tmp_path / "ingests")).to_pyarrow_table().sort_by(
        "ingest_id"
    ).to_pylist() == [
        {
            "ingest_id": "i1",
            "created_at": datetime(2026, 1, 1, 10, tzinfo=UTC),
            "location": str(tmp_path / "lake" / "i1"),
        },
        {
            "ingest_id": "i2",
            "created_at": datetime(2026, 1, 2, 10, tzinfo=UTC),
            "location": str(tmp_path / "lake" / "i2"),
        },
    ]


def test_an_s3_ingest_is_registered_at_s3a_locations(tmp_path):
    spark = FakeSpark(tmp_path / "ingests")
    register(spark, "s3://bucket/p/lake/i1", MANIFEST)
    locations = {t: rest.rpartition(" location ")[2] for t, rest in creates(spark).items()}
    assert locations["title_ratings"] == "'s3a://bucket/p/lake/i1/title_ratings'"
    assert locations["title_names"] == "'s3a://bucket/p/lake/i1/title_names'"
    assert locations["ingest_checks"] == "'s3a://bucket/p/lake/i1/_checks'"
    logged = DeltaTable(str(tmp_path / "ingests")).to_pyarrow_table().to_pylist()
    assert logged == [
        {
            "ingest_id": "i1",
            "created_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            "location": "s3://bucket/p/lake/i1",
        }
    ]


def test_prepare_touches_the_ingests_table_when_there_is_one(tmp_path):
    spark = FakeSpark(tmp_path / "ingests")
    prepare(spark)
    assert spark.statements == ["create database if not exists imdb_lookup", "show tables"]
    assert spark.read == []
    write_deltalake(str(tmp_path / "ingests"), INGESTS.empty_table())
    spark.statements.clear()
    prepare(spark)
    assert spark.statements == ["create database if not exists imdb_lookup"]
    assert spark.read == ["imdb_lookup.ingests"]


def test_prepare_is_best_effort_and_register_is_not(tmp_path):
    spark = FakeSpark(tmp_path / "ingests", fail=True)
    prepare(spark)  # a warm-up never fails the ingest
    with pytest.raises(RuntimeError, match="no metastore"):
        register(spark, tmp_path, MANIFEST)


def test_a_quote_in_the_homes_path_stays_inside_the_location_literal(tmp_path):
    folder = tmp_path / "o'brien" / "lake" / "i1"
    folder.mkdir(parents=True)
    spark = FakeSpark(tmp_path / "ingests")
    register(spark, folder, MANIFEST)
    escaped = str(folder).replace("'", "\\'")
    assert creates(spark)["title_crew"].endswith(f"location '{escaped}/title_crew'")
