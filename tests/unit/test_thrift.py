"""Metastore choice, credentials, ports and pid files of `imdb-pipeline thrift` (no Spark, no
PostgreSQL: nothing here starts a server)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from imdb_pipeline import thrift
from imdb_pipeline.cli import main
from imdb_pipeline.home import Home
from imdb_pipeline.metastore import PASSWORD_REF, Metastore, postgres_metastore
from imdb_pipeline.spark import spark_settings

SECRET = "s3cr3t-never-printed-7c1f"
METASTORE_ENV = ("IMDB_METASTORE_URL", "IMDB_METASTORE_USER", "IMDB_METASTORE_PASSWORD",
                 "IMDB_THRIFT_HOST", "IMDB_THRIFT_PORT", "IMDB_TARGET")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in METASTORE_ENV:
        monkeypatch.delenv(name, raising=False)
    jars = tmp_path / "jars"
    jars.mkdir()
    for name in ("delta-spark_4.2_2.13-4.4.0.jar", "delta-storage-4.4.0.jar",
                 "postgresql-42.7.14.jar"):
        (jars / name).write_bytes(b"")
    monkeypatch.setenv("IMDB_PIPELINE_JARS", str(jars))


@pytest.fixture
def home(tmp_path):
    return Home.resolve(tmp_path / "home").make()


def managed(home: Home, port: int = 5999) -> None:
    """What `thrift start` leaves behind for the home's own PostgreSQL."""
    (home.root / "metastore.json").write_text(json.dumps(
        {"url": f"jdbc:postgresql://127.0.0.1:{port}/metastore", "user": "imdb", "port": port}
    ))
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


# --- which metastore -------------------------------------------------------------------------

def test_embedded_derby_is_the_default(home):
    settings = spark_settings(home)
    assert settings["spark.hadoop.javax.jdo.option.ConnectionURL"].startswith("jdbc:derby:")
    assert "spark.hadoop.javax.jdo.option.ConnectionPassword" not in settings
    assert postgres_metastore(home, "local") is None and postgres_metastore(home, "thrift") is None


def test_conf_extends_the_jvm_options_and_class_path_and_replaces_the_rest(home):
    """`--conf spark.driver.extraJavaOptions=...` once dropped the project's log4j config and
    Derby home (Spark's own log profile came back)."""
    postgres = Metastore("jdbc:postgresql://127.0.0.1:5999/metastore", "imdb")
    ours = spark_settings(home, metastore=postgres)
    theirs = spark_settings(home, {"spark.driver.extraJavaOptions": "-Xss4m",
                                   "spark.driver.extraClassPath": "/opt/extra.jar",
                                   "spark.driver.memory": "8g"}, metastore=postgres)
    assert theirs["spark.driver.extraJavaOptions"] == ours["spark.driver.extraJavaOptions"] + " -Xss4m"
    assert "-Dlog4j.configurationFile=" in theirs["spark.driver.extraJavaOptions"]
    assert theirs["spark.driver.extraClassPath"] == ours["spark.driver.extraClassPath"] + ":/opt/extra.jar"
    assert theirs["spark.driver.memory"] == "8g"
    assert spark_settings(home, {"spark.driver.extraClassPath": "/opt/x.jar"})[
        "spark.driver.extraClassPath"] == "/opt/x.jar"  # Derby: nothing of ours to extend


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


def test_credentials_never_appear_in_settings_commands_or_status(home, monkeypatch):
    managed(home)
    monkeypatch.setenv("IMDB_METASTORE_PASSWORD", SECRET)
    metastore = postgres_metastore(home, "thrift")
    settings = spark_settings(home, metastore=metastore)
    assert not any(SECRET in value for value in settings.values())
    command = thrift.server_command(home, "127.0.0.1", 10000, {}, metastore)
    assert not any(SECRET in part for part in command)  # the command line is world-readable
    assert "--conf" in command and f"spark.hadoop.javax.jdo.option.ConnectionPassword={PASSWORD_REF}" in command
    result = CliRunner().invoke(main, ["--home", str(home.root), "thrift", "status"])
    assert SECRET not in result.output
    assert "metastore: PostgreSQL jdbc:postgresql://127.0.0.1:5999/metastore" in result.output


def test_the_password_of_the_homes_postgres_reaches_only_the_jvm_environment(home):
    from imdb_pipeline.metastore import export_metastore_password

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
    assert thrift.redact_url(url) == "jdbc:postgresql://h:5432/m?user=u&password=***&ssl=true"


def test_the_server_gets_the_pipelines_settings_plus_its_address(home):
    managed(home)
    metastore = postgres_metastore(home, "thrift")
    command = thrift.server_command(home, "127.0.0.1", 10123, {"spark.driver.memory": "2g"},
                                    metastore)
    confs = dict(command[i + 1].split("=", 1) for i, part in enumerate(command) if part == "--conf")
    expected = spark_settings(home, {"spark.driver.memory": "2g"}, metastore)
    assert confs.keys() == expected.keys()
    assert confs["spark.driver.extraJavaOptions"].endswith("-Dimdb.log.name=thrift")
    assert command[command.index("--class") + 1] == thrift.SERVER_CLASS
    assert "hive.server2.thrift.bind.host=127.0.0.1" in command
    assert "hive.server2.thrift.port=10123" in command


# --- ports and pid files -----------------------------------------------------------------------

