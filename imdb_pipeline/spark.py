"""The one place that starts Spark.

Settings come from ``conf/spark-defaults.conf`` (shared with the Thrift server and
docker compose); the home adds its paths: warehouse, metastore, logs, and the jars that
``make setup`` fetched (no Spark start touches the network).

The metastore is the embedded Derby under ``<home>/metastore`` unless a PostgreSQL one is
chosen; which one, its settings and its password are imdb_pipeline/metastore.py's, the jars
imdb_pipeline/jars.py's.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from imdb_pipeline.home import REPO_ROOT, Home
from imdb_pipeline.jars import jar_paths
from imdb_pipeline.metastore import Metastore, export_metastore_password, metastore_settings
from imdb_pipeline.storage import Storage

CONF_DIR = REPO_ROOT / "conf"


class ClusterError(Exception):
    """The cluster named by ``spark.master`` does not answer; one line with the next step."""


def check_master(master: str, timeout: float = 5.0) -> None:
    """For a standalone cluster (``spark://HOST:PORT[,HOST:PORT...]``), check that a master
    accepts connections before Spark starts (Spark itself retries for a minute, then stops
    the application with ``All masters are unresponsive``). Other masters: nothing to check.

    Raises:
        ClusterError: no listed master accepts a TCP connection.
    """
    import socket

    if not master.startswith("spark://"):
        return
    addresses = master[len("spark://") :].split(",")
    for address in addresses:
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
                return
        except (OSError, ValueError):
            continue
    raise ClusterError(
        f"no Spark master accepts connections at {master}: start it (spark-class "
        "org.apache.spark.deploy.master.Master --host HOST --port PORT, and a worker) or fix "
        "--conf spark.master"
    )


def read_defaults(path: Path = CONF_DIR / "spark-defaults.conf") -> dict[str, str]:
    """The settings of a ``spark-defaults.conf``: ``{key: value}``, comments and blank lines
    skipped. As Spark reads the file (Java properties): the key ends at the first space, tab,
    ``=`` or ``:``, and the value is the rest, stripped (it may hold spaces and ``=``)."""
    settings: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, value = (re.split(r"\s*[=:\s]\s*", line, maxsplit=1) + [""])[:2]
            settings[key] = value
    return settings


# Settings a user's --conf adds to rather than replaces: the project's JVM options (log4j
# config, log folder, Derby's home) and class path (the PostgreSQL driver) must stay; the
# user's come last, so a repeated JVM flag of theirs wins.
APPENDED = {"spark.driver.extraJavaOptions": " ", "spark.driver.extraClassPath": ":"}


def spark_settings(
    home: Home,
    overrides: dict[str, str] | None = None,
    metastore: Metastore | None = None,
    storage: Storage | None = None,
) -> dict[str, str]:
    """Every setting of a Spark start for ``home``: ``conf/spark-defaults.conf``, then the
    home's paths, the metastore, the jars, the storage (warehouse; s3a connection settings
    for an S3 storage: :meth:`Storage.spark_settings`), then ``overrides`` (``--conf``), which
    replace a setting except those in :data:`APPENDED`, which they extend."""
    storage = storage or Storage(home.root)
    settings = read_defaults()
    java_opts = settings.get("spark.driver.extraJavaOptions", "")
    settings.update(
        {
            **storage.spark_settings(),
            **metastore_settings(home, metastore, storage.remote),
            "spark.jars": ",".join(jar_paths(storage.remote)),
            "spark.driver.extraJavaOptions": (
                f"{java_opts} -Dderby.system.home={home.metastore}"
                f" -Dlog4j.configurationFile={CONF_DIR / 'log4j2.properties'}"
                f" -Dimdb.log.dir={home.logs}"
            ).strip(),
        }
    )
    for key, value in (overrides or {}).items():
        joint = APPENDED.get(key)
        settings[key] = f"{settings[key]}{joint}{value}" if joint and settings.get(key) else value
    return settings


JVM_LOG = "jvm.log"  # <home>/logs/jvm.log: what the driver JVM prints itself (not log4j)


def _launch_jvm(home: Home, settings: dict[str, str]) -> None:
    """Start the driver JVM with its stdout and stderr in ``<home>/logs/jvm.log``.

    The JVM prints a few lines of its own outside log4j, first of them ``WARNING: Using
    incubator modules: jdk.incubator.vector`` (Spark's launcher always adds
    ``--add-modules=jdk.incubator.vector``), and the Python workers' stderr reaches the
    console through it. None of it is the user's output: stdout must carry only the results,
    and errors end as one ``error:`` line. pyspark's ``launch_gateway(popen_kwargs=...)`` is
    its hook for capturing them. Does nothing when this process already has a JVM.
    """
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is not None:  # a JVM runs already (pyspark keeps one per process)
        return
    home.logs.mkdir(parents=True, exist_ok=True)
    conf = SparkConf(loadDefaults=False).setAll(list(settings.items()))
    with open(home.logs / JVM_LOG, "ab") as out:
        gateway = launch_gateway(conf, popen_kwargs={"stdout": out, "stderr": out})
    SparkContext(conf=conf, gateway=gateway)  # the builder below reuses this context


def get_spark(
    home: Home,
    overrides: dict[str, str] | None = None,
    metastore: Metastore | None = None,
    storage: Storage | None = None,
):
    """Start (or reuse) the process's SparkSession for ``home`` (Derby unless ``metastore``;
    the lake, warehouse and checkpoints in the home unless ``storage`` is on S3).

    The JVM's own console output goes to ``<home>/logs/jvm.log`` (:func:`_launch_jvm`), its
    log4j logs to ``<home>/logs/spark.log``. Raises ``jars.SetupError`` without the jars.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    home.make()
    export_metastore_password(home, metastore)
    settings = spark_settings(home, overrides, metastore, storage)
    _launch_jvm(home, settings)
    builder = SparkSession.builder
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.enableHiveSupport().getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
