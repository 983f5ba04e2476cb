"""streaming.feeds: a newer dump becomes only its changes (new, changed, deleted titles)."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq

from streaming.feeds import changes, load, register, total_rows


def ratings(rows):
    return pa.table(
        {
            "tconst": [r[0] for r in rows],
            "average_rating": pa.array([Decimal(r[1]) for r in rows], pa.decimal128(3, 1)),
            "num_votes": pa.array([r[2] for r in rows], pa.int32()),
        }
    )


def current(rows):
    return pa.table(
        {
            "tconst": [r[0] for r in rows],
            "num_votes": pa.array([r[2] for r in rows], pa.int32()),
            "rating_tenths": pa.array([int(Decimal(r[1]) * 10) for r in rows], pa.int32()),
        }
    )


def test_changes_keep_the_new_order_then_list_deletions():
    old = [("tt1", "7.0", 100), ("tt2", "8.0", 200), ("tt3", "9.0", 300), ("tt4", "5.0", 10)]
    new = [("tt5", "6.0", 50), ("tt3", "9.0", 301), ("tt1", "7.0", 100), ("tt2", "8.1", 200)]
    diff = changes(ratings(new), current(old)).to_pylist()
    assert [(d["tconst"], d["is_deleted"]) for d in diff] == [
        ("tt5", False),
        ("tt3", False),
        ("tt2", False),
        ("tt4", True),
    ]
    assert diff[1]["num_votes"] == 301 and diff[2]["average_rating"] == Decimal("8.1")
    assert diff[3]["num_votes"] is None


def test_register_full_then_changes_once_per_ingest(tmp_path):
    registry = tmp_path / "feeds.json"
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(ratings([("tt1", "7.0", 100), ("tt2", "8.0", 200)]), first)
    pq.write_table(ratings([("tt1", "7.0", 100), ("tt2", "8.0", 250), ("tt9", "1.0", 5)]), second)
    assert register(registry, "i1", first, None).kind == "full"
    feed = register(registry, "i2", second, current([("tt1", "7.0", 100), ("tt2", "8.0", 200)]))
    assert (feed.kind, feed.rows) == ("changes", 2)
    assert register(registry, "i2", second, None) == feed  # idempotent
    assert total_rows(load(registry)) == 4
