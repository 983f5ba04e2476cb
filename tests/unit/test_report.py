"""The report: its data (pure functions over small in-memory tables), the page built from
real Delta tables written with delta-rs (no JVM), the atomic write, the CLI's edge, and the
browser check's own ability to see a request (a page that asks another host for something).

The report of a real pipeline run, opened in Chromium, is checked in tests/e2e
(report_checks.py, called from test_pipeline.py).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import altair as alt
import pyarrow as pa
import pytest
from click.testing import CliRunner
from deltalake import write_deltalake

from imdb_pipeline.cli import main
from imdb_pipeline.home import Home
from imdb_pipeline.report import REPORT_FILE, build_report, charts, write_report
from imdb_pipeline.report import data as report_data
from imdb_pipeline.report.sources import DeltaSource, ReportError, batches_path
from imdb_pipeline.results import DeltaReader, ResultsError, collect, mart_path
from tests.browser import browser, open_page, requests_made
from tests.unit.test_results import EXPECTED, SCHEMAS, SUMMARY, write_marts

STREAM = EXPECTED["stream"]["stream_id"]


def batch(
    batch_id: int,
    ingest: str,
    top: list[str],
    average: float = 1.0,
    *,
    stream: str = STREAM,
    duration_ms: int = 100,
    records: int = 4,
) -> dict:
    """A micro-batch row; ``top`` lists the tconsts of the running top-N in rank order."""
    return {
        "stream_id": stream,
        "ingest_id": ingest,
        "batch_id": batch_id,
        "batches": batch_id + 1,
        "records": records,
        "end_row": records * (batch_id + 1),
        "ratings_processed": records * (batch_id + 1),
        "average_number_of_votes": average,
        "duration_ms": duration_ms,
        "processed_at": datetime(2026, 11, 30, 9, tzinfo=UTC) + timedelta(seconds=batch_id),
        "top": [
            {
                "rank": r,
                "tconst": t,
                "num_votes": 1000,
                "average_rating": Decimal("8.0"),
                "ranking_score": 10.0 - r,
            }
            for r, t in enumerate(top, start=1)
        ],
    }


# --- the data: pure functions ---------------------------------------------------------------


def test_movies_credits_and_titles_keep_the_contract_values():
    movies = report_data.top_movie_rows(EXPECTED)
    assert [m["label"] for m in movies] == ["1. Zeta (1994)", "2. Alpha"]  # no year: no "()"
    assert [{k: v for k, v in m.items() if k != "label"} for m in movies] == EXPECTED["top_movies"]

    credits = report_data.credit_rows(EXPECTED)
    assert [c["nconst"] for c in credits] == ["nm3", "nm1", "nm2", "nm0"]  # the mart's order
    assert credits[0]["movies"] == ["1. Zeta (1994)", "2. Alpha"]  # by rank, not by tconst
    assert credits[1]["name"] == "nm1"  # missing from name.basics: named by its id
    chart = report_data.credit_chart_rows(credits, limit=2)
    assert [(r["person"], r["measure"], r["value"]) for r in chart] == [
        ("Cy (nm3)", "credits", 2),
        ("Cy (nm3)", "movies", 2),
        ("nm1 (no name)", "credits", 2),
        ("nm1 (no name)", "movies", 1),
    ]

    titles = report_data.titles_by_movie(EXPECTED)
    assert [(m["tconst"], [t["title"] for t in m["titles"]]) for m in titles] == [
        ("tt2", ["Zeta", "Zêta", "ゼータ"]),
        ("tt1", ["Alpha"]),
    ]
    assert titles[0]["titles"][1] == {
        "title": "Zêta",
        "regions": ["FR", "BE"],
        "languages": ["fr"],
        "is_primary": False,
        "is_original": True,
    }


def test_refreshes_are_the_changes_of_ingest_between_micro_batches():
    batches = [
        batch(0, "a", []),
        batch(1, "a", []),
        batch(2, "b", []),
        batch(3, "b", []),
        batch(4, "a", []),
    ]
    assert report_data.refreshes(batches) == [
        {"batch_id": 2, "from_ingest": "a", "to_ingest": "b"},
        {"batch_id": 4, "from_ingest": "b", "to_ingest": "a"},
    ]
    assert report_data.refreshes(batches[:2]) == []
    segments = report_data.stream_segments(batches)
    assert [
        (s["ingest_id"], s["first_batch"], s["last_batch"], s["batches"]) for s in segments
    ] == [("a", 0, 1, 2), ("b", 2, 3, 2), ("a", 4, 4, 1)]


def test_the_answers_stream_is_picked_in_batch_order_and_a_repeated_batch_is_refused():
    rows = [batch(1, "a", []), batch(0, "a", [], stream="other"), batch(0, "a", [])]
    assert [(b["stream_id"], b["batch_id"]) for b in report_data.stream_batches(rows, STREAM)] == [
        (STREAM, 0),
        (STREAM, 1),
    ]
    with pytest.raises(ValueError, match="micro-batch 1 of stream-abc is logged twice"):
        report_data.stream_batches(rows + [batch(1, "a", [])], STREAM)


def ranks_at(points: list[dict], batch_id: int) -> dict[str, int]:
    """Read a rank chart back: tconst -> rank at ``batch_id``, each point's rank held until
    the next point of its stint (what a step-after line draws)."""
    stints: dict[str, list[dict]] = {}
    for p in points:
        stints.setdefault(p["stint"], []).append(p)
    ranks = {}
    for stint in stints.values():
        stint.sort(key=lambda p: p["batch_id"])
        if stint[0]["batch_id"] <= batch_id <= stint[-1]["batch_id"]:
            assert stint[0]["tconst"] not in ranks, "two stints of one title overlap"
            ranks[stint[0]["tconst"]] = [p for p in stint if p["batch_id"] <= batch_id][-1]["rank"]
    return ranks


def test_rank_lines_hold_every_running_top_of_every_micro_batch():
    generator = random.Random(7)
    titles = [f"tt{i:02d}" for i in range(12)]
    for _ in range(40):  # random streams: titles enter, move, leave and come back
        batches, top = [], []
        for batch_id in range(generator.randint(1, 30)):
            if generator.random() < 0.5:
                top = generator.sample(titles, generator.randint(0, 5))
            batches.append(batch(batch_id, "a", top))
        final = {e["tconst"]: f"label {e['tconst']}" for e in batches[-1]["top"]}
        points = report_data.rank_lines(batches, final)
        tops = [{e["tconst"]: e["rank"] for e in b["top"]} for b in batches]
        for b, top in zip(batches, tops):  # the chart, read back, is each running top exactly
            assert ranks_at(points, b["batch_id"]) == top
        changes = sum(
            1
            for before, now in zip([{}] + tops, tops)
            for tconst, rank in now.items()
            if before.get(tconst) != rank
        )
        assert len(points) <= 2 * changes  # a point per change (and a closing one), not per batch
        assert all(p["is_final"] == (p["tconst"] in final) for p in points)
        assert all(p["series"] == final.get(p["tconst"], "other titles") for p in points)


def test_rank_lines_close_a_stint_where_the_title_was_last_in_the_top():
    batches = [
        batch(0, "a", ["tt1", "tt2"]),
        batch(1, "a", ["tt1", "tt2"]),
        batch(2, "a", ["tt2", "tt1"]),
        batch(3, "a", ["tt2"]),
        batch(4, "a", ["tt1", "tt2"]),
    ]
    points = report_data.rank_lines(batches, {"tt2": "2. Two"})
    assert [(p["stint"], p["batch_id"], p["rank"]) for p in points] == [
        ("tt1#1", 0, 1),
        ("tt1#1", 2, 2),  # in at 1, down to 2 at batch 2 ...
        ("tt1#2", 4, 1),  # ... gone at batch 3 (closed at 2), back at 4
        ("tt2#1", 0, 2),
        ("tt2#1", 2, 1),
        ("tt2#1", 4, 2),
    ]


def test_the_average_line_is_thinned_but_keeps_both_sides_of_every_refresh():
    batches = [batch(i, "a" if i < 503 else "b", [], average=float(i)) for i in range(1000)]
    line = report_data.average_line(batches, limit=100)
    ids = [p["batch_id"] for p in line]
    assert ids == sorted(set(ids)) and ids[0] == 0 and ids[-1] == 999
    assert {502, 503} <= set(ids) and len(ids) <= 103
    assert all(p["average_number_of_votes"] == float(p["batch_id"]) for p in line)
    assert [p["batch_id"] for p in report_data.average_line(batches[:50], limit=100)] == list(
        range(50)
    )


MANIFEST_V1 = {
    "ingest_id": "i1",
    "seconds": 12.5,
    "source": "/data/imdb",
    "max_reject_share": 0.001,
    "title_names": {"rows": 3, "seconds": 0.5},
    "files": [
        {
            "file": "title.ratings.tsv.gz",
            "table": "title_ratings",
            "source": "/data/imdb/title.ratings.tsv.gz",
            "rows_read": 10,
            "rows_written": 9,
            "rows_rejected": 1,
            "size_bytes": 2_000_000,
            "seconds": 1.25,
        }
    ],
}
MANIFEST_V2 = {
    **MANIFEST_V1,
    "files": [
        {
            **MANIFEST_V1["files"][0],
            "keys": {"columns": ["tconst"], "null_keys": 0, "duplicate_keys": 2},
        }
    ],
}
RUN_RESULTS = {
    "metadata": {"invocation_id": "inv-1", "generated_at": "2026-11-30T09:06:57Z"},
    "args": {"which": "build"},
    "elapsed_time": 111.8,
    "results": [
        {"unique_id": "model.imdb.top_movies", "status": "success", "execution_time": 2.0},
        {"unique_id": "model.imdb.run_summary", "status": "success", "execution_time": 1.5},
        {"unique_id": "test.imdb.primary_key_top_movies", "status": "fail", "execution_time": 0.5},
        {"unique_id": "seed.imdb.regions", "status": "success", "execution_time": 3.0},
    ],
}


def test_files_and_timings_from_the_manifest_and_dbt():
    v1, v2 = report_data.ingest_files(MANIFEST_V1), report_data.ingest_files(MANIFEST_V2)
    assert v1[0]["rows_rejected"] == 1 and v1[0]["duplicate_keys"] is None  # not counted then
    assert v2[0]["duplicate_keys"] == 2
    assert report_data.ingest_files(None) == []

    timings = report_data.dbt_timings(RUN_RESULTS, "inv-1")
    assert timings["is_answer_build"] and timings["command"] == "build"
    assert [
        (t["resource_type"], t["nodes"], t["seconds"], t["failed"]) for t in timings["by_type"]
    ] == [("model", 2, 3.5, 0), ("seed", 1, 3.0, 0), ("test", 1, 0.5, 1)]
    assert timings["slowest"][0] == {
        "unique_id": "seed.imdb.regions",
        "seconds": 3.0,
        "status": "success",
    }
    assert not report_data.dbt_timings(RUN_RESULTS, "inv-2")[
        "is_answer_build"
    ]  # a later dbt command
    assert report_data.dbt_timings(None, "inv-1") is None


def test_report_data_needs_the_answers_stream():
    summary = {"ingest_id": "i1", "invocation_id": "inv-1", "built_at": None}
    with pytest.raises(ValueError, match="no micro-batch of stream-abc"):
        report_data.report_data(EXPECTED, summary, [batch(0, "i1", [], stream="other")], None, None)
    content = report_data.report_data(
        EXPECTED,
        summary,
        [
            batch(0, "i0", ["tt1"], 5.0, duration_ms=300),
            batch(1, "i1", ["tt2", "tt1"], 6.0, duration_ms=100),
        ],
        MANIFEST_V2,
        RUN_RESULTS,
        current_ingest="i2",
    )
    run = content["run"]
    assert run["options"] == {
        "min_votes": 500,
        "title_types": ["movie", "tvMovie"],
        "top_n": 3,
        "records_per_batch": 4,
        "max_reject_share": 0.001,
        "source": "/data/imdb",
    }
    assert run["rows_rejected"] == 1 and run["current_ingest"] == "i2"
    assert run["timings"] == {
        "ingest_s": 12.5,
        "title_names_s": 0.5,
        "stream_ms": 400,
        "stream_median_ms": 200.0,
    }
    assert [s["source"] for s in content["stream"]["segments"]] == ["fold", "fold"]
    # Spark's trigger time where stream_progress has it (the fold time of batches is only
    # the driver's part: 0.0 s for a real stream)
    timed = report_data.report_data(
        EXPECTED,
        summary,
        [
            batch(0, "i0", ["tt1"], 5.0, duration_ms=3),
            batch(1, "i1", ["tt2", "tt1"], 6.0, duration_ms=1),
            batch(2, "i1", ["tt2", "tt1"], 6.0, duration_ms=2),
        ],
        MANIFEST_V2,
        RUN_RESULTS,
        trigger_ms={0: 6191, 1: 450, 7: 99},
    )
    assert timed["run"]["timings"]["stream_ms"] == 6191 + 450 + 2
    assert [(s["duration_ms"], s["max_ms"], s["source"]) for s in timed["stream"]["segments"]] == [
        (6191, 6191, "trigger"),
        (452, 450, "fold"),
    ]
    assert content["stream"]["refreshes"] == [
        {"batch_id": 1, "from_ingest": "i0", "to_ingest": "i1"}
    ]
    assert [(p["stint"], p["batch_id"], p["rank"]) for p in content["stream"]["ranks"]] == [
        ("tt1#1", 0, 1),
        ("tt1#1", 1, 2),
        ("tt2#1", 1, 1),
    ]


# --- the page, from real Delta tables (delta-rs, no JVM) --------------------------------------

BATCH_SCHEMA = pa.schema(
    [
        ("stream_id", pa.string()),
        ("ingest_id", pa.string()),
        ("batch_id", pa.int64()),
        ("batches", pa.int64()),
        ("records", pa.int64()),
        ("end_row", pa.int64()),
        ("ratings_processed", pa.int64()),
        ("average_number_of_votes", pa.float64()),
        ("duration_ms", pa.int64()),
        ("processed_at", pa.timestamp("us", tz="UTC")),
        (
            "top",
            pa.list_(
                pa.struct(
                    [
                        ("rank", pa.int32()),
                        ("tconst", pa.string()),
                        ("num_votes", pa.int32()),
                        ("average_rating", pa.decimal128(3, 1)),
                        ("ranking_score", pa.float64()),
                    ]
                )
            ),
        ),
    ]
)
SUMMARY_SCHEMA = SCHEMAS["run_summary"].append(pa.field("ingest_id", pa.string()))


def built_home(tmp_path) -> Home:
    """A home whose warehouse holds the marts of tests/unit/test_results.py (run_summary with
    its ingest_id, as dbt writes it), an imdb_stream.batches with a refresh, the ingest's
    manifest and dbt's run results."""
    home = Home.resolve(tmp_path / "home")
    write_marts(home.warehouse)
    summary = {**SUMMARY, "invocation_id": "inv-1", "ingest_id": "i1"}
    write_deltalake(
        str(mart_path(home.warehouse, "run_summary")),
        pa.Table.from_pylist([summary], schema=SUMMARY_SCHEMA),
        mode="overwrite",
        schema_mode="overwrite",
    )
    rows = [
        batch(1, "i1", ["tt2", "tt1"], EXPECTED["average_number_of_votes"]),
        batch(0, "i0", ["tt1"], 99.5),
        batch(0, "i1", ["tt9"], stream="stream-other"),
    ]
    write_deltalake(
        str(batches_path(home.warehouse)), pa.Table.from_pylist(rows, schema=BATCH_SCHEMA)
    )
    progress = [
        {"stream_id": STREAM, "batch_id": 0, "duration_ms": 2500},
        {"stream_id": STREAM, "batch_id": 1, "duration_ms": 1250},
        {"stream_id": "stream-other", "batch_id": 0, "duration_ms": 99_000},
    ]
    write_deltalake(
        str(batches_path(home.warehouse, "stream_progress")), pa.Table.from_pylist(progress)
    )
    (home.lake / "i1").mkdir(parents=True)
    (home.lake / "i1" / "_manifest.json").write_text(json.dumps(MANIFEST_V2))
    (home.lake / "CURRENT").write_text("i1\n")
    home.dbt_target.mkdir(parents=True)
    (home.dbt_target / "run_results.json").write_text(json.dumps(RUN_RESULTS))
    return home


