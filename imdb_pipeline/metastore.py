"""The Hive metastore of a Spark start: which one, and its Spark settings.

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
from dataclasses import dataclass
from pathlib import Path

from imdb_pipeline.home import Home
from imdb_pipeline.jars import SetupError, jar_paths

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
