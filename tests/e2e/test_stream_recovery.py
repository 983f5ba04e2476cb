"""The streaming stage under crashes, refreshes and --follow.

* exactly-once: the `stream` process is killed (SIGKILL, from inside at named points) after a
  micro-batch is buffered but before Spark's checkpoint commit, and between the two Delta appends
  of a flush; each rerun resumes, and the end state equals the DuckDB answer with every record
  counted once;
* incremental refresh: a second, newer dump is streamed as its changes only, and the answer
  equals a fresh computation on the new dump;
* --follow picks up a new ingest while running, and as a process (the kill test's last run)
  stops cleanly on SIGTERM.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from imdb_pipeline.generate.write import generate
from imdb_pipeline.results import collect
from imdb_pipeline.transform import dbt_vars, run_dbt
from ingest.run import run_ingest
from streaming.job import StreamOptions, stream
from streaming.sink import FAULT_ENV
from tests.conftest import FIXTURES
from tests.e2e.report_checks import check_report
from tests.reference.duckdb_reference import compute

pytestmark = pytest.mark.e2e
CLI = str(Path(sys.executable).with_name("imdb-pipeline"))


def cli(home, *args, fault=None):
    env = {**os.environ, "IMDB_PIPELINE_HOME": str(home)}
    env.pop(FAULT_ENV, None)
    if fault:
        env[FAULT_ENV] = fault
    return subprocess.run(
        [CLI, *args], check=False, capture_output=True, text=True, env=env, timeout=600
    )


def delta(spark, home, table):
    return spark.read.format("delta").load(str(home / "warehouse" / "imdb_stream.db" / table))


def test_killed_at_every_point_the_rerun_counts_each_record_once_and_a_follower_stops(
    spark, tmp_path
):
    home, source = tmp_path / "home", FIXTURES / "rules"
    assert cli(home, "ingest", "--source", str(source)).returncode == 0
    # flush-seconds 0: every micro-batch goes to Delta (killed between the two appends: the
    # rerun lands the rest, then replays that micro-batch without writing it); 3600: they wait
    # buffered until the run ends (killed after buffering micro-batch 5, before Spark's commit:
    # the last run lands the three buffered ones first, then replays 5 without writing it).
    for flush, point in (("0", "mid_flush@1"), ("3600", "after_stage@5")):
        killed = cli(
            home, "stream", "--records-per-batch", "4", "--flush-seconds", flush, fault=point
        )
        assert killed.returncode == -9, (point, killed.stderr[-2000:])
    # the last run follows (--follow): it lands the buffered micro-batches, replays, streams
    # to the end, waits for a new ingest, and stops cleanly on SIGTERM; `status` tells.
    done = follow_until_done_then_sigterm(home)
    assert "4 staged micro-batches from an earlier run landed in Delta" in done  # 2-5
    assert "stream: stopped" in done
    finished = cli(home, "status")
    assert "finished" in finished.stdout and "last error: -" in finished.stdout
    assert "stream: batch 7:" in done  # the follower's own progress: the last micro-batch

    reference = compute(source)
    log = delta(spark, home, "ratings")
    assert log.count() == reference["ratings_processed"] == 30  # no record written twice
    assert log.select("feed_row").distinct().count() == 30
    batches = delta(spark, home, "batches").orderBy("batch_id").collect()
    assert [b.batch_id for b in batches] == list(range(8))  # 30 records, 4 per batch
    last = batches[-1]
    assert last.ratings_processed == reference["ratings_processed"]
    assert math.isclose(last.average_number_of_votes, reference["average_number_of_votes"])
    assert [t.tconst for t in last.top] == [m["tconst"] for m in reference["top_movies"]]


def write_tsv_gz(path: Path, header: str, rows: list[str]) -> None:
    with gzip.open(path, "wt", encoding="utf-8", newline="\n") as out:
        out.write(header + "\n")
        out.writelines(row + "\n" for row in rows)


def newer_dump(old: Path, new: Path, seed: int = 5) -> int:
    """Copy a dump and move its ratings a day on: some votes change, some titles are new,
    a few disappear. Returns the number of changed records (new + changed + deleted)."""
    shutil.copytree(old, new)
    with gzip.open(old / "title.ratings.tsv.gz", "rt", encoding="utf-8") as f:
        header, *rows = f.read().splitlines()
    with gzip.open(old / "title.basics.tsv.gz", "rt", encoding="utf-8") as f:
        titles = [line.split("\t", 1)[0] for line in f.read().splitlines()[1:]]
    rng = random.Random(seed)
    rated = {row.split("\t")[0] for row in rows}
    kept, changed = [], 0
    for row in rows:
        tconst, rating, votes = row.split("\t")
        draw = rng.random()
        if draw < 0.03:
            changed += 1  # gone from the new dump
            continue
        if draw < 0.15:
            votes, changed = str(int(votes) + rng.randint(1, 5000)), changed + 1
        kept.append(f"{tconst}\t{rating}\t{votes}")
    fresh = [t for t in titles if t not in rated][:25]
    kept += [f"{t}\t{rng.randint(10, 100) / 10:.1f}\t{rng.randint(5, 90000)}" for t in fresh]
    kept.sort()
    write_tsv_gz(new / "title.ratings.tsv.gz", header, kept)
    return changed + len(fresh)


def test_a_newer_dump_is_streamed_as_its_changes_only(spark, home, tmp_path):
    first, second = tmp_path / "day1", tmp_path / "day2"
    generate(first, 0.0005, seed=11)
    changed = newer_dump(first, second)
    options = StreamOptions(records_per_batch=50, top_n=7)  # a stream of its own in this home

    run_ingest(spark, home, str(first), force=True)
    stream(spark, home, options)
    run_ingest(spark, home, str(second), force=True)
    day2 = stream(spark, home, options)

    assert day2["records_this_run"] == changed  # not the whole file again
    assert day2["batches_this_run"] == math.ceil(changed / 50)
    reference = compute(second, top_n=7)
    assert day2["ratings_processed"] == reference["ratings_processed"]
    assert math.isclose(day2["average_number_of_votes"], reference["average_number_of_votes"])
    assert day2["top"] == [m["tconst"] for m in reference["top_movies"]]

    run_dbt(
        home, ["run", "--select", "staging", "intermediate", "marts"], dbt_vars(500, 7, ["movie"])
    )
    ours = collect(spark)
    assert ours["ratings_processed"] == reference["ratings_processed"]
    assert [m["tconst"] for m in ours["top_movies"]] == day2["top"]
    # the report of this answer marks the refresh (day 1 -> day 2) in both stream charts
    facts = check_report(spark, home, tmp_path, "refresh")
    assert [facts["charts"][c]["elements"]["rule"] for c in ("chart-average", "chart-ranks")] == [
        1,
        1,
    ]


def test_follow_picks_up_a_new_ingest_and_stops_cleanly(spark, home, tmp_path):
    first, second = tmp_path / "day1", tmp_path / "day2"
    generate(first, 0.0003, seed=12)
    changed = newer_dump(first, second, seed=9)
    options = StreamOptions(records_per_batch=200, top_n=4)
    run_ingest(spark, home, str(first), force=True)
    stop, outcome = threading.Event(), {}

    def follow():
        outcome["summary"] = stream(spark, home, options, follow=True, stop=stop)

    def latest_batch():
        if not (home.root / "warehouse" / "imdb_stream.db" / "batches" / "_delta_log").is_dir():
            return None
        rows = (
            delta(spark, home.root, "batches")
            .where(f"stream_id = '{options.stream_id}'")
            .orderBy("batch_id", ascending=False)
            .limit(1)
            .collect()
        )
        return rows[0] if rows else None

    def wait_for(done, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and runner.is_alive():
            batch = latest_batch()
            if batch is not None and done(batch):
                return
            time.sleep(1)

    runner = threading.Thread(target=follow)
    runner.start()
    try:  # the first dump streamed to its end: the follower now waits for a new ingest
        first_ratings = compute(first, top_n=4)["ratings_processed"]
        wait_for(lambda b: b.end_row == b.feed_rows and b.ratings_processed == first_ratings, 120)
        run_ingest(spark, home, str(second), force=True)
        expected = compute(second, top_n=4)
        wait_for(
            lambda b: (
                b.ratings_processed == expected["ratings_processed"] and b.end_row == b.feed_rows
            ),
            120,
        )
    finally:
        stop.set()
        runner.join(120)
    assert not runner.is_alive()
    summary = outcome["summary"]
    assert summary["ratings_processed"] == expected["ratings_processed"]
    assert summary["top"] == [m["tconst"] for m in expected["top_movies"]]
    assert changed > 0


def follow_until_done_then_sigterm(home: Path) -> str:
    """`stream --follow` in a process until `status` shows all 30 records done while it
    runs, then SIGTERM; returns its stderr once it has exited 0."""
    env = {**os.environ, "IMDB_PIPELINE_HOME": str(home)}
    env.pop(FAULT_ENV, None)
    follower = subprocess.Popen(
        [CLI, "stream", "--follow", "--records-per-batch", "4"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and follower.poll() is None:
            status = cli(home, "status")  # no JVM: a second, cheap process
            if "30 of 30 done" in status.stdout and "running" in status.stdout:
                break
            time.sleep(2)
        assert "30 of 30 done" in status.stdout, status.stdout + status.stderr
        follower.send_signal(signal.SIGTERM)
        _, stderr = follower.communicate(timeout=120)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    assert follower.returncode == 0, stderr[-3000:]
    return stderr


def test_a_restart_without_the_buffered_micro_batches_folds_them_again(spark, home, caplog):
    """What a restart on another driver (or after the driver's disk is lost) finds: Spark's
    checkpoint says micro-batches 0-7 are done, the tables hold 0-2 and half of a flush of 3
    (its ratings-log rows, no batches row), and no buffered file. The stream deletes the
    unpaired log rows and folds rows 12-29 again from the feeds: every record once."""
    from deltalake import DeltaTable

    from streaming.state import BATCHES_TABLE, RATINGS_TABLE, ensure_tables

    source = FIXTURES / "rules"
    options = StreamOptions(records_per_batch=4, top_n=9)  # a stream of its own in this home
    run_ingest(spark, home, str(source), force=True)
    first = stream(spark, home, options)
    assert first["batches"] == 8 and first["records"] == 30
    locations = {t: loc.removeprefix("file:") for t, loc in ensure_tables(spark).items()}
    sid = options.stream_id
    DeltaTable(locations[BATCHES_TABLE]).delete(f"stream_id = '{sid}' AND batch_id >= 3")
    DeltaTable(locations[RATINGS_TABLE]).delete(f"stream_id = '{sid}' AND batch_id > 3")

    caplog.set_level(logging.INFO, logger="streaming")
    caplog.clear()
    again = stream(spark, home, options)
    lines = caplog.messages
    assert any(
        "ratings-log rows of micro-batches 3-3 had no batches row" in line for line in lines
    ), lines
    assert any(
        "micro-batches 3-7 were committed by Spark but are neither in Delta nor staged" in line
        and "feed rows 12-29" in line
        for line in lines
    ), lines
    log = spark.read.format("delta").load(locations[RATINGS_TABLE]).where(f"stream_id = '{sid}'")
    assert log.count() == log.select("feed_row").distinct().count() == 30  # each record once
    batches = (
        spark.read.format("delta")
        .load(locations[BATCHES_TABLE])
        .where(f"stream_id = '{sid}'")
        .orderBy("batch_id")
        .collect()
    )
    assert [b.batch_id for b in batches] == [0, 1, 2, 7]
    assert batches[-1].batches == 8 and batches[-1].end_row == 30 and batches[-1].records == 18
    reference = compute(source, top_n=9)
    for summary in (first, again):
        assert summary["ratings_processed"] == reference["ratings_processed"] == 30
        assert math.isclose(
            summary["average_number_of_votes"], reference["average_number_of_votes"]
        )
        assert summary["top"] == [m["tconst"] for m in reference["top_movies"]]
    assert again["batches"] == 8 and again["records_this_run"] == 0
