"""One writer per home (imdb_pipeline.lock), with the console script in real processes:
a second writer stops at once saying who holds the home, or waits with --wait; the lock
goes when its holder dies; `results` and `status` read while a writer holds the home, and
`results` does so without a JVM.

The holder is this test process (a `run` would cost a Spark start); tests/e2e/test_cli.py
does the same against a real `run`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from imdb_pipeline.home import Home
from imdb_pipeline.lock import holder, writer_lock
from tests.conftest import FIXTURES
from tests.unit.test_results import EXPECTED, write_marts

CLI = str(Path(sys.executable).with_name("imdb-pipeline"))
# The CLI in a process that reports, at exit, how long the command took (imports included)
# and whether it imported pyspark.
MEASURED = """
import sys, time
started, cpu = time.monotonic(), time.process_time()
from imdb_pipeline.cli import main
try:
    main(sys.argv[1:], prog_name="imdb-pipeline")
finally:
    took, cpu = time.monotonic() - started, time.process_time() - cpu
    print(f"measured: {took:.2f}s cpu {cpu:.2f}s pyspark={'pyspark' in sys.modules}",
          file=sys.stderr)
"""
HOLD = """
import sys, time
from imdb_pipeline.home import Home
from imdb_pipeline.lock import writer_lock
with writer_lock(Home.resolve(sys.argv[1]), "run"):
    print("held", flush=True)
    time.sleep(600)
"""


def cli(home: Home, *args: str, measured: bool = False, **popen) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", MEASURED] if measured else [CLI]
    return subprocess.run(
        [*command, "--home", str(home.root), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **popen,
    )


def test_a_second_writer_stops_at_once_saying_who_holds_the_home(tmp_path):
    home = Home.resolve(tmp_path / "home")
    with writer_lock(home, "run"):
        second = cli(home, "ingest", "--source", str(FIXTURES / "rules"), measured=True)
    assert second.returncode == 1, second.stderr
    assert second.stdout == ""
    error, measured = second.stderr.splitlines()
    pattern = (
        rf"error: home {re.escape(str(home.root))} is in use by pid {os.getpid()} "
        r"\(run, started at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\): wait for it to finish .*"
        r"pass --wait"
    )
    assert re.match(pattern, error), second.stderr
    assert measured.endswith("pyspark=False")  # stopped before anything slow: not even an import
    assert not home.lake.exists()  # it wrote nothing
    assert holder(home) is None  # the finished holder left no pid behind


def test_wait_runs_the_command_once_the_holder_is_done(tmp_path):
    home = Home.resolve(tmp_path / "home")
    log = home.logs / "pipeline.log"
    with writer_lock(home, "transform"):
        waiting = subprocess.Popen(
            [CLI, "--home", str(home.root), "thrift", "stop", "--wait"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "waiting for it" not in (
            log.read_text() if log.exists() else ""
        ):
            time.sleep(0.1)
        assert waiting.poll() is None, waiting.communicate()
    _, stderr = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, stderr
    assert f"in use by pid {os.getpid()} (transform, started at" in stderr
    assert stderr.strip().splitlines()[-1] == "thrift: server not running"


def test_the_lock_goes_with_a_killed_holder(tmp_path):
    home = Home.resolve(tmp_path / "home")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(home.root)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert cli(home, "thrift", "stop").returncode == 1  # held
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with writer_lock(home, "test"):  # the kernel released it with the process
        pass


def test_results_and_status_read_while_a_writer_holds_the_home_and_results_needs_no_jvm(tmp_path):
    home = Home.resolve(tmp_path / "home")
    write_marts(home.warehouse)
    (home.root / "stream.status.json").write_text(
        json.dumps(
            {
                "state": "running",
                "pid": os.getpid(),
                "stream_id": "stream-abc",
                "records_done": 4,
                "records_total": 7,
                "records_per_batch": 4,
                "batch_id": 0,
                "rows_per_second": 80.0,
                "eta_seconds": 0.04,
                "average_number_of_votes": 1000.0,
                "number_one": "tt2",
                "last_error": None,
                "updated_at": "2026-11-30T08:00:00+00:00",
            }
        )
    )
    with writer_lock(home, "run"):
        done = cli(home, "results", measured=True)
        status = cli(home, "status")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == EXPECTED
    # no pyspark import, so no JVM (its time is a benchmark's figure, see the README)
    assert re.search(r"measured: [\d.]+s cpu [\d.]+s pyspark=False", done.stderr)
    assert not (home.logs / "jvm.log").exists() and not home.metastore.exists()
    assert status.returncode == 0, status.stderr
    assert "4 of 7 done" in status.stdout and "running" in status.stdout
