"""Ports and processes of the servers a home runs (the Thrift server, its PostgreSQL) and of
the pipeline's own workers: is a port taken, is a pid still that process, stop it in steps,
why did it fail to start (its log).

Standard library only: ``ingest`` and ``streaming`` use it without Spark.
"""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"
STOP_TIMEOUT = 30.0  # seconds a server gets to stop cleanly after its first signal


class ProcessError(Exception):
    """A process did not stop when told to."""


# --- ports ------------------------------------------------------------------------------


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """A TCP connection to (host, port) succeeds within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_in_use(host: str, port: int) -> bool:
    """Something listens on (host, port): a connection succeeds or the address cannot be bound."""
    if port_accepts(connect_host(host), port):
        return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port on ``host`` that nothing used a moment ago (the system picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def connect_host(host: str) -> str:
    """Where a client reaches a server bound to ``host``: the loopback for a wildcard bind
    (``0.0.0.0``, ``""``, ``*``), else ``host`` itself."""
    return LOOPBACK if host in ("0.0.0.0", "", "*") else host


# --- processes ----------------------------------------------------------------------------


def pid_exists(pid: int) -> bool:
    """A process with this pid exists (signal 0; someone else's process counts too). A pid
    may have been reused since it was recorded: :func:`process_alive` checks what runs. A pid
    of 0 or below names no process (signal 0 would reach our own process group)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def process_alive(pid: int, marker: str) -> bool:
    """``pid`` runs and its command line contains ``marker`` (a reused pid is not ours)."""
    if not pid_exists(pid):
        return False
    proc = Path(f"/proc/{pid}")
    if not proc.exists():
        return True  # no /proc: trust the signal check
    try:
        if proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
        return marker in proc.joinpath("cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, IndexError):
        return False


def _signal(pid: int, sig: int, group: bool) -> None:
    try:
        os.killpg(pid, sig) if group else os.kill(pid, sig)
    except ProcessLookupError:
        pass


def terminate(pid: int, marker: str, steps: list[tuple[int, float]], group: bool = True) -> float:
    """Send each signal in turn, waiting up to its timeout for the process to go; seconds taken.

    ``steps``: (signal, seconds to wait after it), e.g. ``[(SIGTERM, 30), (SIGKILL, 5)]``;
    ``group``: signal the process group ``pid`` leads (a server started in a new session).
    Raises ProcessError when the process (``pid`` with ``marker``) still runs after them."""
    started = time.monotonic()
    for sig, wait in steps:
        if not process_alive(pid, marker):
            break
        _signal(pid, sig, group)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and process_alive(pid, marker):
            time.sleep(0.1)
    if process_alive(pid, marker):
        raise ProcessError(f"process {pid} did not stop")
    return time.monotonic() - started


def last_meaningful_line(log_file: Path, since: int = 0) -> str:
    """The line of ``log_file`` (from byte ``since``) that best says why a start failed."""
    try:
        with log_file.open("rb") as handle:
            handle.seek(since)
            lines = handle.read().decode(errors="replace").splitlines()
    except OSError:
        return f"(no log at {log_file})"
    noise = re.compile(r"^\s*(at |\.\.\. \d+ more|Caused by: \S+$|WARNING: )|^\s*$")
    meaningful = [line.strip() for line in lines if not noise.search(line)]
    for line in reversed(meaningful):
        if re.search(r"ERROR|FATAL|Exception|Error:", line):
            return line[:400]
    return meaningful[-1][:400] if meaningful else f"(nothing in {log_file})"
