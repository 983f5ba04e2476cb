"""imdb_pipeline.spark without a JVM: the settings a Spark start gets for a home (defaults
file, home paths, jars, metastore, ``--conf`` overrides) and the check of a standalone master.
Which jars and which metastore: tests/unit/test_jars.py and test_metastore.py."""

from __future__ import annotations

import socket

import pytest

from imdb_pipeline import spark
from imdb_pipeline.home import Home
from imdb_pipeline.metastore import Metastore, metastore_url
from imdb_pipeline.spark import CONF_DIR, ClusterError, check_master, read_defaults, spark_settings

DELTA = ("delta-spark_4.2_2.13-4.4.0.jar", "delta-storage-4.4.0.jar")
POSTGRES = "postgresql-42.7.14.jar"
S3 = ("hadoop-aws-3.5.0.jar", "bundle-2.35.4.jar", "analyticsaccelerator-s3-1.3.1.jar")


@pytest.fixture
def env(monkeypatch):
    for name in ("IMDB_METASTORE_URL", "IMDB_METASTORE_USER", "IMDB_METASTORE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_read_defaults_skips_comments_and_blank_lines_and_keeps_spaces_in_values(tmp_path):
    conf = tmp_path / "spark-defaults.conf"
    conf.write_text(
        "# a comment\n\n  spark.master    local[2]  \n"
        "spark.driver.extraJavaOptions -Da=1 -Db=2\nspark.flag\n"
    )
    assert read_defaults(conf) == {
        "spark.master": "local[2]",
        "spark.driver.extraJavaOptions": "-Da=1 -Db=2",
        "spark.flag": "",
    }


def test_read_defaults_reads_tabs_and_equals_as_spark_does(tmp_path):
    conf = tmp_path / "spark-defaults.conf"
    conf.write_text(
        "spark.master\tlocal[1]\nspark.app.name=imdb\n"
        "spark.sql.shuffle.partitions = 4\nspark.executor.extraJavaOptions\t-Da=b c\n"
    )
    assert read_defaults(conf) == {
        "spark.master": "local[1]",
        "spark.app.name": "imdb",
        "spark.sql.shuffle.partitions": "4",
        "spark.executor.extraJavaOptions": "-Da=b c",
    }


def test_spark_settings_add_the_homes_paths_and_jars_to_the_defaults(tmp_path, jar_cache, env):
    folder = jar_cache(*DELTA, *S3)
    env.setattr(
        spark,
        "read_defaults",
        lambda: {
            "spark.master": "local[2]",
            "spark.driver.extraJavaOptions": "-Dx=1",
            "spark.sql.warehouse.dir": "/elsewhere",
        },
    )
    home = Home(tmp_path)
    assert spark_settings(home) == {
        "spark.master": "local[2]",
        "spark.sql.warehouse.dir": f"{tmp_path}/warehouse",
        "spark.hadoop.javax.jdo.option.ConnectionURL": metastore_url(home),
        "spark.jars": f"{folder}/delta-spark_4.2_2.13-4.4.0.jar,{folder}/delta-storage-4.4.0.jar",
        "spark.driver.extraJavaOptions": (
            f"-Dx=1 -Dderby.system.home={tmp_path}/metastore"
            f" -Dlog4j.configurationFile={CONF_DIR}/log4j2.properties"
            f" -Dimdb.log.dir={tmp_path}/logs"
        ),
    }
    env.setattr(spark, "read_defaults", dict)  # no JVM options of the defaults: no leading space
    assert spark_settings(home)["spark.driver.extraJavaOptions"].startswith("-Dderby.system.home")


def test_overrides_replace_settings_but_extend_jvm_options_and_class_path(tmp_path, jar_cache, env):
    """`--conf spark.driver.extraJavaOptions=...` once dropped the project's log4j config and
    Derby home (Spark's own log profile came back)."""
    folder = jar_cache(*DELTA, POSTGRES)
    env.setattr(spark, "read_defaults", lambda: {"spark.master": "local[2]"})
    home = Home(tmp_path)
    postgres = Metastore("jdbc:postgresql://db/m", "u")
    ours = spark_settings(home, metastore=postgres)
    settings = spark_settings(
        home,
        {
            "spark.master": "local[1]",
            "spark.new": "v",
            "spark.driver.extraJavaOptions": "-Xss4m",
            "spark.driver.extraClassPath": "/opt/x.jar",
        },
        postgres,
    )
    assert settings["spark.master"] == "local[1]" and settings["spark.new"] == "v"
    assert settings["spark.driver.extraJavaOptions"] == (
        ours["spark.driver.extraJavaOptions"] + " -Xss4m"
    )
    assert "-Dlog4j.configurationFile=" in settings["spark.driver.extraJavaOptions"]
    assert settings["spark.driver.extraClassPath"] == (
        f"{folder}/delta-spark_4.2_2.13-4.4.0.jar:{folder}/delta-storage-4.4.0.jar:"
        f"{folder}/{POSTGRES}:/opt/x.jar"
    )
    derby = spark_settings(home, {"spark.driver.extraClassPath": "/opt/x.jar"})
    assert derby["spark.driver.extraClassPath"] == "/opt/x.jar"  # nothing of ours to extend


def test_dbt_by_hand_starts_its_jvm_with_the_defaults_jvm_options():
    """profiles.yml's local target replaces spark.driver.extraJavaOptions (a builder setting
    wins over spark-defaults.conf), so it repeats the defaults' JIT and collector flags: dbt
    typed by hand gets the JVM the CLI gets."""
    import yaml

    from imdb_pipeline.home import REPO_ROOT

    profile = yaml.safe_load((REPO_ROOT / "profiles.yml").read_text())
    local = profile["imdb"]["outputs"]["local"]["server_side_parameters"]
    ours = read_defaults()["spark.driver.extraJavaOptions"]
    assert local["spark.driver.extraJavaOptions"].startswith(ours + " -D")


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
