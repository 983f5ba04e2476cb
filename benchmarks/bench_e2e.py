"""`make bench-e2e`: the whole pipeline against DuckDB on the same files, side by side.

1. the data: a generated dump (``--scale``, default 1.0, seed 0) cached in
   ``.cache/bench/scale-<scale>-seed-0`` (shared with bench-ingest and bench-stream), and a
   refresh of it in ``.cache/bench/scale-<scale>-seed-0-refresh``: about 1% of the ratings
   changed (votes, some ratings) and 0.1% new titles (appended to title.basics, half of them
   rated); the other files are the same files (hard links);
2. (a) DuckDB answers the three questions from the ``.gz`` files (tests/reference: the
   second engine the tests use, there on 1 thread; here on every core, as Spark gets them,
   ``--duckdb-threads``), timed in this process;
   (b) ``imdb-pipeline run --records-per-batch N`` on a fresh home, the full ``dbt build``
   with every test, as a user runs it (a subprocess);
   (c) ``imdb-pipeline transform`` alone on that home (the re-answer: lake and stream done);
   (d) ``imdb-pipeline run`` on the refresh, same home;
3. prints seconds per stage (Spark start, ingest per file, stream, dbt seeds / models /
   tests / publish, from the CLI's progress lines and dbt's run_results.json), the peak
   memory of each run (the CLI process and its JVM, summed, from /proc every 0.2 s), the
   ratios b/a, c/a and d/b against their targets, and checks that (b) and (d) give DuckDB's
   answer (the same comparison the end-to-end tests make); writes everything to
   ``.cache/bench/e2e-<time>.json``.

Options: ``--scale``, ``--records-per-batch`` (100000), ``--skip-refresh``, ``--keep-home``,
``--duckdb-threads`` (every core).
Run it alone: every part uses both cores.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.bench_ingest import CACHE, CLI, PeakMemory, dataset, say
from ingest.sources import locate_files

TARGETS = {"b/a": 2.5, "c/a": 0.5, "d/b": 0.5}
TARGET_PEAK_GIB = 8.0


def refreshed(dump: Path, seed: int = 1) -> Path:
    """The dump one day later: ~1% of ratings changed, 0.1% new titles (half rated).

    New titles get tconsts above the largest one and are appended to title.basics as a
    second gzip member (IMDb's files are sorted by tconst, new ids are larger); title.ratings
    is rewritten in tconst order; every other file is a hard link to the first dump's.
    """
    out = dump.with_name(dump.name + "-refresh")
    if (out / ".complete").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    files = {name: found.paths[0] for name, found in locate_files(dump).items()}  # one file each
    for name, path in files.items():
        if name not in ("title.basics", "title.ratings"):
            os.link(path, out / path.name)
    rng = random.Random(seed)
    with gzip.open(files["title.basics"], "rt", encoding="utf-8") as f:
        next(f)
        titles = sum(1 for _ in f)
        last = int(_last_tconst(files["title.basics"])[2:])
    new = [f"tt{last + i:08d}" for i in range(1, max(1, titles // 1000) + 1)]
    shutil.copyfile(files["title.basics"], out / files["title.basics"].name)
    with open(out / files["title.basics"].name, "ab") as f:
        rows = "".join(f"{t}\tmovie\tNew {t}\tNew {t}\t0\t2026\t\\N\t90\tDrama\n" for t in new)
        f.write(gzip.compress(rows.encode()))
    with gzip.open(files["title.ratings"], "rt", encoding="utf-8") as f:
        header, *ratings = f.read().splitlines()
    changed = []
    for row in ratings:
        tconst, rating, votes = row.split("\t")
        if rng.random() < 0.01:
            votes = str(int(votes) + rng.randint(1, 5000))
            if rng.random() < 0.3:
                rating = f"{rng.randint(10, 100) / 10:.1f}"
        changed.append(f"{tconst}\t{rating}\t{votes}")
    changed += [f"{t}\t{rng.randint(10, 100) / 10:.1f}\t{rng.randint(5, 90_000)}" for t in new[::2]]
    changed.sort()
    with gzip.open(out / files["title.ratings"].name, "wt", encoding="utf-8", compresslevel=6) as f:
        f.write(header + "\n" + "\n".join(changed) + "\n")
    (out / ".complete").write_text(json.dumps({"from": str(dump), "new_titles": len(new)}))
    return out


def _last_tconst(path: Path) -> str:
    last = ""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            last = line
    return last.split("\t", 1)[0]


def reference(source: Path, records: dict, threads: int) -> float:
    """(a): DuckDB's answer for ``source`` on ``threads`` threads, stored in ``records``;
    returns its seconds."""
    from tests.reference.duckdb_reference import compute

    started = time.monotonic()
    records["answer"] = compute(source, threads=threads)
    return time.monotonic() - started


def cli(home: Path, *args: str, env: dict | None = None) -> dict:
    """One CLI command as a user runs it: seconds, peak memory, stderr lines with arrival times
    (``env``: variables set for it besides the home; "memory": the PeakMemory sampler)."""
    env = {**os.environ, **(env or {}), "IMDB_PIPELINE_HOME": str(home)}
    started = time.monotonic()
    process = subprocess.Popen(
        [CLI, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    memory = PeakMemory(process.pid)
    out: list[str] = []  # stdout read beside stderr: a full pipe would block the CLI
    reader = threading.Thread(target=lambda: out.append(process.stdout.read()), daemon=True)
    reader.start()
    lines = []
    for line in process.stderr:
        lines.append((round(time.monotonic() - started, 2), line.rstrip()))
        say(f"  | {line.rstrip()}")
    process.wait()
    reader.join()
    stdout = out[0] if out else ""
    seconds = time.monotonic() - started
    memory.stop()
    if process.returncode != 0:
        raise SystemExit(
            f"bench: `{' '.join(args[:1])}` failed (exit {process.returncode}): {lines[-1:]}"
        )
    return {
        "seconds": round(seconds, 2),
        "peak_rss_bytes": memory.peak,
        "memory": memory,
        "lines": lines,
        "stdout": stdout,
    }


def stages(run: dict, home: Path) -> dict:
    """Seconds per stage, from the CLI's progress lines and dbt's run_results.json."""
    lines = run["lines"]

    def at(prefix: str, last: bool = False) -> float | None:
        found = [t for t, line in lines if line.startswith(prefix)]
        return (found[-1] if last else found[0]) if found else None

    out: dict = {}
    spark = [line for _, line in lines if line.startswith("spark: started in ")]
    if spark:
        out["spark_start"] = float(spark[0].split("started in ")[1].split("s")[0])
    files = {}
    for _, line in lines:
        if line.startswith("ingest: ") and " rows, " in line and " in " in line:
            name = line.split(":")[1].strip()
            files[name] = float(line.rsplit(" in ", 1)[1].split("s")[0])
    if files:
        out["ingest_files"] = files
    first_ingest, published = at("ingest: "), at("ingest: published") or at("ingest: ", True)
    if first_ingest is not None and published is not None:
        out["ingest"] = round(published - first_ingest, 2)
    first_stream, stream_done = at("stream: "), at("stream: ", True)
    if first_stream is not None and stream_done is not None:
        out["stream"] = round(stream_done - first_stream, 2)
    results = home / "dbt" / "target" / "run_results.json"
    if results.exists():
        out["dbt"] = dbt_stages(json.loads(results.read_text()))
    return out


def dbt_stages(results: dict) -> dict:
    """Wall seconds per kind of dbt node (first start to last end; nodes overlap on threads)."""
    spans: dict[str, list] = {}
    for result in results["results"]:
        kind = result["unique_id"].split(".")[0]
        if kind == "operation":
            kind = "publish (on-run-end)"
        times = [t for t in result["timing"] if t.get("started_at")]
        if not times:
            continue
        start = min(datetime.fromisoformat(t["started_at"].rstrip("Z")) for t in times)
        end = max(datetime.fromisoformat(t["completed_at"].rstrip("Z")) for t in times)
        span = spans.setdefault(kind, [start, end, 0])
        span[0], span[1], span[2] = min(span[0], start), max(span[1], end), span[2] + 1
    out = {
        kind: {"nodes": n, "seconds": round((end - start).total_seconds(), 2)}
        for kind, (start, end, n) in spans.items()
    }
    out["elapsed"] = round(results["elapsed_time"], 2)
    return out


def same_answer(ours: dict, theirs: dict) -> list[str]:
    """What differs between the pipeline's results JSON and DuckDB's answer (empty = same)."""
    problems = []
    for key in ("parameters", "ratings_processed", "top_movie_credits", "top_movie_titles"):
        if ours.get(key) != theirs.get(key):
            problems.append(key)
    if not math.isclose(
        ours["average_number_of_votes"], theirs["average_number_of_votes"], rel_tol=1e-12
    ):
        problems.append("average_number_of_votes")
    mine = [{k: v for k, v in m.items() if k != "ranking_score"} for m in ours["top_movies"]]
    want = [{k: v for k, v in m.items() if k != "ranking_score"} for m in theirs["top_movies"]]
    if mine != want or not all(
        math.isclose(a["ranking_score"], b["ranking_score"], rel_tol=1e-9)
        for a, b in zip(ours["top_movies"], theirs["top_movies"])
    ):
        problems.append("top_movies")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--records-per-batch", type=int, default=100_000)
    parser.add_argument("--skip-refresh", action="store_true", help="leave out (d)")
    parser.add_argument("--keep-home", action="store_true")
    parser.add_argument(
        "--duckdb-threads",
        type=int,
        default=os.cpu_count(),
        help="DuckDB's threads in (a) (default: every core, as Spark gets)",
    )
    args = parser.parse_args()

    dump, info = dataset(args.scale, 0)
    refresh = None if args.skip_refresh else refreshed(dump)
    work = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    home = work / "home"
    report: dict = {
        "scale": args.scale,
        "records_per_batch": args.records_per_batch,
        "duckdb_threads": args.duckdb_threads,
        "dump": str(dump),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_before": os.getloadavg(),
    }
    batch = ["--records-per-batch", str(args.records_per_batch)]
    try:
        say("bench: (a) DuckDB over the .gz files")
        a: dict = {}
        report["a"] = {"seconds": round(reference(dump, a, args.duckdb_threads), 2)}
        say(f"bench: (a) {report['a']['seconds']} s")

        say("bench: (b) imdb-pipeline run on a fresh home")
        b = cli(home, "run", "--source", str(dump), *batch)
        report["b"] = {
            "seconds": b["seconds"],
            "peak_rss_bytes": b["peak_rss_bytes"],
            "stages": stages(b, home),
            "differs_from_duckdb": same_answer(json.loads(b["stdout"]), a["answer"]),
        }

        say("bench: (c) imdb-pipeline transform on that home")
        c = cli(home, "transform")
        report["c"] = {
            "seconds": c["seconds"],
            "peak_rss_bytes": c["peak_rss_bytes"],
            "stages": stages(c, home),
        }

        if refresh is not None:
            say("bench: (d) imdb-pipeline run on the refresh, same home")
            d = cli(home, "run", "--source", str(refresh), *batch)
            d_reference: dict = {}
            reference(refresh, d_reference, args.duckdb_threads)
            report["d"] = {
                "seconds": d["seconds"],
                "peak_rss_bytes": d["peak_rss_bytes"],
                "stages": stages(d, home),
                "differs_from_duckdb": same_answer(json.loads(d["stdout"]), d_reference["answer"]),
            }
    finally:
        if not args.keep_home:
            shutil.rmtree(work, ignore_errors=True)
    report["ratios"] = {
        "b/a": round(report["b"]["seconds"] / report["a"]["seconds"], 2),
        "c/a": round(report["c"]["seconds"] / report["a"]["seconds"], 2),
    }
    if "d" in report:
        report["ratios"]["d/b"] = round(report["d"]["seconds"] / report["b"]["seconds"], 2)
    report["load_after"] = os.getloadavg()
    out = CACHE / f"e2e-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    print_report(report, info)
    print(f"written to {out}")


def print_report(report: dict, info: dict) -> None:
    rows = info.get("rows", {})
    print(
        f"scale {report['scale']:g}: {rows.get('title.basics', 0):,} titles, "
        f"{rows.get('title.principals', 0):,} credits, {rows.get('title.ratings', 0):,} ratings; "
        f"load {report['load_before'][0]:.1f} before, {report['load_after'][0]:.1f} after"
    )
    threads = report.get("duckdb_threads", 1)  # reports from before the option: the tests' 1
    duckdb = f"DuckDB over the .gz files, {threads} thread{'s' if threads != 1 else ''}"
    print(f"(a) {duckdb:36} {report['a']['seconds']:8.1f} s")
    for key, what in (
        ("b", "run, fresh home, full dbt build"),
        ("c", "transform (the re-answer)"),
        ("d", "run on the refresh, same home"),
    ):
        if key not in report:
            continue
        part = report[key]
        peak = part["peak_rss_bytes"] / 2**30
        check = ""
        if "differs_from_duckdb" in part:
            check = (
                ", same answer as DuckDB"
                if not part["differs_from_duckdb"]
                else (f", DIFFERS from DuckDB in {part['differs_from_duckdb']}")
            )
        print(f"({key}) {what:36} {part['seconds']:8.1f} s, peak {peak:.2f} GiB{check}")
        st = part["stages"]
        pieces = [f"spark {st['spark_start']:.1f}"] if "spark_start" in st else []
        if "ingest" in st:
            pieces.append(
                f"ingest {st['ingest']:.1f} ("
                + ", ".join(f"{n} {s:.1f}" for n, s in st.get("ingest_files", {}).items())
                + ")"
            )
        if "stream" in st:
            pieces.append(f"stream {st['stream']:.1f}")
        if "dbt" in st:
            pieces.append(
                "dbt "
                + ", ".join(
                    f"{kind} {v['seconds']:.1f} ({v['nodes']})"
                    if isinstance(v, dict)
                    else f"{kind} {v:.1f}"
                    for kind, v in st["dbt"].items()
                )
            )
        print("    " + "; ".join(pieces))
    for name, value in report["ratios"].items():
        verdict = "met" if value <= TARGETS[name] else "MISSED"
        print(f"ratio {name} = {value:.2f} (target <= {TARGETS[name]}: {verdict})")
    peak = max(report[k]["peak_rss_bytes"] for k in "bcd" if k in report) / 2**30
    print(
        f"peak memory {peak:.2f} GiB (target <= {TARGET_PEAK_GIB:g} GiB: "
        f"{'met' if peak <= TARGET_PEAK_GIB else 'MISSED'})"
    )


if __name__ == "__main__":
    sys.exit(main())
