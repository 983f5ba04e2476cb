"""The report's charts as Vega-Lite specifications, built with altair from the rows of
:mod:`imdb_pipeline.report.data`. Each function returns a plain dict (``chart.to_dict()``)
that the page hands to vega-embed; nothing here reads or writes files.
"""

from __future__ import annotations

import math
from typing import Any

import altair as alt

# Tableau 20 without its two greys: distinct colours for up to 18 final titles (then they
# repeat); the rest of the running top-N is grey
PALETTE = [
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#a0cbe8",
    "#ffbe7d",
    "#ff9d9a",
    "#86bcb6",
    "#8cd17d",
    "#f1ce63",
    "#d4a6c8",
    "#fabfd2",
    "#d7b5a6",
]
OTHER = "other titles"
OTHER_COLOUR = "#c8c8c8"
WIDTH = 640
BAR_WIDTH = 460  # the top movies' bars: room for their titles on the left and captions on the right
ROW_HEIGHT = 26
LABEL_PIXELS = 40  # about one axis label per this many pixels (Vega-Lite's default)
BAR_CAPTION = (
    "'score ' + format(datum.ranking_score, '.4f') + ' · ' + "
    "format(datum.average_rating, '.1f') + ' rating, ' + format(datum.num_votes, ',')"
    " + ' votes'"
)


def _data(rows: list[dict]) -> alt.Data:
    return alt.Data(values=rows)


def top_movies_chart(movies: list[dict]) -> dict:
    """Horizontal bars of ranking_score per top movie (labelled with rank, title and year),
    best on top, with the score, rating and votes at the end of each bar; the tooltip has
    them too, and the exact score."""
    order = [m["label"] for m in movies]
    base = alt.Chart(_data(movies)).encode(
        y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=320)),
        x=alt.X(
            "ranking_score:Q",
            title="ranking_score = numVotes / averageNumberOfVotes × averageRating",
        ),
        tooltip=[
            alt.Tooltip("rank:O", title="rank"),
            alt.Tooltip("primary_title:N", title="title"),
            alt.Tooltip("start_year:O", title="year"),
            alt.Tooltip("average_rating:Q", title="rating", format=".1f"),
            alt.Tooltip("num_votes:Q", title="votes", format=","),
            alt.Tooltip("ranking_score:Q", title="ranking_score", format=".6f"),
            alt.Tooltip("tconst:N"),
        ],
    )
    bars = base.mark_bar(color=PALETTE[0])
    # score, rating and votes readable without hovering (a screenshot, a printout)
    scores = (
        base.transform_calculate(caption=BAR_CAPTION)
        .mark_text(align="left", dx=4, fontSize=11)
        .encode(text="caption:N")
    )
    chart = (bars + scores).properties(
        width=BAR_WIDTH,
        height=ROW_HEIGHT * max(len(movies), 1),
        title="Top movies by ranking_score",
    )
    return chart.to_dict()


def credits_chart(rows: list[dict], people: int, of: int) -> dict:
    """Grouped bars per person (the first ``people`` of the ``of`` people credited):
    credit_count and movie_count side by side; the tooltip lists the categories."""
    order = sorted({(r["order"], r["person"]) for r in rows})
    chart = (
        alt.Chart(_data(rows))
        .mark_bar()
        .encode(
            y=alt.Y(
                "person:N", sort=[p for _, p in order], title=None, axis=alt.Axis(labelLimit=320)
            ),
            yOffset=alt.YOffset("measure:N", sort=["credits", "movies"]),
            x=alt.X(
                "value:Q",
                title="count",
                axis=_whole_axis(max((r["value"] for r in rows), default=0), WIDTH),
            ),
            color=alt.Color(
                "measure:N",
                sort=["credits", "movies"],
                scale=alt.Scale(range=[PALETTE[0], PALETTE[1]]),
                legend=alt.Legend(
                    title=None,
                    orient="top",
                    labelExpr="datum.label == 'credits' ? "
                    "'credit_count (credits)' : 'movie_count (top movies)'",
                ),
            ),
            tooltip=[
                alt.Tooltip("person:N"),
                alt.Tooltip("measure:N"),
                alt.Tooltip("value:Q"),
                alt.Tooltip("categories:N"),
            ],
        )
        .properties(
            width=WIDTH,
            height=2 * 14 * max(people, 1),
            title="People most often credited in the top movies"
            + (f" (the first {people} of {of})" if people < of else ""),
        )
    )
    return chart.to_dict()


def _whole_axis(span: float, pixels: int, **options) -> alt.Axis:
    """An axis of whole numbers over a domain ``span`` units wide drawn ``pixels`` long.

    Vega's ``tickMinStep`` alone still puts ticks at 0.5 on a span of 1 or 2 (it allows
    span + 1 ticks, and d3 then picks a step of 0.5), each labelled with a rounded, repeated
    number; asking for at most ``span`` ticks makes d3's step a whole 1, 2, 5, 10, ...
    """
    count = max(1, min(math.ceil(pixels / LABEL_PIXELS), math.floor(span)))
    return alt.Axis(format="d", tickMinStep=1, tickCount=count, **options)


