"""imdb_pipeline.spark without a JVM: the settings a Spark start gets for a home (defaults
file, home paths, jars, metastore, ``--conf`` overrides), which metastore is chosen, that the
password stays out of every setting, and the check of a standalone master."""

from __future__ import annotations

import os
import socket

import pytest

from imdb_pipeline import spark
from imdb_pipeline.home import Home
from imdb_pipeline.spark import (
    CONF_DIR,
    ClusterError,
    Metastore,
    SetupError,
    check_master,
    export_metastore_password,
    jar_paths,
    metastore_password_file,
    metastore_settings,
    metastore_url,
    postgres_metastore,
    read_defaults,
    spark_settings,
)

DELTA = ("delta-spark_4.2_2.13-4.4.0.jar", "delta-storage-4.4.0.jar")
POSTGRES = "postgresql-42.7.14.jar"
S3 = ("hadoop-aws-3.5.0.jar", "bundle-2.35.4.jar", "analyticsaccelerator-s3-1.3.1.jar")


@pytest.fixture
def jars(tmp_path, monkeypatch):
    """An empty jar cache (``IMDB_PIPELINE_JARS``); ``add(*names)`` puts jars in it."""
    folder = tmp_path / "jars"
    folder.mkdir()
    monkeypatch.setenv("IMDB_PIPELINE_JARS", str(folder))

    def add(*names):
        for name in names:
            (folder / name).write_bytes(b"")
        return folder

    return add


