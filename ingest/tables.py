"""Register a landed ingest as lookup tables in the metastore (schema ``imdb_lookup``).

Spark-side half of the ingest: points the tables at the published folder. (The name lookup
``title_names`` is built by ``ingest.names`` with pyarrow while name.basics is converted.)
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from ingest.schemas import (
    ALL_FILES,
    INGEST_CHECKS,
    INGEST_REJECTS,
    INGESTS,
    LOOKUP_SCHEMA,
    TITLE_NAMES,
)


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


def register(spark, folder: Path | str, manifest: dict | None = None) -> None:
    """Point every lookup table at ``folder`` (a published ingest: a local folder, or an
    ``s3://`` prefix that Spark reads as ``s3a://``): the seven IMDb tables, ``title_names``,
    ``ingest_rejects``, ``ingest_checks``; append the ingest to ``ingests``. ``manifest``:
    the ingest's ``_manifest.json`` (read from ``folder`` when not given)."""
    from imdb_pipeline.storage import join, spark_location

    spark.sql(f"create database if not exists {LOOKUP_SCHEMA}")
    base = spark_location(folder)
    for spec in ALL_FILES:
        lookup = spec.lookup
        _create(
            spark, lookup.name, lookup.ddl(quoted=True), lookup.partition, join(base, spec.table)
        )
    _create(
        spark, TITLE_NAMES.name, TITLE_NAMES.ddl(), TITLE_NAMES.partition, join(base, "title_names")
    )
    _create(spark, INGEST_REJECTS.name, INGEST_REJECTS.ddl(), None, join(base, "_rejects"))
    if isinstance(folder, Path):  # an ingest written before the checks: an empty table
        (folder / "_checks").mkdir(exist_ok=True)
    _create(spark, INGEST_CHECKS.name, INGEST_CHECKS.ddl(), None, join(base, "_checks"))
    if manifest is None:
        manifest = json.loads((Path(folder) / "_manifest.json").read_text())
    _log_ingest(spark, manifest, str(folder))


def _log_ingest(spark, manifest: dict, folder: str) -> None:
    """Append the ingest to ``imdb_lookup.ingests`` (Delta; dbt's source freshness reads
    it): created by Spark the first time, appended by delta-rs (a Spark append of one row
    costs a Delta state rebuild and a write job, 3-5 s here)."""
    from datetime import datetime

    from imdb_pipeline import delta

    table = f"{LOOKUP_SCHEMA}.{INGESTS.name}"
    location = delta.table_location(spark, table)
    if location is None:
        spark.sql(f"create table if not exists {table} ({INGESTS.ddl()}) using delta")
        location = delta.table_location(spark, table)
        assert location is not None, table  # created just above
    created_at = datetime.fromisoformat(manifest["created_at"])
    delta.append(
        location,
        [{"ingest_id": manifest["ingest_id"], "created_at": created_at, "location": folder}],
    )


def _create(spark, table: str, columns: str, partition: str | None, location: str) -> None:
    name = f"{LOOKUP_SCHEMA}.{table}"
    spark.sql(f"drop table if exists {name}")
    partitioned = f"partitioned by ({partition})" if partition else ""
    # Partitions are discovered from the folders (spark.sql.hive.manageFilesourcePartitions
    # is false in conf/spark-defaults.conf): no `msck repair table`.
    quoted = location.replace("\\", "\\\\").replace("'", "\\'")  # a home may hold a quote
    spark.sql(f"create table {name} ({columns}) using parquet {partitioned} location '{quoted}'")
