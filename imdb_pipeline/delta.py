"""Delta tables from the driver, without a Spark job: delta-rs reads and appends, and table
locations from the metastore.

The stream's tables and ``imdb_lookup.ingests`` are created by Spark (so the metastore knows
them and dbt, SQL clients and ``optimize``/``vacuum`` use them as usual) and then written and
read by the driver with delta-rs. A Spark statement on a Delta table whose log delta-rs
appended to first rebuilds the table's state (protocol, metadata, files) in a Spark job, 2-3 s
each here even on small tables; the metastore lookup and delta-rs cost milliseconds.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from imdb_pipeline import storage

_SCHEMAS: dict[str, pa.Schema] = {}  # per table path: its Arrow schema, read once


def delta_table(location: str):
    """delta-rs' handle on the Delta table at ``location`` (a path, ``file:`` URI, or
    ``s3://``/``s3a://`` URI; S3 settings from :func:`imdb_pipeline.storage.delta_options`)."""
    from deltalake import DeltaTable

    path = storage.s3_uri(location.removeprefix("file:"))
    return DeltaTable(path, storage_options=storage.delta_options(path))


def read(location: str, columns: list[str], where: pc.Expression | None = None) -> pa.Table:
    """``columns`` of the rows of the Delta table at ``location`` matching ``where``, as Arrow
    (files whose statistics rule ``where`` out are skipped)."""
    return delta_table(location).to_pyarrow_table(columns=columns, filters=where)


def append(location: str, rows: pa.Table | list[dict]) -> None:
    """Append rows to the Delta table at ``location`` with delta-rs: one commit, no Spark job.

    ``rows``: an Arrow table or a list of dicts, with the table's columns (any order), cast
    to the table's schema. For rows built in the driver: as a Spark DataFrame (a local relation
    written by one task) the stream's 900k log rows took 22-67 s here, with delta-rs 0.4 s.
    delta-rs writes the protocol Spark created the table with (reader 1, writer 2).
    """
    from deltalake import write_deltalake

    target = delta_table(location)
    path = storage.s3_uri(location.removeprefix("file:"))
    schema = _SCHEMAS.get(path)
    if schema is None:
        schema = _SCHEMAS[path] = pa.schema(target.schema().to_arrow())
    table = (
        pa.Table.from_pylist(rows, schema=schema)
        if isinstance(rows, list)
        else rows.select(schema.names).cast(schema)
    )
    write_deltalake(target, table, mode="append")


def table_location(spark, table: str) -> str | None:
    """Where the metastore says ``schema.name`` lives (``file:/...`` or ``s3a://...``), or
    None when there is no such table. Asks Spark's metastore client (``ExternalCatalog``)
    only: nothing reads the table. On a session without a JVM handle (Spark Connect) it
    falls back to ``describe detail`` (a Spark job)."""
    schema, name = table.split(".")
    session = getattr(spark, "_jsparkSession", None)
    if session is None:
        if not spark.catalog.tableExists(table):
            return None
        return spark.sql(f"describe detail {table}").first().location
    catalog = session.sharedState().externalCatalog()
    if not catalog.tableExists(schema, name):
        return None
    return str(catalog.getTable(schema, name).location().toString())
