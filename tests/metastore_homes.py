"""Helpers of the unit tests of the metastore, the home's PostgreSQL, ports and processes and
the Thrift server (nothing they start is a server): the environment without metastore
settings, a home as ``thrift start`` leaves it, a port someone listens on, a pid that is gone."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

from imdb_pipeline.home import Home

SECRET = "s3cr3t-never-printed-7c1f"
METASTORE_ENV = (
    "IMDB_METASTORE_URL",
    "IMDB_METASTORE_USER",
    "IMDB_METASTORE_PASSWORD",
    "IMDB_THRIFT_HOST",
    "IMDB_THRIFT_PORT",
    "IMDB_TARGET",
)


def clear_metastore_env(monkeypatch, tmp_path) -> None:
    """No metastore or server settings from the environment, and a jar cache of empty files
    (the Delta and PostgreSQL JDBC jars) under ``tmp_path/jars``."""
    for name in METASTORE_ENV:
        monkeypatch.delenv(name, raising=False)
    jars = tmp_path / "jars"
    jars.mkdir()
    for name in (
        "delta-spark_4.2_2.13-4.4.0.jar",
        "delta-storage-4.4.0.jar",
        "postgresql-42.7.14.jar",
    ):
        (jars / name).write_bytes(b"")
    monkeypatch.setenv("IMDB_PIPELINE_JARS", str(jars))


def metastore_home(monkeypatch, tmp_path) -> Home:
    """A new home under ``tmp_path``, with the environment of :func:`clear_metastore_env`."""
    clear_metastore_env(monkeypatch, tmp_path)
    return Home.resolve(tmp_path / "home").make()


def managed(home: Home, port: int = 5999) -> None:
    """What `thrift start` leaves behind for the home's own PostgreSQL."""
    (home.root / "metastore.json").write_text(
        json.dumps(
            {"url": f"jdbc:postgresql://127.0.0.1:{port}/metastore", "user": "imdb", "port": port}
        )
    )
    (home.root / "postgres").mkdir()
    (home.root / "postgres" / "password").write_text(SECRET + "\n")


def listening_socket():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    return server, server.getsockname()[1]


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid
