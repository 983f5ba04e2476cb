"""`make bench-build`: the real-2019 `dbt build` against its 30-s target, in alternating rounds.

    make bench-build                                          # 3 rounds of the defaults
    make bench-build ARGS="--variant spark.sql.shuffle.partitions=2 --floor --rounds 4"

Each round runs, each on a fresh home, ``imdb-pipeline run --source S`` (the real-2019 sample
by default, as a user runs it) once per configuration:

* ``base``: the settings as they are;
* ``variant`` (with ``--variant KEY=VALUE``, repeatable): the same with ``--conf KEY=VALUE``;
* ``floor`` (with ``--floor``): the build without its data and unit tests
  (``DBT_EXCLUDE_RESOURCE_TYPES="test unit_test"``): seeds, models and the publish hook, what
  the build costs before it checks anything.

The host's speed swings within an hour (the same build took 32 and 48 s on 2026-12-02), so
the configurations alternate within each round and their order rotates from round to round;
only medians of alternating rounds compare. Side by side in the same script, DuckDB answers
the same questions from the same files (tests/reference), and every round's answer must be
DuckDB's (else the script stops).

Per run it prints the `dbt build` seconds (the CLI's ``dbt: build:`` line: what the target
measures, from the first node to the end of the publish hook, Spark already up), the whole
run, Spark's start, the driver JVM's CPU seconds inside the build's window (from /proc every
0.2 s), dbt's node seconds summed per kind (summed over the 4 threads, so more than the
wall), and the build's chain: walking back from the publish hook, each node's latest-ending
predecessor, marked ``dep`` when dbt's graph orders them and ``wait`` when the node waited for
a thread. A summary gives the medians, variant/base, floor/base and the target. Everything
goes to ``.cache/bench/build-<time>.json``.
Run it alone: every run uses both cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.bench_e2e import cli, reference, same_answer, stages
from benchmarks.bench_ingest import CACHE, say
from tests.conftest import SAMPLES

TARGET_SECONDS = 30.0
FLOOR_ENV = {"DBT_EXCLUDE_RESOURCE_TYPES": "test unit_test"}


def build_line(lines: list[tuple[float, str]]) -> dict:
    """The CLI's ``dbt: build: N nodes (...) in X.Ys`` line as {"nodes": N, "seconds": X.Y};
    empty without one."""
    for _, line in lines:
        if line.startswith("dbt: build: ") and line.endswith("s") and " in " in line:
            nodes = int(line.split("dbt: build: ", 1)[1].split(" ", 1)[0])
            return {"nodes": nodes, "seconds": float(line.rsplit(" in ", 1)[1][:-1])}
    return {}


def _epoch(text: str) -> float:
    """Epoch seconds of dbt's ISO times (UTC, ``Z``)."""
    return datetime.fromisoformat(text).timestamp()


def node_spans(results: dict) -> dict[str, tuple[float, float]]:
    """unique_id -> (start, end) in seconds from the build's start, from run_results.json.

    A node's span runs from its first timing's start to its last timing's end; a node whose
    timings are shorter than its execution_time (the on-run-end hook) ends there and starts
    execution_time earlier. The build starts at generated_at minus elapsed_time.
    """
    started = _epoch(results["metadata"]["generated_at"]) - results["elapsed_time"]
    spans = {}
    for result in results["results"]:
        times = [t for t in result["timing"] if t.get("started_at") and t.get("completed_at")]
        if times:
            start = min(_epoch(t["started_at"]) for t in times) - started
            end = max(_epoch(t["completed_at"]) for t in times) - started
        else:
            start = end = results["elapsed_time"]
        if end - start < result["execution_time"] - 0.05:
            start = end - result["execution_time"]
        spans[result["unique_id"]] = (round(start, 2), round(end, 2))
    return spans


def chain(spans: dict[str, tuple[float, float]], upstream: dict[str, set[str]]) -> list[list]:
    """The build's chain, last node first: [unique_id, start, end, how].

    Each next entry is what this one waited for: of the nodes that ended at or before it
    started (0.3 s of slack), one that ``upstream`` (unique_id -> the nodes it follows in
    dbt's graph) links to it either way and that ended within 0.5 s of the last of them, else
    the last of them. ``how`` is "dep" for a link, "wait" otherwise (a thread came free late,
    or the node waited for something dbt's graph does not show, as a unit test for its
    model's parents). The first node's ``how`` is "start".
    """
    if not spans:
        return []

    def linked(a: str, b: str) -> bool:
        return a in upstream.get(b, ()) or b in upstream.get(a, ())

    current = max(spans, key=lambda node: (spans[node][1], spans[node][0]))
    out = [[current, *spans[current], "start"]]
    while True:
        start = spans[current][0]
        before = [n for n in spans if n != current and spans[n][1] <= start + 0.3]
        if not before:
            return out
        last = max(spans[n][1] for n in before)
        deps = [n for n in before if linked(n, current) and spans[n][1] >= last - 0.5]
        previous = max(deps or before, key=lambda node: spans[node][1])
        out[-1][3] = "dep" if deps else "wait"
        out.append([previous, *spans[previous], "start"])  # "start" until it has a predecessor
        current = previous


def upstream_of(graph_summary: dict) -> dict[str, set[str]]:
    """unique_id -> the unique_ids it follows in dbt's build graph (graph_summary.json's
    ``with_test_edges``). A unit test follows what its model follows: `dbt build` runs a
    model's unit tests when the model could run, just before it."""
    graph = graph_summary.get("with_test_edges", {})
    out: dict[str, set[str]] = {}
    for node in graph.values():
        for successor in node.get("succ", ()):
            out.setdefault(graph[str(successor)]["name"], set()).add(node["name"])
    for node in graph.values():
        if node.get("type") == "unit_test":
            model = "model." + ".".join(node["name"].split(".")[1:3])
            parents = {n for n in out.get(model, ()) if not n.startswith("unit_test.")}
            out.setdefault(node["name"], set()).update(parents)
    return out


def kind_seconds(spans: dict[str, tuple[float, float]]) -> dict[str, float]:
    """Node seconds summed per kind (seed, model, test, unit_test, operation)."""
    out: dict[str, float] = {}
    for node, (start, end) in spans.items():
        kind = node.split(".", 1)[0]
        out[kind] = round(out.get(kind, 0.0) + end - start, 1)
    return out


def one_run(label: str, home: Path, source: str, variant: list[str], expected: dict) -> dict:
    """``run --source`` on a fresh ``home`` in configuration ``label``; its figures."""
    conf = [arg for setting in variant for arg in ("--conf", setting)] if label == "variant" else []
    env = FLOOR_ENV if label == "floor" else None
    before = os.getloadavg()
    done = cli(home, *conf, "run", "--source", source, env=env)
    target = home / "dbt" / "target"
    results = json.loads((target / "run_results.json").read_text())
    spans = node_spans(results)
    build_end = _epoch(results["metadata"]["generated_at"])
    differs = same_answer(json.loads(done["stdout"]), expected)
    if differs:
        sys.exit(f"bench-build: the {label} answer differs from DuckDB's: {', '.join(differs)}")
    graph = json.loads((target / "graph_summary.json").read_text())
    return {
        "config": label,
        "build": build_line(done["lines"]),
        "run_seconds": done["seconds"],
        "spark_start": stages(done, home).get("spark_start"),
        "jvm_cpu_in_build": done["memory"].cpu_between(
            build_end - results["elapsed_time"], build_end
        ),
        "node_seconds": kind_seconds(spans),
        "chain": [
            [node.split(".", 2)[-1][:60], start, end, how]
            for node, start, end, how in chain(spans, upstream_of(graph))
        ],
        "load_before": [round(x, 1) for x in before],
        "load_after": [round(x, 1) for x in os.getloadavg()],
    }


