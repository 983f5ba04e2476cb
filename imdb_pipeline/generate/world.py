"""The world: the per-title facts that several files share, recomputed in every process.

``World`` holds the sizes and each title's type, the series that episodes belong to and
the blockbusters; the ``chunk_*`` functions derive the numeric facts of one chunk of
titles (episodes, titles, votes, principals, akas counts) from that chunk's own RNG stream,
so title.crew can recompute the principals and title.akas the titles without reading the
other files.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from imdb_pipeline.generate.columns import concat, imdb_ids, ints, phrases, replace, take
from imdb_pipeline.generate.draws import (
    S_EPISODE,
    S_GLOBAL,
    S_PRINC,
    S_RATINGS,
    S_TITLES,
    S_TYPES,
    chunk_rng,
    weighted_index,
    zipf_index,
)
from imdb_pipeline.generate.shape import (
    AKAS_MU,
    C_ACTOR,
    C_ACTRESS,
    CAT_W,
    CHUNK,
    EARLY,
    MIN_NAMES,
    MIN_TITLES,
    N_CAST,
    PRINC_MU,
    PRINC_P,
    RATED_P,
    RATING_OFF,
    REAL_ROWS,
    T_EPISODE,
    T_MINI,
    T_MOVIE,
    T_SERIES,
    T_SHORT,
    TITLE_WORDS,
    TYPE_P,
    TYPES,
    VOTES_MU,
)

_WORDS = pa.array(TITLE_WORDS)
_QWORDS = pa.array(['"' + w + '"' for w in TITLE_WORDS])


class World:
    """Sizes and the few per-title facts shared across files, recomputed in each process.

    `scale` > 0 (else ValueError) times the real counts gives ``n_titles`` (>= 40) and
    ``n_names`` (>= 50); ``types`` (int8 type codes, one per title, title i is tconst
    i + 1), ``parents`` (indices of the tvSeries/tvMiniSeries), ``blockbusters`` (3) and
    ``popular`` (12 more movies) are title indices (~0.2 s and ~16 MB at scale 1.0).
    """

    def __init__(self, scale: float, seed: int):
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        self.scale = scale
        self.seed = seed
        self.n_titles = max(MIN_TITLES, round(REAL_ROWS["title.basics"] * scale))
        self.n_names = max(MIN_NAMES, round(REAL_ROWS["name.basics"] * scale))
        self.n_chunks = math.ceil(self.n_titles / CHUNK)
        self.n_name_chunks = math.ceil(self.n_names / CHUNK)
        types = np.empty(self.n_titles, dtype=np.int8)
        for c in range(self.n_chunks):
            a, b = self.bounds(c)
            types[a:b] = weighted_index(chunk_rng(seed, S_TYPES, c), TYPE_P, b - a)
        # the first ids are old shorts and movies (like the real tt00000xx)
        early = max(1, int(self.n_titles * EARLY))
        types[:early] = np.where(np.arange(early) % 5 == 4, T_MOVIE, T_SHORT)
        g = chunk_rng(seed, S_GLOBAL, 0)
        # every type present at any scale (tiny scales): overwrite random tvEpisodes
        for t in range(len(TYPES)):
            need = {T_MOVIE: 16, T_SERIES: 2}.get(t, 1) - int((types == t).sum())
            if need > 0:
                pool = np.flatnonzero(types == T_EPISODE)
                types[g.choice(pool, size=need, replace=False)] = t
        self.types = types
        self.parents = np.flatnonzero((types == T_SERIES) | (types == T_MINI))
        movies = np.flatnonzero(types == T_MOVIE)
        star = np.sort(g.choice(movies, size=min(15, len(movies)), replace=False))
        g.shuffle(star)
        self.blockbusters = np.sort(star[:3])
        self.popular = np.sort(star[3:])

    def bounds(self, chunk: int) -> tuple[int, int]:
        """[a, b): the title indices of chunk `chunk` (``CHUNK`` titles, the last fewer)."""
        return chunk * CHUNK, min(self.n_titles, (chunk + 1) * CHUNK)

    def name_bounds(self, chunk: int) -> tuple[int, int]:
        """[a, b): the person indices of name chunk `chunk` (nconst = index + 1)."""
        return chunk * CHUNK, min(self.n_names, (chunk + 1) * CHUNK)

    def flags(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """(is blockbuster, is popular): two boolean arrays of length b - a, for titles
        [a, b)."""
        idx = np.arange(a, b)
        return np.isin(idx, self.blockbusters), np.isin(idx, self.popular)

    def tconsts(self, a: int, b: int) -> pa.Array:
        """The tconsts of titles [a, b) (``tt0000001`` is title 0), as a string array."""
        return imdb_ids("tt", np.arange(a + 1, b + 1))

    def person_ids(self, rng: np.random.Generator, size) -> np.ndarray:
        """nconst numbers (int64, shape `size`) for credits: heavy-tailed towards low ids,
        ~0.4% above ``n_names`` (people missing from name.basics)."""
        ids = zipf_index(rng, self.n_names, size, power=2.2) + 1
        missing = rng.random(size) < 0.004
        extra = max(10, self.n_names // 100)
        ids[missing] = self.n_names + 1 + rng.integers(0, extra, int(missing.sum()))
        return ids


def is_actress(person: np.ndarray) -> np.ndarray:
    """Per nconst number (ints >= 0): True for the fixed 40% who are actresses (a hash of
    the id, the same in every file), False for the actors; a boolean array of the same
    shape."""
    h = (person.astype(np.uint64) * np.uint64(2654435761)) >> np.uint64(11)
    return (h % np.uint64(100)) < 40


@functools.lru_cache(maxsize=2)
def world_for(scale: float, seed: int) -> World:
    """The ``World(scale, seed)``, kept for the last two (scale, seed) in this process."""
    return World(scale, seed)


# ------------------------------------------------------------------------------------------
# per-chunk facts (numeric), each from its own stream so that any file can recompute them


def chunk_episodes(w: World, c: int):
    """For the titles of chunk c, arrays of length b - a (``w.bounds(c)``): (is episode,
    parent title index (-1 if none), season, episode number, season/number set).
    Consecutive episodes run under one parent and count up."""
    a, b = w.bounds(c)
    rng = chunk_rng(w.seed, S_EPISODE, c)
    is_ep = w.types[a:b] == T_EPISODE
    pos = np.flatnonzero(is_ep)
    m = len(pos)
    parent = np.full(b - a, -1, dtype=np.int64)
    season = np.zeros(b - a, dtype=np.int64)
    number = np.zeros(b - a, dtype=np.int64)
    has_num = np.zeros(b - a, dtype=bool)
    if m == 0:
        return is_ep, parent, season, number, has_num
    new_run = rng.random(m) < 0.3
    new_run[0] = True
    run = np.cumsum(new_run) - 1
    starts = np.flatnonzero(new_run)
    r = len(starts)
    # parent: a series created before the run's first episode, favouring recent ones
    before = np.searchsorted(w.parents, a + pos[starts])
    u = rng.random(r)
    pick = np.where(
        before > 0, (before * u**0.5).astype(np.int64), (len(w.parents) * u).astype(np.int64)
    )
    run_parent = w.parents[np.minimum(pick, len(w.parents) - 1)]
    run_season = np.minimum(rng.geometric(0.35, r), 80)
    big = rng.random(r) < 0.03
    run_first = np.where(big, rng.integers(1, 3000, r), rng.geometric(0.12, r))
    run_valid = rng.random(r) >= 0.15
    k = np.arange(m) - starts[run]
    parent[pos] = run_parent[run]
    season[pos] = run_season[run]
    number[pos] = run_first[run] + k
    has_num[pos] = run_valid[run]
    return is_ep, parent, season, number, has_num


def chunk_titles(w: World, c: int):
    """(primaryTitle, originalTitle): two string arrays (never null) for the titles of
    chunk c; originalTitle differs for ~12% of the non-episodes and ~2% of episodes."""
    a, b = w.bounds(c)
    n = b - a
    rng = chunk_rng(w.seed, S_TITLES, c)
    nw = len(TITLE_WORDS)
    k = weighted_index(rng, np.array([0.2, 0.3, 0.25, 0.15, 0.1]), n) + 1
    idx = zipf_index(rng, nw, (n, 5), power=1.6)
    quoted = rng.random(n) < 0.005
    idx[quoted, 0] += nw  # ``"Word" rest of title``
    words = pa.concat_arrays([_WORDS, _QWORDS])
    cols = [take(words, idx[:, j], k > j) for j in range(5)]
    primary = pc.binary_join_element_wise(*cols, " ", null_handling="skip")  # col 0 set
    is_ep, _, season, number, has_num = chunk_episodes(w, c)
    numbered = is_ep & has_num & (rng.random(n) < 0.35)
    ep_titles = concat("Episode #", ints(season[numbered]), ".", ints(number[numbered]))
    primary = replace(primary, numbered, ep_titles)
    # original titles: foreign words for ~12% of the non-episodes (and ~2% of episodes)
    differs = rng.random(n) < np.where(is_ep, 0.02, 0.12)
    original = replace(primary, differs, phrases(rng, int(differs.sum())))
    return primary, original


def chunk_votes(w: World, c: int):
    """(rated, numVotes, rating in tenths): a boolean and two int64 arrays for the titles
    of chunk c; votes >= 5, ratings in [10, 100] (1.0-10.0), meaningful where rated."""
    a, b = w.bounds(c)
    n = b - a
    rng = chunk_rng(w.seed, S_RATINGS, c)
    t = w.types[a:b]
    block, pop = w.flags(a, b)
    rated = (rng.random(n) < RATED_P[t]) | block | pop
    z = rng.standard_normal(n)
    votes = 5 + np.exp(_VOTES_MU_BASE + VOTES_MU[t] + _VOTES_SIGMA * z)
    u = rng.random(n)
    votes = np.where(votes > 2_900_000, 1_500_000 + u * 1_400_000, votes)
    votes = np.where(pop, np.exp(np.log(600) + u * np.log(100)), votes)
    votes = np.where(block, np.exp(np.log(1.2e6) + u * np.log(3.2 / 1.2)), votes)
    votes = votes.astype(np.int64)
    lv = np.log(votes)
    sd = np.clip(2.05 - 0.16 * lv, 0.6, 1.9)
    mean = 7.02 + RATING_OFF[t] + 0.06 * (lv - 3.3)
    r = mean + sd * rng.standard_normal(n)
    r = np.where(block, 7.6 + 1.7 * rng.random(n), r)
    tenths = np.clip(np.rint(r * 10), 10, 100).astype(np.int64)
    return rated, votes, tenths


_VOTES_MU_BASE = 2.9
_VOTES_SIGMA = 2.66


def chunk_principals(w: World, c: int):
    """Numeric principals of chunk c: (title offset in the chunk, ordering 1..k, category
    code ``C_*``, nconst number), four int64 arrays of one row per credit, sorted by title,
    cast first (in drawn order) then the crew by category."""
    a, b = w.bounds(c)
    n = b - a
    rng = chunk_rng(w.seed, S_PRINC, c)
    t = w.types[a:b]
    block, pop = w.flags(a, b)
    has = rng.random(n) < PRINC_P[t]
    cnt = np.exp(_PRINC_MU_BASE + PRINC_MU[t] + _PRINC_SIGMA * rng.standard_normal(n))
    cnt = np.clip(np.rint(cnt), 1, 75).astype(np.int64)
    cnt = np.where(pop, np.maximum(cnt, 15), cnt)
    cnt = np.where(block, rng.integers(45, 76, n), cnt)
    cnt = np.where(has | block | pop, cnt, 0)
    title = np.repeat(np.arange(n), cnt)
    total = len(title)
    cat = weighted_index(rng, CAT_W, total).astype(np.int64)
    # billing: cast first in drawn order, then the crew by category
    key = title * 16 + np.where(cat < N_CAST, 0, cat)
    order = np.argsort(key, kind="stable")
    cat = cat[order]
    starts = np.repeat(np.cumsum(cnt) - cnt, cnt)
    ordering = np.arange(total) - starts + 1
    person = w.person_ids(rng, total)
    # a person is an actor or an actress everywhere (and in name.basics)
    acting = (cat == C_ACTOR) | (cat == C_ACTRESS)
    cat[acting] = np.where(is_actress(person[acting]), C_ACTRESS, C_ACTOR)
    return title, ordering, cat, person


_PRINC_MU_BASE = 1.96
_PRINC_SIGMA = 0.62


def chunk_aka_counts(w: World, c: int, rng: np.random.Generator) -> np.ndarray:
    """Akas per title of chunk c (int64, >= 1; 301-359 for the blockbusters), drawn from
    `rng` (the caller's title.akas stream)."""
    a, b = w.bounds(c)
    n = b - a
    t = w.types[a:b]
    block, pop = w.flags(a, b)
    extra = np.exp(_AKAS_MU_BASE + AKAS_MU[t] + _AKAS_SIGMA * rng.standard_normal(n))
    cnt = 1 + np.minimum(np.floor(extra), 250).astype(np.int64)
    cnt = np.where(pop, np.maximum(cnt, rng.integers(20, 90, n)), cnt)
    cnt = np.where(block, rng.integers(301, 360, n), cnt)
    return cnt


_AKAS_MU_BASE = 0.50
_AKAS_SIGMA = 1.25
