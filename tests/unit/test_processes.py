"""imdb_pipeline.processes: whether a port is taken, whether a pid is still the process it was,
stopping a process in steps, and the line of a log that says why a start failed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from imdb_pipeline.processes import (
    LOOPBACK,
    ProcessError,
    connect_host,
    free_port,
    last_meaningful_line,
    pid_exists,
    port_accepts,
    port_in_use,
    process_alive,
    terminate,
)
from tests.metastore_homes import dead_pid, listening_socket

MARKER = "imdb-processes-test-sleeper"


@pytest.fixture
def sleeper():
    """A child process in a session of its own (as the servers are started) whose command line
    carries MARKER; SIGTERM ends it unless it was told to ignore it."""
    started = []

    def start(ignore_term: bool = False):
        code = (
            "import signal, time\n"
            + ("signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" if ignore_term else "")
            + "print('ready', flush=True)\ntime.sleep(60)\n"
        )
        process = subprocess.Popen(
            [sys.executable, "-c", code, MARKER],
            stdout=subprocess.PIPE,
            start_new_session=True,
            text=True,
        )
        assert process.stdout.readline().strip() == "ready"  # its handlers are in place
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


# --- ports ----------------------------------------------------------------------------------


def test_a_listening_port_accepts_and_is_in_use():
    server, port = listening_socket()
    with server:
        assert port_accepts(LOOPBACK, port) and port_in_use(LOOPBACK, port)
        assert port_in_use("0.0.0.0", port)  # a wildcard bind is checked on the loopback
    assert not port_accepts(LOOPBACK, port)


def test_a_free_port_is_free():
    port = free_port()
    assert 0 < port < 65536 and not port_in_use(LOOPBACK, port)


def test_clients_reach_a_wildcard_bind_on_the_loopback():
    assert [connect_host(h) for h in ("0.0.0.0", "", "*")] == [LOOPBACK] * 3
    assert connect_host("10.0.0.7") == "10.0.0.7"


# --- processes ------------------------------------------------------------------------------


def test_a_pid_exists_while_its_process_runs():
    assert pid_exists(os.getpid())
    assert not pid_exists(dead_pid())


def test_no_pid_names_a_process():
    # a state file without a pid must not read as running: signal 0 to pid 0 would reach
    # our own process group, and to -1 every process we may signal
    assert not pid_exists(0) and not pid_exists(-1)
    assert not process_alive(0, "python")


def test_a_process_is_alive_only_with_its_marker(sleeper):
    process = sleeper()
    assert process_alive(process.pid, MARKER)
    assert not process_alive(process.pid, "HiveThriftServer2")  # a reused pid is not ours
    assert not process_alive(dead_pid(), MARKER)


def test_a_zombie_is_not_alive(sleeper):
    process = sleeper()
    os.kill(process.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while process_alive(process.pid, MARKER) and time.monotonic() < deadline:
        time.sleep(0.01)
    # not reaped (the fixture's wait() does that): the pid is still there, as a zombie
    assert pid_exists(process.pid) and not process_alive(process.pid, MARKER)


def test_terminate_stops_at_the_first_signal_that_works(sleeper):
    process = sleeper()
    took = terminate(process.pid, MARKER, [(signal.SIGTERM, 10), (signal.SIGKILL, 5)])
    assert took < 10 and process.wait(5) == -signal.SIGTERM
    assert terminate(process.pid, MARKER, [(signal.SIGTERM, 10)]) < 1  # gone: nothing to send


def test_a_process_that_outlives_every_step_is_an_error(sleeper):
    process = sleeper(ignore_term=True)
    with pytest.raises(ProcessError, match=f"process {process.pid} did not stop"):
        terminate(process.pid, MARKER, [(signal.SIGTERM, 0.3)], group=False)
    assert terminate(process.pid, MARKER, [(signal.SIGTERM, 0.3), (signal.SIGKILL, 5)]) < 5


# --- the log's reason -------------------------------------------------------------------------


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
    assert last_meaningful_line(log, offset) == (
        "org.apache.thrift.transport.TTransportException: Could not create ServerSocket on "
        "address 0.0.0.0/0.0.0.0:10000."
    )
    assert last_meaningful_line(tmp_path / "missing.log").startswith("(no log at")
