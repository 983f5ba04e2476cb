"""imdb_pipeline.generate.columns: the Arrow string columns every file's rows are built from
(nulls where masked, ids padded, lists grouped by parent, ``\\N`` in the TSV text, the text
handed over without a copy)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from imdb_pipeline.generate.columns import (
    comma_lists,
    concat,
    const,
    imdb_ids,
    ints,
    null_where,
    payload,
    people,
    phrases,
    replace,
    spread,
    take,
    tsv_lines,
)
from imdb_pipeline.generate.draws import chunk_rng


def test_take_is_null_where_not_valid_and_refuses_an_index_outside_the_vocabulary():
    vocab = pa.array(["a", "b", "c"])
    assert take(vocab, np.array([2, 0, 1])).to_pylist() == ["c", "a", "b"]
    assert take(vocab, np.array([2, 0]), np.array([True, False])).to_pylist() == ["c", None]
    with pytest.raises(pa.ArrowIndexError):
        take(vocab, np.array([3]))


def test_numbers_ids_and_constants_as_strings():
    assert ints(np.array([-3, 0, 2026]), np.array([True, False, True])).to_pylist() == [
        "-3",
        None,
        "2026",
    ]
    assert imdb_ids("tt", np.array([1, 42, 12_345_678])).to_pylist() == [
        "tt0000001",
        "tt0000042",
        "tt12345678",
    ]
    assert const("ab", 3).to_pylist() == ["ab", "ab", "ab"]
    assert const("é", 0).to_pylist() == []
    assert concat('["', pa.array(["x", None]), '"]').to_pylist() == ['["x"]', None]


def test_masks_replace_spread_and_null_where():
    arr = pa.array(["a", "b", "c", "d"])
    mask = np.array([False, True, False, True])
    assert replace(arr, mask, pa.array(["B", "D"])).to_pylist() == ["a", "B", "c", "D"]
    assert replace(arr, np.zeros(4, bool), pa.array([], pa.string())) is arr
    with pytest.raises(pa.ArrowInvalid):
        replace(arr, mask, pa.array(["B"]))
    assert spread(pa.array(["x", "y"]), mask).to_pylist() == [None, "x", None, "y"]
    assert null_where(arr, mask).to_pylist() == ["a", None, "c", None]


def test_comma_lists_group_values_by_parent_and_are_null_for_none():
    parent = np.array([0, 0, 2, 2, 2])
    values = pa.array(["nm1", "nm2", "nm3", "nm4", "nm5"])
    assert comma_lists(parent, values, 4).to_pylist() == ["nm1,nm2", None, "nm3,nm4,nm5", None]


def test_tsv_lines_write_nulls_as_backslash_n_and_payload_is_their_text_uncopied():
    lines = tsv_lines([pa.array(["tt1", "tt2", "tt3"]), pa.array(["x", None, "zé"])])
    assert lines.to_pylist() == ["tt1\tx\n", "tt2\t\\N\n", "tt3\tzé\n"]
    assert payload(lines).to_pybytes() == "tt1\tx\ntt2\t\\N\ntt3\tzé\n".encode()
    tail = lines.slice(1)  # an offset into the same buffers
    assert payload(tail).to_pybytes() == "tt2\t\\N\ntt3\tzé\n".encode()
    assert payload(tail).address == payload(lines).address + len(b"tt1\tx\n")  # no copy
    chunked = pa.chunked_array([lines.slice(0, 1), lines.slice(1)])
    assert payload(chunked).to_pybytes() == payload(lines).to_pybytes()


@pytest.mark.parametrize("m", [0, 5, 20_000])
def test_phrases_and_people_are_m_non_null_strings_the_same_per_stream(m):
    for make in (phrases, people):
        first = make(chunk_rng(0, 1, 0), m)
        assert len(first) == m and first.null_count == 0
        assert all(first.to_pylist()) and all(" " not in (s[0], s[-1]) for s in first.to_pylist())
        assert make(chunk_rng(0, 1, 0), m).equals(first)
    assert len(set(people(chunk_rng(0, 1, 0), 20_000).to_pylist())) <= 16_384  # a pool
