"""Register a landed ingest as lookup tables in the metastore (schema ``imdb_lookup``).

Spark-side half of the ingest: points the tables at the published folder. (The name lookup
``title_names`` is built by ``ingest.names`` with pyarrow while name.basics is converted.)
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from ingest.convert import ARROW_TYPES
from ingest.lake import PARTITION_COLUMNS
from ingest.schemas import ALL_FILES, ImdbFile

LOOKUP_SCHEMA = "imdb_lookup"
SQL_TYPES = {
    "string": "string",
    "int": "int",
    "bool": "boolean",
    "rating": "decimal(3,1)",
    "list": "array<string>",
    "list02": "array<string>",
}
PARTITION_SQL_TYPES = {"votes_floor": "int", "primary_profession": "string", "tconst_bucket": "int"}
assert set(SQL_TYPES) == set(ARROW_TYPES)
# imdb_lookup.ingest_checks: one row per lookup table of the ingest (ingest.lake.CHECKS_SCHEMA)
CHECKS_DDL = (
    "ingest_id string, imdb_file string, lookup_table string, key_columns array<string>, "
    "rows_read bigint, rows_written bigint, rows_rejected bigint, null_keys bigint, "
    "duplicate_keys bigint"
)


def _columns_ddl(spec: ImdbFile) -> tuple[str, str | None]:
    columns = [f"`{c.name}` {SQL_TYPES[c.kind]}" for c in spec.columns]
    partition, arrow_type = PARTITION_COLUMNS.get(spec.table, (None, None))
    if partition and arrow_type is not None:
        columns.append(f"`{partition}` {PARTITION_SQL_TYPES[partition]}")
    return ", ".join(columns), partition


def prepare(spark) -> None:
    """Warm the metastore client and Delta up while the files convert (first use costs
    10-20 s of JVM class loading and Derby start that would otherwise follow the conversion).
    Best effort: ``register`` reports any real failure."""
    with contextlib.suppress(Exception):  # a warm-up must never fail the ingest
        spark.sql(f"create database if not exists {LOOKUP_SCHEMA}")
        if spark.catalog.tableExists(f"{LOOKUP_SCHEMA}.ingests"):
            spark.table(f"{LOOKUP_SCHEMA}.ingests").limit(1).collect()
        else:
            spark.sql("show tables").collect()


def register(spark, folder: Path) -> None:
    """Point every lookup table at ``folder`` (a published ingest): the seven IMDb tables,
    ``title_names``, ``ingest_rejects``, ``ingest_checks``; append the ingest to ``ingests``."""
    spark.sql(f"create database if not exists {LOOKUP_SCHEMA}")
    for spec in ALL_FILES:
        columns, partition = _columns_ddl(spec)
        _create(spark, spec.table, columns, partition, folder / spec.table)
    _create(
        spark,
        "title_names",
        "tconst string, known_for array<struct<nconst:string,primary_name:string>>, "
        "tconst_bucket int",
        "tconst_bucket",
        folder / "title_names",
    )
    _create(
        spark,
        "ingest_rejects",
        "file string, line bigint, raw_line string, reason string",
        None,
        folder / "_rejects",
    )
    (folder / "_checks").mkdir(exist_ok=True)  # an ingest written before the checks: empty
    _create(spark, "ingest_checks", CHECKS_DDL, None, folder / "_checks")
    manifest = json.loads((folder / "_manifest.json").read_text())
    spark.createDataFrame(
        [(manifest["ingest_id"], manifest["created_at"], str(folder))],
        "ingest_id string, created_at string, location string",
    ).selectExpr(
        "ingest_id", "cast(created_at as timestamp) as created_at", "location"
    ).write.format("delta").mode("append").saveAsTable(f"{LOOKUP_SCHEMA}.ingests")


def _create(spark, table: str, columns: str, partition: str | None, location: Path) -> None:
    name = f"{LOOKUP_SCHEMA}.{table}"
    spark.sql(f"drop table if exists {name}")
    partitioned = f"partitioned by ({partition})" if partition else ""
    # Partitions are discovered from the folders (spark.sql.hive.manageFilesourcePartitions
    # is false in conf/spark-defaults.conf): no `msck repair table`.
    spark.sql(f"create table {name} ({columns}) using parquet {partitioned} location '{location}'")
