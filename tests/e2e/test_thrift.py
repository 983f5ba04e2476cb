"""The server deployment on one machine, as a user runs it: `thrift start` (the home's own
PostgreSQL + a Thrift server on free loopback ports), `run --target thrift`, the marts read
through the server by PyHive and beeline, a restart (the tables survive), `thrift stop`.

Every process the module starts is stopped by the fixture's finalizer, also when a test fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from imdb_pipeline import thrift
from imdb_pipeline.postgres import sweep_orphan_data
from imdb_pipeline.processes import free_port
from tests.conftest import SAMPLES
from tests.e2e.answers import REAL_2019_TOP10 as TOP_10
from tests.unit.test_report import chart_specs, chart_values

pytestmark = pytest.mark.e2e
CLI = str(Path(sys.executable).with_name("imdb-pipeline"))
BEELINE = str(Path(sys.executable).with_name("beeline"))


class Server:
    def __init__(self, root: Path):
        self.root = root
        self.home = root / "home"
        self.port = free_port()
        self.results: dict = {}

    def env(self) -> dict:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("IMDB_METASTORE_", "IMDB_THRIFT_", "IMDB_TARGET"))
        }
        return {**env, "IMDB_PIPELINE_HOME": str(self.home), "PYSPARK_PYTHON": sys.executable}

    def cli(self, *args, timeout=600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [CLI, *args],
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=timeout,
            check=False,
        )

    def query(self, sql: str) -> list[tuple]:
        from pyhive import hive

        connection = hive.connect(host="127.0.0.1", port=self.port, username="imdb")
        try:
            cursor = connection.cursor()
            cursor.execute(sql)
            return cursor.fetchall()
        finally:
            connection.close()

    def pids(self) -> list[int]:
        """Processes of this module's home: its server and PostgreSQL (found by their own files)."""
        found = []
        state, _ = thrift.server_state(_home(self.home))
        if state:
            found.append(int(state["pid"]))
        pid_file = self.home / "postgres" / "data" / "postmaster.pid"
        if pid_file.exists():
            found.append(int(pid_file.read_text().split()[0]))
        return [pid for pid in found if _alive(pid)]

    def kill_leftovers(self) -> None:
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _home(path: Path):
    from imdb_pipeline.home import Home

    return Home.resolve(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


@pytest.fixture(scope="module")
def server():
    # A private home (0700 mktemp -d, as root): PostgreSQL, run as `postgres`, keeps its data
    # outside the home (test_thrift_postgres.py pins how); nothing else changes.
    root = Path(tempfile.mkdtemp(prefix="imdb-thrift-"))
    running = Server(root)
    try:
        started = time.monotonic()
        done = running.cli("thrift", "start", "--port", str(running.port), timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        running.start_seconds = time.monotonic() - started
        yield running
    finally:
        stopped = running.cli("thrift", "stop", timeout=120)
        running.kill_leftovers()  # only if stop could not do its job
        assert not running.pids(), f"left behind: {running.pids()}; {stopped.stderr}"
        shutil.rmtree(root, ignore_errors=True)
        sweep_orphan_data()  # the home is gone: its PostgreSQL data too


def test_start_reports_the_server_and_its_metastore(server):
    done = server.cli("thrift", "status")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("thrift server: running") and f"127.0.0.1:{server.port}" in lines[0]
    assert lines[1].startswith("metastore: PostgreSQL jdbc:postgresql://127.0.0.1:")
    assert "running, pid" in lines[1]
    password = (server.home / "postgres" / "password").read_text().strip()
    assert oct((server.home / "postgres" / "password").stat().st_mode & 0o777) == "0o600"
    assert password not in done.stdout + done.stderr
    assert password not in (server.home / "metastore.json").read_text()
    for log in (server.home / "logs").glob("*.log"):
        assert password not in log.read_text(errors="replace"), log
    # a second start on the same port is a no-op
    again = server.cli("thrift", "start", "--port", str(server.port))
    assert again.returncode == 0 and "already running" in again.stderr


def test_run_through_the_server(server):
    # --skip-tests: seeds and models through the server; the full `dbt build` with every test
    # runs embedded (test_cli), the same SQL through the other connection method.
    done = server.cli(
        "run",
        "--target",
        "thrift",
        "--skip-tests",
        "--source",
        str(SAMPLES / "real-2019-top25-repaired"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    built = [line for line in done.stderr.splitlines() if line.startswith("dbt: build: ")]
    assert built and " seeds" in built[0] and " models" in built[0] and "test" not in built[0]
    assert "publish: " in done.stderr  # the marts of the answer, published together
    results = json.loads(done.stdout)
    assert [m["tconst"] for m in results["top_movies"]] == TOP_10
    assert results["ratings_processed"] == 25
    server.results = results
    # the streamed tables are in the metastore the server serves
    assert server.query("select count(*) from imdb_stream.ratings") == [(25,)]


def test_sql_clients_read_the_marts(server):
    if not server.results:
        pytest.skip("the run through the server failed")
    expected = server.results

    movies = server.query(
        "select rank, tconst, primary_title, num_votes, ranking_score from imdb.top_movies "
        "order by rank"
    )
    assert movies == [
        (m["rank"], m["tconst"], m["primary_title"], m["num_votes"], m["ranking_score"])
        for m in expected["top_movies"]
    ]
    credits = server.query(
        "select nconst, primary_name, credit_count, movie_count from imdb.top_movie_credits "
        "order by rank, movie_count desc, nconst"
    )
    assert credits == [
        (c["nconst"], c["primary_name"], c["credit_count"], c["movie_count"])
        for c in expected["top_movie_credits"]
    ]
    titles = server.query("select tconst, title from imdb.top_movie_titles order by tconst, title")
    assert titles == [(t["tconst"], t["title"]) for t in expected["top_movie_titles"]]

    # beeline (it ships with pyspark), as docs/server.md shows it
    sql = (
        "select tconst from imdb.top_movies order by rank;"
        "select count(*) as credits from imdb.top_movie_credits;"
        "select count(*) as titles from imdb.top_movie_titles;"
    )
    done = subprocess.run(
        [
            BEELINE,
            "-u",
            f"jdbc:hive2://127.0.0.1:{server.port}/imdb",
            "-n",
            "imdb",
            "--silent=true",
            "--outputformat=tsv2",
            "-e",
            sql,
        ],
        capture_output=True,
        text=True,
        env=server.env(),
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.split()
    assert lines[:11] == ["tconst", *TOP_10]
    assert lines[11:] == ["credits", str(len(credits)), "titles", str(len(titles))]

    # `results --target thrift` prints exactly what the run printed
    again = server.cli("results", "--target", "thrift", "--format", "json")
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout) == expected

    # `report --target thrift`: marts and micro-batches read through the server, same numbers
    report = server.cli("report", "--target", "thrift", "--out", str(server.home / "report-thrift"))
    assert report.returncode == 0, report.stderr[-3000:]
    html = Path(report.stdout.strip()).read_text()
    scores = re.findall(
        r'<tr data-tconst="(tt\d+)">.*?data-field="ranking_score" '
        r'data-value="([^"]+)"',
        html,
        re.DOTALL,
    )
    assert [(t, json.loads(v)) for t, v in scores] == [
        (m["tconst"], m["ranking_score"]) for m in expected["top_movies"]
    ]
    specs = chart_specs(html)
    last = max(p["batch_id"] for p in chart_values(specs["chart-average"]) if "batch_id" in p)
    ranks = {
        p["tconst"]: p["rank"]
        for p in chart_values(specs["chart-ranks"])
        if p.get("batch_id") == last and "stint" in p
    }
    assert ranks == {m["tconst"]: m["rank"] for m in expected["top_movies"]}


def test_the_tables_survive_a_restart(server):
    if not server.results:
        pytest.skip("the run through the server failed")
    stopped = server.cli("thrift", "stop", timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    assert "server stopped" in stopped.stderr and "PostgreSQL stopped" in stopped.stderr
    assert not server.pids()
    assert server.cli("thrift", "status").returncode == 1

    started = server.cli("thrift", "start", "--port", str(server.port), timeout=300)
    assert started.returncode == 0, started.stderr[-3000:]
    assert "initialised" not in started.stderr  # the same database, not a new one
    tconsts = [row[0] for row in server.query("select tconst from imdb.top_movies order by rank")]
    assert tconsts == TOP_10
    again = server.cli("results", "--target", "thrift", "--format", "json")
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout) == server.results
