"""Atomic publish: an ingest killed mid-conversion leaves the previous lake published, intact
and answering; no .partial folder is ever read; the next ingest removes the stale folder.

The console script runs in subprocesses (as a user runs it) on a generated sample:0.01 source,
and the killed run gets SIGKILL (the whole process group, its JVM too) while it converts.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.lake import land, publish
from ingest.sources import locate_files

pytestmark = pytest.mark.e2e
CLI = str(Path(sys.executable).with_name("imdb-pipeline"))
SOURCE = "sample:0.01"
QUERY = """
import json, sys
from imdb_pipeline.home import Home
from imdb_pipeline.spark import get_spark
spark = get_spark(Home.resolve(sys.argv[1]))
out = {}
for table in ("title_ratings", "title_basics", "title_principals", "name_basics", "title_names"):
    count = spark.sql(f"select count(*) from imdb_lookup.{table}").first()[0]
    location = [r for r in spark.sql(f"describe formatted imdb_lookup.{table}").collect()
                if r[0] == "Location"][0][1]
    out[table] = [count, location]
print(json.dumps(out))
"""


def cli(home: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "IMDB_PIPELINE_HOME": str(home)}
    return subprocess.run(
        [CLI, *args], check=False, capture_output=True, text=True, env=env, timeout=timeout
    )


def files_of(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def kill_during_conversion(home: Path) -> Path:
    """Start `ingest --force`, SIGKILL it once the new .partial folder holds Parquet files."""
    env = {**os.environ, "IMDB_PIPELINE_HOME": str(home)}
    process = subprocess.Popen(
        [CLI, "ingest", "--source", SOURCE, "--force"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            partial = next((home / "lake").glob(".*.partial"), None)
            if partial is not None and next(partial.rglob("*.parquet"), None) is not None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
                return partial
            if process.poll() is not None:
                pytest.fail(f"the ingest ended before it could be killed: {process.stderr.read()}")
            time.sleep(0.01)
        pytest.fail("no .partial folder appeared")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_killed_ingest_leaves_the_previous_lake_published(tmp_path, caplog):
    home = tmp_path / "home"
    first = cli(home, "ingest", "--source", SOURCE)
    assert first.returncode == 0, first.stderr[-3000:]
    lake = home / "lake"
    published = (lake / "CURRENT").read_text().strip()
    before = files_of(lake / published)
    manifest = json.loads((lake / published / "_manifest.json").read_text())

    partial = kill_during_conversion(home)

    assert partial.exists()  # left behind by the killed run ...
    assert (lake / "CURRENT").read_text().strip() == published  # ... but never published
    assert files_of(lake / published) == before
    answered = subprocess.run(
        [sys.executable, "-c", QUERY, str(home)],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert answered.returncode == 0, answered.stderr[-3000:]
    tables = json.loads(answered.stdout.strip().splitlines()[-1])
    rows = {f["table"]: f["rows_written"] for f in manifest["files"]}
    for table, (count, location) in tables.items():
        assert ".partial" not in location and location.rstrip("/").endswith(f"{published}/{table}")
        assert count == rows.get(table, manifest["title_names"]["rows"])

    # the next ingest (its landing step, in process: no second Spark start) cleans up
    caplog.set_level(logging.INFO, logger="ingest")
    ingest_id, staging, _ = land(
        locate_files(next((home / "downloads").glob("sample-*"))), lake, progress=False
    )
    messages = caplog.messages
    assert f"ingest: removed {partial.name}, left by an ingest that did not finish" in messages
    assert list(lake.glob(".*.partial")) == [staging]
    publish(lake, ingest_id, staging)
    assert not list(lake.glob(".*.partial"))
    assert (lake / "CURRENT").read_text().strip() == ingest_id
    assert (lake / published).is_dir()  # the previous ingest is kept as the fallback
