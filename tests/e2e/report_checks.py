"""The report of a built home, checked in headless Chromium against the results JSON and
against the stream's table read by Spark (tests/e2e/test_pipeline.py calls it right after a
pipeline run, on the shared session's home).

What is asserted: the page read through SQL (what ``--target thrift`` does) is the page read
from the Delta files; the page loaded from ``file://`` with the network blocked asked for nothing
but itself; each of the four charts rendered an SVG with marks; the top movies' table and
the bars drawn (their data and their lengths) hold exactly the scores of ``results --format
json``, the bars' captions its ratings and votes; the credits and titles tables and the
run's figures are its rows and counts; the average line ends at the answer's average; a
dashed rule marks each change of ingest between micro-batches (counted by Spark); at the
last micro-batch the running ranks are the answer's ranks; the full-page screenshot is a
real PNG of the whole page.
"""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path

from imdb_pipeline.report import build_report, make_report
from imdb_pipeline.report.data import MAX_LINE_POINTS
from imdb_pipeline.report.sources import DeltaSource, SqlSource
from imdb_pipeline.results import DeltaReader, SparkReader, collect, render_json
from tests.browser import browser, open_page, requests_made, screenshot

CHARTS = ("chart-top-movies", "chart-credits", "chart-average", "chart-ranks")

# Per chart: whether it rendered, its SVG's size, the count of drawn elements per mark type,
# and every drawn item of the Vega scenegraph with its datum (what the item stands for).
PAGE_FACTS = """
const facts = {charts: {}, movies: []};
function walk(mark, out) {  // every drawn item of the data marks, with its datum
  for (const item of mark.items || []) {
    if (mark.marktype === "group") {
      for (const child of item.items || []) walk(child, out);
    } else if (mark.role === "mark" && item.datum) {
      out.push({marktype: mark.marktype, width: item.width ?? null,
                datum: JSON.parse(JSON.stringify(item.datum))});
    }
  }
}
for (const id of __CHARTS__) {
  const element = document.getElementById(id);
  const svg = element.querySelector("svg");
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  const items = [];
  const view = (window.reportViews || {})[id];
  if (view) walk(view.scenegraph().root, items);
  facts.charts[id] = {
    rendered: element.dataset.rendered === "true", error: element.dataset.error || null,
    width: box.width, height: box.height,
    elements: {
      rect: element.querySelectorAll("g.mark-rect.role-mark path").length,
      line: element.querySelectorAll("g.mark-line.role-mark path").length,
      symbol: element.querySelectorAll("g.mark-symbol.role-mark path").length,
      rule: element.querySelectorAll("g.mark-rule.role-mark line").length,
      text: element.querySelectorAll("g.mark-text.role-mark text").length,
    },
    lineLength: Array.from(element.querySelectorAll("g.mark-line.role-mark path"))
      .map(p => p.getAttribute("d") || "").reduce((a, d) => a + d.length, 0),
    items: items,
  };
}
for (const row of document.querySelectorAll("#top-movies tbody tr[data-tconst]")) {
  const cell = f => row.querySelector(`[data-field="${f}"]`);
  facts.movies.push({
    tconst: row.dataset.tconst,
    rank: Number(cell("rank").textContent),
    title: cell("primary_title").childNodes[0].textContent.trim(),
    score_text: cell("ranking_score").textContent.trim(),
    score: JSON.parse(cell("ranking_score").dataset.value),
    votes: JSON.parse(cell("num_votes").dataset.value),
    rating: JSON.parse(cell("average_rating").dataset.value),
  });
}
facts.average = JSON.parse(document.querySelector('[data-field="average_number_of_votes"]').dataset.value);
const text = (row, f) => row.querySelector(`[data-field="${f}"]`).textContent.trim();
facts.credits = Array.from(document.querySelectorAll("#credits tbody tr[data-nconst]"), row => ({
  nconst: row.dataset.nconst, rank: Number(text(row, "rank")),
  credit_count: Number(text(row, "credit_count")), movie_count: Number(text(row, "movie_count")),
  categories: text(row, "categories"),
}));
facts.titles = Array.from(document.querySelectorAll("#titles tbody tr.title-row"), row => ({
  tconst: row.dataset.tconst, title: text(row, "title"), regions: text(row, "regions"),
  languages: text(row, "languages"),
}));
facts.figures = {};
for (const f of ["ratings_processed", "duplicate_keys", "batches"]) {
  facts.figures[f] = JSON.parse(document.querySelector(`.figure [data-field="${f}"]`).dataset.value);
}
return facts;
""".replace("__CHARTS__", json.dumps(list(CHARTS)))


def _items(chart: dict, marktype: str) -> list[dict]:
    return [i for i in chart["items"] if i["marktype"] == marktype]


def _stream_facts(spark, stream_id: str) -> dict:
    """The answer's micro-batches as Spark reads imdb_stream.batches: how many, how many
    changes of ingest between consecutive ones, the last batch id."""
    row = spark.sql(f"""
        select count(*) as batches, max(batch_id) as last_batch,
               count_if(previous is not null and previous <> ingest_id) as refreshes
        from (select batch_id, ingest_id,
                     lag(ingest_id) over (order by batch_id) as previous
              from imdb_stream.batches where stream_id = '{stream_id}')
    """).first()
    return row.asDict()


