"""`make bench-pruning ARGS="--home H"`: what the top movies' credits and titles read of the lookups,
with a join alone and with the top tconsts as literals (what the marts do).

On a home where `imdb-pipeline run` has built the marts (e.g. `make bench-e2e ARGS="--keep-home"`),
runs, for title.principals and title.akas, the marts' read of the lookup twice in one
SparkSession:

* join: the lookup joined to ``imdb.top_movies`` on tconst and tconst_bucket (Spark may prune
  buckets at run time, dynamic partition pruning, but reads every row group of the rest);
* literals: the same with ``lookup_rows_of(kept_mart(...)['top_tconsts'])``'s condition, the
  buckets and tconsts as literals (static partition pruning, and Parquet row groups skipped by
  their tconst min/max);

and prints Spark's scan metrics for each (files read, bytes read, rows output by the scan),
the rows of the result (the same for both) and the seconds.
"""

from __future__ import annotations

import argparse
import sys
import time

import pyarrow as pa

from imdb_pipeline.home import Home
from imdb_pipeline.spark import get_spark
from ingest.names import TCONST_BUCKETS, tconst_bucket

LOOKUPS = {
    "title_principals": "imdb_staging.stg_imdb__title_principals",
    "title_akas": "imdb_staging.stg_imdb__title_akas",
}


def scan_metrics(frame, table: str) -> dict:
    """Spark's metrics of the scans of lookup ``table`` in ``frame``'s executed plan (after it
    ran), summed."""
    plan = frame._jdf.queryExecution().executedPlan()
    if plan.nodeName() == "AdaptiveSparkPlan":
        plan = plan.finalPhysicalPlan()
    totals = {"files read": 0, "bytes read": 0, "scan rows": 0}
    todo = [plan]
    while todo:
        node = todo.pop()
        todo.extend(node.children().toSeq().apply(i) for i in range(node.children().size()))
        if hasattr(node, "subqueries"):
            subs = node.subqueries()
            todo.extend(subs.apply(i) for i in range(subs.size()))
        if "Scan" not in node.nodeName() or f"/{table}" not in node.toString():
            continue
        metrics = node.metrics()
        for key, name in (
            ("numFiles", "files read"),
            ("filesSize", "bytes read"),
            ("numOutputRows", "scan rows"),
        ):
            if metrics.contains(key):
                totals[name] += int(metrics.apply(key).value())
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="a home with built marts")
    args = parser.parse_args()
    home = Home.resolve(args.home)
    spark = get_spark(home)
    tconsts = [r.tconst for r in spark.sql("select tconst from imdb.top_movies").collect()]
    if not tconsts:
        sys.exit("bench: imdb.top_movies is empty in that home")
    buckets = sorted(set(tconst_bucket(pa.array(tconsts)).to_pylist()))
    literal = (
        f"lookup.tconst_bucket in ({', '.join(map(str, buckets))}) and lookup.tconst in "
        f"({', '.join(repr(t) for t in tconsts)})"
    )
    for table, view in LOOKUPS.items():
        join = (
            f"select lookup.* from {view} as lookup inner join imdb.top_movies as top "
            "on lookup.tconst = top.tconst and lookup.tconst_bucket = "
            f"cast(pmod(cast(substr(top.tconst, 3) as bigint), {TCONST_BUCKETS}) as int)"
        )
        for name, sql in (("join", join), ("literals", f"{join} where {literal}")):
            started = time.monotonic()
            frame = spark.sql(sql)
            rows = len(frame.collect())
            seconds = time.monotonic() - started
            metrics = scan_metrics(frame, table)
            print(
                f"{table:17} {name:9} {metrics['files read']:5} files, "
                f"{metrics['bytes read'] / 2**20:9.1f} MiB, {metrics['scan rows']:12,} rows "
                f"scanned -> {rows:,} rows, {seconds:.1f} s"
            )
    spark.stop()


if __name__ == "__main__":
    main()
