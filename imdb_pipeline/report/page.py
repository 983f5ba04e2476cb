"""The report as one self-contained HTML page: the tables and figures of
:func:`imdb_pipeline.report.data.report_data`, the charts of :mod:`imdb_pipeline.report.charts`,
and the Vega, Vega-Lite and vega-embed JavaScript inlined (from vl-convert's bundle), so the
file opens offline and requests nothing from any host.

Every number that ``results --format json`` prints is shown rounded, with its exact value in
the cell's ``data-value`` attribute (JSON: the same text ``results`` prints).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import jinja2
from markupsafe import Markup

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>IMDb top {{ p.top_n }} movies: imdb-pipeline report</title>
<style>
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
         margin: 0 auto; max-width: 1100px; padding: 16px 24px 48px; }
  h1 { font-size: 24px; margin: 8px 0 4px; }
  h2 { font-size: 19px; margin: 36px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
  h3 { font-size: 15px; margin: 20px 0 6px; }
  .lead { color: #444; margin: 0 0 8px; }
  .muted { color: #777; }
  .note { background: #fff8e1; border-left: 3px solid #f0b400; padding: 6px 10px; margin: 8px 0; }
  table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
  th, td { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
  th { background: #f6f6f6; font-weight: 600; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  tr.movie td { background: #fafafa; font-weight: 600; border-top: 1px solid #ddd; }
  .figures { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }
  .figure { border: 1px solid #e3e3e3; border-radius: 6px; padding: 8px 12px; min-width: 150px; }
  .figure .value { font-size: 18px; font-weight: 600; }
  .figure .label { color: #666; font-size: 12px; }
  .chart { margin: 8px 0 4px; min-height: 40px; }
  .chart[data-error] { color: #b00; }
  code { font-size: 12px; background: #f3f3f3; padding: 0 3px; border-radius: 3px; }
</style>
</head>
<body>
<h1>IMDb top {{ p.top_n }} {{ p.title_types | join("/") }} by ranking score</h1>
<p class="lead">
  {{ r.ratings_processed | thousands }} ratings processed; average number of votes
  <span data-field="average_number_of_votes" data-value="{{ r.average_number_of_votes | exact }}">{{ "{:,.2f}".format(r.average_number_of_votes) }}</span>;
  at least {{ p.min_votes | thousands }} votes to be ranked. Built {{ run.built_at | when }} by
  dbt invocation <code>{{ run.invocation_id }}</code>.
</p>
<noscript><p class="note">The charts need JavaScript (inlined in this file); the tables below hold every number.</p></noscript>

<section id="top-movies-section">
<h2>Top movies</h2>
<div class="chart" id="chart-top-movies"></div>
<table id="top-movies">
  <thead><tr><th class="num">rank</th><th>title</th><th class="num">year</th><th class="num">rating</th>
    <th class="num">votes</th><th class="num">ranking_score</th><th>tconst</th><th>known for</th></tr></thead>
  <tbody>
  {% for m in data.movies %}
    <tr data-tconst="{{ m.tconst }}">
      <td class="num" data-field="rank">{{ m.rank }}</td>
      <td data-field="primary_title">{{ m.primary_title }}{% if m.original_title and m.original_title != m.primary_title %}<br><span class="muted">{{ m.original_title }}</span>{% endif %}</td>
      <td class="num" data-field="start_year">{{ m.start_year if m.start_year is not none else "-" }}</td>
      <td class="num" data-field="average_rating" data-value="{{ m.average_rating | exact }}">{{ "%.1f" | format(m.average_rating) }}</td>
      <td class="num" data-field="num_votes" data-value="{{ m.num_votes | exact }}">{{ m.num_votes | thousands }}</td>
      <td class="num" data-field="ranking_score" data-value="{{ m.ranking_score | exact }}">{{ "%.4f" | format(m.ranking_score) }}</td>
      <td><code>{{ m.tconst }}</code></td>
      <td>{{ m.known_for_names | join(", ") }}</td>
    </tr>
  {% else %}
    <tr><td colspan="8">No movie is eligible (title types {{ p.title_types | join(", ") }}, at least {{ p.min_votes }} votes).</td></tr>
  {% endfor %}
  </tbody>
</table>

</section>

<section id="credits-section">
<h2>People most often credited</h2>
<p class="lead">From title.principals of the top movies: credit_count counts credits, movie_count
  the distinct top movies; rank is dense on credit_count.</p>
<div class="chart" id="chart-credits"></div>
<table id="credits">
  <thead><tr><th class="num">rank</th><th>name</th><th>nconst</th><th class="num">credit_count</th>
    <th class="num">movie_count</th><th>categories</th><th>movies</th></tr></thead>
  <tbody>
  {% for c in data.credits %}
    <tr data-nconst="{{ c.nconst }}">
      <td class="num" data-field="rank">{{ c.rank }}</td>
      <td data-field="primary_name">{{ c.primary_name if c.primary_name is not none else "(not in name.basics)" }}</td>
      <td><code>{{ c.nconst }}</code></td>
      <td class="num" data-field="credit_count">{{ c.credit_count }}</td>
      <td class="num" data-field="movie_count">{{ c.movie_count }}</td>
      <td data-field="categories">{{ c.categories | join(", ") }}</td>
      <td>{{ c.movies | join("; ") }}</td>
    </tr>
  {% else %}
    <tr><td colspan="7">No credits.</td></tr>
  {% endfor %}
  </tbody>
</table>

</section>

<section id="titles-section">
<h2>Titles of the top movies</h2>
<p class="lead">The distinct primary, original and title.akas titles of each movie, with the
  regions and languages each is used in.</p>
<table id="titles">
  <thead><tr><th>title</th><th>regions</th><th>languages</th><th>primary</th><th>original</th></tr></thead>
  <tbody>
  {% for movie in data.titles %}
    <tr class="movie" data-tconst="{{ movie.tconst }}"><td colspan="5">{{ movie.label }} <code>{{ movie.tconst }}</code></td></tr>
    {% for t in movie.titles %}
    <tr data-tconst="{{ movie.tconst }}" class="title-row">
      <td data-field="title">{{ t.title }}</td>
      <td data-field="regions">{{ t.regions | join(", ") or "-" }}</td>
      <td data-field="languages">{{ t.languages | join(", ") or "-" }}</td>
      <td>{{ "yes" if t.is_primary else "" }}</td>
      <td>{{ "yes" if t.is_original else "" }}</td>
    </tr>
    {% endfor %}
  {% endfor %}
  </tbody>
</table>

</section>

<section id="stream-section">
<h2>How the stream got there</h2>
<p class="lead">Stream <code>{{ s.stream_id }}</code>: {{ s.batches | thousands }} micro-batches
  (ids {{ s.first_batch }}-{{ s.last_batch }}) of up to {{ r.stream.records_per_batch | thousands }}
  records{% if s.refreshes %}; {{ s.refreshes | length }} refresh{{ "es" if s.refreshes | length > 1 }}
  (a new ingest read as changes), marked by dashed red lines{% endif %}.
  {% if s.average | length < s.batches %}The average line shows {{ s.average | length | thousands }} of the
  micro-batches, evenly spaced plus both sides of every refresh.{% endif %}</p>
<div class="chart" id="chart-average"></div>
<div class="chart" id="chart-ranks"></div>
<table id="refreshes">
  <thead><tr><th class="num">micro-batch</th><th>from ingest</th><th>to ingest</th></tr></thead>
  <tbody>
  {% for f in s.refreshes %}
    <tr><td class="num">{{ f.batch_id }}</td><td><code>{{ f.from_ingest }}</code></td><td><code>{{ f.to_ingest }}</code></td></tr>
  {% else %}
    <tr><td colspan="3">No refresh: the stream read one ingest.</td></tr>
  {% endfor %}
  </tbody>
</table>

</section>

<section id="run-section">
<h2>The run</h2>
<div class="figures">
  <div class="figure"><div class="value" data-field="ratings_processed" data-value="{{ r.ratings_processed | exact }}">{{ r.ratings_processed | thousands }}</div><div class="label">ratings processed</div></div>
  <div class="figure"><div class="value" data-field="duplicate_keys" data-value="{{ r.duplicate_keys | exact }}">{{ r.duplicate_keys | thousands }}</div><div class="label">duplicate keys in title.ratings</div></div>
  <div class="figure"><div class="value" data-field="rows_rejected">{{ run.rows_rejected | thousands if run.manifest_found else "-" }}</div><div class="label">rows rejected by the ingest</div></div>
  <div class="figure"><div class="value" data-field="batches" data-value="{{ r.stream.batches | exact }}">{{ r.stream.batches | thousands }}</div><div class="label">micro-batches{{ "" if r.stream.is_complete else " (feed not complete)" }}</div></div>
</div>
<table id="run">
  <tbody>
    <tr><th>ingest</th><td><code>{{ run.ingest_id }}</code>{% if run.current_ingest and run.current_ingest != run.ingest_id %} <span class="note">the lake's current ingest is <code>{{ run.current_ingest }}</code>, not yet streamed and transformed</span>{% endif %}</td></tr>
    <tr><th>stream</th><td><code>{{ run.stream_id }}</code>{{ "" if r.stream.is_complete else " (has not read its whole feed)" }}</td></tr>
    <tr><th>answer built</th><td>{{ run.built_at | when }}, dbt invocation <code>{{ run.invocation_id }}</code></td></tr>
    {% for key, value in run.options.items() %}
    <tr><th>{{ key }}</th><td>{{ value | join(", ") if value is iterable and value is not string else ("-" if value is none else value) }}</td></tr>
    {% endfor %}
  </tbody>
</table>

<h3>Rows per file (ingest manifest)</h3>
{% if run.manifest_found %}
<table id="files">
  <thead><tr><th>file</th><th>table</th><th class="num">rows read</th><th class="num">written</th>
    <th class="num">rejected</th><th class="num">duplicate keys</th><th class="num">MB</th><th class="num">seconds</th></tr></thead>
  <tbody>
  {% for f in run.files %}
    <tr data-file="{{ f.file }}"><td>{{ f.file }}</td><td>{{ f.table }}</td>
      <td class="num">{{ f.rows_read | thousands }}</td><td class="num">{{ f.rows_written | thousands }}</td>
      <td class="num" data-field="rows_rejected">{{ f.rows_rejected | thousands }}</td>
      <td class="num">{{ "-" if f.duplicate_keys is none else f.duplicate_keys | thousands }}</td>
      <td class="num">{{ "-" if f.size_bytes is none else "{:,.1f}".format(f.size_bytes / 1e6) }}</td>
      <td class="num">{{ "-" if f.seconds is none else "%.1f" | format(f.seconds) }}</td></tr>
  {% endfor %}
  </tbody>
</table>
<p class="muted">Rejected rows are in <code>imdb_lookup.ingest_rejects</code> (file, line, raw line, reason).</p>
{% else %}
<p class="note">The manifest of ingest <code>{{ run.ingest_id }}</code> is no longer in the lake
  (<code>lake/{{ run.ingest_id }}/_manifest.json</code>): no per-file counts.</p>
{% endif %}

<h3>Timings per stage</h3>
<table id="timings">
  <thead><tr><th>stage</th><th class="num">seconds</th><th>what</th></tr></thead>
  <tbody>
    <tr><td>ingest</td><td class="num">{{ run.timings.ingest_s | seconds }}</td><td>conversion of every file (manifest){% if run.timings.title_names_s is not none %}, of which title_names {{ run.timings.title_names_s | seconds }} s{% endif %}</td></tr>
    {% for seg in s.segments %}
    <tr><td>stream{% if s.segments | length > 1 %} ({{ loop.index }}){% endif %}</td><td class="num">{{ (seg.duration_ms / 1000) | seconds }}</td>
      <td>{{ seg.batches | thousands }} micro-batches {{ seg.first_batch }}-{{ seg.last_batch }} over ingest <code>{{ seg.ingest_id }}</code>, {{ seg.records | thousands }} records; median {{ seg.median_ms | thousands }} ms, slowest {{ seg.max_ms | thousands }} ms ({% if seg.source == "trigger" %}Spark's trigger time per micro-batch, imdb_stream.stream_progress{% else %}the driver's read and fold per micro-batch, imdb_stream.batches: no stream_progress rows{% endif %})</td></tr>
    {% endfor %}
    {% if run.dbt %}
      {% for t in run.dbt.by_type %}
    <tr><td>dbt {{ t.resource_type }}s</td><td class="num">{{ t.seconds | seconds }}</td><td>{{ t.nodes }} nodes{% if t.failed %}, {{ t.failed }} failed{% endif %} (sum of their execution times; 4 threads)</td></tr>
      {% endfor %}
    <tr><td>dbt {{ run.dbt.command }}</td><td class="num">{{ run.dbt.elapsed_s | seconds }}</td><td>wall time of the invocation, {{ run.dbt.generated_at }}</td></tr>
    {% endif %}
  </tbody>
</table>
{% if not run.dbt %}
<p class="note">No <code>dbt/target/run_results.json</code> in the home: no dbt timings.</p>
{% elif not run.dbt.is_answer_build %}
<p class="note">dbt's run_results.json is from a later dbt command ({{ run.dbt.command }},
  invocation <code>{{ run.dbt.invocation_id }}</code>), not the build of this answer.</p>
{% endif %}

</section>

<p class="muted">Written by <code>imdb-pipeline report</code> at {{ generated_at }} from the home
  <code>{{ home }}</code>. Every number here is the one <code>imdb-pipeline results --format json</code>
  prints (rounded on screen; each cell's <code>data-value</code> holds it exactly).</p>

<script type="text/javascript">
// vega-embed bundle (Vega {{ versions.vega }}, Vega-Lite {{ versions.vegalite }}, vega-embed {{ versions.embed }}), from vl-convert
{{ bundle }}
</script>
<script type="application/json" id="chart-specs">{{ specs }}</script>
<script type="text/javascript">
(function () {
  var specs = JSON.parse(document.getElementById("chart-specs").textContent);
  window.reportViews = {};
  var jobs = Object.keys(specs).map(function (id) {
    var element = document.getElementById(id);
    return vegaEmbed(element, specs[id], {renderer: "svg", actions: false})
      .then(function (result) { window.reportViews[id] = result.view; element.dataset.rendered = "true"; })
      .catch(function (error) { element.dataset.error = String(error); element.textContent = "chart failed: " + error; });
  });
  Promise.all(jobs).then(function () { document.body.dataset.charts = "done"; });
})();
</script>
</body>
</html>
"""


