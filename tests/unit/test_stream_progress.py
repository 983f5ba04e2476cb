"""streaming.progress.ProgressReporter: every micro-batch a row, the console at most once a second."""

from __future__ import annotations

import logging

from streaming.progress import ProgressReporter
from streaming.status import StatusFile


class Query:
    """What the reporter reads of a StreamingQuery: its recent progress reports."""

    def __init__(self):
        self.recentProgress: list[dict] = []

    @property
    def lastProgress(self):
        return self.recentProgress[-1] if self.recentProgress else None

    def finish(self, batch_id: int, rows: int = 10) -> None:
        self.recentProgress.append(
            {
                "batchId": batch_id,
                "numInputRows": rows,
                "processedRowsPerSecond": 100.0,
                "durationMs": {"triggerExecution": 70, "walCommit": 14, "commitOffsets": 15},
            }
        )
        self.recentProgress = self.recentProgress[-100:]  # Spark keeps the last 100


class Sink:
    stream_id = "stream-x"

    def __init__(self):
        self.reports: dict[int, dict] = {}

    def processed(self, batch_id: int, end_row: int) -> None:
        self.reports[batch_id] = {
            "records": 10,
            "end_row": end_row,
            "feed_rows": 50,
            "average": 5.0,
            "number_one": "tt1",
            "parts": {"read": 0, "fold": 0, "buffer": 1, "flush": 0},
        }


def test_every_micro_batch_gets_a_row_and_the_console_the_first_and_then_the_latest(
    tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    query, sink = Query(), Sink()
    reporter = ProgressReporter(sink, StatusFile(tmp_path / "status.json"), every=3600)
    for batch_id in range(3):
        sink.processed(batch_id, 10 * (batch_id + 1))
        query.finish(batch_id)
    query.finish(3, rows=0)  # a trigger with no data: no report from the sink
    reporter.poll(query)
    lines = caplog.messages  # the console's lines so far
    assert [row["batch_id"] for row in reporter.rows] == [0, 1, 2]
    assert len(lines) == 1 and lines[0].startswith("stream: batch 2: 10 records, 30/50 (60%)")
    sink.processed(4, 40)
    query.finish(4)
    reporter.poll(query)
    lines = caplog.messages
    assert len(lines) == 1  # within the second: not shown yet
    reporter.poll(query, final=True)
    lines = caplog.messages
    assert lines[-1].startswith("stream: batch 4:") and [r["batch_id"] for r in reporter.rows] == [
        0,
        1,
        2,
        4,
    ]
    assert '"records_done": 40' in (tmp_path / "status.json").read_text()
    reporter.poll(query, final=True)
    lines = caplog.messages
    assert len(lines) == 2 and not sink.reports
