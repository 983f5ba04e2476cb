"""`make bench-ingest`: the pipeline's ingest against a bare pyarrow read of the same files.

1. the data: a generated scale-1.0 dump (seed 0) in ``.cache/bench/scale-1.0-seed-0``, made
   once (about 4.5 minutes; its time is printed when it runs) and reused while ``.complete``
   is there (``bench-stream`` shares it);
2. (a) bare read: pyarrow's streaming CSV reader over every ``.gz`` (quoting off, every column
   a string, nothing else done with the batches), two files at a time, largest first, once
   with ``use_threads=False`` and once with ``use_threads=True``; the faster counts;
3. (b) ingest: ``imdb-pipeline --home <fresh home> ingest --source <the dump>`` as a user runs
   it (Spark start, conversion, name lookup, publish, metastore registration), its peak memory
   taken from /proc (the Python process and its JVM, summed) every 0.2 s;
4. prints MB/s of uncompressed text for both, the ratio ingest/bare (target >= 0.7), peak
   memory (target < 4 GiB), what the lake holds (files per partition, rows per file, rows per
   row group), and writes everything to ``.cache/bench/ingest-<time>.json``.

Options: ``--scale`` (1.0), ``--skip-bare``, ``--keep-home``. Run it alone: it uses both cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from imdb_pipeline.generate.write import generate
from imdb_pipeline.home import REPO_ROOT
from ingest.schemas import ALL_FILES, NULL
from ingest.sources import locate_files

CACHE = REPO_ROOT / ".cache" / "bench"
CLI = str(Path(sys.executable).with_name("imdb-pipeline"))
BLOCK_SIZE = 8 << 20  # the ingest's block size
TARGET_RATIO = 0.7
TARGET_PEAK_GIB = 4.0


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def dataset(scale: float, seed: int) -> tuple[Path, dict]:
    """The cached dump (generated when missing) and what its ``.complete`` marker records."""
    folder = CACHE / f"scale-{scale!r}-seed-{seed}"  # scale-1.0-seed-0, scale-0.01-seed-0
    marker = folder / ".complete"
    if marker.exists() and len(locate_files(folder)) == len(ALL_FILES):
        text = marker.read_text().strip()
        info = json.loads(text) if text else {}
        say(f"bench: reusing {folder}")
        return folder, {**info, "generated_now": False}
    say(f"bench: generating scale {scale:g} seed {seed} into {folder} (about 4.5 min at 1.0)")
    started = time.monotonic()
    rows = generate(folder, scale, seed)
    info = {
        "scale": scale,
        "seed": seed,
        "rows": rows,
        "generator_seconds": round(time.monotonic() - started, 1),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    marker.write_text(json.dumps(info, indent=2))
    return folder, {**info, "generated_now": True}


def _text_bytes(batch: pa.RecordBatch) -> int:
    total = batch.num_rows * batch.num_columns  # tabs and newline
    for values in batch.columns:
        if len(values):
            offsets = np.frombuffer(
                values.buffers()[1], np.int32, count=len(values) + 1, offset=values.offset * 4
            )
            total += int(offsets[-1] - offsets[0]) + 2 * values.null_count
    return total


def bare_read_file(path: Path, header: list[str], use_threads: bool) -> tuple[int, int]:
    """(rows, bytes of text) of one file, read and thrown away."""
    reader = pacsv.open_csv(
        pa.input_stream(str(path), compression="detect"),
        read_options=pacsv.ReadOptions(
            column_names=header, skip_rows=1, block_size=BLOCK_SIZE, use_threads=use_threads
        ),
        parse_options=pacsv.ParseOptions(
            delimiter="\t", quote_char=False, escape_char=False, double_quote=False
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in header},
            null_values=[NULL],
            strings_can_be_null=True,
        ),
    )
    rows, text = 0, len("\t".join(header)) + 1
    for batch in reader:
        rows += batch.num_rows
        text += _text_bytes(batch)
    return rows, text


def bare_read(files: dict[str, Path], use_threads: bool) -> dict:
    """Every file once, two at a time, largest first (the ingest's schedule)."""
    specs = {f.name: f for f in ALL_FILES}
    order = sorted(files, key=lambda name: files[name].stat().st_size, reverse=True)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(
            zip(
                order,
                pool.map(
                    lambda name: bare_read_file(files[name], specs[name].header, use_threads), order
                ),
            )
        )
    seconds = time.monotonic() - started
    text = sum(t for _, t in results.values())
    return {
        "use_threads": use_threads,
        "seconds": round(seconds, 2),
        "text_bytes": text,
        "rows": sum(r for r, _ in results.values()),
        "mb_per_s": round(text / 1e6 / seconds, 1),
    }


class PeakMemory:
    """Peak of the summed RSS of a process and all its descendants, sampled from /proc.

    Also keeps ``jvm_cpu``: one ``(epoch seconds, CPU seconds)`` pair per sample, the user and
    system CPU of the tree's ``java`` processes (the driver JVM) summed, for the CPU a window
    of the run used (``cpu_between``).
    """

    def __init__(self, pid: int, every: float = 0.2):
        self.pid, self.every = pid, every
        self.peak = 0
        self.peak_by_process: dict[int, list] = {}  # pid -> [name at its peak, peak RSS]
        self.jvm_cpu: list[tuple[float, float]] = []
        self._ticks = os.sysconf("SC_CLK_TCK")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as fh:
                        parent = int(fh.read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(parent, []).append(int(entry))
        tree, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, ()))
        return tree

    def _run(self) -> None:
        while not self._stop.is_set():
            total, jvm_ticks = 0, 0
            for pid in self._tree():
                try:
                    with open(f"/proc/{pid}/status") as fh:
                        status = dict(line.split(":", 1) for line in fh if ":" in line)
                    name = status.get("Name", "?").strip()
                    if name == "java":
                        with open(f"/proc/{pid}/stat") as fh:
                            fields = fh.read().rsplit(")", 1)[1].split()
                        jvm_ticks += int(fields[11]) + int(fields[12])  # utime + stime
                except (OSError, IndexError, ValueError):
                    continue
                rss = int(status.get("VmRSS", "0 kB").split()[0]) * 1024
                seen = self.peak_by_process.setdefault(pid, [name, 0])
                if rss >= seen[1] and name not in ("bash", "sh"):  # spark-submit execs java
                    seen[:] = [name, rss]
                total += rss
            self.peak = max(self.peak, total)
            self.jvm_cpu.append((time.time(), jvm_ticks / self._ticks))
            self._stop.wait(self.every)

    def cpu_between(self, start: float, end: float) -> float | None:
        """The JVM's CPU seconds between two epoch times (the samples nearest inside them),
        or None without two samples in the window."""
        inside = [cpu for at, cpu in self.jvm_cpu if start <= at <= end]
        return round(inside[-1] - inside[0], 1) if len(inside) >= 2 else None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def ingest(source: Path, home: Path) -> dict:
    env = {**os.environ, "IMDB_PIPELINE_HOME": str(home)}
    started = time.monotonic()
    # all seven files, as the bare read reads them (by default crew and episode are skipped)
    process = subprocess.Popen(
        [CLI, "ingest", "--source", str(source), "--with-tables", "all"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    memory = PeakMemory(process.pid)
    lines = []
    for line in process.stderr:  # the ingest's own log, shown as it goes
        lines.append(line.rstrip())
        say(f"  | {line.rstrip()}")
    process.wait()
    seconds = time.monotonic() - started
    memory.stop()
    if process.returncode != 0:
        raise SystemExit(f"bench: the ingest failed (exit {process.returncode}): {lines[-1:]}")
    lake = home / "lake"
    manifest = json.loads(
        (lake / (lake / "CURRENT").read_text().strip() / "_manifest.json").read_text()
    )
    spark_start = next(
        (
            float(line.split("started in ")[1].split("s")[0])
            for line in lines
            if line.startswith("spark: started in")
        ),
        None,
    )
    return {
        "seconds": round(seconds, 2),
        "spark_start_seconds": spark_start,
        "conversion_seconds": manifest["seconds"],
        "text_bytes": manifest["text_bytes"],
        "peak_rss_bytes": memory.peak,
        "peak_rss_by_process": {
            f"{name} ({pid})": rss for pid, (name, rss) in memory.peak_by_process.items()
        },
        "manifest": manifest,
    }


def lake_layout(folder: Path) -> dict:
    """Per table: files, partitions, rows per file and per row group."""
    layout = {}
    for table in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("_")):
        files = sorted(table.rglob("*.parquet"))
        if not files:
            continue
        metas = [pq.ParquetFile(f).metadata for f in files]
        rows = [m.num_rows for m in metas]
        groups = [m.row_group(i).num_rows for m in metas for i in range(m.num_row_groups)]
        partitions = {f.parent for f in files if f.parent != table}
        layout[table.name] = {
            "files": len(files),
            "partitions": len(partitions),
            "files_per_partition": round(len(files) / max(len(partitions), 1), 2),
            "rows": sum(rows),
            "rows_per_file": [min(rows), int(statistics.median(rows)), max(rows)],
            "row_groups": len(groups),
            "rows_per_row_group": [min(groups), int(statistics.median(groups)), max(groups)],
            "mb": round(sum(f.stat().st_size for f in files) / 1e6, 1),
        }
    return layout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-bare", action="store_true", help="only the ingest")
    parser.add_argument("--keep-home", action="store_true", help="keep the ingest's home")
    args = parser.parse_args()

    source, data = dataset(args.scale, args.seed)
    files = {name: found.paths[0] for name, found in locate_files(source).items()}
    gz = sum(p.stat().st_size for p in files.values())
    report: dict = {
        "scale": args.scale,
        "seed": args.seed,
        "source": str(source),
        "gz_bytes": gz,
        "data": data,
        "cpus": os.cpu_count(),
    }
    if data.get("generator_seconds"):
        print(
            f"generator  scale {args.scale:g}: {data['generator_seconds']:.0f} s "
            f"({'this run' if data['generated_now'] else 'when the cache was made'})"
        )

    if not args.skip_bare:
        bare = []
        for use_threads in (False, True):
            say(f"bench: bare pyarrow read, 2 files at a time, use_threads={use_threads}")
            bare.append(bare_read(files, use_threads))
            print(
                f"(a) bare   use_threads={use_threads!s:5}: {bare[-1]['text_bytes'] / 1e6:,.0f} MB "
                f"of text in {bare[-1]['seconds']:.1f} s = {bare[-1]['mb_per_s']:.0f} MB/s"
            )
        report["bare"] = bare
        best = max(bare, key=lambda b: b["mb_per_s"])

    home = CACHE / f"home-ingest-{os.getpid()}"
    shutil.rmtree(home, ignore_errors=True)
    say(f"bench: imdb-pipeline ingest into a fresh home {home}")
    try:
        result = ingest(source, home)
        layout = lake_layout(home / "lake" / (home / "lake" / "CURRENT").read_text().strip())
    finally:
        if not args.keep_home:
            shutil.rmtree(home, ignore_errors=True)
    text = result["text_bytes"]
    mb_s = text / 1e6 / result["seconds"]
    conversion_mb_s = text / 1e6 / result["conversion_seconds"]
    report["ingest"] = {k: v for k, v in result.items() if k != "manifest"}
    report["ingest"]["mb_per_s"] = round(mb_s, 1)
    report["ingest"]["conversion_mb_per_s"] = round(conversion_mb_s, 1)
    report["files"] = result["manifest"]["files"]
    report["title_names"] = result["manifest"]["title_names"]
    report["lake"] = layout
    peak_gib = result["peak_rss_bytes"] / 2**30
    print(
        f"(b) ingest {text / 1e6:,.0f} MB of text ({gz / 1e6:,.0f} MB gz) in "
        f"{result['seconds']:.1f} s = {mb_s:.0f} MB/s end to end "
        f"(Spark start {result['spark_start_seconds']} s; conversion + title_names "
        f"{result['conversion_seconds']:.1f} s = {conversion_mb_s:.0f} MB/s)"
    )
    for f in result["manifest"]["files"]:
        print(
            f"    {f['file']:26} {f['rows_written']:>12,} rows {f['text_bytes'] / 1e6:>7,.0f} MB "
            f"{f['seconds']:>6.1f} s {f['mb_per_s']:>5.0f} MB/s  {f['output']['files']} files"
        )
    names = result["manifest"]["title_names"]
    print(f"    {'title_names':26} {names['rows']:>12,} rows {'':>10} {names['seconds']:>6.1f} s")
    processes = ", ".join(
        f"{k} {v / 2**30:.2f}"
        for k, v in sorted(result["peak_rss_by_process"].items(), key=lambda kv: -kv[1])
        if v > 50 << 20
    )
    print(
        f"    peak memory {peak_gib:.2f} GiB (process tree, summed; per process GiB: "
        f"{processes}) target < {TARGET_PEAK_GIB:g} GiB: "
        f"{'met' if peak_gib < TARGET_PEAK_GIB else 'MISSED'}"
    )
    if not args.skip_bare:
        ratio = mb_s / best["mb_per_s"]
        conversion_ratio = conversion_mb_s / best["mb_per_s"]
        report["ratio"] = round(ratio, 3)
        report["conversion_ratio"] = round(conversion_ratio, 3)
        print(
            f"    ratio ingest/bare: {ratio:.2f}x end to end, {conversion_ratio:.2f}x for the "
            f"conversion alone (target >= {TARGET_RATIO}x: "
            f"{'met' if ratio >= TARGET_RATIO else 'MISSED'})"
        )
    print("lake (files, partitions, rows per file min/median/max, rows per row group median):")
    for table, t in layout.items():
        print(
            f"    {table:18} {t['files']:>4} files {t['partitions']:>4} partitions "
            f"{t['rows_per_file'][0]:>10,} / {t['rows_per_file'][1]:>10,} / "
            f"{t['rows_per_file'][2]:>10,} rows per file, {t['rows_per_row_group'][1]:>9,} "
            f"per row group, {t['mb']:>7,.0f} MB"
        )
    out = CACHE / f"ingest-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"bench: figures in {out}")


if __name__ == "__main__":
    main()
