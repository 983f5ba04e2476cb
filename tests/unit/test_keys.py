"""ingest.keys: null and duplicate keys counted in one pass, exactly — on sorted input by
neighbours (within and across batches), on unsorted input from the keys again — checked
against the definitions computed by brute force."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from ingest.keys import KeyCounter, count_duplicates, latest_rows, pack_ids


def batches(ids, second=None, sizes=(3,)):
    """Record batches of (tconst[, ordering]) cut at ``sizes`` (cycled)."""
    out, start, i = [], 0, 0
    while start < len(ids):
        size = sizes[i % len(sizes)]
        columns = {"tconst": pa.array(ids[start : start + size], pa.string())}
        if second is not None:
            columns["ordering"] = pa.array(second[start : start + size], pa.int32())
        out.append(pa.RecordBatch.from_pydict(columns))
        start, i = start + size, i + 1
    return out


def count(ids, second=None, sizes=(3,)):
    columns = ("tconst",) if second is None else ("tconst", "ordering")
    counter = KeyCounter(columns)
    parts = batches(ids, second, sizes)
    for batch in parts:
        counter.add(batch)
    again = (
        [
            [
                pa.chunked_array([b.column(c) for b in parts], parts[0].schema.field(c).type)
                for c in columns
            ]
        ]
        if parts
        else []
    )
    return counter, counter.result(again)


def brute(ids, second=None):
    keys = list(zip(ids, second)) if second is not None else [(i,) for i in ids]
    nulls = sum(1 for k in keys if any(v is None for v in k))
    set_keys = [k for k in keys if all(v is not None for v in k)]
    return nulls, len(set_keys) - len(set(set_keys))


def test_clean_sorted_keys():
    _counter, counts = count([f"tt{i:07d}" for i in range(1, 20)])
    assert (counts.null_keys, counts.duplicate_keys, counts.in_order) == (0, 0, True)


def test_duplicates_next_to_each_other_and_across_batch_boundaries():
    ids = ["tt1", "tt2", "tt3", "tt3", "tt4", "tt5", "tt5", "tt5", "tt6"]
    for sizes in ((3,), (1,), (2, 5), (9,)):  # tt3|tt3 and tt5|tt5 fall on boundaries with 3
        _, counts = count(ids, sizes=sizes)
        assert (counts.duplicate_keys, counts.in_order) == (3, True), sizes


def test_null_parts_of_a_key_are_counted_and_not_duplicates():
    ids = ["tt1", "tt1", "tt1", "tt1", "tt2", "tt2"]
    ordering = [1, None, None, 2, 1, 1]
    _, counts = count(ids, ordering)
    assert (counts.null_keys, counts.duplicate_keys) == (2, 1)


def test_leading_zeros_are_other_keys():
    assert pack_ids(pa.array(["tt1", "tt01", "tt001", "tt0000001"])).tolist() == [
        11,
        101,
        1001,
        10000001,
    ]
    _, counts = count(["tt1", "tt01"], sizes=(1,))
    assert counts.duplicate_keys == 0


def test_number_order_across_a_digit_boundary_stays_one_pass():
    # the generator and (by number) IMDb: tt9999999 then tt10000000; as strings that goes down
    ids = ["tt9999998", "tt9999999", "tt10000000", "tt10000000", "tt10000001"]
    counter, counts = count(ids, sizes=(2,))
    assert not counter.string_order and counter.number_order
    assert (counts.duplicate_keys, counts.in_order) == (1, True)


def test_string_order_stays_one_pass():
    ids = ["tt1000000", "tt10000000", "tt10000000", "tt1000001", "tt9999999"]
    counter, counts = count(ids, sizes=(4,))
    assert counter.string_order and not counter.number_order
    assert (counts.duplicate_keys, counts.in_order) == (1, True)


def test_unsorted_keys_are_counted_again_exactly():
    ids = ["tt3", "tt1", "tt2", "tt3", "tt1"]  # tt3 and tt1 come back later
    counter, counts = count(ids)
    assert not counter.in_order
    assert (counts.duplicate_keys, counts.in_order) == (2, False)
    with pytest.raises(ValueError, match="keys out of order"):
        counter.result(None)


def test_a_composite_key_out_of_order_in_its_second_column():
    ids = ["tt1", "tt1", "tt1", "tt2"]
    counter, counts = count(ids, [2, 1, 2, 1], sizes=(4,))  # (tt1, 2) comes back
    assert not counter.in_order and counts.duplicate_keys == 1


@pytest.mark.parametrize("seed", range(40))
def test_counts_agree_with_the_definition(seed):
    rng = random.Random(seed)
    n = rng.randint(0, 60)
    pool = [f"tt{rng.choice(['', '0', '00'])}{rng.randint(1, 12)}" for _ in range(8)]
    ids = [rng.choice(pool) for _ in range(n)]
    second = [rng.choice([1, 2, 3, None]) for _ in range(n)] if seed % 2 else None
    if seed % 3 == 0:  # sorted input: the one-pass path
        order = sorted(
            range(n), key=lambda i: (len(ids[i]), ids[i], second[i] or 0 if second else 0)
        )
        ids = [ids[i] for i in order]
        second = [second[i] for i in order] if second else None
    sizes = tuple(rng.randint(1, 7) for _ in range(3))
    _, counts = count(ids, second, sizes)
    assert (counts.null_keys, counts.duplicate_keys) == brute(ids, second)


def test_count_duplicates_and_the_later_row():
    assert count_duplicates([np.array([3, 1, 3, 3, 2])]) == 2
    assert count_duplicates([np.array([1, 1, 1]), np.array([1, 2, 1])]) == 1
    assert count_duplicates([np.array([], np.int64)]) == 0
    ids = pa.array(["tt3", "tt1", "tt3", "tt2", "tt1", "tt3"])
    assert latest_rows(ids).tolist() == [3, 4, 5]  # tt2, then the last tt1, the last tt3
    brute_force = sorted({v: i for i, v in enumerate(ids.to_pylist())}.values())
    assert latest_rows(ids).tolist() == brute_force
    assert Counter(ids.take(pa.array(latest_rows(ids))).to_pylist()) == {
        "tt1": 1,
        "tt2": 1,
        "tt3": 1,
    }