def chart_specs(html: str) -> dict:
    found = re.search(
        r'<script type="application/json" id="chart-specs">(.*?)</script>', html, re.DOTALL
    )
    return json.loads(found.group(1))


def chart_values(spec: dict) -> list[dict]:
    """Every inline data row of a (layered) Vega-Lite spec."""
    layers = [spec, *spec.get("layer", [])]
    values = [row for layer in layers for row in (layer.get("data") or {}).get("values", [])]
    for dataset in spec.get("datasets", {}).values():
        values += dataset
    return values


def test_the_page_holds_the_results_numbers_and_asks_no_host_for_anything(tmp_path):
    home = built_home(tmp_path)
    html = build_report(DeltaSource(home.warehouse), home, now=datetime(2026, 12, 1, tzinfo=UTC))
    expected = collect(DeltaReader.of_warehouse(home.warehouse))
    timings = re.search(r'<table id="timings">(.*?)</table>', html, re.DOTALL).group(1)
    stream_seconds = re.findall(r'<td>stream \(\d\)</td><td class="num">([^<]*)</td>', timings)
    assert stream_seconds == ["2.5", "1.2"]  # 2,500 and 1,250 ms, not the batches' 100 ms
    assert "Spark's trigger time per micro-batch, imdb_stream.stream_progress" in timings

    cells = re.findall(
        r'<tr data-tconst="(tt\d+)">.*?data-field="ranking_score" data-value="([^"]+)"',
        html,
        re.DOTALL,
    )
    assert [(t, json.loads(v)) for t, v in cells] == [
        (m["tconst"], m["ranking_score"]) for m in expected["top_movies"]
    ]  # exact, not rounded
    assert "12.9600" in html and "ゼータ" in html and "nm1" in html
    specs = chart_specs(html)
    assert set(specs) == {"chart-top-movies", "chart-credits", "chart-average", "chart-ranks"}
    bars = [r for r in chart_values(specs["chart-top-movies"]) if "ranking_score" in r]
    assert [(r["tconst"], r["ranking_score"]) for r in bars] == [
        (m["tconst"], m["ranking_score"]) for m in expected["top_movies"]
    ]
    averages = [r for r in chart_values(specs["chart-average"]) if "average_number_of_votes" in r]
    assert [r["average_number_of_votes"] for r in averages] == [
        99.5,
        expected["average_number_of_votes"],
    ]
    refresh_rules = [r for r in chart_values(specs["chart-average"]) if "to_ingest" in r]
    assert refresh_rules == [{"batch_id": 1, "from_ingest": "i0", "to_ingest": "i1"}]
    assert "title.ratings.tsv.gz" in html and "inv-1" in html  # the manifest, the build
    # no reference to another host: no src/href/url()/import to a URL, no CDN
    assert not re.findall(r'(?:src|href)\s*=\s*["\']?(?:https?:)?//', html, re.IGNORECASE)
    assert not re.findall(r'url\(\s*["\']?(?:https?:)?//', html, re.IGNORECASE)
    assert not re.findall(r"@import|<link\b|<iframe\b", html, re.IGNORECASE)
    assert "window.vegaEmbed" in html  # the library is in the file


