"""bench-build's reading of a run: the CLI's build line, dbt's node spans, the chain."""

from __future__ import annotations

from benchmarks.bench_build import build_line, chain, kind_seconds, node_spans, summary, upstream_of
from benchmarks.bench_ingest import PeakMemory


def _result(unique_id: str, start: str, end: str, execution_time: float | None = None) -> dict:
    day = "2026-12-02T05:00:"
    timing = [{"name": "execute", "started_at": day + start + "Z", "completed_at": day + end + "Z"}]
    seconds = float(end) - float(start)
    return {"unique_id": unique_id, "timing": timing, "execution_time": execution_time or seconds}


RESULTS = {
    "metadata": {"generated_at": "2026-12-02T05:00:20.000000Z"},
    "elapsed_time": 20.0,
    "results": [
        _result("model.imdb.stg_a", "00.500000", "02.000000"),
        _result("seed.imdb.s", "00.500000", "03.000000"),
        _result("unit_test.imdb.int_b.case", "03.100000", "05.000000"),
        _result("model.imdb.int_b", "05.000000", "06.000000"),
        _result("test.imdb.not_null_int_b", "06.100000", "08.000000"),
        _result("test.imdb.slow_check", "06.100000", "08.300000"),
        _result("model.imdb.mart", "08.100000", "15.000000"),
        # the hook: its timing is shorter than its execution_time
        _result("operation.imdb.imdb-on-run-end-0", "19.900000", "20.000000", 4.0),
    ],
}
GRAPH = {
    "with_test_edges": {
        "0": {"name": "model.imdb.stg_a", "type": "model", "succ": [2]},
        "1": {"name": "seed.imdb.s", "type": "seed", "succ": []},
        "2": {"name": "model.imdb.int_b", "type": "model", "succ": [3, 4, 5, 6]},
        "3": {"name": "unit_test.imdb.int_b.case", "type": "unit_test", "succ": []},
        "4": {"name": "test.imdb.not_null_int_b", "type": "test", "succ": [5]},
        "5": {"name": "model.imdb.mart", "type": "model", "succ": []},
        "6": {"name": "test.imdb.slow_check", "type": "test", "succ": []},
    }
}


def test_build_line_reads_the_nodes_and_seconds():
    lines = [
        (1.0, "stream: 25 records in 1 micro-batch this run"),
        (30.0, "dbt: build: 53 nodes (18 models, 3 seeds, 26 tests, 6 unit_tests) in 34.8s"),
        (31.0, "run: done in 61.5s"),
    ]
    assert build_line(lines) == {"nodes": 53, "seconds": 34.8}
    assert build_line(lines[:1]) == {}


def test_node_spans_start_at_the_build_and_stretch_the_hook_to_its_execution_time():
    spans = node_spans(RESULTS)
    assert spans["model.imdb.stg_a"] == (0.5, 2.0)
    assert spans["model.imdb.mart"] == (8.1, 15.0)
    assert spans["operation.imdb.imdb-on-run-end-0"] == (16.0, 20.0)
    assert kind_seconds(spans) == {
        "model": 9.4,
        "seed": 2.5,
        "unit_test": 1.9,
        "test": 4.1,
        "operation": 4.0,
    }


def test_the_chain_follows_graph_links_before_the_last_node_to_end():
    spans = node_spans(RESULTS)
    links = [(node, how) for node, _, _, how in chain(spans, upstream_of(GRAPH))]
    assert links == [
        # the hook waits for everything: no graph link, a "wait"
        ("operation.imdb.imdb-on-run-end-0", "wait"),
        # the mart waits for the test on its parent, not for the check that ended later
        ("model.imdb.mart", "dep"),
        ("test.imdb.not_null_int_b", "dep"),
        ("model.imdb.int_b", "dep"),
        # a unit test follows its model's parents; the seed ended later but is no link
        ("unit_test.imdb.int_b.case", "wait"),
        ("seed.imdb.s", "start"),
    ]
    assert upstream_of(GRAPH)["unit_test.imdb.int_b.case"] == {
        "model.imdb.stg_a",
        "model.imdb.int_b",
    }
    assert chain({}, {}) == []


def test_summary_gives_medians_and_the_ratio_to_base():
    runs = [
        {"config": "base", "build": {"seconds": 34.0}, "jvm_cpu_in_build": 60.0},
        {"config": "floor", "build": {"seconds": 24.0}, "jvm_cpu_in_build": 35.0},
        {"config": "base", "build": {"seconds": 38.0}, "jvm_cpu_in_build": None},
        {"config": "floor", "build": {"seconds": 20.0}, "jvm_cpu_in_build": 33.0},
    ]
    out = summary(runs)
    assert out["base"]["median_build_seconds"] == 36.0
    assert out["base"]["median_jvm_cpu"] == 60.0
    assert out["floor"]["median_build_seconds"] == 22.0
    assert out["floor"]["floor/base"] == 0.61


def test_cpu_between_takes_the_samples_inside_the_window():
    memory = PeakMemory.__new__(PeakMemory)  # no sampling thread: samples given by hand
    memory.jvm_cpu = [(100.0, 5.0), (101.0, 6.5), (102.0, 8.0), (103.0, 9.0)]
    assert memory.cpu_between(100.5, 102.5) == 1.5
    assert memory.cpu_between(100.0, 103.0) == 4.0
    assert memory.cpu_between(101.5, 101.9) is None
