"""A Spark Thrift server (HiveThriftServer2) per home, with a PostgreSQL-backed Hive metastore.

``imdb-pipeline thrift start`` starts, when no ``IMDB_METASTORE_URL`` is set, the home's own
PostgreSQL (imdb_pipeline/postgres.py), creates the metastore's tables once
(imdb_pipeline/metastore.py), then ``spark-submit --class ...HiveThriftServer2`` from the
pyspark install with the same settings as the pipeline
(:func:`imdb_pipeline.spark.spark_settings`). The server and a pipeline run with ``--target
thrift`` are two Spark applications sharing the warehouse folder and the metastore database.

Files under the home (the PostgreSQL's own: imdb_pipeline/postgres.py)::

    thrift/server.json      pid, host and port of the running server
    logs/thrift.log

Ports and pids: imdb_pipeline/processes.py (a pid file whose process is gone, or whose pid
another program now has, is stale).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

from imdb_pipeline.home import Home
from imdb_pipeline.jars import spark_home
from imdb_pipeline.metastore import (
    METASTORE_FILE,
    PASSWORD_ENV,
    URL_ENV,
    Metastore,
    init_metastore_schema,
    postgres_metastore,
    redact_url,
)
from imdb_pipeline.postgres import Postgres
from imdb_pipeline.processes import (
    LOOPBACK,
    STOP_TIMEOUT,
    connect_host,
    last_meaningful_line,
    port_accepts,
    port_in_use,
    process_alive,
    terminate,
)
from imdb_pipeline.spark import spark_settings
from imdb_pipeline.storage import Storage

DEFAULT_HOST, DEFAULT_PORT = LOOPBACK, 10000
SERVER_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
START_TIMEOUT = float(os.environ.get("IMDB_THRIFT_START_TIMEOUT", "180"))
logger = logging.getLogger(__name__)


class ThriftError(Exception):
    """The server cannot start or serve: one line with the next step."""


def port_in_use_message(host: str, port: int) -> str:
    """The one line ``thrift start`` stops with when (host, port) is taken."""
    return (
        f"port {port} on {host} is already in use by another program: stop it or pass "
        f"--port (e.g. --port {port + 1})"
    )


def server_file(home: Home) -> Path:
    """``<home>/thrift/server.json``: pid, host, port, log and start time of the server."""
    return home.root / "thrift" / "server.json"


def server_state(home: Home) -> tuple[dict | None, bool]:
    """(state of this home's server, is_stale): state is None when no pid file exists."""
    try:
        state = json.loads(server_file(home).read_text())
    except (OSError, ValueError):
        return None, server_file(home).exists()
    return state, not process_alive(int(state.get("pid", 0)), SERVER_CLASS)


def stale_message(home: Home, state: dict | None) -> str:
    """What a pid file whose server is gone is called in status and stop lines."""
    pid = (state or {}).get("pid", "?")
    return f"stale pid file {server_file(home)} (process {pid} is not running)"


def client_address(home: Home, port: int | None = None) -> tuple[str, int]:
    """Where a client finds this home's server: --port, else IMDB_THRIFT_HOST/PORT, else the
    running server's address, else 127.0.0.1:10000."""
    state, stale = server_state(home)
    state = state if state and not stale else {}
    host = os.environ.get("IMDB_THRIFT_HOST") or connect_host(state.get("host", DEFAULT_HOST))
    port = port or int(os.environ.get("IMDB_THRIFT_PORT") or state.get("port") or DEFAULT_PORT)
    return host, port


def require_server(home: Home, port: int | None = None) -> tuple[str, int]:
    """The (host, port) of this home's server (:func:`client_address`) once it accepts a
    connection (2 s); raises ThriftError, with the command that starts one, when it does not."""
    host, port = client_address(home, port)
    if not port_accepts(host, port, timeout=2):
        raise ThriftError(
            f"no Thrift server accepts connections on {host}:{port}: start one with "
            f"`imdb-pipeline thrift start --port {port}`"
        )
    return host, port


def server_command(
    home: Home,
    host: str,
    port: int,
    overrides: dict[str, str],
    metastore: Metastore,
    storage: Storage | None = None,
) -> list[str]:
    """``spark-submit`` of the server with the pipeline's settings (``storage``: the
    warehouse and s3a settings of an S3 storage; ``overrides``: ``--conf``, e.g. a
    ``spark.master`` of a cluster the server's executors run on)."""
    settings = spark_settings(home, overrides, metastore, storage)
    settings["spark.driver.extraJavaOptions"] += " -Dimdb.log.name=thrift"
    command = [str(spark_home() / "bin" / "spark-submit"), "--class", SERVER_CLASS]
    for key, value in settings.items():
        command += ["--conf", f"{key}={value}"]
    return command + [
        "--hiveconf",
        f"hive.server2.thrift.bind.host={host}",
        "--hiveconf",
        f"hive.server2.thrift.port={port}",
    ]


def _metastore_for_server(home: Home) -> tuple[Metastore, str | None]:
    """IMDB_METASTORE_URL's database, or the home's own PostgreSQL (started if needed)."""
    external = postgres_metastore(home, "local")  # only set by IMDB_METASTORE_URL
    if external is not None:
        password = os.environ.get(PASSWORD_ENV)
        init_metastore_schema(home, external, password)
        return external, password
    postgres = Postgres(home)
    metastore = postgres.ensure()
    password = os.environ.get(PASSWORD_ENV) or postgres.password()
    if postgres.config().get("schema") is None:
        init_metastore_schema(home, metastore, password)
        postgres.mark_schema_ready()
    return metastore, password


def start(
    home: Home,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    overrides: dict[str, str] | None = None,
    foreground: bool = False,
    storage: Storage | None = None,
) -> dict:
    """Start this home's server (and its PostgreSQL); returns its state once it accepts.
    ``storage``: where the warehouse is (the home's unless on S3)."""
    home.make()
    state, stale = server_state(home)
    if state and not stale:
        if int(state["port"]) != port:
            raise ThriftError(
                f"this home's Thrift server already runs on {state['host']}:{state['port']} "
                f"(pid {state['pid']}): `imdb-pipeline thrift stop` first"
            )
        postgres = Postgres(home)
        if postgres_metastore(home, "local") is None and postgres.pid() is None:
            raise ThriftError(
                f"the Thrift server runs (pid {state['pid']}) but this home's PostgreSQL does "
                "not: `imdb-pipeline thrift stop`, then `thrift start`"
            )
        logger.info(
            f"thrift: already running on {state['host']}:{state['port']} (pid {state['pid']})"
        )
        return state
    if stale:
        server_file(home).unlink(missing_ok=True)
        logger.info(f"thrift: removed a {stale_message(home, state)}")
    if port_in_use(host, port):
        raise ThriftError(port_in_use_message(host, port))
    if host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning(
            f"thrift: WARNING: binding {host} with no authentication: whoever "
            "reaches this address can read, change and drop every table "
            "(docs/server.md, Safety)"
        )

    postgres_was_running = Postgres(home).pid() is not None
    try:
        return _start_server(home, host, port, overrides or {}, foreground, storage)
    except BaseException:
        if not postgres_was_running and Postgres(home).pid() is not None:
            Postgres(home).stop()  # leave nothing behind that this call started
        raise


def _start_server(
    home: Home,
    host: str,
    port: int,
    overrides: dict[str, str],
    foreground: bool,
    storage: Storage | None = None,
) -> dict:
    metastore, password = _metastore_for_server(home)
    command = server_command(home, host, port, overrides, metastore, storage)
    env = {**os.environ, "SPARK_HOME": str(spark_home())}
    if password:
        env[PASSWORD_ENV] = password
    log_file = home.logs / "thrift.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    if foreground:  # docker compose: the JVM becomes this process, logs to stdout
        os.execvpe(command[0], command, env)

    offset = log_file.stat().st_size if log_file.exists() else 0
    started = time.monotonic()
    with log_file.open("ab") as out:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=home.root,
            start_new_session=True,
        )
    state = {
        "pid": process.pid,
        "host": host,
        "port": port,
        "log": str(log_file),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    server_file(home).parent.mkdir(parents=True, exist_ok=True)
    server_file(home).write_text(json.dumps(state, indent=2) + "\n")
    deadline = started + START_TIMEOUT
    while not port_accepts(connect_host(host), port):
        failed = process.poll() is not None
        if failed or time.monotonic() > deadline:
            if not failed:
                terminate(process.pid, SERVER_CLASS, [(signal.SIGTERM, 10), (signal.SIGKILL, 5)])
            server_file(home).unlink(missing_ok=True)
            why = "exited" if failed else f"did not accept connections within {START_TIMEOUT:.0f}s"
            raise ThriftError(
                f"the Thrift server {why}: {last_meaningful_line(log_file, offset)} "
                f"(log {log_file})"
            )
        time.sleep(0.25)
    state["start_seconds"] = round(time.monotonic() - started, 1)
    logger.info(
        f"thrift: server on {host}:{port} (pid {process.pid}) in {state['start_seconds']}s; "
        f"jdbc:hive2://{connect_host(host)}:{port}/imdb; log {log_file}"
    )
    return state


def stop(home: Home) -> None:
    """Stop this home's server (SIGTERM, wait, SIGKILL), then its own PostgreSQL."""
    state, stale = server_state(home)
    if state is None and not stale:
        logger.info("thrift: server not running")
    elif stale:
        logger.info(f"thrift: server not running; removed a {stale_message(home, state)}")
    else:
        assert state is not None  # neither missing nor stale: the pid file was read
        took = terminate(
            int(state["pid"]), SERVER_CLASS, [(signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 5)]
        )
        logger.info(f"thrift: server stopped (pid {state['pid']}, {took:.1f}s)")
    server_file(home).unlink(missing_ok=True)
    if (home.root / "postgres" / "data").exists():
        Postgres(home).stop()


def status(home: Home, port: int | None = None) -> tuple[bool, list[str]]:
    """(server running, lines to print); never prints a password."""
    state, stale = server_state(home)
    lines = []
    running = bool(state) and not stale
    if running:
        assert state is not None  # running implies a state
        host, port_ = connect_host(state["host"]), int(state["port"])
        accepting = "accepting connections" if port_accepts(host, port_) else "not accepting yet"
        lines.append(
            f"thrift server: running, pid {state['pid']}, bound to {state['host']}:{port_} "
            f"({accepting}); jdbc:hive2://{host}:{port_}/imdb; log {state.get('log')}"
        )
    else:
        lines.append(
            "thrift server: not running" + (f" ({stale_message(home, state)})" if stale else "")
        )
        if port and port_in_use(DEFAULT_HOST, port):
            lines.append(f"port {port} on {DEFAULT_HOST}: in use by another program")
    external = postgres_metastore(home, "local")
    if external is not None:
        lines.append(
            f"metastore: PostgreSQL {redact_url(external.url)} (user {external.user}, "
            f"from {URL_ENV})"
        )
    elif (home.root / METASTORE_FILE).exists():
        postgres = Postgres(home)
        pid = postgres.pid()
        url = redact_url(postgres.config().get("url", "?"))
        lines.append(
            f"metastore: PostgreSQL {url} (this home's, {postgres.data}): "
            + (f"running, pid {pid}" if pid else "not running")
        )
    else:
        lines.append(f"metastore: embedded Derby ({home.metastore}); no server has run here")
    return running, lines
