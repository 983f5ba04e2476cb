"""imdb_pipeline.storage and the S3 paths of the lake, the feeds, the checkpoint reader and
`results`, against moto's S3 server on 127.0.0.1 (no Spark): one setting, connection settings
from the AWS configuration, never a credential in a setting, one error line per failure, and
a lake published on S3 without a rename."""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from imdb_pipeline import storage
from imdb_pipeline.cli import main
from imdb_pipeline.home import Home
from imdb_pipeline.spark import spark_settings
from imdb_pipeline.storage import Storage, StorageError, parse_storage

SECRET = "not-a-real-secret-0123456789"


@pytest.fixture(scope="module")
def moto_server():
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    yield server.get_host_and_port()
    server.stop()


def no_aws_files(monkeypatch, tmp_path):
    """No profile files, no instance metadata: only what a test sets counts."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name in (storage.STORAGE_ENV, storage.PATH_STYLE_ENV):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    storage.s3_filesystem.cache_clear()


@pytest.fixture
def s3(moto_server, monkeypatch, tmp_path):
    """The environment of a user of an S3-compatible store on loopback; yields (bucket, boto3)."""
    import boto3

    no_aws_files(monkeypatch, tmp_path)
    endpoint = f"http://{moto_server[0]}:{moto_server[1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    bucket = f"lake-{uuid.uuid4().hex[:10]}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    yield bucket, client
    storage.s3_filesystem.cache_clear()


def test_the_setting_is_an_s3_prefix():
    assert parse_storage("s3://my-bucket/some/prefix/") == "s3://my-bucket/some/prefix"
    assert parse_storage("s3a://my-bucket") == "s3://my-bucket"
    with pytest.raises(StorageError, match=r"give s3://BUCKET/PREFIX"):
        parse_storage("/tmp/lake")
    with pytest.raises(StorageError, match=r"not a valid S3 bucket name"):
        parse_storage("s3://My_Bucket/x")


def test_a_bad_storage_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "--storage", "gs://b/x", "results"])
    assert result.exit_code == 2 and "give s3://BUCKET/PREFIX" in result.output


def test_locations_without_storage_stay_in_the_home(tmp_path, monkeypatch):
    monkeypatch.delenv(storage.STORAGE_ENV, raising=False)
    home = Home.resolve(tmp_path)
    local = Storage.resolve(home)
    assert not local.remote and local.lake == str(home.lake)
    assert local.warehouse == str(home.warehouse) and local.checkpoints == str(home.checkpoints)
    monkeypatch.setenv(storage.STORAGE_ENV, "s3://bkt-a/p")
    remote = Storage.resolve(home)
    assert remote.lake == "s3://bkt-a/p/lake" and remote.checkpoints == "s3://bkt-a/p/checkpoints"
    assert (
        Storage.resolve(home, "s3://bkt-b").warehouse == "s3://bkt-b/warehouse"
    )  # the option wins


def test_connection_settings_come_from_the_aws_configuration(tmp_path, monkeypatch):
    no_aws_files(monkeypatch, tmp_path)
    with pytest.raises(StorageError, match="no AWS region configured"):
        storage.s3_settings()  # AWS itself needs a region
    (tmp_path / "no-config").write_text("[default]\nregion = eu-west-3\n")
    assert storage.s3_settings() == storage.S3Settings(None, "eu-west-3", False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/")
    settings = storage.s3_settings()
    assert settings.endpoint == "http://127.0.0.1:9000" and settings.path_style
    assert settings.allow_http and settings.region == "eu-west-3"
    monkeypatch.setenv(storage.PATH_STYLE_ENV, "false")
    assert not storage.s3_settings().path_style
    monkeypatch.setenv(storage.PATH_STYLE_ENV, "maybe")
    with pytest.raises(StorageError, match="use true or false"):
        storage.s3_settings()


def test_spark_gets_s3a_settings_and_jars_but_never_a_credential(s3, tmp_path, monkeypatch):
    bucket, _ = s3
    jars = tmp_path / "jars"
    jars.mkdir()
    for name in (
        "delta-spark_4.2_2.13-4.4.0.jar",
        "hadoop-aws-3.5.0.jar",
        "bundle-2.35.4.jar",
        "analyticsaccelerator-s3-1.3.1.jar",
    ):
        (jars / name).write_bytes(b"")
    monkeypatch.setenv("IMDB_PIPELINE_JARS", str(jars))
    home = Home.resolve(tmp_path / "home")
    local = spark_settings(home)
    assert "hadoop-aws" not in local["spark.jars"] and "bundle-" not in local["spark.jars"]
    assert not any(key.startswith("spark.hadoop.fs.s3a.") for key in local)
    settings = spark_settings(home, storage=Storage.resolve(home, f"s3://{bucket}/p"))
    assert settings["spark.sql.warehouse.dir"] == f"s3a://{bucket}/p/warehouse"
    assert settings["spark.hadoop.fs.s3a.endpoint"] == os.environ["AWS_ENDPOINT_URL"]
    assert settings["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert settings["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert settings["spark.hadoop.fs.s3a.endpoint.region"] == "us-east-1"
    assert settings["spark.hadoop.fs.s3a.aws.credentials.provider"].endswith(
        "DefaultCredentialsProvider"
    )
    assert "hadoop-aws-3.5.0.jar" in settings["spark.jars"] and "bundle-" in settings["spark.jars"]
    text = json.dumps(settings)
    assert SECRET not in text and "testing" not in text  # credentials stay in the AWS chain


def one_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: "), (
        result.output
    )
    return lines[0]


def test_each_storage_failure_is_one_line_with_the_next_step(s3, tmp_path, monkeypatch):
    bucket, _ = s3
    home = str(tmp_path / "home")

    def results(uri):
        return CliRunner().invoke(main, ["--home", home, "--storage", uri, "results"])

    line = one_error(results(f"s3://missing-{uuid.uuid4().hex[:8]}/x"))
    assert "does not exist" in line and "create it" in line
    assert one_error(results(f"s3://{bucket}/x")).startswith("error: no results yet")

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    line = one_error(results(f"s3://{bucket}/x"))
    assert "no AWS credentials" in line and "AWS_ACCESS_KEY_ID" in line

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed}")
    storage.s3_filesystem.cache_clear()
    line = one_error(results(f"s3://{bucket}/x"))
    assert f"cannot reach the S3 endpoint http://127.0.0.1:{closed}" in line
    assert "AWS_ENDPOINT_URL" in line


def test_a_home_keeps_the_storage_it_was_first_used_with(tmp_path):
    from imdb_pipeline.targets import TargetMismatch, check_target, claim_target

    home = Home.resolve(tmp_path / "home")
    claim_target(home, "local", "run", "s3://bkt-a/p")
    check_target(home, "local", "s3://bkt-a/p")
    with pytest.raises(
        TargetMismatch,
        match=r"keeps its lake, tables and checkpoints in "
        r"--storage s3://bkt-a/p, not no --storage",
    ):
        check_target(home, "local", None)
    other = Home.resolve(tmp_path / "other")
    claim_target(other, "local", "run", None)
    with pytest.raises(TargetMismatch, match=r"in the home \(no --storage\)"):
        check_target(other, "local", "s3://bkt-a/p")


def small_ingest(folder, ingest_id: str):
    (folder / "title_ratings" / "votes_floor=500").mkdir(parents=True)
    pq.write_table(
        pa.table({"tconst": ["tt1"]}),
        folder / "title_ratings" / "votes_floor=500" / "part-0.parquet",
    )
    (folder / "title_crew").mkdir()  # an empty table: still a folder Spark can point at
    (folder / "_manifest.json").write_text(json.dumps({"ingest_id": ingest_id}))
    (folder / ".owner").write_text("1\n")


def test_a_lake_is_published_on_s3_without_a_rename(s3, tmp_path):
    from ingest.lake import current_ingest, publish_remote, read_manifest

    bucket, client = s3
    lake = f"s3://{bucket}/p/lake"
    seen = []

    def before_current(location):  # the tables are re-pointed while CURRENT still names the old
        seen.append((location, current_ingest(lake), storage.exists(f"{location}/_manifest.json")))

    ids = ["20260101T000000Z-aaaaaa", "20260102T000000Z-bbbbbb", "20260103T000000Z-cccccc"]
    client.put_object(
        Bucket=bucket,
        Key="p/lake/20251231T000000Z-dead00/title_basics/x.parquet",
        Body=b"an upload that never finished: no _manifest.json",
    )
    for ingest_id in ids:
        partial = tmp_path / f".{ingest_id}.partial"
        small_ingest(partial, ingest_id)
        final = publish_remote(lake, ingest_id, partial, before_current=before_current)
        assert final == f"{lake}/{ingest_id}" and not partial.exists()
        assert current_ingest(lake) == ingest_id
        assert read_manifest(lake, ingest_id) == {"ingest_id": ingest_id}
    assert seen[1] == (f"{lake}/{ids[1]}", ids[0], True)
    # the two newest complete ingests stay; the unfinished upload and the oldest are gone
    assert storage.list_names(lake) == [ids[1], ids[2], "CURRENT"]
    assert storage.list_names(f"{lake}/{ids[2]}") == [
        "_manifest.json",
        "title_crew",
        "title_ratings",
    ]
    assert not any(
        key["Key"].endswith(".owner")
        for key in client.list_objects_v2(Bucket=bucket, Prefix="p/")["Contents"]
    )


def test_feeds_checkpoint_offsets_and_marts_read_from_s3(s3, tmp_path):
    from deltalake import write_deltalake

    from imdb_pipeline.results import DeltaReader, mart_path
    from streaming import feeds
    from streaming.source import FeedReader, last_committed, planned_end

    bucket, client = s3
    root = f"s3://{bucket}/p/checkpoints/stream-x"
    ratings = f"s3://{bucket}/p/lake/i1/ratings_feed/part-0.parquet"
    table = pa.table(
        {
            "tconst": [f"tt{i}" for i in range(25)],
            "average_rating": pa.array([Decimal("7.5")] * 25, pa.decimal128(3, 1)),
            "num_votes": pa.array(range(25), pa.int32()),
        }
    )
    filesystem, path = storage.filesystem_for(ratings)
    pq.write_table(table, path, filesystem=filesystem)
    feed = feeds.register(f"{root}/feeds.json", "i1", ratings, None)
    assert feed.path == f"{root}/feeds/0000-i1.parquet" and feed.rows == 25
    assert feeds.load(f"{root}/feeds.json") == [feed]
    rows = FeedReader().read([feed], 10, 14)
    assert rows["tconst"].to_pylist() == ["tt10", "tt11", "tt12", "tt13"]

    assert last_committed(f"{root}/checkpoint") is None
    for batch_id, end in ((0, 10), (1, 20)):
        client.put_object(
            Bucket=bucket,
            Key=f"p/checkpoints/stream-x/checkpoint/offsets/{batch_id}",
            Body=f'v1\n{{"batchWatermarkMs":0}}\n{{"row":{end}}}\n'.encode(),
        )
    client.put_object(Bucket=bucket, Key="p/checkpoints/stream-x/checkpoint/commits/0", Body=b"v1")
    assert planned_end(f"{root}/checkpoint", 1) == 20
    assert last_committed(f"{root}/checkpoint") == (0, 10)

    warehouse = f"s3a://{bucket}/p/warehouse"  # as Spark names it
    path = mart_path(warehouse, "run_summary")
    assert path == f"s3://{bucket}/p/warehouse/imdb.db/run_summary"
    write_deltalake(
        path,
        pa.table({"stream_id": ["s1"], "ratings_processed": [25]}),
        storage_options=storage.delta_options(path),
    )
    reader = DeltaReader.of_warehouse(warehouse)
    assert reader.exists("run_summary") and not reader.exists("top_movies")
    assert reader.tables["run_summary"].column("ratings_processed").to_pylist() == [25]


def test_a_standalone_master_that_does_not_answer_is_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv(storage.STORAGE_ENV, raising=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    result = CliRunner().invoke(
        main,
        [
            "--home",
            str(tmp_path / "home"),
            "--conf",
            f"spark.master=spark://127.0.0.1:{closed}",
            "stream",
        ],
    )
    line = one_error(result)
    assert f"no Spark master accepts connections at spark://127.0.0.1:{closed}" in line
    assert "--conf spark.master" in line