def axis_labels(spec: dict) -> dict[str, list[str]]:
    """The tick labels Vega draws (not hidden as overlapping) on each axis of a chart,
    rendered to SVG by vl-convert's Vega (the one the page inlines), by axis title."""
    import vl_convert

    svg = vl_convert.vegalite_to_svg(
        spec, vl_version=alt.SCHEMA_VERSION.lstrip("v").rsplit(".", 1)[0]
    )
    labels = {}
    for axis in svg.split('aria-roledescription="axis"')[1:]:
        title = re.search(r"aria-label=\"[XY]-axis (?:titled '([^']*)')?", axis).group(1) or ""
        ticks = re.search(
            r'<g class="mark-text role-axis-label"[^>]*>(.*?)</g>', axis, re.DOTALL
        ).group(1)
        labels[title] = re.findall(r'<text(?![^>]*opacity="0")[^>]*>([^<]*)</text>', ticks)
    return labels


def test_counts_are_labelled_in_whole_numbers_once_each():
    """(After the page test: vl-convert's runtime is then warm, the renders take ~0.1 s each.)
    Micro-batches, ranks and credit counts are whole: on short axes (two micro-batches,
    a top 3, counts up to 2) Vega's tickMinStep alone would tick at 0.5 and label it with a
    rounded, repeated number ("0 1 1")."""
    batches = [batch(0, "i0", ["tt1"], 1.0), batch(1, "i1", ["tt2", "tt1"], 2.0)]
    content = report_data.report_data(EXPECTED, {"ingest_id": "i1"}, batches, None, None)
    specs = charts.all_charts(content)
    assert axis_labels(specs["chart-average"])["micro-batch"] == ["0", "1"]
    ranks = axis_labels(specs["chart-ranks"])
    assert ranks["micro-batch"] == ["0", "1"] and ranks["running rank"] == ["1", "2", "3"]
    assert axis_labels(specs["chart-credits"])["count"] == ["0", "1", "2"]
    many = [batch(i, "i1", ["tt1"], float(i)) for i in range(7)]
    longer = charts.all_charts(report_data.report_data(EXPECTED, {}, many, None, None))
    assert axis_labels(longer["chart-average"])["micro-batch"] == [str(i) for i in range(7)]


