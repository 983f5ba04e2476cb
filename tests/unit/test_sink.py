"""streaming.sink without Spark: the buffered batch row back with its types, the ingest of each
feed row, and the test hook that kills the process at a named point."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from streaming.feeds import Feed
from streaming.sink import FAULT_ENV, batch_record, fault, ingest_of_rows

REPO = Path(__file__).resolve().parents[2]


def test_the_buffered_batch_row_survives_json_with_its_types():
    row = {
        "batch_id": 7,
        "top": [
            {
                "rank": 1,
                "tconst": "tt1",
                "num_votes": 900,
                "average_rating": "8.7",
                "ranking_score": 1.5,
            }
        ],
        "processed_at": "2026-11-24T10:00:00+00:00",
        "title_types": ["movie"],
    }
    values = batch_record(json.loads(json.dumps(row)))
    assert values["batch_id"] == 7 and values["title_types"] == ["movie"]
    assert values["top"][0]["average_rating"] == Decimal("8.7")
    assert values["processed_at"] == datetime.fromisoformat("2026-11-24T10:00:00+00:00")


def test_an_empty_top_stays_empty():
    values = batch_record({"top": [], "processed_at": "2026-11-24T10:00:00"})
    assert values["top"] == [] and values["processed_at"] == datetime(2026, 11, 24, 10)


def test_each_feed_row_belongs_to_the_ingest_of_its_feed():
    feeds = [
        Feed("i1", "f1", 3, "full"),
        Feed("i2", "f2", 0, "changes"),
        Feed("i3", "f3", 2, "changes"),
    ]
    assert ingest_of_rows(feeds, 0, 5) == ["i1", "i1", "i1", "i3", "i3"]  # i2 has no rows
    assert ingest_of_rows(feeds, 2, 2) == ["i1", "i3"]  # a micro-batch across two feeds
    assert ingest_of_rows(feeds, 4, 0) == []
    with pytest.raises(IndexError):
        ingest_of_rows(feeds, 4, 2)  # past the last feed


def test_a_fault_point_kills_only_when_asked(monkeypatch):
    monkeypatch.delenv(FAULT_ENV, raising=False)
    fault("after_stage", 3)  # not asked: nothing happens
    monkeypatch.setenv(FAULT_ENV, "after_stage@4")
    fault("after_stage", 3)
    fault("mid_flush", 4)
    env = {**os.environ, FAULT_ENV: "after_flush@2", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", "from streaming.sink import fault; fault('after_flush', 2)"],
        env=env,
        check=False,
        capture_output=True,
    )
    assert done.returncode == -signal.SIGKILL
