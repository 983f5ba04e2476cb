"""`imdb-pipeline status` and the stream's ETA (streaming/status.py), without Spark."""

from __future__ import annotations

import itertools
import json

from click.testing import CliRunner

from imdb_pipeline.cli import main
from streaming.status import Eta, duration


def status_of(tmp_path, record: dict) -> str:
    (tmp_path / "stream.status.json").write_text(json.dumps(record))
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "status"])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_status_shows_dashes_not_none_for_what_a_stream_has_not_reported(tmp_path):
    # As the listener writes it after micro-batches in which no title was eligible (no #1,
    # no rate yet), and as a stream that is starting writes it.
    ranked_nothing = {
        "state": "running",
        "pid": 1,
        "stream_id": "stream-1",
        "last_error": None,
        "records_per_batch": 100,
        "batch_id": 0,
        "records_done": 0,
        "records_total": 0,
        "rows_per_second": None,
        "eta_seconds": None,
        "average_number_of_votes": None,
        "number_one": None,
        "updated_at": "2026-11-30T08:00:00+00:00",
    }
    starting = {
        "state": "starting",
        "pid": 1,
        "stream_id": "stream-1",
        "last_error": None,
        "records_per_batch": 100,
        "updated_at": "2026-11-30T08:00:00+00:00",
    }
    for record in (ranked_nothing, starting):
        shown = status_of(tmp_path, record)
        assert "None" not in shown, shown
        assert "speed:      - rows/s, ETA -" in shown and "#1 -" in shown


def test_status_of_a_finished_stream(tmp_path):
    shown = status_of(
        tmp_path,
        {
            "state": "finished",
            "pid": 1,
            "stream_id": "stream-1",
            "last_error": None,
            "records_per_batch": 100,
            "records_done": 1669,
            "records_total": 1669,
            "eta_seconds": 0,
            "average_number_of_votes": 1037.25,
            "number_one": "tt0111161",
            "updated_at": "2026-11-30T08:00:00+00:00",
        },
    )
    assert "1,669 of 1,669 done, 0 left" in shown
    assert "average:    1,037.2 votes, #1 tt0111161" in shown and "ETA 0s" in shown


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_eta_is_smoothed_over_recent_micro_batches():
    """100 records every 0.15 s, with a 10 s flush every 10 s of stream: the ETA computed
    from one micro-batch's rate would jump 60-fold after each flush; the window keeps it
    within a third of the true time left."""
    clock, total = Clock(), 100_000
    eta = Eta(window=60.0, clock=clock)
    eta.report(0)
    assert eta.seconds_left(total) is None  # one report is no rate
    done, since_flush, estimates, truths = 0, 0.0, [], []
    while done < 60_000:
        if since_flush >= 10:  # a flush makes this micro-batch slow
            clock.now, since_flush = clock.now + 10.0, 0.0
        else:
            clock.now, since_flush = clock.now + 0.15, since_flush + 0.15
        done += 100
        eta.report(done)
        if clock.now > 120:  # the window is full
            estimates.append(eta.seconds_left(total))
            # the long-run rate: 100 records per 0.15 s, plus 10 s per 10 s of stream
            truths.append((total - done) / (100 / 0.15 / 2))
    assert all(abs(e - t) / t < 0.35 for e, t in zip(estimates, truths))
    ratios = [b / a for a, b in itertools.pairwise(estimates)]
    assert max(ratios) < 1.4  # no swing like 18m49s -> 41s


def test_duration():
    assert [duration(s) for s in (0, 9.6, 75, 3725)] == ["0s", "10s", "1m15s", "1h02m05s"]