def test_the_javascript_bundle_is_made_once_and_kept_between_processes(tmp_path, monkeypatch):
    import vl_convert

    from imdb_pipeline.report import page

    script = "/* vega, vega-lite, vega-embed */ window.vegaEmbed=e;window.vega=v;"
    made = []
    cache = tmp_path / "share" / "bundle-9.9.js"
    monkeypatch.setattr(
        page, "bundle_cache", lambda vegalite: tmp_path / "share" / f"bundle-{vegalite}.js"
    )
    monkeypatch.setattr(
        vl_convert, "javascript_bundle", lambda vl_version: made.append(vl_version) or script
    )
    page.javascript_bundle.cache_clear()
    try:
        assert page.javascript_bundle("9.9") == script == cache.read_text() and made == ["9.9"]
        page.javascript_bundle.cache_clear()  # as a new process would: read, not made again
        assert page.javascript_bundle("9.9") == script and made == ["9.9"]
        cache.write_text("/* cut short */ window.vegaEmb")  # not a whole bundle: made again
        page.javascript_bundle.cache_clear()
        assert page.javascript_bundle("9.9") == script == cache.read_text() and made == ["9.9"] * 2
        assert [p.name for p in cache.parent.iterdir()] == [cache.name]  # no temporary file left
    finally:
        page.javascript_bundle.cache_clear()