def _thousands(value) -> str:
    return "-" if value is None else f"{value:,}"


def _seconds(value) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _when(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):  # naive: Spark's session time zone, UTC
        value = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        return value.isoformat(sep=" ", timespec="seconds") + " UTC"
    return str(value)


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(thousands=_thousands, seconds=_seconds, when=_when, exact=json.dumps)
    return env


BUNDLE_END = "window.vegaEmbed="  # the bundle's last statements set the globals


def bundle_cache(vegalite: str) -> Path:
    """Where :func:`javascript_bundle` keeps the bundle between processes: in the virtualenv
    (``<sys.prefix>/share/imdb-pipeline/``), named after vl-convert's and Vega-Lite's
    versions, so a new vl-convert (a new Vega inside) bundles again and `make clean` drops it."""
    import vl_convert

    version = vl_convert.__version__  # type: ignore[attr-defined]  # missing from its stub
    name = f"vega-embed-vl-convert-{version}-vega-lite-{vegalite}.js"
    return Path(sys.prefix) / "share" / "imdb-pipeline" / name


def _store(path: Path, text: str) -> None:
    """Write ``path`` atomically (a temporary file, then a rename); a folder that cannot be
    written leaves it out (the cache only saves time)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.chmod(temporary, 0o644)  # mkstemp's 0600: readable by whoever reads the venv
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError:
        pass


@functools.lru_cache(maxsize=2)
def javascript_bundle(vegalite: str) -> str:
    """vega-embed with Vega and Vega-Lite ``vegalite`` (``"6.4"``) as one script that sets
    ``window.vegaEmbed``; about 0.9 MB. vl-convert bundles it in 3-6 s of CPU, so it is kept
    in :func:`bundle_cache` (and per process): later reports, and every test process after
    the first, read it instead.

    Raises:
        ValueError: the bundle holds ``</script`` (it could not be inlined as is).
    """
    import vl_convert

    cache = bundle_cache(vegalite)
    try:
        bundle = cache.read_text(encoding="utf-8")
    except (OSError, ValueError):
        bundle = ""
    if BUNDLE_END not in bundle[-2000:]:  # absent, or not a whole bundle: make it again
        # the stub makes snippet required; at runtime it defaults to None (the globals)
        bundle = vl_convert.javascript_bundle(vl_version=vegalite)  # type: ignore[call-arg]
        _store(cache, bundle)
    if "</script" in bundle.lower():
        raise ValueError("the vega-embed bundle contains '</script' and cannot be inlined")
    return bundle


def script_json(value) -> str:
    """``value`` as JSON safe inside a ``<script>`` element (``<`` written ``\\u003c``)."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def render_page(data: dict, specs: dict[str, dict], *, home: str, generated_at: datetime) -> str:
    """The whole page as text.

    Args:
        data: :func:`imdb_pipeline.report.data.report_data`.
        specs: element id -> Vega-Lite spec (:func:`imdb_pipeline.report.charts.all_charts`).
        home: the home folder named in the footer.
        generated_at: when the report was made (shown in UTC).
    """
    import altair as alt
    import vl_convert

    vegalite = alt.SCHEMA_VERSION.lstrip("v").rsplit(".", 1)[0]  # "v6.4.1" -> "6.4"
    versions = {
        "vega": vl_convert.get_vega_version(),
        "vegalite": alt.SCHEMA_VERSION,
        "embed": vl_convert.get_vega_embed_version(),
    }
    template = _environment().from_string(TEMPLATE)
    return template.render(
        data=data,
        r=data["results"],
        p=data["results"]["parameters"],
        s=data["stream"],
        run=data["run"],
        home=home,
        generated_at=_when(generated_at),
        versions=versions,
        bundle=Markup(javascript_bundle(vegalite)),
        specs=Markup(script_json(specs)),
    )
