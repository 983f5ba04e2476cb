"""The console script as a user runs it: `imdb-pipeline run` on a fresh home while a second
writer and a reader try the same home, then `results`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imdb_pipeline.home import REPO_ROOT
from tests.conftest import SAMPLES
from tests.e2e.answers import REAL_2019_TOP10, assert_same_answer
from tests.reference.duckdb_reference import compute

pytestmark = pytest.mark.e2e
CLI = str(Path(sys.executable).with_name("imdb-pipeline"))
SOURCE = str(SAMPLES / "real-2019-top25-repaired")


def cli(*args, home):
    env = {**os.environ, "IMDB_PIPELINE_HOME": str(home)}
    return subprocess.run(
        [CLI, *args], check=False, capture_output=True, text=True, env=env, timeout=600
    )


def holder_pid(home: Path) -> int | None:
    try:
        return json.loads((home / ".lock").read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return None


def test_run_then_results_on_a_fresh_home(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "IMDB_PIPELINE_HOME": str(home)}
    run = subprocess.Popen(
        [CLI, "run", "--source", SOURCE, "--report"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while holder_pid(home) != run.pid and time.monotonic() < deadline:
            time.sleep(0.1)
        second = cli("ingest", "--source", SOURCE, home=home)  # another writer: stops at once
        reader = cli("results", home=home)  # a reader never waits (no marts yet)
        stdout, stderr = run.communicate(timeout=600)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert second.returncode == 1, second.stderr[-2000:]
    assert second.stderr.startswith(
        f"error: home {home} is in use by pid {run.pid} (run, started at"
    )
    assert reader.returncode == 1 and reader.stderr.startswith("error: no results yet"), (
        reader.stderr
    )

    assert run.returncode == 0, stderr[-3000:]
    results = json.loads(stdout)  # stdout holds the JSON and nothing else
    assert [m["primary_title"] for m in results["top_movies"]][:3] == [
        "The Shawshank Redemption",
        "The Dark Knight",
        "Inception",
    ]
    assert [m["tconst"] for m in results["top_movies"]] == REAL_2019_TOP10  # PROVENANCE.md
    assert_same_answer(results, compute(Path(SOURCE)))  # and DuckDB's
    assert results["parameters"] == {"min_votes": 500, "title_types": ["movie"], "top_n": 10}
    # progress on the console: at most a line a second, so which micro-batches depends on speed
    assert re.search(r"stream: batch \d+: ", stderr)
    report = home / "reports" / "report.html"  # --report: the page, from the same marts
    assert f"report: wrote {report} (" in stderr
    assert "The Shawshank Redemption" in report.read_text()
    assert "WARNING: Using incubator modules" not in stderr  # the JVM's own lines: logs/jvm.log
    assert "incubator" in (home / "logs" / "jvm.log").read_text()
    for folder in ("lake", "warehouse", "metastore", "checkpoints", "logs"):
        assert (home / folder).is_dir()
    assert json.loads((home / "target.json").read_text())["target"] == "local"
    # dbt parsed the project once Spark was up; the build reused that parse
    dbt_log = (home / "logs" / "dbt.log").read_text()
    assert "[dbt-parse ]: Unable to do partial parsing because saved manifest not found" in dbt_log
    assert "Partial parsing enabled, no changes found, skipping parsing" in dbt_log

    again = cli("results", home=home)
    assert again.returncode == 0 and json.loads(again.stdout) == results, again.stderr[-2000:]
    table = cli("results", "--format", "table", home=home)
    assert table.returncode == 0, table.stderr[-2000:]
    assert (
        "The Shawshank Redemption" in table.stdout and "People most often credited" in table.stdout
    )
    assert max(len(line) for line in table.stdout.splitlines()) <= 100

    # dbt typed by hand, as the README's "Using dbt directly" says: from the repository root,
    # on the home the CLI used
    dbt = subprocess.run(
        # the top_movies mart's tests: dbt's own start (a JVM) and selection, not all 24 again
        [str(Path(sys.executable).with_name("dbt")), "test", "--select", "top_movies"],
        cwd=REPO_ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
        # a shell in the root with the README's two variables (none of the Makefile's)
        env={
            **{k: v for k, v in os.environ.items() if k != "IMDB_PIPELINE_JARS"},
            "IMDB_PIPELINE_HOME": str(home),
            "SPARK_CONF_DIR": str(REPO_ROOT / "conf"),
        },
    )
    assert dbt.returncode == 0, dbt.stdout[-3000:]
    assert "Exception" not in dbt.stdout + dbt.stderr, (dbt.stdout + dbt.stderr)[-3000:]
    assert "Completed successfully" in dbt.stdout
    done = re.search(r"Done\. PASS=(\d+) WARN=0 ERROR=0 SKIP=0", dbt.stdout)
    assert done and int(done[1]) >= 5, dbt.stdout[-2000:]  # the mart's tests and the singular ones

    other = cli("results", home=tmp_path / "other-home")  # homes never share state
    assert other.returncode == 1
    assert other.stderr.strip().splitlines()[-1].startswith("error: no results yet")