def test_the_report_refuses_what_results_refuses(tmp_path):
    home = built_home(tmp_path)
    write_marts(home.warehouse, {"top_movies": EXPECTED["top_movies"]}, invocation_id="inv-2")
    with pytest.raises(ResultsError) as refused:
        collect(DeltaReader.of_warehouse(home.warehouse))
    with pytest.raises(ResultsError) as report_refused:
        build_report(DeltaSource(home.warehouse), home)
    assert str(report_refused.value) == str(refused.value)


def test_a_missing_stream_log_is_one_line(tmp_path):
    home = built_home(tmp_path)
    shutil.rmtree(batches_path(home.warehouse))
    with pytest.raises(
        ReportError, match=r"imdb_stream.batches is missing at .*: run `imdb-pipeline stream`"
    ):
        build_report(DeltaSource(home.warehouse), home)


def test_the_report_is_written_atomically(tmp_path, monkeypatch):
    folder = tmp_path / "reports"
    first = write_report("<p>first</p>", folder)
    assert first == folder / REPORT_FILE and first.read_text() == "<p>first</p>"
    assert oct(first.stat().st_mode & 0o777) == "0o644"

    def broken_replace(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ReportError, match="cannot write the report to .*No space left on device"):
        write_report("<p>second</p>", folder)
    assert first.read_text() == "<p>first</p>"  # the old report, whole
    assert sorted(p.name for p in folder.iterdir()) == [REPORT_FILE]  # no temporary file left


