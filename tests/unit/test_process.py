"""streaming.process.fold: running count/sum/average and the running top-N, ties, updates,
deletions — checked against a brute-force recomputation over the current titles; and
``tenths``, the ratings as the fold keeps them."""

from __future__ import annotations

import random
from decimal import Decimal

import pyarrow as pa

from streaming.process import Rated, Rules, RunningState, fold, tenths, top_of


def rec(tconst, votes, rating, deleted=False):
    return (tconst, None if deleted else round(rating * 10), None if deleted else votes, deleted)


def brute_force(titles: dict, rules: Rules):
    """The answer recomputed from scratch: mean over current titles, sorted eligible ones."""
    count = len(titles)
    average = sum(v for v, _ in titles.values()) / count if count else None
    eligible = [(t, v, r) for t, (v, r) in titles.items() if rules.ranks(t, v)]
    eligible.sort(key=lambda x: (-(x[1] * x[2]), -x[1], x[0]))
    return count, average, [t for t, _, _ in eligible[: rules.top_n]]


def test_order_uses_exact_weight_then_votes_then_tconst():
    # 1000 x 7.3 == 730 x 10.0 == 7300 exactly; as floats 730/1000*10.0 != 1000/1000*7.3.
    records = [
        Rated("tt3", 1000, 73),
        Rated("tt2", 730, 100),
        Rated("tt1", 1000, 73),
        Rated("tt9", 9000, 10),
    ]
    assert [x.tconst for x in top_of(records, 10)] == ["tt9", "tt1", "tt3", "tt2"]


def test_every_record_counts_and_only_eligible_rank():
    rules = Rules({"tt1", "tt2", "tt3", "tt4"}, min_votes=500, top_n=2)
    state, previous = fold(
        RunningState(),
        [
            rec("tt1", 1000, 7.3),
            rec("tt2", 730, 10.0),
            rec("tt3", 499, 9.9),
            rec("tt4", 500, 9.0),
            rec("tt8", 90000, 9.5),
        ],  # tt8: not eligible (a series, or missing from title.basics)
        rules,
    )
    assert state.ratings_processed == 5 and state.votes_sum == 1000 + 730 + 499 + 500 + 90000
    assert [r.tconst for r in state.top] == ["tt1", "tt2"]
    assert previous == [None] * 5
    assert state.ranked()[0]["ranking_score"] == 1000 * 5 / state.votes_sum * 7.3


def test_equal_weights_across_batches_break_on_votes_then_tconst():
    rules = Rules({"tt2", "tt3", "tt5"}, min_votes=0, top_n=2)
    state, _ = fold(RunningState(), [rec("tt2", 600, 9.0)], rules)
    state, _ = fold(state, [rec("tt5", 900, 6.0), rec("tt3", 900, 6.0)], rules)
    assert [r.tconst for r in state.top] == ["tt3", "tt5"]  # 5400 each: more votes, then tconst


def test_latest_record_wins_and_nothing_counts_twice():
    rules = Rules({"tt1", "tt2", "tt3"}, min_votes=0, top_n=3)
    state, _ = fold(RunningState(), [rec("tt1", 100, 5.0), rec("tt2", 300, 5.0)], rules)
    state, previous = fold(
        state, [rec("tt1", 500, 6.0), rec("tt3", 50, 1.0), rec("tt2", 0, 0, True)], rules
    )
    assert previous == [100, None, 300]
    assert state.ratings_processed == 2 and state.votes_sum == 550
    assert [r.tconst for r in state.top] == ["tt1", "tt3"]  # tt2 left; tt1 updated


def test_a_top_title_losing_votes_lets_the_next_one_in():
    rules = Rules({"tt1", "tt2", "tt3"}, min_votes=0, top_n=2)
    state, _ = fold(
        RunningState(), [rec("tt1", 900, 9.0), rec("tt2", 800, 9.0), rec("tt3", 700, 9.0)], rules
    )
    state, _ = fold(state, [rec("tt1", 10, 9.0)], rules)
    assert [r.tconst for r in state.top] == ["tt2", "tt3"]


def test_random_updates_match_a_brute_force_recomputation():
    rng = random.Random(7)
    rules = Rules({f"tt{i}" for i in range(0, 60, 2)}, min_votes=300, top_n=5)
    state, truth = RunningState(), {}
    for _ in range(40):
        batch = []
        for _ in range(rng.randint(1, 12)):
            tconst = f"tt{rng.randrange(60)}"
            if tconst in truth and rng.random() < 0.2:
                batch.append(rec(tconst, 0, 0, True))
                truth.pop(tconst)
            else:
                votes, tenths = rng.choice([299, 300, 500, 1000, 5000]), rng.randint(10, 100)
                batch.append((tconst, tenths, votes, False))
                truth[tconst] = (votes, tenths)
        state, _ = fold(state, batch, rules)
        count, average, top = brute_force(truth, rules)
        assert state.ratings_processed == count
        assert state.average_number_of_votes == average
        assert [r.tconst for r in state.top] == top


def test_ratings_become_exact_whole_tenths_and_a_deletion_stays_null():
    ratings = pa.array(
        [Decimal("7.3"), Decimal("10.0"), Decimal("1.0"), None, Decimal("0.1")], pa.decimal128(3, 1)
    )
    got = tenths(ratings)
    assert got.type == pa.int32()
    assert got.to_pylist() == [73, 100, 10, None, 1]
    assert tenths(pa.array([], pa.decimal128(3, 1))).to_pylist() == []
