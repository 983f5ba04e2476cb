"""The feeds of a stream: what its source reads, in order.

A stream (one per set of answer-changing options) reads a sequence of feeds, registered in
``<checkpoint>/feeds.json``: the ratings of the first ingest in full, then for every newer
ingest only what changed — titles that are new or whose rating or votes changed, in the new
file's order, and then the titles the new file no longer has, as deletions. Feeds are
immutable Parquet files under ``<checkpoint>/feeds/``; the source's offset is a row of their
concatenation, so a replayed range always reads the same records. A feed is registered only
after every earlier one was processed, because the diff is taken against the current titles.

Locations are local paths or ``s3://`` URIs (``imdb_pipeline.storage``): with an S3 storage
the registry and the feeds live next to the checkpoint in the bucket, so any driver can
replay any range.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from imdb_pipeline import storage
from ingest.schemas import STREAM_FEED
from streaming.process import tenths

FEED_SCHEMA = STREAM_FEED.arrow_schema()
ROW_GROUP = 10_000


@dataclass(frozen=True)
class Feed:
    """One registered feed: the ingest it comes from, its Parquet file (a path or ``s3://``
    URI), its rows, and its kind: ``full`` (an ingest's ratings) or ``changes``."""

    ingest_id: str
    path: str
    rows: int
    kind: str  # "full" or "changes"


def load(registry: Path | str) -> list[Feed]:
    """The feeds registered in ``registry`` (a ``feeds.json``), oldest first; [] if none."""
    text = storage.read_text(registry)
    return [Feed(**f) for f in json.loads(text)] if text else []


def total_rows(feeds: list[Feed]) -> int:
    """Rows of ``feeds`` together: the end offset of their concatenation."""
    return sum(f.rows for f in feeds)


def _save(registry: Path | str, feeds: list[Feed]) -> None:
    storage.write_text(registry, json.dumps([asdict(f) for f in feeds], indent=1))


def changes(new: pa.Table, current: pa.Table) -> pa.Table:
    """New and changed titles of ``new`` (in its order), then deletions (in tconst order).

    ``new``: tconst, average_rating, num_votes (a ratings feed). ``current``: tconst,
    num_votes, rating_tenths of the titles the stream holds now.
    """
    new = new.select(["tconst", "average_rating", "num_votes"])
    indexed = new.append_column("_row", pa.array(range(new.num_rows), pa.int64())).append_column(
        "_tenths", tenths(new["average_rating"])
    )
    old = current.select(["tconst", "num_votes", "rating_tenths"]).rename_columns(
        ["tconst", "_old_votes", "_old_tenths"]
    )
    joined = indexed.join(old, "tconst", join_type="left outer")
    differs = pc.or_(
        pc.not_equal(joined["num_votes"], joined["_old_votes"]),
        pc.not_equal(joined["_tenths"], joined["_old_tenths"]),
    )
    upserts = joined.filter(pc.fill_null(differs, True)).sort_by("_row")
    upserts = upserts.select(["tconst", "average_rating", "num_votes"]).append_column(
        "is_deleted", pa.array([False] * upserts.num_rows, pa.bool_())
    )
    gone = old.join(new.select(["tconst"]), "tconst", join_type="left anti").sort_by("tconst")
    deletions = pa.table(
        {
            "tconst": gone["tconst"],
            "average_rating": pa.nulls(gone.num_rows, pa.decimal128(3, 1)),
            "num_votes": pa.nulls(gone.num_rows, pa.int32()),
            "is_deleted": pa.array([True] * gone.num_rows, pa.bool_()),
        }
    )
    return pa.concat_tables([upserts.cast(FEED_SCHEMA), deletions.cast(FEED_SCHEMA)])


def register(
    registry: Path | str, ingest_id: str, ratings_feed: Path | str, current: pa.Table | None
) -> Feed:
    """Append the feed of ``ingest_id``: in full if the stream is new, else its changes.

    ``ratings_feed``: the ingest's ``ratings_feed/part-0.parquet``; the new feed is written
    whole before ``registry`` names it (locally under a temporary name, then renamed; on S3
    an object appears only once its upload is complete).
    """
    feeds = load(registry)
    for feed in feeds:
        if feed.ingest_id == ingest_id:
            return feed
    source_fs, source_path = storage.filesystem_for(ratings_feed)
    new = pq.read_table(source_path, filesystem=source_fs)
    if feeds:
        table, kind = changes(new, current), "changes"
    else:
        table = (
            new.select(["tconst", "average_rating", "num_votes"])
            .append_column("is_deleted", pa.array([False] * new.num_rows, pa.bool_()))
            .cast(FEED_SCHEMA)
        )
        kind = "full"
    path = storage.join(
        storage.parent(str(registry)), "feeds", f"{len(feeds):04d}-{ingest_id}.parquet"
    )
    if storage.is_remote(path):
        feed_fs, feed_path = storage.filesystem_for(path)
        pq.write_table(table, feed_path, filesystem=feed_fs, row_group_size=ROW_GROUP)
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(path).with_suffix(".tmp")
        pq.write_table(table, tmp, row_group_size=ROW_GROUP)
        os.replace(tmp, path)
    feed = Feed(ingest_id, str(path), table.num_rows, kind)
    _save(registry, [*feeds, feed])
    return feed