def summary(runs: list[dict]) -> dict:
    """Per configuration: the runs' `dbt build` seconds and JVM CPU (lists, in run order) and
    their medians; for "variant" and "floor" also their median build over the base's."""
    out: dict = {}
    for run in runs:
        entry = out.setdefault(run["config"], {"build_seconds": [], "jvm_cpu": []})
        entry["build_seconds"].append(run["build"].get("seconds"))
        entry["jvm_cpu"].append(run["jvm_cpu_in_build"])
    for entry in out.values():
        for key in ("build_seconds", "jvm_cpu"):
            values = [v for v in entry[key] if v is not None]
            entry[f"median_{key}"] = round(statistics.median(values), 1) if values else None
    base = out.get("base", {}).get("median_build_seconds")
    for label in ("variant", "floor"):
        if base and out.get(label, {}).get("median_build_seconds"):
            out[label][f"{label}/base"] = round(out[label]["median_build_seconds"] / base, 2)
    return out


def print_run(run: dict) -> None:
    build = run["build"]
    print(
        f"{run['config']:8s} build {build.get('seconds')} s ({build.get('nodes')} nodes), "
        f"JVM CPU {run['jvm_cpu_in_build']} s, run {run['run_seconds']} s, "
        f"Spark start {run['spark_start']} s, load {run['load_before'][0]}; "
        f"node seconds {run['node_seconds']}"
    )
    links = [f"{node} {start:.1f}-{end:.1f} {how}" for node, start, end, how in run["chain"]]
    print("  chain (last first): " + " < ".join(links), flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(SAMPLES / "real-2019-top25-repaired"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Spark setting to compare with the defaults (repeatable: one variant)",
    )
    parser.add_argument("--floor", action="store_true", help="also the build without tests")
    parser.add_argument("--keep-homes", action="store_true")
    args = parser.parse_args(argv)
    for setting in args.variant:
        if "=" not in setting:
            parser.error(f"--variant {setting}: expected KEY=VALUE")
    configs = ["base"] + ["variant"] * bool(args.variant) + ["floor"] * args.floor

    expected: dict = {}
    duckdb_seconds = reference(Path(args.source), expected, threads=2)
    say(f"bench-build: DuckDB answered in {duckdb_seconds:.2f} s")
    work = Path(tempfile.mkdtemp(prefix="bench-build-"))
    report: dict = {
        "source": args.source,
        "variant": args.variant,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duckdb_seconds": round(duckdb_seconds, 2),
        "target_seconds": TARGET_SECONDS,
        "runs": [],
    }
    try:
        for round_ in range(args.rounds):
            shift = round_ % len(configs)
            for label in configs[shift:] + configs[:shift]:
                say(f"bench-build: round {round_ + 1}/{args.rounds}: {label}")
                run = one_run(
                    label, work / f"{label}-{round_}", args.source, args.variant, expected["answer"]
                )
                run["round"] = round_ + 1
                report["runs"].append(run)
                print_run(run)
    finally:
        if not args.keep_homes:
            shutil.rmtree(work, ignore_errors=True)
    report["summary"] = summary(report["runs"])
    out = CACHE / f"build-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    for label, entry in report["summary"].items():
        ratio = {k: v for k, v in entry.items() if "/" in k}
        print(
            f"{label}: `dbt build` median {entry['median_build_seconds']} s "
            f"(runs {entry['build_seconds']}), JVM CPU median {entry['median_jvm_cpu']} s"
            + (f", {ratio}" if ratio else "")
        )
    base = report["summary"]["base"]["median_build_seconds"]
    verdict = "met" if base is not None and base <= TARGET_SECONDS else "missed"
    print(f"target: `dbt build` at most {TARGET_SECONDS:g} s: {verdict} (base median {base} s)")
    print(f"DuckDB: {report['duckdb_seconds']} s, the same answer in every run")
    print(f"written to {out}")


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"bench-build: {time.monotonic() - started:.0f}s in all", file=sys.stderr)
