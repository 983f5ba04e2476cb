"""The Hive metastore of a Spark start: which one, its Spark settings, its PostgreSQL schema.

The metastore is the embedded Derby under ``<home>/metastore`` unless a PostgreSQL one is
chosen (:func:`postgres_metastore`): ``IMDB_METASTORE_URL`` for every Spark start, or the
home's own PostgreSQL (``<home>/metastore.json``, written by ``imdb-pipeline thrift start``)
for ``--target thrift``. The password never enters the settings: they carry the literal
``${env.IMDB_METASTORE_PASSWORD}``, which Hadoop's Configuration resolves from the JVM's
environment, so it shows in no command line, log line or printed setting.

A PostgreSQL metastore gets its tables in one go (:func:`init_metastore_schema`) before the
Thrift server first starts on it; a pipeline process checks that its database answers first
(:func:`pipeline_metastore`). The home's own PostgreSQL server is imdb_pipeline/postgres.py.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from imdb_pipeline.home import Home
from imdb_pipeline.jars import SetupError, jar_paths, spark_home
from imdb_pipeline.processes import port_accepts

URL_ENV, USER_ENV = "IMDB_METASTORE_URL", "IMDB_METASTORE_USER"
PASSWORD_ENV = "IMDB_METASTORE_PASSWORD"
PASSWORD_REF = "${env." + PASSWORD_ENV + "}"  # resolved inside the JVM (Hadoop Configuration)
POSTGRES_DRIVER = "org.postgresql.Driver"
METASTORE_FILE = "metastore.json"  # <home>/metastore.json: the home's own PostgreSQL
logger = logging.getLogger(__name__)


class MetastoreError(Exception):
    """The metastore database cannot serve: none configured, not answering, its tables or
    the home's PostgreSQL could not be made (one line with the next step)."""


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


def metastore_password_file(home: Home) -> Path:
    """``<home>/postgres/password``: the generated password of the home's own PostgreSQL
    (0600, written when that server is made)."""
    return home.root / "postgres" / "password"


def export_metastore_password(home: Home, metastore: Metastore | None) -> None:
    """Give the JVM about to start the password of the home's own PostgreSQL (via its env)."""
    file = metastore_password_file(home)
    if metastore and metastore.managed and not os.environ.get(PASSWORD_ENV) and file.is_file():
        os.environ[PASSWORD_ENV] = file.read_text().strip()


def metastore_url(home: Home, metastore: Metastore | None = None) -> str:
    """The JDBC URL of ``metastore``, or of the home's embedded Derby one when None."""
    if metastore is not None:
        return metastore.url
    return f"jdbc:derby:;databaseName={home.metastore / 'metastore_db'};create=true"


def metastore_settings(home: Home, metastore: Metastore | None, s3: bool = False) -> dict[str, str]:
    """The Spark settings (``spark.hadoop.javax.jdo.*`` and the rest) of ``metastore``, or of
    the home's Derby when None; ``s3``: the jar list is an S3 storage's (:func:`jar_paths`).
    Raises SetupError when a PostgreSQL metastore has no JDBC driver jar."""
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


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600 from the start: a password
    is never in a file others can read); makes the folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def redact_url(url: str) -> str:
    """A JDBC URL fit to print: any password=... parameter masked."""
    return re.sub(r"(?i)(password=)[^&;]*", r"\1***", url)


def java() -> str:
    """The java binary: ``$JAVA_HOME/bin/java``, else ``java`` on the PATH."""
    java_home = os.environ.get("JAVA_HOME")
    return str(Path(java_home) / "bin" / "java") if java_home else "java"


def init_metastore_schema(home: Home, metastore: Metastore, password: str | None) -> None:
    """Create the Hive metastore tables in one go (DataNucleus SchemaTool, idempotent).

    Left to DataNucleus' lazy ``autoCreateAll``, the first CREATE TABLE deadlocks on
    PostgreSQL: it creates TBL_PRIVS (ALTER TABLE ... REFERENCES "TBLS") on a second connection
    while its own transaction holds a lock on TBLS.

    ``password``: of ``metastore.user`` (masked in any error). Raises SetupError without the
    JDBC or hive-metastore jar, MetastoreError when SchemaTool fails.
    """
    jars = spark_home() / "jars"
    driver = [j for j in jar_paths() if Path(j).name.startswith("postgresql-")]
    metastore_jar = next(jars.glob("hive-metastore-*.jar"), None)
    if not driver or metastore_jar is None:
        raise SetupError("no PostgreSQL JDBC jar or hive-metastore jar: run `make setup` first")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="metastore-schema-") as scratch:
        folder = Path(scratch)
        with zipfile.ZipFile(metastore_jar) as jar:
            jar.extract("package.jdo", folder)
        properties = {
            "javax.jdo.option.ConnectionURL": metastore.url,
            "javax.jdo.option.ConnectionDriverName": "org.postgresql.Driver",
            "javax.jdo.option.ConnectionUserName": metastore.user,
            "javax.jdo.option.ConnectionPassword": password or "",
            # as the Hive 2.3 metastore client names things (HiveConf defaults)
            "datanucleus.identifierFactory": "datanucleus1",
            "datanucleus.rdbms.useLegacyNativeValueStrategy": "true",
            "datanucleus.storeManagerType": "rdbms",
        }
        props = folder / "datanucleus.properties"  # 0600 in a 0700 folder, removed on exit
        write_private(props, "".join(f"{k}={v}\n" for k, v in properties.items()))
        done = subprocess.run(
            [
                java(),
                "-cp",
                f"{jars}/*:{driver[0]}",
                "org.datanucleus.store.schema.SchemaTool",
                "-create",
                "-api",
                "JDO",
                "-props",
                str(props),
                str(folder / "package.jdo"),
            ],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            cwd=scratch,
        )
    if done.returncode != 0 or "completed successfully" not in done.stdout:
        lines = [
            line
            for line in (done.stdout + done.stderr).splitlines()
            if "Exception" in line or "rror" in line
        ]
        reason = lines[0] if lines else "see the output of DataNucleus SchemaTool"
        if password:
            reason = reason.replace(password, "***")
        raise MetastoreError(f"could not create the metastore tables: {reason}")
    logger.info(
        f"thrift: metastore tables ready in {redact_url(metastore.url)} "
        f"({time.monotonic() - started:.1f}s)"
    )


def pipeline_metastore(home: Home, target: str) -> Metastore | None:
    """The metastore a pipeline process of ``target`` (``local`` or ``thrift``) uses, None for
    the embedded Derby; checks that a PostgreSQL one accepts connections (3 s).

    Raises MetastoreError when the thrift target has no PostgreSQL metastore or its database
    does not answer."""
    metastore = postgres_metastore(home, target)
    if metastore is None:
        if target == "thrift":
            raise MetastoreError(
                f"no PostgreSQL metastore for {home.root}: start the server first "
                f"(`imdb-pipeline thrift start`) or set {URL_ENV}"
            )
        return None
    match = re.match(r"jdbc:postgresql://\[?([^/:\]?]+)\]?(?::(\d+))?", metastore.url)
    if match and not port_accepts(match.group(1), int(match.group(2) or 5432), timeout=3):
        where = f"{match.group(1)}:{match.group(2) or 5432}"
        hint = "`imdb-pipeline thrift start`" if metastore.managed else "start that database"
        raise MetastoreError(
            f"the metastore database on {where} does not accept connections: {hint}"
        )
    return metastore
