"""imdb_pipeline.generate.draws: one RNG per (seed, stream, chunk), weighted and skewed
indices (what makes a file's bytes independent of the others and of the workers)."""

from __future__ import annotations

import numpy as np
import pytest

from imdb_pipeline.generate.draws import chunk_rng, weighted_index, zipf_index


def test_a_stream_depends_on_seed_stream_and_chunk_only():
    draw = chunk_rng(3, 2, 7).random(5)
    assert np.array_equal(chunk_rng(3, 2, 7).random(5), draw)
    for other in [(4, 2, 7), (3, 1, 7), (3, 2, 8)]:
        assert not np.array_equal(chunk_rng(*other).random(5), draw)
    with pytest.raises(ValueError):
        chunk_rng(-1, 2, 7)


def test_weighted_index_follows_the_weights_and_never_draws_a_zero_weight():
    idx = weighted_index(chunk_rng(0, 1, 0), (1, 0, 3), (200_000,))
    assert idx.dtype == np.int32 and idx.shape == (200_000,)
    counts = np.bincount(idx, minlength=3) / len(idx)
    assert counts[1] == 0
    assert counts[0] == pytest.approx(0.25, abs=0.01) and counts[2] == pytest.approx(0.75, abs=0.01)
    assert weighted_index(chunk_rng(0, 1, 0), np.array([2.0, 2.0]), (4, 3)).shape == (4, 3)


def test_zipf_index_stays_in_range_and_favours_low_indices():
    idx = zipf_index(chunk_rng(0, 1, 0), 10, 100_000, power=2.0)
    assert idx.dtype == np.int64 and idx.min() == 0 and idx.max() == 9
    counts = np.bincount(idx, minlength=10)
    assert all(counts[i] > counts[i + 1] for i in range(9))
    flat = np.bincount(zipf_index(chunk_rng(0, 1, 0), 10, 100_000, power=1.0), minlength=10)
    assert flat.min() / flat.max() > 0.9