def check_report(spark, home, folder: Path, name: str) -> dict:
    """Render the report of ``home``'s answer into ``folder``, open it in Chromium and
    assert everything in the module docstring. Returns the page's facts (for more checks)."""
    # exactly what `imdb-pipeline results --format json` prints
    expected = json.loads(render_json(collect(DeltaReader.of_warehouse(home.warehouse))))
    path = make_report(DeltaSource(home.warehouse), home, folder / name)
    stream = _stream_facts(spark, expected["stream"]["stream_id"])
    # the SQL path (--target thrift sends the same queries to the server) gives the same page
    moment = datetime(2026, 12, 1, tzinfo=UTC)
    assert build_report(SqlSource(SparkReader(spark)), home, now=moment) == build_report(
        DeltaSource(home.warehouse), home, now=moment
    )

    with browser() as driver:
        open_page(driver, path, ready="document.body.dataset.charts === 'done'")
        requests = requests_made(driver)
        width, height = screenshot(driver, folder / f"{name}.png")
        facts = driver.execute_script(PAGE_FACTS)

    assert requests == [path.resolve().as_uri()], f"the page asked for more than itself: {requests}"
    assert width >= 1000 and height >= 2000, (width, height)  # the whole page, not the window

    for chart_id in CHARTS:
        chart = facts["charts"][chart_id]
        assert chart["rendered"] and chart["error"] is None, (chart_id, chart["error"])
        assert chart["width"] > 100 and chart["height"] > 100, (chart_id, chart)
        assert chart["items"], f"{chart_id} drew nothing"

    movies = expected["top_movies"]
    # the table: names and scores exactly as results prints them
    assert [
        (m["tconst"], m["rank"], m["title"], m["score"], m["votes"], m["rating"])
        for m in facts["movies"]
    ] == [
        (
            m["tconst"],
            m["rank"],
            m["primary_title"],
            m["ranking_score"],
            m["num_votes"],
            m["average_rating"],
        )
        for m in movies
    ]
    assert [m["score_text"] for m in facts["movies"]] == [
        f"{m['ranking_score']:.4f}" for m in movies
    ]
    assert facts["average"] == expected["average_number_of_votes"]
    assert facts["figures"] == {
        "ratings_processed": expected["ratings_processed"],
        "duplicate_keys": expected["duplicate_keys"],
        "batches": expected["stream"]["batches"],
    }
    # the credits and titles tables: the marts' rows as results prints them
    assert facts["credits"] == [
        {
            "nconst": c["nconst"],
            "rank": c["rank"],
            "credit_count": c["credit_count"],
            "movie_count": c["movie_count"],
            "categories": ", ".join(c["categories"]),
        }
        for c in expected["top_movie_credits"]
    ]
    key = itemgetter("tconst", "title")  # a movie's titles are distinct
    assert sorted(facts["titles"], key=key) == sorted(
        (
            {
                "tconst": t["tconst"],
                "title": t["title"],
                "regions": ", ".join(t["regions"]) or "-",
                "languages": ", ".join(t["languages"]) or "-",
            }
            for t in expected["top_movie_titles"]
        ),
        key=key,
    )

    # the bar chart: one bar per top movie, the datum is the answer's, the length its score
    top = facts["charts"]["chart-top-movies"]
    bars = _items(top, "rect")
    assert top["elements"]["rect"] == len(movies) == len(bars)
    assert [
        (b["datum"]["tconst"], b["datum"]["primary_title"], b["datum"]["ranking_score"])
        for b in bars
    ] == [(m["tconst"], m["primary_title"], m["ranking_score"]) for m in movies]
    per_unit = [
        b["width"] / b["datum"]["ranking_score"] for b in bars if b["datum"]["ranking_score"]
    ]
    assert max(per_unit) - min(per_unit) <= 1e-6 * statistics.median(per_unit)  # lengths ∝ scores
    assert top["elements"]["text"] == len(movies)  # score, rating and votes at each bar's end
    captions = [t["datum"]["caption"] for t in _items(top, "text")]
    scores, rest = zip(*(c.removeprefix("score ").split(" · ", 1) for c in captions), strict=True)
    assert list(rest) == [
        f"{m['average_rating']:.1f} rating, {m['num_votes']:,} votes" for m in movies
    ]
    for shown, movie in zip(scores, movies, strict=True):  # JavaScript's rounding to 4 places
        assert abs(float(shown) - movie["ranking_score"]) <= 0.00005 + 1e-12, (shown, movie)

    credits = facts["charts"]["chart-credits"]
    people = min(len(expected["top_movie_credits"]), 20)
    assert credits["elements"]["rect"] == 2 * people == len(_items(credits, "rect"))

    # the stream's story
    average = facts["charts"]["chart-average"]
    points = sorted((i["datum"] for i in _items(average, "line")), key=lambda d: d["batch_id"])
    assert average["elements"]["line"] >= 1 and average["lineLength"] > 0
    if stream["batches"] <= MAX_LINE_POINTS:  # every micro-batch is a point (else thinned)
        assert [p["batch_id"] for p in points] == list(
            range(stream["last_batch"] - stream["batches"] + 1, stream["last_batch"] + 1)
        )
    assert points[-1]["batch_id"] == stream["last_batch"]
    assert points[-1]["average_number_of_votes"] == expected["average_number_of_votes"]
    ranks = facts["charts"]["chart-ranks"]
    for chart in (average, ranks):
        assert chart["elements"]["rule"] == stream["refreshes"] == len(_items(chart, "rule"))
    assert ranks["elements"]["line"] >= 1 and ranks["lineLength"] > 0
    final = {
        d["tconst"]: d["rank"]
        for d in (i["datum"] for i in _items(ranks, "symbol"))
        if d["batch_id"] == stream["last_batch"]
    }
    assert final == {m["tconst"]: m["rank"] for m in movies}
    return facts
