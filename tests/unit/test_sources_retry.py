"""ingest.sources.retry: transient failures retried with back-off and given up on after
``retries`` (through a fetch over loopback HTTP), the back-off itself, and the thread pool that
stops the other tasks on the first error."""

from __future__ import annotations

import threading
import time

import pytest

from ingest.sources import SourceError, retry
from tests.loopback_sources import assert_all_downloaded, one_line, quiet_fetch

pytestmark = pytest.mark.usefixtures("sources_isolated")


def test_http_transient_errors_are_retried(http_server, imdb_data, tmp_path):
    http_server.fail[http_server.path("title.akas")] = [503, 500, 429]
    result = quiet_fetch(http_server.url, tmp_path, retries=3)
    assert_all_downloaded(result, tmp_path, imdb_data, imdb_data)
    assert http_server.gets[http_server.path("title.akas")] == 4


def test_http_gives_up_after_retries(http_server, tmp_path):
    http_server.fail[http_server.path("title.akas")] = [503] * 10
    with pytest.raises(SourceError) as exc:
        quiet_fetch(http_server.url, tmp_path, retries=2)
    text = one_line(exc.value)
    assert "title.akas.tsv.gz" in text and "503" in text and "gave up after 2 retries" in text
    assert http_server.gets[http_server.path("title.akas")] == 3


def test_backoff_doubles_from_the_base_up_to_the_cap(monkeypatch):
    monkeypatch.setattr(retry, "BACKOFF_BASE", 1.0)
    monkeypatch.setattr(retry, "BACKOFF_MAX", 30.0)
    for attempt, full in [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 30.0), (20, 30.0)]:
        for _ in range(20):  # jittered: 75-100% of the full wait
            assert 0.75 * full <= retry.backoff(attempt) <= full


def test_retrying_retries_only_transient_failures_and_stops_when_cancelled():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise retry.Transient("503 from http://x/")
        return "done"

    cancel = threading.Event()
    assert retry.retrying(flaky, "HEAD http://x/", 2, cancel) == "done" and len(calls) == 3
    calls.clear()
    with pytest.raises(
        SourceError,
        match=r"^HEAD http://x/: 503 from http://x/ \(gave up after "
        r"1 retries\)",
    ):
        retry.retrying(flaky, "HEAD http://x/", 1, cancel)
    assert len(calls) == 2

    def broken():
        calls.append(1)
        raise ValueError("not a network error")

    calls.clear()
    with pytest.raises(ValueError):
        retry.retrying(broken, "GET", 5, cancel)
    assert len(calls) == 1  # not retried
    cancel.set()
    with pytest.raises(retry.Cancelled):
        retry.retrying(broken, "GET", 5, cancel)
    assert len(calls) == 1  # not even called


def test_run_parallel_keeps_the_order_and_raises_the_first_real_error():
    cancel = threading.Event()
    tasks = [lambda i=i: i * i for i in range(6)]
    assert retry.run_parallel(tasks, 3, cancel) == [0, 1, 4, 9, 16, 25]
    assert retry.run_parallel([], 3, cancel) == [] and not cancel.is_set()

    def waits_for_cancel():
        if not cancel.wait(10):
            raise AssertionError("never cancelled")
        raise retry.Cancelled

    def fails():
        raise SourceError("403 Forbidden for http://x/")

    t0 = time.monotonic()
    with pytest.raises(SourceError, match="403 Forbidden"):
        retry.run_parallel([waits_for_cancel, fails], 2, cancel)
    assert cancel.is_set() and time.monotonic() - t0 < 5  # the other task was stopped
