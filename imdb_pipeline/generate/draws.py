"""Seeded random draws: one RNG per (seed, stream, chunk), and weighted or skewed indices.

Each kind of fact (title types, titles, votes, principals, ...) has its own stream id
``S_*``; a chunk's draws depend on nothing but (seed, stream, chunk), which is what makes
a file's bytes independent of the other files and of the number of worker processes.
"""

from __future__ import annotations

import functools

import numpy as np

# RNG stream ids
(
    S_TYPES,
    S_GLOBAL,
    S_TITLES,
    S_BASICS,
    S_EPISODE,
    S_RATINGS,
    S_PRINC,
    S_PRINC_TEXT,
    S_CREW,
    S_AKAS,
    S_NAMES,
) = range(1, 12)


def chunk_rng(seed: int, stream: int, chunk: int) -> np.random.Generator:
    """The generator of stream `stream` (an ``S_*`` id) for chunk `chunk` under `seed`:
    PCG64 seeded with the sequence [seed, stream, chunk] (all >= 0, else ValueError)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream, chunk])))


@functools.cache
def _table(weights: tuple[float, ...]) -> np.ndarray:
    """A 65,536-entry lookup table holding index i in proportion to weights[i]."""
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum() * 65536
    counts = np.floor(w).astype(np.int64)
    counts[np.argsort(counts - w, kind="stable")[: 65536 - counts.sum()]] += 1
    return np.repeat(np.arange(len(w), dtype=np.int32), counts)


def weighted_index(rng: np.random.Generator, weights, size) -> np.ndarray:
    """Indices in [0, len(weights)) drawn in proportion to `weights` (unnormalised, >= 0,
    resolution 1/65,536), as an int32 array of shape `size` (an int or a tuple)."""
    table = _table(tuple(np.asarray(weights, dtype=np.float64).tolist()))
    return table[rng.integers(0, 65536, size, dtype=np.uint16)]


def zipf_index(rng: np.random.Generator, n: int, size, power: float = 2.0) -> np.ndarray:
    """Indices in [0, n) skewed towards 0: ``floor(u ** power * n)`` for uniform u, as an
    int64 array of shape `size` (power 1 is uniform; larger powers favour low indices)."""
    return np.minimum((rng.random(size) ** power * n).astype(np.int64), n - 1)
