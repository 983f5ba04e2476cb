"""The one place that starts Spark.

Settings come from ``conf/spark-defaults.conf`` (shared with the Thrift server and
docker compose); the home adds its paths: warehouse, metastore, logs, and the jars that
``make setup`` fetched (no Spark start touches the network).

The metastore is the embedded Derby under ``<home>/metastore`` unless a PostgreSQL one is
chosen (:func:`postgres_metastore`): ``IMDB_METASTORE_URL`` for every Spark start, or the
home's own PostgreSQL (``<home>/metastore.json``, written by ``imdb-pipeline thrift start``)
for ``--target thrift``. The password never enters the settings: they carry the literal
``${env.IMDB_METASTORE_PASSWORD}``, which Hadoop's Configuration resolves from the JVM's
environment, so it shows in no command line, log line or printed setting.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from imdb_pipeline.home import REPO_ROOT, Home
from imdb_pipeline.storage import Storage

CONF_DIR = REPO_ROOT / "conf"
DEFAULT_JARS = REPO_ROOT / ".cache" / "jars"


class SetupError(Exception):
    pass


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
    addresses = master[len("spark://"):].split(",")
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
    settings: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            settings[key] = value.strip()
    return settings


def jar_paths(s3: bool = False) -> list[str]:
    """The jars ``make setup`` fetched (``jars.txt``), as ``spark.jars`` lists them.

    ``s3``: also hadoop-aws and the AWS SDK (for an S3 storage). They are left out otherwise:
    the SDK bundle is 690 MB, and every executor copies what ``spark.jars`` lists.
    Raises :class:`SetupError` when the Delta jars (or, with ``s3``, hadoop-aws) are missing.
    """
    from imdb_pipeline.storage import S3_JARS

    folder = Path(os.environ.get("IMDB_PIPELINE_JARS", DEFAULT_JARS))
    jars = sorted(str(p) for p in folder.glob("*.jar"))
    if not any("delta-spark" in j for j in jars):
        raise SetupError(f"no Delta jars in {folder}: run `make setup` first")
    s3_jars = [j for j in jars if Path(j).name.startswith(S3_JARS)]
    if s3 and not any(Path(j).name.startswith("hadoop-aws-") for j in s3_jars):
        raise SetupError(f"no hadoop-aws jar in {folder} (needed by --storage s3://...): "
                         "run `make setup` first")
    return jars if s3 else [j for j in jars if j not in s3_jars]


URL_ENV, USER_ENV = "IMDB_METASTORE_URL", "IMDB_METASTORE_USER"
PASSWORD_ENV = "IMDB_METASTORE_PASSWORD"
PASSWORD_REF = "${env." + PASSWORD_ENV + "}"  # resolved inside the JVM (Hadoop Configuration)
POSTGRES_DRIVER = "org.postgresql.Driver"
METASTORE_FILE = "metastore.json"  # <home>/metastore.json: the home's own PostgreSQL


@dataclass(frozen=True)
class Metastore:
    """A PostgreSQL-backed Hive metastore: JDBC URL and user (the password stays in the env)."""

    url: str
    user: str
    managed: bool = False  # the home's own PostgreSQL, started by `imdb-pipeline thrift start`


def postgres_metastore(home: Home, target: str = "thrift") -> Metastore | None:
    """``IMDB_METASTORE_URL`` (any target), else for the thrift target the home's own
    PostgreSQL; ``None`` = the embedded Derby metastore."""
    url = os.environ.get(URL_ENV)
    if url:
        return Metastore(url, os.environ.get(USER_ENV) or "imdb")
    file = home.root / METASTORE_FILE
    if target == "thrift" and file.is_file():
        data = json.loads(file.read_text())
        return Metastore(data["url"], os.environ.get(USER_ENV) or data["user"], managed=True)
    return None


def metastore_password_file(home: Home) -> Path:  # 0600, written when the home's PostgreSQL is made
    return home.root / "postgres" / "password"


def export_metastore_password(home: Home, metastore: Metastore | None) -> None:
    """Give the JVM about to start the password of the home's own PostgreSQL (via its env)."""
    file = metastore_password_file(home)
    if metastore and metastore.managed and not os.environ.get(PASSWORD_ENV) and file.is_file():
        os.environ[PASSWORD_ENV] = file.read_text().strip()


def metastore_url(home: Home, metastore: Metastore | None = None) -> str:
    if metastore is not None:
        return metastore.url
    return f"jdbc:derby:;databaseName={home.metastore / 'metastore_db'};create=true"


def metastore_settings(home: Home, metastore: Metastore | None, s3: bool = False) -> dict[str, str]:
    settings = {"spark.hadoop.javax.jdo.option.ConnectionURL": metastore_url(home, metastore)}
    if metastore is not None:
        jars = jar_paths(s3)
        driver_jar = [j for j in jars if Path(j).name.startswith("postgresql-")]
        if not driver_jar:
            raise SetupError("no PostgreSQL JDBC jar in the jar cache: run `make setup` first")
        settings.update(
            {
                "spark.hadoop.javax.jdo.option.ConnectionDriverName": POSTGRES_DRIVER,
                "spark.hadoop.javax.jdo.option.ConnectionUserName": metastore.user,
                "spark.hadoop.javax.jdo.option.ConnectionPassword": PASSWORD_REF,
                "spark.hadoop.datanucleus.schema.autoCreateAll": "true",
                "spark.hadoop.hive.metastore.schema.verification": "false",
                # The jars on the JVM's own class path too: DataNucleus finds the JDBC driver
                # through java.sql.DriverManager, and the Thrift server opens sessions (`use
                # imdb` -> DeltaCatalog) on threads that do not see spark.jars.
                "spark.driver.extraClassPath": ":".join(jars),
            }
        )
    return settings


# Settings a user's --conf adds to rather than replaces: the project's JVM options (log4j
# config, log folder, Derby's home) and class path (the PostgreSQL driver) must stay; the
# user's come last, so a repeated JVM flag of theirs wins.
APPENDED = {"spark.driver.extraJavaOptions": " ", "spark.driver.extraClassPath": ":"}


def spark_settings(
    home: Home, overrides: dict[str, str] | None = None, metastore: Metastore | None = None,
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


def get_spark(home: Home, overrides: dict[str, str] | None = None, metastore: Metastore | None = None,
              storage: Storage | None = None):
    """Start (or reuse) the process's SparkSession for ``home`` (Derby unless ``metastore``;
    the lake, warehouse and checkpoints in the home unless ``storage`` is on S3).

    The JVM's own console output goes to ``<home>/logs/jvm.log`` (:func:`_launch_jvm`), its
    log4j logs to ``<home>/logs/spark.log``. Raises :class:`SetupError` without the jars.
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