@pytest.fixture
def env(monkeypatch):
    for name in ("IMDB_METASTORE_URL", "IMDB_METASTORE_USER", "IMDB_METASTORE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_read_defaults_skips_comments_and_blank_lines_and_keeps_spaces_in_values(tmp_path):
    conf = tmp_path / "spark-defaults.conf"
    conf.write_text("# a comment\n\n  spark.master    local[2]  \n"
                    "spark.driver.extraJavaOptions -Da=1 -Db=2\nspark.flag\n")
    assert read_defaults(conf) == {"spark.master": "local[2]",
                                   "spark.driver.extraJavaOptions": "-Da=1 -Db=2",
                                   "spark.flag": ""}


def test_jar_paths_leave_the_s3_jars_out_unless_asked(jars):
    folder = jars(*DELTA, POSTGRES, *S3, "notes.txt")
    local = [str(folder / n) for n in ("delta-spark_4.2_2.13-4.4.0.jar", "delta-storage-4.4.0.jar",
                                       "postgresql-42.7.14.jar")]
    assert jar_paths() == local
    assert jar_paths(s3=True) == sorted(local + [str(folder / n) for n in S3])


def test_jar_paths_without_the_delta_or_hadoop_aws_jars_say_run_make_setup(jars):
    folder = jars(POSTGRES)
    with pytest.raises(SetupError, match=rf"^no Delta jars in {folder}: run `make setup` first$"):
        jar_paths()
    jars(*DELTA, "bundle-2.35.4.jar")
    with pytest.raises(SetupError, match=r"^no hadoop-aws jar in .*: run `make setup` first$"):
        jar_paths(s3=True)
    assert len(jar_paths()) == 3  # without s3 the missing hadoop-aws does not matter


def test_postgres_metastore_prefers_the_environment_then_the_homes_own(tmp_path, env):
    home = Home(tmp_path)
    assert postgres_metastore(home) is None  # Derby
    (tmp_path / "metastore.json").write_text('{"url": "jdbc:postgresql://h:5/m", "user": "u"}')
    assert postgres_metastore(home) == Metastore("jdbc:postgresql://h:5/m", "u", managed=True)
    assert postgres_metastore(home, target="embedded") is None  # the home's own: thrift only
    env.setenv("IMDB_METASTORE_USER", "alice")
    assert postgres_metastore(home).user == "alice"
    env.setenv("IMDB_METASTORE_URL", "jdbc:postgresql://db/x")
    assert postgres_metastore(home, "embedded") == Metastore("jdbc:postgresql://db/x", "alice")
    env.delenv("IMDB_METASTORE_USER")
    assert postgres_metastore(home) == Metastore("jdbc:postgresql://db/x", "imdb")


def test_the_password_of_the_homes_postgres_is_exported_only_when_needed(tmp_path, env):
    home = Home(tmp_path)
    managed = Metastore("jdbc:postgresql://h/m", "u", managed=True)
    assert metastore_password_file(home) == tmp_path / "postgres" / "password"
    export_metastore_password(home, managed)  # no file yet
    assert "IMDB_METASTORE_PASSWORD" not in os.environ
    (tmp_path / "postgres").mkdir()
    metastore_password_file(home).write_text("s3cret\n")
    export_metastore_password(home, Metastore("jdbc:postgresql://h/m", "u"))  # not the home's
    export_metastore_password(home, None)
    assert "IMDB_METASTORE_PASSWORD" not in os.environ
    export_metastore_password(home, managed)
    assert os.environ["IMDB_METASTORE_PASSWORD"] == "s3cret"
    env.setenv("IMDB_METASTORE_PASSWORD", "given")
    export_metastore_password(home, managed)
    assert os.environ["IMDB_METASTORE_PASSWORD"] == "given"  # the user's own wins


def test_derby_needs_no_jar_and_postgres_gets_driver_user_and_a_password_reference(
        tmp_path, jars, env):
    home = Home(tmp_path)
    derby = f"jdbc:derby:;databaseName={tmp_path}/metastore/metastore_db;create=true"
    assert metastore_url(home) == derby
    assert metastore_settings(home, None) == {"spark.hadoop.javax.jdo.option.ConnectionURL": derby}
    postgres = Metastore("jdbc:postgresql://db:5432/meta", "bob")
    jars(*DELTA)
    with pytest.raises(SetupError, match="^no PostgreSQL JDBC jar in the jar cache"):
        metastore_settings(home, postgres)
    folder = jars(POSTGRES)
    env.setenv("IMDB_METASTORE_PASSWORD", "hunter2")  # never a setting: Hadoop reads the env
    settings = metastore_settings(home, postgres)
    assert settings == {
        "spark.hadoop.javax.jdo.option.ConnectionURL": "jdbc:postgresql://db:5432/meta",
        "spark.hadoop.javax.jdo.option.ConnectionDriverName": "org.postgresql.Driver",
        "spark.hadoop.javax.jdo.option.ConnectionUserName": "bob",
        "spark.hadoop.javax.jdo.option.ConnectionPassword": "${env.IMDB_METASTORE_PASSWORD}",
        "spark.hadoop.datanucleus.schema.autoCreateAll": "true",
        "spark.hadoop.hive.metastore.schema.verification": "false",
        "spark.driver.extraClassPath": ":".join(
            str(folder / n) for n in ("delta-spark_4.2_2.13-4.4.0.jar", "delta-storage-4.4.0.jar",
                                      POSTGRES)),
    }


def test_spark_settings_add_the_homes_paths_and_jars_to_the_defaults(tmp_path, jars, env):
    folder = jars(*DELTA, *S3)
    env.setattr(spark, "read_defaults", lambda: {
        "spark.master": "local[2]", "spark.driver.extraJavaOptions": "-Dx=1",
        "spark.sql.warehouse.dir": "/elsewhere"})
    home = Home(tmp_path)
    assert spark_settings(home) == {
        "spark.master": "local[2]",
        "spark.sql.warehouse.dir": f"{tmp_path}/warehouse",
        "spark.hadoop.javax.jdo.option.ConnectionURL": metastore_url(home),
        "spark.jars": f"{folder}/delta-spark_4.2_2.13-4.4.0.jar,{folder}/delta-storage-4.4.0.jar",
        "spark.driver.extraJavaOptions": (
            f"-Dx=1 -Dderby.system.home={tmp_path}/metastore"
            f" -Dlog4j.configurationFile={CONF_DIR}/log4j2.properties"
            f" -Dimdb.log.dir={tmp_path}/logs"),
    }
    env.setattr(spark, "read_defaults", dict)  # no JVM options of the defaults: no leading space
    assert spark_settings(home)["spark.driver.extraJavaOptions"].startswith("-Dderby.system.home")


def test_overrides_replace_settings_but_extend_jvm_options_and_class_path(tmp_path, jars, env):
    folder = jars(*DELTA, POSTGRES)
    env.setattr(spark, "read_defaults", lambda: {"spark.master": "local[2]"})
    home = Home(tmp_path)
    postgres = Metastore("jdbc:postgresql://db/m", "u")
    ours = spark_settings(home, metastore=postgres)
    settings = spark_settings(home, {"spark.master": "local[1]", "spark.new": "v",
                                     "spark.driver.extraJavaOptions": "-Xss4m",
                                     "spark.driver.extraClassPath": "/opt/x.jar"}, postgres)
    assert settings["spark.master"] == "local[1]" and settings["spark.new"] == "v"
    assert settings["spark.driver.extraJavaOptions"] == (
        ours["spark.driver.extraJavaOptions"] + " -Xss4m")
    assert settings["spark.driver.extraClassPath"] == (
        f"{folder}/delta-spark_4.2_2.13-4.4.0.jar:{folder}/delta-storage-4.4.0.jar:"
        f"{folder}/{POSTGRES}:/opt/x.jar")
    derby = spark_settings(home, {"spark.driver.extraClassPath": "/opt/x.jar"})
    assert derby["spark.driver.extraClassPath"] == "/opt/x.jar"  # nothing of ours to extend


def test_check_master_passes_a_listening_master_and_names_a_silent_one():
    check_master("local[2]")  # not a standalone cluster: nothing to check
    with socket.create_server(("127.0.0.1", 0)) as listening:
        port = listening.getsockname()[1]
        with socket.create_server(("127.0.0.1", 0)) as closed:
            dead = closed.getsockname()[1]
        check_master(f"spark://127.0.0.1:{port}", timeout=2)
        check_master(f"spark://127.0.0.1:{dead},127.0.0.1:{port}", timeout=2)  # one answers
    master = f"spark://127.0.0.1:{dead},127.0.0.1:no-port"
    with pytest.raises(ClusterError, match=rf"^no Spark master accepts connections at {master}: "):
        check_master(master, timeout=2)
