"""Credentials, ports and pid files of `imdb-pipeline thrift` (no Spark, no PostgreSQL:
nothing here starts a server). The metastore's choice and settings: test_metastore.py; ports
and processes themselves: test_processes.py."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from imdb_pipeline import thrift
from imdb_pipeline.cli import main
from imdb_pipeline.metastore import PASSWORD_REF, postgres_metastore
from imdb_pipeline.processes import free_port
from imdb_pipeline.spark import spark_settings
from tests.metastore_homes import SECRET, dead_pid, listening_socket, managed, metastore_home


@pytest.fixture(autouse=True)  # every test: no metastore settings from the environment
def home(monkeypatch, tmp_path):
    return metastore_home(monkeypatch, tmp_path)


# --- the server's settings ---------------------------------------------------------------------


def test_credentials_never_appear_in_settings_commands_or_status(home, monkeypatch):
    managed(home)
    monkeypatch.setenv("IMDB_METASTORE_PASSWORD", SECRET)
    metastore = postgres_metastore(home, "thrift")
    settings = spark_settings(home, metastore=metastore)
    assert not any(SECRET in value for value in settings.values())
    command = thrift.server_command(home, "127.0.0.1", 10000, {}, metastore)
    assert not any(SECRET in part for part in command)  # the command line is world-readable
    assert (
        "--conf" in command
        and f"spark.hadoop.javax.jdo.option.ConnectionPassword={PASSWORD_REF}" in command
    )
    result = CliRunner().invoke(main, ["--home", str(home.root), "thrift", "status"])
    assert SECRET not in result.output
    assert "metastore: PostgreSQL jdbc:postgresql://127.0.0.1:5999/metastore" in result.output


def test_the_server_gets_the_pipelines_settings_plus_its_address(home):
    managed(home)
    metastore = postgres_metastore(home, "thrift")
    command = thrift.server_command(
        home, "127.0.0.1", 10123, {"spark.driver.memory": "2g"}, metastore
    )
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
        result = CliRunner().invoke(
            main, ["--home", str(home.root), "thrift", command, "--port", str(port)]
        )
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
    assert (
        f"thrift server: not running (stale pid file {state_file} (process {pid} is not running))"
        in status.output
    )
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


@pytest.mark.parametrize("command", [["results"], ["transform"], ["run", "--source", "x"]])
def test_the_thrift_target_without_a_server_fails_fast(home, command):
    port = free_port()
    result = CliRunner().invoke(
        main, ["--home", str(home.root), *command, "--target", "thrift", "--port", str(port)]
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"error: no Thrift server accepts connections on 127.0.0.1:{port}: start one with "
        f"`imdb-pipeline --home {home.root} thrift start --port {port}`"  # the home typed
    )


def test_the_thrift_target_needs_a_postgres_metastore(home):
    result = CliRunner().invoke(main, ["--home", str(home.root), "stream", "--target", "thrift"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: no PostgreSQL metastore for {home.root}: start the server first "
        f"(`imdb-pipeline --home {home.root} thrift start`) or set IMDB_METASTORE_URL"
    )


def test_a_stopped_metastore_database_is_named(home):
    port = free_port()
    managed(home, port)
    result = CliRunner().invoke(
        main, ["--home", str(home.root), "ingest", "--target", "thrift", "--source", str(home.root)]
    )
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: the metastore database on 127.0.0.1:{port} does not accept connections: "
        f"`imdb-pipeline --home {home.root} thrift start`"
    )


def test_clients_find_the_running_servers_port(home, monkeypatch):
    assert thrift.client_address(home) == ("127.0.0.1", 10000)
    assert thrift.client_address(home, 10001) == ("127.0.0.1", 10001)
    monkeypatch.setenv("IMDB_THRIFT_PORT", "10002")
    assert thrift.client_address(home) == ("127.0.0.1", 10002)
