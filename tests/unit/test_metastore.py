"""imdb_pipeline.metastore: which metastore a Spark start uses (Derby, the home's PostgreSQL,
IMDB_METASTORE_URL), its settings, where its password goes and where it never shows, the
check a pipeline process makes before it starts Spark (no Spark, no PostgreSQL here)."""

from __future__ import annotations

import os
import stat

import pytest

from imdb_pipeline.jars import SetupError
from imdb_pipeline.metastore import (
    PASSWORD_REF,
    Metastore,
    MetastoreError,
    export_metastore_password,
    init_metastore_schema,
    metastore_settings,
    pipeline_metastore,
    postgres_metastore,
    redact_url,
    write_private,
)
from imdb_pipeline.processes import free_port
from imdb_pipeline.spark import spark_settings
from tests.metastore_homes import SECRET, listening_socket, managed, metastore_home


@pytest.fixture(autouse=True)  # every test: no metastore settings from the environment
def home(monkeypatch, tmp_path):
    return metastore_home(monkeypatch, tmp_path)


# --- which metastore -------------------------------------------------------------------------


def test_embedded_derby_is_the_default(home):
    settings = spark_settings(home)
    assert settings["spark.hadoop.javax.jdo.option.ConnectionURL"].startswith("jdbc:derby:")
    assert "spark.hadoop.javax.jdo.option.ConnectionPassword" not in settings
    assert postgres_metastore(home, "local") is None and postgres_metastore(home, "thrift") is None


def test_the_homes_postgres_serves_the_thrift_target_only(home):
    managed(home)
    assert postgres_metastore(home, "local") is None  # `make run` stays on Derby
    metastore = postgres_metastore(home, "thrift")
    assert metastore.managed and metastore.user == "imdb"
    settings = spark_settings(home, metastore=metastore)
    assert settings["spark.hadoop.javax.jdo.option.ConnectionURL"] == (
        "jdbc:postgresql://127.0.0.1:5999/metastore"
    )
    assert settings["spark.hadoop.javax.jdo.option.ConnectionDriverName"] == "org.postgresql.Driver"
    assert settings["spark.hadoop.javax.jdo.option.ConnectionUserName"] == "imdb"
    assert settings["spark.hadoop.javax.jdo.option.ConnectionPassword"] == PASSWORD_REF
    assert settings["spark.hadoop.datanucleus.schema.autoCreateAll"] == "true"
    assert settings["spark.hadoop.hive.metastore.schema.verification"] == "false"
    assert "postgresql-42.7.14.jar" in settings["spark.driver.extraClassPath"]
    assert settings["spark.sql.warehouse.dir"] == str(home.warehouse)  # shared with the server


def test_imdb_metastore_url_applies_to_every_target(home, monkeypatch):
    monkeypatch.setenv("IMDB_METASTORE_URL", "jdbc:postgresql://db.internal:5432/hms")
    monkeypatch.setenv("IMDB_METASTORE_USER", "hive")
    for target in ("local", "thrift"):
        metastore = postgres_metastore(home, target)
        assert metastore.url == "jdbc:postgresql://db.internal:5432/hms"
        assert metastore.user == "hive" and not metastore.managed


def test_the_password_of_the_homes_postgres_reaches_only_the_jvm_environment(home):
    managed(home)
    try:
        export_metastore_password(home, None)  # Derby: nothing exported
        assert "IMDB_METASTORE_PASSWORD" not in os.environ
        export_metastore_password(home, postgres_metastore(home, "thrift"))
        assert os.environ["IMDB_METASTORE_PASSWORD"] == SECRET
    finally:
        os.environ.pop("IMDB_METASTORE_PASSWORD", None)


def test_a_password_in_a_jdbc_url_is_masked_when_printed():
    url = "jdbc:postgresql://h:5432/m?user=u&password=hunter2&ssl=true"
    assert redact_url(url) == "jdbc:postgresql://h:5432/m?user=u&password=***&ssl=true"


def test_derby_settings_name_only_its_url(home):
    assert metastore_settings(home, None) == {
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={home.metastore / 'metastore_db'};create=true"
    }


def test_a_postgres_metastore_without_its_jdbc_jar_is_a_setup_error(home, tmp_path):
    (tmp_path / "jars" / "postgresql-42.7.14.jar").unlink()
    metastore = Metastore("jdbc:postgresql://127.0.0.1:5999/metastore", "imdb")
    with pytest.raises(SetupError, match="no PostgreSQL JDBC jar in the jar cache"):
        metastore_settings(home, metastore)
    with pytest.raises(SetupError, match="no PostgreSQL JDBC jar or hive-metastore jar"):
        init_metastore_schema(home, metastore, SECRET)


def test_a_private_file_is_the_owners_alone_from_the_start(tmp_path):
    path = tmp_path / "new" / "folder" / "password"
    write_private(path, "x\n")
    assert path.read_text() == "x\n" and stat.S_IMODE(path.stat().st_mode) == 0o600
    write_private(path, "y\n")  # replaced whole
    assert path.read_text() == "y\n"


# --- the check before a pipeline's Spark start --------------------------------------------------


def test_the_local_target_uses_derby_and_the_thrift_target_needs_postgres(home):
    assert pipeline_metastore(home, "local") is None
    with pytest.raises(MetastoreError, match=r"no PostgreSQL metastore for .*: start the server"):
        pipeline_metastore(home, "thrift")


def test_a_postgres_metastore_is_used_once_its_database_answers(home):
    server, port = listening_socket()
    with server:
        managed(home, port)
        metastore = pipeline_metastore(home, "thrift")
    assert metastore.managed and metastore.url.endswith(f":{port}/metastore")
    assert pipeline_metastore(home, "local") is None  # the home's PostgreSQL: thrift only


def test_a_database_that_does_not_answer_is_named_with_the_next_step(home, monkeypatch):
    port = free_port()
    managed(home, port)
    with pytest.raises(
        MetastoreError,
        match=(
            f"the metastore database on 127.0.0.1:{port} does not accept connections: "
            "`imdb-pipeline thrift start`"
        ),
    ):
        pipeline_metastore(home, "thrift")
    monkeypatch.setenv("IMDB_METASTORE_URL", f"jdbc:postgresql://127.0.0.1:{port}/hms")
    with pytest.raises(MetastoreError, match="does not accept connections: start that database"):
        pipeline_metastore(home, "local")  # IMDB_METASTORE_URL: every target
