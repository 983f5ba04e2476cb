"""The same `run` embedded and on a loopback cluster with S3 storage: seconds and the overhead.

    make bench-cluster                                # real-2019 sample, 2 rounds, local target
    make bench-cluster ARGS="--rounds 1 --thrift"     # also `run --target thrift` on the cluster

Starts moto's S3 server, a standalone master and one worker (2 cores, 2 GiB) whose mount
namespace hides the driver's homes (tests/loopback_cluster.py; needs root), then per round,
each on a fresh home (and a fresh S3 prefix):

* embedded: ``imdb-pipeline run --source S --skip-tests`` (local[2], the home's disk);
* cluster: the same with ``--storage s3://.../roundN --conf spark.master=spark://...``
  (the driver here, executors on the worker; dbt in the driver's session);
* with ``--thrift``: ``thrift start`` on the cluster (``spark.cores.max=1``, its own home and
  PostgreSQL), ``run --target thrift`` (dbt through the server), ``thrift stop``.

Every answer must equal the first embedded one (else it stops). Prints one JSON line per run
(seconds, the machine's load average before and after) and a summary with the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import SAMPLES
from tests.loopback_cluster import Cluster, can_hide_the_home

# A loaded shared machine stretched a 0.5 MB run to 12-15 minutes (2026-11-30): no cut-off
# that only a busy machine would hit.
RUN_TIMEOUT = 3600
ANSWER_KEYS = (
    "parameters",
    "ratings_processed",
    "average_number_of_votes",
    "top_movies",
    "top_movie_credits",
    "top_movie_titles",
)


def timed(label: str, done, before: tuple) -> dict:
    """One JSON line for a finished command; raises if it failed."""
    if done.returncode != 0:
        sys.exit(f"bench-cluster: {label} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    record = {
        "run": label,
        "seconds": round(done.seconds, 1),
        "load_before": [round(x, 1) for x in before],
        "load_after": [round(x, 1) for x in os.getloadavg()],
    }
    print(json.dumps(record), flush=True)
    return record


def answer(stdout: str) -> dict:
    results = json.loads(stdout)
    return {key: results[key] for key in ANSWER_KEYS}


def same_answer(label: str, done, expected: dict) -> None:
    """Say on stderr that ``done``'s answer (top movies, credits, titles) equals the first
    embedded run's; stop the benchmark when it does not."""
    got = answer(done.stdout)
    if got != expected:
        sys.exit(f"bench-cluster: the {label} answer differs from the first embedded one")
    sizes = ", ".join(
        f"{len(value)} {key}" for key, value in got.items() if isinstance(value, list)
    )
    print(
        f"bench-cluster: {label}: the same answer as the first embedded run ({sizes})",
        file=sys.stderr,
        flush=True,
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(SAMPLES / "real-2019-top25-repaired"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--thrift", action="store_true", help="also run --target thrift")
    args = parser.parse_args(argv)
    if not can_hide_the_home():
        sys.exit("bench-cluster: needs root and unshare (the worker must not see the homes)")

    root = Path(tempfile.mkdtemp(prefix="imdb-bench-cluster-"))
    homes = root / "homes"  # every driver home lives here: hidden from the worker
    cluster = Cluster(root, cores=2, memory="2g", home=homes)
    records, expected = [], None
    run = ["run", "--source", args.source, "--skip-tests"]
    try:
        cluster.start()
        print(json.dumps({"cluster_start_seconds": round(cluster.timings["cluster_start"], 1)}))
        for round_ in range(args.rounds):
            for mode in ("embedded", "cluster"):
                before = os.getloadavg()
                home = homes / f"{mode}-{round_}"
                storage = f"s3://{cluster.bucket}/round{round_}"
                if mode == "embedded":
                    done = cluster.cli(*run, cluster=False, home=home, timeout=RUN_TIMEOUT)
                else:
                    done = cluster.cli(*run, home=home, storage=storage, timeout=RUN_TIMEOUT)
                records.append(timed(mode, done, before))
                expected = expected or answer(done.stdout)
                same_answer(f"{mode} (round {round_ + 1})", done, expected)
            if args.thrift:
                home, storage = homes / f"thrift-{round_}", f"s3://{cluster.bucket}/thrift{round_}"
                port = str(_free_port())
                before = os.getloadavg()
                started = cluster.cli(
                    "thrift",
                    "start",
                    "--port",
                    port,
                    home=home,
                    storage=storage,
                    cores_max=1,
                    timeout=600,
                )
                records.append(timed("thrift start (cluster)", started, before))
                try:
                    before = os.getloadavg()
                    done = cluster.cli(
                        *run,
                        "--target",
                        "thrift",
                        "--port",
                        port,
                        home=home,
                        storage=storage,
                        cores_max=1,
                        timeout=RUN_TIMEOUT,
                    )
                    records.append(timed("run --target thrift (cluster)", done, before))
                    same_answer(f"thrift (round {round_ + 1})", done, expected)
                finally:
                    cluster.cli("thrift", "stop", cluster=False, home=home, timeout=120)
        by_mode: dict[str, list[float]] = {}
        for record in records:
            by_mode.setdefault(record["run"], []).append(record["seconds"])
        medians = {mode: statistics.median(values) for mode, values in by_mode.items()}
        summary = {
            "source": args.source,
            "rounds": args.rounds,
            "same_answer_everywhere": True,  # else same_answer stopped the script
            "median_seconds": medians,
            "samples": by_mode,
        }
        if "embedded" in medians and "cluster" in medians:
            summary["cluster_overhead_seconds"] = round(medians["cluster"] - medians["embedded"], 1)
            summary["cluster_vs_embedded"] = round(medians["cluster"] / medians["embedded"], 2)
        print(json.dumps(summary), flush=True)
    finally:
        left = cluster.stop()
        if left:
            print(f"bench-cluster: still running: {left}", file=sys.stderr)
        import shutil

        shutil.rmtree(root, ignore_errors=True)


def _free_port() -> int:
    from tests.loopback_cluster import free_port

    return free_port()


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"bench-cluster: {time.monotonic() - started:.0f}s in all", file=sys.stderr)
