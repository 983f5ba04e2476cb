"""imdb_pipeline.delta on small Delta tables written with delta-rs in tmp_path: an append is one
commit whose rows are cast to the table's schema (dicts or Arrow, any column order), reads
select columns and filter, and table locations come from the metastore client (or from
``describe detail`` on a session without a JVM handle), faked here."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake

from imdb_pipeline.delta import append, delta_table, read, table_location

# imdb_lookup.ingests as Spark creates it: `timestamp` is UTC-adjusted
INGESTS = pa.schema(
    [
        ("ingest_id", pa.string()),
        ("created_at", pa.timestamp("us", "UTC")),
        ("location", pa.string()),
    ]
)


def ingests(tmp_path) -> str:
    path = str(tmp_path / "ingests")
    write_deltalake(path, INGESTS.empty_table())
    return path


def test_dicts_in_any_key_order_are_appended_in_one_commit(tmp_path):
    path = ingests(tmp_path)
    append(
        path,
        [
            {
                "location": "/lake/i1",
                "created_at": datetime(2026, 1, 2, 3, 4, 5),
                "ingest_id": "i1",
            },
            {"ingest_id": "i2", "created_at": None, "location": "/lake/i2"},
        ],
    )
    assert DeltaTable(path).version() == 1
    assert pa.schema(DeltaTable(path).schema().to_arrow()) == INGESTS  # the table's, unchanged
    assert read(path, ["ingest_id", "created_at", "location"]).to_pylist() == [
        {
            "ingest_id": "i1",
            "created_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            "location": "/lake/i1",
        },
        {"ingest_id": "i2", "created_at": None, "location": "/lake/i2"},
    ]


def test_an_arrow_table_is_reordered_cast_and_stripped_of_other_columns(tmp_path):
    path = str(tmp_path / "t")
    write_deltalake(path, pa.table({"k": pa.array([1], pa.int32()), "v": ["a"]}))
    protocol = DeltaTable(path).protocol()
    append(f"file:{path}", pa.table({"extra": [0.5], "v": ["b"], "k": pa.array([2], pa.int64())}))
    table = delta_table(f"file:{path}")
    assert table.version() == 1 and table.protocol() == protocol
    assert pa.schema(table.schema().to_arrow()) == pa.schema(
        [pa.field("k", pa.int32()), pa.field("v", pa.string())]
    )
    assert sorted(read(path, ["k", "v"]).to_pylist(), key=lambda r: r["k"]) == [
        {"k": 1, "v": "a"},
        {"k": 2, "v": "b"},
    ]


def test_read_selects_columns_in_the_order_asked_and_filters_rows(tmp_path):
    path = str(tmp_path / "t")
    write_deltalake(path, pa.table({"k": [1, 2, 3], "v": ["a", "b", "c"]}))
    assert read(path, ["v", "k"], pc.field("k") >= 2).to_pylist() == [
        {"v": "b", "k": 2},
        {"v": "c", "k": 3},
    ]
    assert read(path, ["k"], pc.field("v") == "z").num_rows == 0


class Catalog:
    """Spark's ExternalCatalog as py4j shows it: one table, imdb_lookup.ingests."""

    def __init__(self):
        self.asked = []

    def tableExists(self, schema, name):  # the JVM's method names, via py4j
        self.asked.append((schema, name))
        return (schema, name) == ("imdb_lookup", "ingests")

    def getTable(self, schema, name):
        uri = SimpleNamespace(toString=lambda: "file:/home/warehouse/imdb_lookup.db/ingests")
        return SimpleNamespace(location=lambda: uri)


def test_table_location_asks_the_metastore_client_only():
    catalog = Catalog()
    session = SimpleNamespace(sharedState=lambda: SimpleNamespace(externalCatalog=lambda: catalog))
    spark = SimpleNamespace(_jsparkSession=session)  # no sql(): nothing may read the table
    assert table_location(spark, "imdb_lookup.ingests") == (
        "file:/home/warehouse/imdb_lookup.db/ingests"
    )
    assert table_location(spark, "imdb.top_movies") is None
    assert catalog.asked == [("imdb_lookup", "ingests"), ("imdb", "top_movies")]


def test_without_a_jvm_handle_table_location_describes_the_table():
    statements = []

    def sql(statement):
        statements.append(statement)
        return SimpleNamespace(first=lambda: SimpleNamespace(location="s3a://b/w/imdb.db/t"))

    spark = SimpleNamespace(sql=sql, catalog=SimpleNamespace(tableExists=lambda t: t == "imdb.t"))
    assert table_location(spark, "imdb.t") == "s3a://b/w/imdb.db/t"
    assert table_location(spark, "imdb.missing") is None
    assert statements == ["describe detail imdb.t"]