def _batch_axis(batch_ids: list[int]) -> alt.X:
    """micro-batch ids on x: whole numbers only (no 0.5 tick labelled "1")."""
    span = max(batch_ids, default=0) - min(batch_ids, default=0)
    return alt.X(
        "batch_id:Q",
        title="micro-batch",
        axis=_whole_axis(span, WIDTH),
        scale=alt.Scale(nice=False),
    )


def _refresh_rules(refreshes: list[dict], x: alt.X) -> alt.Chart:
    return (
        alt.Chart(_data(refreshes))
        .mark_rule(color="#d62728", strokeDash=[4, 3])
        .encode(
            x=x,
            tooltip=[
                alt.Tooltip("batch_id:Q", title="refresh at micro-batch"),
                alt.Tooltip("from_ingest:N", title="from ingest"),
                alt.Tooltip("to_ingest:N", title="to ingest"),
            ],
        )
    )


def average_chart(points: list[dict], refreshes: list[dict]) -> dict:
    """The running average of numVotes after each micro-batch (a line), refreshes as dashed
    red rules."""
    x = _batch_axis([p["batch_id"] for p in points + refreshes])
    line = (
        alt.Chart(_data(points))
        .mark_line(point=len(points) <= 200, color=PALETTE[0])
        .encode(
            x=x,
            y=alt.Y(
                "average_number_of_votes:Q",
                title="running average of numVotes",
                scale=alt.Scale(zero=False),
            ),
            tooltip=[
                alt.Tooltip("batch_id:Q", title="micro-batch"),
                alt.Tooltip("average_number_of_votes:Q", title="average", format=",.2f"),
                alt.Tooltip("ratings_processed:Q", title="titles so far", format=","),
                alt.Tooltip("end_row:Q", title="records so far", format=","),
                alt.Tooltip("ingest_id:N", title="ingest"),
            ],
        )
    )
    chart = (line + _refresh_rules(refreshes, x)).properties(
        width=WIDTH, height=260, title="Running average of votes per micro-batch"
    )
    return chart.to_dict()


def ranks_chart(
    points: list[dict], refreshes: list[dict], final_labels: list[str], top_n: int
) -> dict:
    """The running top-N: rank (1 on top) over micro-batches, one step line per stint of a
    title in the top; the final answer's titles coloured, the others grey; refreshes as
    dashed red rules."""
    domain = list(final_labels) + [OTHER]
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(final_labels))] + [OTHER_COLOUR]
    x = _batch_axis([p["batch_id"] for p in points + refreshes])
    ranks = max(top_n, 1)
    encoding: dict[str, Any] = {
        "x": x,
        "y": alt.Y(
            "rank:Q",
            title="running rank",
            scale=alt.Scale(domain=[1, ranks], reverse=True, nice=False),
            # every rank labelled (22 pixels each) up to 30 of them, rank 1 always
            axis=(
                alt.Axis(format="d", values=list(range(1, ranks + 1)))
                if ranks <= 30
                else _whole_axis(ranks - 1, 22 * ranks)
            ),
        ),
        "color": alt.Color(
            "series:N",
            scale=alt.Scale(domain=domain, range=colours),
            legend=alt.Legend(title="final top movies", labelLimit=260),
        ),
        "detail": "stint:N",
        "tooltip": [
            alt.Tooltip("batch_id:Q", title="from micro-batch"),
            alt.Tooltip("rank:Q"),
            alt.Tooltip("title:N"),
            alt.Tooltip("tconst:N"),
            alt.Tooltip("ranking_score:Q", format=".6f"),
        ],
    }
    base = alt.Chart(_data(points)).encode(**encoding)
    lines = base.mark_line(interpolate="step-after", strokeWidth=2)
    dots = base.mark_point(filled=True, size=30)
    chart = (lines + dots + _refresh_rules(refreshes, x)).properties(
        width=WIDTH, height=max(22 * top_n, 200), title="Running top-N rank per micro-batch"
    )
    return chart.to_dict()


def all_charts(data: dict) -> dict[str, dict]:
    """The page's charts by element id, from :func:`imdb_pipeline.report.data.report_data`."""
    stream = data["stream"]
    return {
        "chart-top-movies": top_movies_chart(data["movies"]),
        "chart-credits": credits_chart(
            data["credit_chart"],
            len({r["nconst"] for r in data["credit_chart"]}),
            len(data["credits"]),
        ),
        "chart-average": average_chart(stream["average"], stream["refreshes"]),
        "chart-ranks": ranks_chart(
            stream["ranks"],
            stream["refreshes"],
            [m["label"] for m in data["movies"]],
            data["results"]["parameters"]["top_n"],
        ),
    }
