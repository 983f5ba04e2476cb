"""`make bench-stream`: our micro-batches against Spark's own floor, in one process.

(a) floor: the built-in `rate-micro-batch` source, 100 rows per micro-batch, into a no-op
    `foreachBatch`;
(b) ours: `imdb-pipeline stream` at 100 records per micro-batch over a generated ratings file;
(c) full scale: the 1.67M ratings of a scale-1.0 generated dump in large micro-batches.

Reports the median milliseconds per micro-batch (the query progress's `triggerExecution`) of (a) and
(b), their ratio, and for (c) the total time and records per second. Timings come from one
SparkSession with the project's settings (conf/spark-defaults.conf, the file-system checkpoint
manager included), so both sides pay the same JVM, checkpoint manager and machine. Targets (issue
#10): (b) at most 1.2x (a), and the full 1.67M ratings at 100 records per micro-batch in at most
20 minutes, computed from (b)'s median.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from imdb_pipeline import logs
from imdb_pipeline.generate.write import generate
from imdb_pipeline.home import REPO_ROOT, Home
from imdb_pipeline.spark import get_spark
from ingest.run import run_ingest
from ingest.schemas import NAME_BASICS, TITLE_PRINCIPALS
from streaming.job import StreamOptions, stream
from streaming.state import PROGRESS_TABLE

CACHE = REPO_ROOT / ".cache" / "bench"
WARM_UP = 3  # the first micro-batches pay for the Python worker and class loading


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def floor_ms(spark, batches: int) -> list[float]:
    query = (
        spark.readStream.format("rate-micro-batch")
        .option("rowsPerBatch", 100)
        .load()
        .writeStream.foreachBatch(lambda frame, batch_id: None)
        .trigger(processingTime="0 seconds")
        .start()
    )
    try:
        while len(query.recentProgress) < batches + WARM_UP:
            time.sleep(0.2)
    finally:
        query.stop()
    durations = [p["durationMs"]["triggerExecution"] for p in query.recentProgress]
    return durations[WARM_UP : WARM_UP + batches]


def ours_ms(spark, home: Home, stream_id: str) -> list[float]:
    rows = (
        spark.table(PROGRESS_TABLE)
        .where(f"stream_id = '{stream_id}'")
        .orderBy("batch_id")
        .select("duration_ms")
        .collect()
    )
    return [r.duration_ms for r in rows][WARM_UP:]


def ratings_only(full: Path, folder: Path) -> Path:
    """The full-scale ratings and titles, with the first line of credits and names only (they
    are not streamed; the ingest requires rows in both)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("title.ratings.tsv.gz", "title.basics.tsv.gz"):
        link = folder / name
        if not link.exists():
            link.symlink_to(full / name)
    for spec in (TITLE_PRINCIPALS, NAME_BASICS):
        with gzip.open(full / f"{spec.name}.tsv.gz", "rt", encoding="utf-8") as source:
            head = [next(source), next(source)]
        (folder / f"{spec.name}.tsv").write_text("".join(head), encoding="utf-8")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.01, help="dump for (b)")
    parser.add_argument("--floor-batches", type=int, default=60)
    parser.add_argument("--full-batch", type=int, default=100_000, help="records per batch in (c)")
    parser.add_argument("--skip-full", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    home = Home.resolve(work / "home")
    logs.configure()  # the stages' progress lines on stderr, as the CLI shows them
    spark = get_spark(home)
    try:
        floor = floor_ms(spark, args.floor_batches)
        dump = CACHE / f"scale-{args.scale:g}-seed-0"
        if not (dump / ".complete").exists():
            generate(dump, args.scale, 0)
            (dump / ".complete").touch()
        run_ingest(spark, home, str(dump))
        options = StreamOptions(records_per_batch=100)
        quiet = logging.getLogger("streaming")
        level = quiet.level
        quiet.setLevel(logging.WARNING)  # (b): no progress lines
        started = time.monotonic()
        try:
            summary = stream(spark, home, options)
        finally:
            quiet.setLevel(level)
        small_seconds = time.monotonic() - started
        ours = ours_ms(spark, home, options.stream_id)
        floor_median, ours_median = statistics.median(floor), statistics.median(ours)
        floor_mean, ours_mean = statistics.fmean(floor), statistics.fmean(ours)
        print(
            f"(a) floor  rate-micro-batch, 100 rows/batch, no-op sink: median {floor_median:.0f} ms, "
            f"mean {floor_mean:.0f} ms per micro-batch over {len(floor)} batches"
        )
        print(
            f"(b) ours   {summary['records']:,} ratings, 100 records/batch, Delta flush every "
            f"{options.flush_seconds:g} s: median {ours_median:.0f} ms, mean {ours_mean:.0f} ms "
            f"(flushes included) per micro-batch over {len(ours)} batches ({small_seconds:.1f} s in all)"
        )
        print(
            f"    ratio ours/floor: median {ours_median / floor_median:.2f}x (target <= 1.2x), "
            f"mean {ours_mean / floor_mean:.2f}x"
        )

        if not args.skip_full:
            full = CACHE / "scale-1.0-seed-0"
            if not (full / "title.ratings.tsv.gz").exists():
                say(f"bench: generating scale 1.0 into {full} (about 4-5 minutes)")
                generate(full, 1.0, 0)
            run_ingest(spark, home, str(ratings_only(full, work / "full")), force=True)
            big = StreamOptions(records_per_batch=args.full_batch, top_n=11)  # a stream of its own
            started = time.monotonic()
            result = stream(spark, home, big)
            seconds = time.monotonic() - started
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"(c) full   {result['records_this_run']:,} ratings in {result['batches_this_run']} "
                f"micro-batches of {args.full_batch:,}: {seconds:.1f} s, "
                f"{result['records_this_run'] / seconds:,.0f} records/s; driver peak RSS {rss:,.0f} MiB"
            )
            at_100 = result["records_this_run"] / 100 * ours_median / 1000
            print(
                f"    the same at 100 records/batch: about {at_100 / 60:.1f} minutes, computed "
                f"({result['records_this_run'] // 100:,} micro-batches x the median {ours_median:.0f} ms; "
                f"target <= 20 minutes)"
            )
    finally:
        spark.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
