"""streaming.job without Spark: the stream's identity. A stream (its checkpoint, its feeds and
its rows in the stream tables) belongs to the options that change the answer, never to the
micro-batch size or the flush interval; starting and following the query is covered end to end
(tests/e2e/test_stream_recovery.py)."""

from __future__ import annotations

import re

from streaming.job import StreamOptions


def test_the_stream_id_names_the_answer_options_only():
    base = StreamOptions()
    assert re.fullmatch(r"stream-[0-9a-f]{8}", base.stream_id)
    assert StreamOptions(records_per_batch=100_000, flush_seconds=0).stream_id == base.stream_id
    assert StreamOptions(title_types=("movie",)).stream_id == base.stream_id


def test_each_answer_option_makes_another_stream():
    ids = {
        StreamOptions().stream_id,
        StreamOptions(min_votes=501).stream_id,
        StreamOptions(top_n=11).stream_id,
        StreamOptions(title_types=("movie", "tvMovie")).stream_id,
    }
    assert len(ids) == 4


def test_the_order_of_the_title_types_does_not_matter():
    one = StreamOptions(title_types=("tvMovie", "movie")).stream_id
    assert one == StreamOptions(title_types=("movie", "tvMovie")).stream_id
