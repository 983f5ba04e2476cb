"""streaming.process: the running statistics and the running top-N, ties included."""

from __future__ import annotations

from decimal import Decimal

from pyspark.testing import assertDataFrameEqual

from streaming.process import Rated, RunningState, advance, summarise_batch, top_of


def r(tconst, votes, rating):
    return Rated(tconst, votes, Decimal(rating))


def test_order_uses_exact_weight_then_votes_then_tconst():
    # 1000 x 7.3 == 730 x 10.0 == 7300 exactly; as floats 730/1000*10.0 != 1000/1000*7.3.
    records = [r("tt3", 1000, "7.3"), r("tt2", 730, "10.0"), r("tt1", 1000, "7.3"), r("tt9", 9000, "1.0")]
    assert [x.tconst for x in top_of(records, 10)] == ["tt9", "tt1", "tt3", "tt2"]


def test_running_state_counts_every_record_and_keeps_top_n():
    state = RunningState()
    state = advance(state, 3, 3000, [r("tt1", 1000, "5.0"), r("tt2", 600, "9.0")], top_n=2)
    state = advance(state, 2, 1000, [r("tt3", 900, "6.0")], top_n=2)
    assert state.batches == 2 and state.ratings_processed == 5 and state.votes_sum == 4000
    assert state.average_number_of_votes == 800
    assert [x.tconst for x in state.top] == ["tt3", "tt2"]  # 5400 each: more votes first
    ranked = state.ranked()
    assert ranked[0]["rank"] == 1 and abs(ranked[0]["ranking_score"] - 900 / 800 * 6.0) < 1e-12


def test_equal_weights_across_batches_break_on_votes():
    state = advance(RunningState(), 1, 600, [r("tt2", 600, "9.0")], top_n=1)
    state = advance(state, 1, 900, [r("tt3", 900, "6.0")], top_n=1)
    assert [x.tconst for x in state.top] == ["tt3"]  # 5400 each: more votes wins


def test_fewer_candidates_than_top_n():
    state = advance(RunningState(), 2, 10, [], top_n=10)
    assert state.top == () and state.average_number_of_votes == 5


def test_summarise_batch_counts_all_records_and_ranks_only_eligible(spark):
    batch = spark.createDataFrame(
        [
            ("tt0000001", Decimal("7.3"), 1000),
            ("tt0000002", Decimal("10.0"), 730),
            ("tt0000003", Decimal("9.9"), 499),  # below the vote threshold
            ("tt0000004", Decimal("9.0"), 500),  # exactly at it
            ("tt0000005", Decimal("9.5"), 90000),  # not a movie
            ("tt0000006", Decimal("9.5"), 80000),  # missing from title.basics
        ],
        "tconst string, average_rating decimal(3,1), num_votes int",
    )
    eligible = spark.createDataFrame(
        [("tt0000001",), ("tt0000002",), ("tt0000003",), ("tt0000004",)], "tconst string"
    )
    totals, candidates = summarise_batch(batch, eligible, min_votes=500, top_n=2)
    assert totals.first().asDict() == {"records": 6, "votes_sum": 1000 + 730 + 499 + 500 + 90000 + 80000}
    assertDataFrameEqual(
        candidates,
        spark.createDataFrame(
            [("tt0000001", 1000, Decimal("7.3")), ("tt0000002", 730, Decimal("10.0"))],
            "tconst string, num_votes int, average_rating decimal(3,1)",
        ),
        checkRowOrder=True,
    )
