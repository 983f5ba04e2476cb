"""The one place that starts Spark.

Settings come from ``conf/spark-defaults.conf`` (shared with the Thrift server and
docker compose); the home adds its paths: warehouse, embedded Derby metastore, logs, and
the Delta jars that ``make setup`` fetched (no Spark start touches the network).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from imdb_pipeline.home import REPO_ROOT, Home

CONF_DIR = REPO_ROOT / "conf"
DEFAULT_JARS = REPO_ROOT / ".cache" / "jars"


class SetupError(Exception):
    pass


def read_defaults(path: Path = CONF_DIR / "spark-defaults.conf") -> dict[str, str]:
    settings: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            settings[key] = value.strip()
    return settings


def jar_paths() -> list[str]:
    folder = Path(os.environ.get("IMDB_PIPELINE_JARS", DEFAULT_JARS))
    jars = sorted(str(p) for p in folder.glob("*.jar"))
    if not any("delta-spark" in j for j in jars):
        raise SetupError(f"no Delta jars in {folder}: run `make setup` first")
    return jars


def metastore_url(home: Home) -> str:
    return f"jdbc:derby:;databaseName={home.metastore / 'metastore_db'};create=true"


def spark_settings(home: Home, overrides: dict[str, str] | None = None) -> dict[str, str]:
    settings = read_defaults()
    java_opts = settings.get("spark.driver.extraJavaOptions", "")
    settings.update(
        {
            "spark.sql.warehouse.dir": str(home.warehouse),
            "spark.hadoop.javax.jdo.option.ConnectionURL": metastore_url(home),
            "spark.jars": ",".join(jar_paths()),
            "spark.driver.extraJavaOptions": (
                f"{java_opts} -Dderby.system.home={home.metastore}"
                f" -Dlog4j.configurationFile={CONF_DIR / 'log4j2.properties'}"
                f" -Dimdb.log.dir={home.logs}"
            ).strip(),
        }
    )
    settings.update(overrides or {})
    return settings


def get_spark(home: Home, overrides: dict[str, str] | None = None):
    """Start (or reuse) the process's SparkSession for ``home``."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    home.make()
    builder = SparkSession.builder
    for key, value in spark_settings(home, overrides).items():
        builder = builder.config(key, value)
    spark = builder.enableHiveSupport().getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
