"""The report's data: pure functions from small in-memory tables (lists of dicts, plain dicts)
to the rows its charts and tables show. No I/O, no Spark, no plotting library.

Inputs are what :mod:`imdb_pipeline.report.sources` reads from a home:

* ``results``: the results contract (:func:`imdb_pipeline.results.collect`), exactly what
  ``imdb-pipeline results --format json`` prints;
* ``batches``: rows of ``imdb_stream.batches`` (one per micro-batch: ``stream_id``,
  ``ingest_id``, ``batch_id``, ``batches``, ``records``, ``end_row``, ``ratings_processed``,
  ``average_number_of_votes``, ``duration_ms``, ``processed_at``, and ``top``: a list of
  ``{rank, tconst, num_votes, average_rating, ranking_score}``);
* ``manifest``: the ingest's ``lake/<ingest_id>/_manifest.json`` as a dict;
* ``run_results``: dbt's ``target/run_results.json`` as a dict.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import Counter
from collections.abc import Set as AbstractSet

MAX_LINE_POINTS = 2000  # the running-average chart keeps at most about this many micro-batches
TOP_CREDITS_CHARTED = 20  # people in the credits chart (the table lists all of them)


def movie_label(movie: dict) -> str:
    """``"1. The Shawshank Redemption (1994)"``: a top movie as the charts name it (the rank
    keeps labels unique when two movies share a title)."""
    year = f" ({movie['start_year']})" if movie.get("start_year") is not None else ""
    return f"{movie['rank']}. {movie['primary_title']}{year}"


def top_movie_rows(results: dict) -> list[dict]:
    """One row per top movie, in rank order: the contract's fields plus ``label``.

    Returns:
        ``[{rank, tconst, label, primary_title, original_title, start_year, average_rating,
        num_votes, ranking_score, known_for_names}]`` with the contract's values unchanged.
    """
    movies = sorted(results["top_movies"], key=lambda m: m["rank"])
    return [{**m, "label": movie_label(m)} for m in movies]


def credit_rows(results: dict) -> list[dict]:
    """The people credited in the top movies, in the mart's order (rank, then movie_count
    desc, then nconst), each with the titles of the movies they are credited in.

    Returns:
        ``[{rank, nconst, name, credit_count, movie_count, categories, tconsts, movies}]``:
        ``name`` is the primary_name, or the nconst when name.basics lacks the person;
        ``movies`` the movies' labels (:func:`movie_label`) in rank order.
    """
    labels = {m["tconst"]: (m["rank"], movie_label(m)) for m in results["top_movies"]}
    rows = []
    for person in results["top_movie_credits"]:
        known = sorted(labels[t] for t in person["tconsts"] if t in labels)
        rows.append(
            {
                **person,
                "name": person["primary_name"]
                if person["primary_name"] is not None
                else person["nconst"],
                "movies": [label for _, label in known],
            }
        )
    return rows


def credit_chart_rows(credits: list[dict], limit: int = TOP_CREDITS_CHARTED) -> list[dict]:
    """The first ``limit`` people of :func:`credit_rows` in long form for a grouped bar
    chart: two rows each, ``measure`` "credits" (credit_count) and "movies" (movie_count).

    Returns:
        ``[{order, nconst, person, measure, value, categories}]``; ``person`` is
        ``"<name> (<nconst>)"`` or ``"<nconst> (no name)"`` (unique), ``order`` the person's
        position from 0.
    """
    rows = []
    for order, person in enumerate(credits[:limit]):
        base = {
            "order": order,
            "nconst": person["nconst"],
            "person": (
                f"{person['primary_name']} ({person['nconst']})"
                if person["primary_name"] is not None
                else f"{person['nconst']} (no name)"
            ),
            "categories": ", ".join(person["categories"]),
        }
        rows.append({**base, "measure": "credits", "value": person["credit_count"]})
        rows.append({**base, "measure": "movies", "value": person["movie_count"]})
    return rows


def titles_by_movie(results: dict) -> list[dict]:
    """Each top movie (rank order) with its different titles (the mart's order: by title).

    Returns:
        ``[{rank, tconst, label, titles: [{title, regions, languages, is_primary,
        is_original}]}]``; a movie the titles mart lacks gets an empty list.
    """
    titles: dict[str, list[dict]] = {}
    for row in results["top_movie_titles"]:
        titles.setdefault(row["tconst"], []).append(
            {k: row[k] for k in ("title", "regions", "languages", "is_primary", "is_original")}
        )
    return [
        {
            "rank": m["rank"],
            "tconst": m["tconst"],
            "label": movie_label(m),
            "titles": titles.get(m["tconst"], []),
        }
        for m in sorted(results["top_movies"], key=lambda m: m["rank"])
    ]


def stream_batches(batches: list[dict], stream_id: str) -> list[dict]:
    """The micro-batches of one stream in batch order.

    Raises:
        ValueError: a batch_id occurs twice (the stream writes each micro-batch once).
    """
    mine = sorted((b for b in batches if b["stream_id"] == stream_id), key=lambda b: b["batch_id"])
    repeated = [
        a["batch_id"] for a, b in itertools.pairwise(mine) if a["batch_id"] == b["batch_id"]
    ]
    if repeated:
        raise ValueError(f"micro-batch {repeated[0]} of {stream_id} is logged twice")
    return mine


def refreshes(batches: list[dict]) -> list[dict]:
    """Where the stream moved to a new ingest: a micro-batch whose ``ingest_id`` differs from
    the previous micro-batch's (the first micro-batch starts the stream, it is no refresh).

    Args:
        batches: one stream's micro-batches in batch order (:func:`stream_batches`).

    Returns:
        ``[{batch_id, from_ingest, to_ingest}]`` in batch order.
    """
    return [
        {"batch_id": b["batch_id"], "from_ingest": a["ingest_id"], "to_ingest": b["ingest_id"]}
        for a, b in itertools.pairwise(batches)
        if a["ingest_id"] != b["ingest_id"]
    ]


def thin(rows: list[dict], limit: int, keep: AbstractSet[int] = frozenset()) -> list[dict]:
    """At most about ``limit`` of ``rows`` (evenly spaced), always with the first, the last
    and the positions in ``keep``; all of them when there are no more than ``limit``."""
    if len(rows) <= limit:
        return list(rows)
    step = math.ceil(len(rows) / limit)
    chosen = set(range(0, len(rows), step)) | {len(rows) - 1} | {i for i in keep if i < len(rows)}
    return [rows[i] for i in sorted(chosen)]


def average_line(batches: list[dict], limit: int = MAX_LINE_POINTS) -> list[dict]:
    """The running average of votes after each micro-batch, for a line chart.

    Args:
        batches: one stream's micro-batches in batch order.
        limit: more micro-batches than this are thinned (:func:`thin`), keeping the first,
            the last and both sides of every refresh.

    Returns:
        ``[{batch_id, average_number_of_votes, ratings_processed, end_row, ingest_id}]``.
    """
    changes = {
        i for i in range(1, len(batches)) if batches[i]["ingest_id"] != batches[i - 1]["ingest_id"]
    }
    keep = changes | {i - 1 for i in changes}
    return [
        {
            k: b[k]
            for k in (
                "batch_id",
                "average_number_of_votes",
                "ratings_processed",
                "end_row",
                "ingest_id",
            )
        }
        for b in thin(batches, limit, keep)
    ]


def rank_lines(batches: list[dict], final_labels: dict[str, str]) -> list[dict]:
    """The running top-N as lines of rank over micro-batches, without losing a change.

    A title's time in the running top-N is cut into stints (it may leave and come back);
    each stint is one line. A point is emitted where a title enters or changes rank, and a
    closing point at the last micro-batch of a stint (or the stream's last micro-batch): a
    step-after line through the points (each rank held until the next point) is exact, with
    one point per change instead of one per micro-batch (16,716 micro-batches at full size).

    Args:
        batches: one stream's micro-batches in batch order, each with ``top``.
        final_labels: tconst -> label of the movies in the final answer; other titles are
            named by their tconst and marked ``is_final = False``.

    Returns:
        ``[{batch_id, rank, tconst, stint, series, is_final, ranking_score}]`` ordered by
        stint then batch_id; ``stint`` is ``"<tconst>#<n>"``, ``series`` the label or
        ``"other titles"``.
    """
    points: list[dict] = []
    open_stints: dict[str, dict] = {}  # tconst -> the stint's last point so far
    stint_count: Counter = Counter()

    def point(batch_id: int, entry: dict, stint: str) -> dict:
        tconst = entry["tconst"]
        return {
            "batch_id": batch_id,
            "rank": entry["rank"],
            "tconst": tconst,
            "stint": stint,
            "series": final_labels.get(tconst, "other titles"),
            "is_final": tconst in final_labels,
            "title": final_labels.get(tconst, tconst),
            "ranking_score": entry["ranking_score"],
        }

    previous_batch = None
    last: dict | None  # a stint's last point; None: the title is not in the top yet
    for batch in batches:
        now = {entry["tconst"]: entry for entry in batch["top"] or []}
        for tconst in [
            t for t in open_stints if t not in now
        ]:  # left the top: close at the batch before
            last = open_stints.pop(tconst)
            if last["batch_id"] != previous_batch:
                points.append({**last, "batch_id": previous_batch})
        for tconst, entry in sorted(now.items(), key=lambda kv: kv[1]["rank"]):
            last = open_stints.get(tconst)
            if last is None:
                stint_count[tconst] += 1
                stint = f"{tconst}#{stint_count[tconst]}"
            elif last["rank"] != entry["rank"]:  # step-after holds the old rank until here
                stint = last["stint"]
            else:
                open_stints[tconst] = {**last, "ranking_score": entry["ranking_score"]}
                continue
            open_stints[tconst] = point(batch["batch_id"], entry, stint)
            points.append(open_stints[tconst])
        previous_batch = batch["batch_id"]
    for last in open_stints.values():  # still in the top at the end
        if last["batch_id"] != previous_batch:
            points.append({**last, "batch_id": previous_batch})
    return sorted(points, key=lambda p: (p["stint"], p["batch_id"]))


def batch_ms(batches: list[dict], trigger_ms: dict[int, int] | None) -> list[int]:
    """Per micro-batch its time in ms: Spark's trigger time where ``trigger_ms`` has it, else
    the batch row's ``duration_ms`` (the driver's read and fold); micro-batches with neither
    left out."""
    times = [(trigger_ms or {}).get(b["batch_id"], b.get("duration_ms")) for b in batches]
    return [t for t in times if t is not None]


def stream_segments(batches: list[dict], trigger_ms: dict[int, int] | None = None) -> list[dict]:
    """The stream cut where it moved to a new ingest: per run of micro-batches over the same
    ingest, how many, the records, and the micro-batches' time.

    ``trigger_ms``: batch_id -> Spark's duration of the micro-batch's trigger in ms
    (``imdb_stream.stream_progress``: reading the source, the fold, the buffer and Delta commits).
    A micro-batch missing from it counts its ``duration_ms`` of ``imdb_stream.batches``, the
    driver's read and fold only.

    Returns:
        ``[{ingest_id, first_batch, last_batch, batches, records, duration_ms,
        median_ms, max_ms, source}]`` (durations in milliseconds; ``source``: "trigger" when
        every micro-batch had its trigger time, else "fold").
    """
    trigger_ms = trigger_ms or {}
    segments: list[list[dict]] = []
    for b in batches:
        if segments and segments[-1][-1]["ingest_id"] == b["ingest_id"]:
            segments[-1].append(b)
        else:
            segments.append([b])
    out = []
    for seg in segments:
        durations = batch_ms(seg, trigger_ms)
        out.append(
            {
                "ingest_id": seg[0]["ingest_id"],
                "first_batch": seg[0]["batch_id"],
                "last_batch": seg[-1]["batch_id"],
                "batches": len(seg),
                "records": sum(b["records"] for b in seg),
                "duration_ms": sum(durations),
                "median_ms": statistics.median(durations) if durations else None,
                "max_ms": max(durations) if durations else None,
                "source": "trigger" if all(b["batch_id"] in trigger_ms for b in seg) else "fold",
            }
        )
    return out


def ingest_files(manifest: dict | None) -> list[dict]:
    """Per file of an ingest's manifest: rows read, written and rejected, duplicate keys
    when the manifest counted them, size, seconds.

    Returns:
        ``[{file, table, source, rows_read, rows_written, rows_rejected, duplicate_keys,
        size_bytes, seconds}]`` in the manifest's order (``duplicate_keys`` None when not
        counted); ``[]`` for no manifest.
    """
    if not manifest:
        return []
    rows = []
    for f in manifest.get("files", []):
        keys = f.get("keys") or {}
        rows.append(
            {
                "file": f.get("file"),
                "table": f.get("table"),
                "source": f.get("source"),
                "rows_read": f.get("rows_read"),
                "rows_written": f.get("rows_written"),
                "rows_rejected": f.get("rows_rejected"),
                "duplicate_keys": keys.get("duplicate_keys"),
                "size_bytes": f.get("size_bytes"),
                "seconds": f.get("seconds"),
            }
        )
    return rows


def dbt_timings(run_results: dict | None, invocation_id: str | None) -> dict | None:
    """What dbt's ``run_results.json`` says about its last command, by resource type.

    Args:
        run_results: the parsed file, or None when there is none.
        invocation_id: the dbt invocation that built the published answer (run_summary).

    Returns:
        None without a file; else ``{command, invocation_id, is_answer_build, elapsed_s,
        generated_at, by_type: [{resource_type, nodes, seconds, failed}], slowest:
        [{unique_id, seconds, status}]}`` (seconds as dbt measured them; ``is_answer_build``:
        the file is from the build that published the answer, not a later dbt command).
    """
    if not run_results:
        return None
    meta = run_results.get("metadata", {})
    by_type: dict[str, dict] = {}
    for node in run_results.get("results", []):
        kind = node["unique_id"].split(".", 1)[0]
        entry = by_type.setdefault(
            kind, {"resource_type": kind, "nodes": 0, "seconds": 0.0, "failed": 0}
        )
        entry["nodes"] += 1
        entry["seconds"] += node.get("execution_time") or 0.0
        entry["failed"] += node.get("status") in ("error", "fail", "runtime error")
    slowest = sorted(run_results.get("results", []), key=lambda n: -(n.get("execution_time") or 0))
    return {
        "command": run_results.get("args", {}).get("which"),
        "invocation_id": meta.get("invocation_id"),
        "is_answer_build": invocation_id is not None and meta.get("invocation_id") == invocation_id,
        "elapsed_s": run_results.get("elapsed_time"),
        "generated_at": meta.get("generated_at"),
        "by_type": sorted(by_type.values(), key=lambda e: -e["seconds"]),
        "slowest": [
            {
                "unique_id": n["unique_id"],
                "seconds": n.get("execution_time"),
                "status": n.get("status"),
            }
            for n in slowest[:5]
        ],
    }


def report_data(
    results: dict,
    summary: dict,
    batches: list[dict],
    manifest: dict | None,
    run_results: dict | None,
    *,
    current_ingest: str | None = None,
    line_limit: int = MAX_LINE_POINTS,
    trigger_ms: dict[int, int] | None = None,
) -> dict:
    """Everything the page shows, from the inputs above.

    Args:
        results: the results contract (the numbers shown are its numbers, unchanged).
        summary: the run_summary row (``ingest_id``, ``invocation_id``, ``built_at``).
        batches: rows of imdb_stream.batches (every stream; the answer's is picked).
        manifest: the answer's ingest's manifest, or None when it is gone.
        run_results: dbt's run_results.json, or None.
        current_ingest: the lake's CURRENT ingest (shown when it is not the answer's).
        line_limit: see :func:`average_line`.
        trigger_ms: see :func:`stream_segments`.

    Returns:
        a dict of the sections: ``results``, ``movies``, ``credits``, ``credit_chart``,
        ``titles``, ``stream`` (``batches`` count, ``average``, ``ranks``, ``refreshes``,
        ``segments``), ``run`` (``ingest_id``, ``stream_id``, options, ``files``, ``dbt``,
        timings).

    Raises:
        ValueError: the answer's stream has no micro-batch in ``batches``, or one twice.
    """
    stream_id = results["stream"]["stream_id"]
    mine = stream_batches(batches, stream_id)
    if not mine:
        raise ValueError(
            f"imdb_stream.batches has no micro-batch of {stream_id}, the stream "
            "the answer came from"
        )
    movies = top_movie_rows(results)
    credits = credit_rows(results)
    labels = {m["tconst"]: m["label"] for m in movies}
    segments = stream_segments(mine, trigger_ms)
    files = ingest_files(manifest)
    return {
        "results": results,
        "movies": movies,
        "credits": credits,
        "credit_chart": credit_chart_rows(credits),
        "titles": titles_by_movie(results),
        "stream": {
            "stream_id": stream_id,
            "batches": len(mine),
            "first_batch": mine[0]["batch_id"],
            "last_batch": mine[-1]["batch_id"],
            "average": average_line(mine, line_limit),
            "ranks": rank_lines(mine, labels),
            "refreshes": refreshes(mine),
            "segments": segments,
        },
        "run": {
            "stream_id": stream_id,
            "ingest_id": summary.get("ingest_id"),
            "current_ingest": current_ingest,
            "invocation_id": summary.get("invocation_id"),
            "built_at": summary.get("built_at"),
            "options": {
                **results["parameters"],
                "records_per_batch": results["stream"]["records_per_batch"],
                "max_reject_share": (manifest or {}).get("max_reject_share"),
                "source": (manifest or {}).get("source"),
            },
            "manifest_found": manifest is not None,
            "files": files,
            "rows_rejected": sum(f["rows_rejected"] or 0 for f in files),
            "timings": {
                "ingest_s": (manifest or {}).get("seconds"),
                "title_names_s": ((manifest or {}).get("title_names") or {}).get("seconds"),
                "stream_ms": sum(s["duration_ms"] for s in segments),
                "stream_median_ms": statistics.median(batch_ms(mine, trigger_ms) or [0]),
            },
            "dbt": dbt_timings(run_results, summary.get("invocation_id")),
        },
    }