# --- the CLI's edge ---------------------------------------------------------------------------


def test_report_command_writes_the_page_and_prints_its_path_without_a_jvm(tmp_path):
    home = built_home(tmp_path)
    out = tmp_path / "out"
    script = (  # the console script's entry point, then: was pyspark (and so a JVM) ever loaded?
        "import sys\nfrom imdb_pipeline.cli import main\n"
        "try:\n    main()\nexcept SystemExit as end:\n    code = end.code\n"
        "print('pyspark loaded:', 'pyspark' in sys.modules, file=sys.stderr)\nsys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "--home", str(home.root), "report", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(out / REPORT_FILE)
    assert "report: wrote" in done.stderr and "pyspark loaded: False" in done.stderr
    assert (out / REPORT_FILE).read_text().startswith("<!DOCTYPE html>")


def test_report_on_a_home_without_marts_is_one_error_line(tmp_path):
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "report"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: no results yet: run")
    assert not (tmp_path / "reports").exists()


def test_run_has_a_report_flag():
    assert "--report" in CliRunner().invoke(main, ["run", "--help"]).output


# --- the browser check itself -----------------------------------------------------------------


def test_the_browser_check_sees_every_request_a_page_makes(tmp_path):
    """A page that reaches for other hosts (a CDN script, an image, a fetch): the request log
    names each one, so a report that did the same would fail its test."""
    page = tmp_path / "page.html"
    page.write_text(
        "<!DOCTYPE html><html><body><p>offline?</p>"
        '<script src="https://cdn.example.com/vega.js"></script>'
        '<img src="http://images.example.org/poster.png">'
        '<script>fetch("https://api.example.net/x").catch(() => {});'
        "document.body.dataset.done = 'yes';</script></body></html>"
    )
    with browser() as driver:
        open_page(driver, page, ready="document.body.dataset.done === 'yes'")
        driver.implicitly_wait(0)
        requests = requests_made(driver)
        loaded = driver.execute_script("return typeof vegaEmbed;")
    assert requests[0] == page.as_uri()
    assert {
        "https://cdn.example.com/vega.js",
        "http://images.example.org/poster.png",
        "https://api.example.net/x",
    } <= set(requests)
    assert loaded == "undefined"  # and none of them got through
