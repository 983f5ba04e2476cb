"""The console script as a user runs it: `imdb-pipeline run` on a fresh home, then `results`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLES

pytestmark = pytest.mark.e2e
CLI = str(Path(sys.executable).with_name("imdb-pipeline"))


def cli(*args, home):
    env = {**os.environ, "IMDB_PIPELINE_HOME": str(home)}
    return subprocess.run([CLI, *args], check=False, capture_output=True, text=True, env=env, timeout=600)


def test_run_then_results_on_a_fresh_home(tmp_path):
    home = tmp_path / "home"
    done = cli("run", "--source", str(SAMPLES / "real-2019-top25-repaired"), home=home)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout)
    assert [m["primary_title"] for m in results["top_movies"]][:3] == [
        "The Shawshank Redemption", "The Dark Knight", "Inception",
    ]
    assert results["parameters"] == {"min_votes": 500, "title_types": ["movie"], "top_n": 10}
    assert "stream: batch 0:" in done.stderr  # one progress line per micro-batch
    for folder in ("lake", "warehouse", "metastore", "checkpoints", "logs"):
        assert (home / folder).is_dir()

    table = cli("results", "--format", "table", home=home)
    assert table.returncode == 0, table.stderr[-2000:]
    assert "The Shawshank Redemption" in table.stdout and "People most often credited" in table.stdout

    other = cli("results", home=tmp_path / "other-home")  # homes never share state
    assert other.returncode == 1
    assert other.stderr.strip().splitlines()[-1].startswith("error: no results yet")