def invoke_on_a_busy_port(home, command: str):
    """``thrift COMMAND --port P`` while another program listens on P; returns (result, P)."""
    server, port = listening_socket()
    with server:
        result = CliRunner().invoke(main, ["--home", str(home.root), "thrift", command,
                                           "--port", str(port)])
    return result, port

def test_start_on_a_port_in_use_says_so_in_one_line(home):
    result, port = invoke_on_a_busy_port(home, "start")
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: port {port} on 127.0.0.1 is already in use by another program: stop it or "
        f"pass --port (e.g. --port {port + 1})"
    )
    assert not (home.root / "postgres").exists()  # failed before starting anything


def test_a_stale_pid_file_is_reported_and_removed(home):
    state_file = thrift.server_file(home)
    state_file.parent.mkdir(parents=True)
    pid = dead_pid()
    state_file.write_text(json.dumps({"pid": pid, "host": "127.0.0.1", "port": 10000}))
    runner = CliRunner()

    status = runner.invoke(main, ["--home", str(home.root), "thrift", "status"])
    assert status.exit_code == 1
    assert f"thrift server: not running (stale pid file {state_file} (process {pid} is not running))" in status.output
    assert state_file.exists()  # status only looks

    stop = runner.invoke(main, ["--home", str(home.root), "thrift", "stop"])
    assert stop.exit_code == 0
    assert f"thrift: server not running; removed a stale pid file {state_file}" in stop.output
    assert not state_file.exists()


def test_a_pid_reused_by_another_program_is_not_the_server(home):
    state_file = thrift.server_file(home)
    state_file.parent.mkdir(parents=True)
    state_file.write_text(json.dumps({"pid": os.getpid(), "host": "127.0.0.1", "port": 10000}))
    _state, stale = thrift.server_state(home)
    assert stale  # this pytest process is alive, but it is no HiveThriftServer2


def test_start_removes_a_stale_pid_file_then_checks_the_port(home):
    state_file = thrift.server_file(home)
    state_file.parent.mkdir(parents=True)
    state_file.write_text(json.dumps({"pid": dead_pid(), "host": "127.0.0.1", "port": 1}))
    result, port = invoke_on_a_busy_port(home, "start")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("thrift: removed a stale pid file")
    assert lines[1].startswith(f"error: port {port} on 127.0.0.1 is already in use")


def test_status_names_a_port_held_by_another_program(home):
    result, port = invoke_on_a_busy_port(home, "status")
    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1: in use by another program" in result.output
    assert "metastore: embedded Derby" in result.output


def test_stop_with_nothing_running(home):
    result = CliRunner().invoke(main, ["--home", str(home.root), "thrift", "stop"])
    assert result.exit_code == 0 and result.output.strip() == "thrift: server not running"


# --- the thrift target without a server ----------------------------------------------------------

def free_port() -> int:
    return thrift.free_port()


@pytest.mark.parametrize("command", [["results"], ["transform"], ["run", "--source", "x"]])
def test_the_thrift_target_without_a_server_fails_fast(home, command):
    port = free_port()
    result = CliRunner().invoke(
        main, ["--home", str(home.root), *command, "--target", "thrift", "--port", str(port)]
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"error: no Thrift server accepts connections on 127.0.0.1:{port}: start one with "
        f"`imdb-pipeline thrift start --port {port}`"
    )


def test_the_thrift_target_needs_a_postgres_metastore(home):
    result = CliRunner().invoke(main, ["--home", str(home.root), "stream", "--target", "thrift"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: no PostgreSQL metastore for {home.root}: start the server first "
        "(`imdb-pipeline thrift start`) or set IMDB_METASTORE_URL"
    )


def test_a_stopped_metastore_database_is_named(home):
    port = free_port()
    managed(home, port)
    result = CliRunner().invoke(main, ["--home", str(home.root), "ingest", "--target", "thrift",
                                       "--source", str(home.root)])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: the metastore database on 127.0.0.1:{port} does not accept connections: "
        "`imdb-pipeline thrift start`"
    )


def test_clients_find_the_running_servers_port(home, monkeypatch):
    assert thrift.client_address(home) == ("127.0.0.1", 10000)
    assert thrift.client_address(home, 10001) == ("127.0.0.1", 10001)
    monkeypatch.setenv("IMDB_THRIFT_PORT", "10002")
    assert thrift.client_address(home) == ("127.0.0.1", 10002)


# --- the log's reason --------------------------------------------------------------------------

def test_a_failed_start_reports_the_logs_meaningful_line(tmp_path):
    log = tmp_path / "thrift.log"
    log.write_text(
        "old run ERROR that is before the offset\n"
        "WARNING: Using incubator modules: jdk.incubator.vector\n"
        "2026-01-01 WARN Utils: Your hostname resolves to a loopback address\n"
        "2026-01-01 ERROR HiveThriftServer2: Error starting HiveThriftServer2\n"
        "org.apache.thrift.transport.TTransportException: Could not create ServerSocket on address 0.0.0.0/0.0.0.0:10000.\n"
        "\tat org.apache.thrift.transport.TServerSocket.<init>(TServerSocket.java:109)\n"
        "\t... 12 more\n"
        "\n"
    )
    offset = len("old run ERROR that is before the offset\n")
    assert thrift.last_meaningful_line(log, offset) == (
        "org.apache.thrift.transport.TTransportException: Could not create ServerSocket on "
        "address 0.0.0.0/0.0.0.0:10000."
    )
    assert thrift.last_meaningful_line(tmp_path / "missing.log").startswith("(no log at")
