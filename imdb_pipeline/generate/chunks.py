"""The files' rows: per IMDb file, a generator of (TSV lines, row count) per chunk.

``CHUNKS[name](world)`` yields, chunk after chunk in tconst (nconst) order, a string array
of finished lines (each ending in ``\\n``, fields in the header's order, ``\\N`` for null)
and how many rows it holds; a chunk with no rows (no episode, no rated title) is skipped.
Each chunk draws from its own streams, so a file's bytes depend only on (scale, seed).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from imdb_pipeline.generate.columns import (
    FIRST_NAMES_ARRAY,
    LAST_NAMES_ARRAY,
    comma_lists,
    concat,
    const,
    imdb_ids,
    ints,
    null_where,
    people,
    phrases,
    replace,
    spread,
    take,
    tsv_lines,
)
from imdb_pipeline.generate.draws import (
    S_AKAS,
    S_BASICS,
    S_CREW,
    S_NAMES,
    S_PRINC_TEXT,
    chunk_rng,
    weighted_index,
    zipf_index,
)
from imdb_pipeline.generate.shape import (
    AKA_ATTRIBUTES,
    AKA_TYPES,
    AKA_TYPES_W,
    C_ACTOR,
    C_ACTRESS,
    C_ARCHIVE,
    C_DIRECTOR,
    C_SELF,
    C_WRITER,
    CATEGORIES,
    EARLY,
    FIRST_NAMES,
    FIRST_YEAR,
    GENRE_SHORT,
    GENRE_W,
    GENRES,
    GENRES_NULL,
    JOBS,
    LANGUAGES,
    LAST_NAMES,
    LAST_YEAR,
    NICKNAMES,
    PROF_W,
    PROFESSIONS,
    REGIONS,
    ROLE_CHARACTERS,
    RUNTIME,
    RUNTIME_NULL,
    SELF_CHARACTERS,
    T_EPISODE,
    T_MINI,
    T_SERIES,
    T_SHORT,
    T_TVSHORT,
    TYPES,
)
from imdb_pipeline.generate.world import (
    World,
    chunk_aka_counts,
    chunk_episodes,
    chunk_principals,
    chunk_titles,
    chunk_votes,
    is_actress,
)

_GENRES = pa.array(GENRES)


def _chunks_basics(w: World):
    for c in range(w.n_chunks):
        a, b = w.bounds(c)
        n = b - a
        rng = chunk_rng(w.seed, S_BASICS, c)
        t = w.types[a:b]
        primary, original = chunk_titles(w, c)
        adult = (rng.random(n) < 0.015).astype(np.int64)
        # years: recent-heavy, the first ids older (like the real tt00000xx shorts)
        frac = np.arange(a, b) / w.n_titles
        year = LAST_YEAR - np.floor(rng.exponential(16.0, n)).astype(np.int64)
        old = rng.random(n) < 0.12
        year = np.where(old, rng.integers(FIRST_YEAR, 1990, n), year)
        early = frac < EARLY
        year = np.where(early, FIRST_YEAR + (frac / EARLY * 45).astype(np.int64), year)
        year = np.maximum(year, FIRST_YEAR)
        block, pop = w.flags(a, b)
        star = block | pop  # the well-known movies have every field
        has_year = (rng.random(n) >= np.where(t == T_EPISODE, 0.13, 0.04)) | star
        series = (t == T_SERIES) | (t == T_MINI)
        end = np.minimum(year + rng.geometric(0.25, n) - 1, LAST_YEAR)
        has_end = series & has_year & (rng.random(n) < 0.55)
        runtime = np.maximum(1, np.rint(RUNTIME[t] * rng.lognormal(0, 0.35, n))).astype(np.int64)
        has_runtime = (rng.random(n) >= RUNTIME_NULL[t]) | star
        g = weighted_index(rng, GENRE_W, (n, 3))
        shortish = (t == T_SHORT) | (t == T_TVSHORT)
        g[shortish, 0] = GENRE_SHORT
        k = weighted_index(rng, np.array([0.45, 0.27, 0.28]), n) + 1
        g = np.where(np.arange(3) < k[:, None], g, 99)
        g.sort(axis=1)
        g[:, 1:] = np.where(g[:, 1:] == g[:, :-1], 99, g[:, 1:])
        gnull = (rng.random(n) < GENRES_NULL[t]) & ~star
        ok = g < 99
        gcols = [take(_GENRES, np.where(ok[:, j], g[:, j], 0), ok[:, j]) for j in range(3)]
        genres = null_where(pc.binary_join_element_wise(*gcols, ",", null_handling="skip"), gnull)
        cols = [
            w.tconsts(a, b),
            take(pa.array(TYPES), t.astype(np.int64)),
            primary,
            original,
            ints(adult),
            ints(year, has_year),
            ints(end, has_end),
            ints(runtime, has_runtime),
            genres,
        ]
        yield tsv_lines(cols), n


def _chunks_episode(w: World):
    for c in range(w.n_chunks):
        a, b = w.bounds(c)
        is_ep, parent, season, number, has_num = chunk_episodes(w, c)
        if not is_ep.any():
            continue
        sel = np.flatnonzero(is_ep)
        cols = [
            pc.take(w.tconsts(a, b), pa.array(sel)),
            imdb_ids("tt", parent[sel] + 1),
            ints(season[sel], has_num[sel]),
            ints(number[sel], has_num[sel]),
        ]
        yield tsv_lines(cols), len(sel)


def _chunks_ratings(w: World):
    for c in range(w.n_chunks):
        a, b = w.bounds(c)
        rated, votes, tenths = chunk_votes(w, c)
        sel = np.flatnonzero(rated)
        if len(sel) == 0:
            continue
        tt = tenths[sel]
        rating = concat(ints(tt // 10), ".", ints(tt % 10))
        cols = [pc.take(w.tconsts(a, b), pa.array(sel)), rating, ints(votes[sel])]
        yield tsv_lines(cols), len(sel)


def _chunks_principals(w: World):
    cat_names = pa.array(CATEGORIES)
    job_vocab: list[str]  # the jobs of every category, then the same as a pyarrow array
    job_vocab, job_lo, job_hi, job_p = (
        [],
        np.zeros(len(CATEGORIES), np.int64),
        np.zeros(len(CATEGORIES), np.int64),
        np.zeros(len(CATEGORIES)),
    )
    for i, name in enumerate(CATEGORIES):
        p, jobs = JOBS.get(name, (0.0, ("",)))
        job_lo[i] = len(job_vocab)
        job_vocab.extend(jobs)
        job_hi[i] = len(job_vocab)
        job_p[i] = p
    job_vocab = pa.array(job_vocab)
    self_chars = pa.array(SELF_CHARACTERS)
    roles = pa.array(ROLE_CHARACTERS)
    for c in range(w.n_chunks):
        a, b = w.bounds(c)
        title, ordering, cat, person = chunk_principals(w, c)
        total = len(title)
        if total == 0:
            continue
        rng = chunk_rng(w.seed, S_PRINC_TEXT, c)
        has_job = rng.random(total) < job_p[cat]
        span = job_hi[cat] - job_lo[cat]
        job = take(job_vocab, job_lo[cat] + (rng.random(total) * span).astype(np.int64), has_job)
        # characters: actor/actress a name (or a stock role), self "Self"-like (and 60% of
        # archive_footage), else null; built for the rows that have them only
        acting = (cat == C_ACTOR) | (cat == C_ACTRESS)
        selfish = (cat == C_SELF) | ((cat == C_ARCHIVE) & (rng.random(total) < 0.6))
        has_chars = (acting & (rng.random(total) >= 0.07)) | selfish
        m = int(has_chars.sum())
        selfish = selfish[has_chars]
        stock = ~selfish & (rng.random(m) < 0.12)
        two = rng.random(m) < 0.04
        role = people(rng, m)
        k = int(stock.sum())
        role = replace(role, stock, take(roles, rng.integers(0, len(roles), k)))
        k = int(selfish.sum())
        role = replace(role, selfish, take(self_chars, rng.integers(0, len(self_chars), k)))
        k = int(two.sum())
        second = take(roles, rng.integers(0, len(roles), k))
        role = replace(role, two, concat(pc.filter(role, pa.array(two)), '","', second))
        chars = spread(concat('["', role, '"]'), has_chars)
        cols = [
            pc.take(w.tconsts(a, b), pa.array(title)),
            ints(ordering),
            imdb_ids("nm", person),
            take(cat_names, cat),
            job,
            chars,
        ]
        yield tsv_lines(cols), total


def _chunks_crew(w: World):
    for c in range(w.n_chunks):
        a, b = w.bounds(c)
        n = b - a
        title, _, cat, person = chunk_principals(w, c)
        rng = chunk_rng(w.seed, S_CREW, c)
        lists = []
        for category, p_extra in ((C_DIRECTOR, 0.55), (C_WRITER, 0.35)):
            sel = cat == category
            t_sel, p_sel = title[sel], person[sel]
            # an uncredited director/writer for some titles with none among the principals
            none = np.bincount(t_sel, minlength=n) == 0
            add = np.flatnonzero(none & (rng.random(n) < p_extra))
            t_all = np.concatenate([t_sel, add])
            p_all = np.concatenate([p_sel, w.person_ids(rng, len(add))])
            order = np.argsort(t_all, kind="stable")
            lists.append(comma_lists(t_all[order], imdb_ids("nm", p_all[order]), n))
        yield tsv_lines([w.tconsts(a, b), *lists]), n


def _chunks_akas(w: World):
    regions = pa.array(REGIONS)
    languages = pa.array(LANGUAGES)
    types1 = pa.array(AKA_TYPES)
    types2 = pa.array([x + "\x02" + y for x in AKA_TYPES for y in AKA_TYPES if x != y])
    attrs1 = pa.array(AKA_ATTRIBUTES)
    attrs2 = pa.array(
        [x + "\x02" + y for x in AKA_ATTRIBUTES[:8] for y in AKA_ATTRIBUTES[:8] if x != y]
    )
    region_w = 1.0 / (np.arange(len(REGIONS)) + 3.0)
    lang_w = 1.0 / (np.arange(len(LANGUAGES)) + 1.5)
    for c in range(w.n_chunks):
        a, b = w.bounds(c)
        n = b - a
        rng = chunk_rng(w.seed, S_AKAS, c)
        cnt = chunk_aka_counts(w, c, rng)
        title = np.repeat(np.arange(n), cnt)
        total = len(title)
        starts = np.repeat(np.cumsum(cnt) - cnt, cnt)
        ordering = np.arange(total) - starts + 1
        # the ``original`` row: most titles have one, at a random position
        has_orig = rng.random(n) < np.where(cnt > 1, 0.96, 0.5)
        orig_pos = (rng.random(n) * cnt).astype(np.int64)
        is_orig = np.zeros(total, dtype=bool)
        is_orig[(np.cumsum(cnt) - cnt + orig_pos)[has_orig]] = True
        primary, original = chunk_titles(w, c)
        # the title: the original one on the original row, else the primary or a translation
        text = pc.take(primary, pa.array(title))
        translated = ~is_orig & (rng.random(total) < 0.5)
        text = replace(text, translated, phrases(rng, int(translated.sum())))
        text = replace(text, is_orig, pc.take(original, pa.array(title[is_orig])))
        region = take(
            regions, weighted_index(rng, region_w, total), ~is_orig & (rng.random(total) >= 0.03)
        )
        has_lang = rng.random(total) < 0.25
        language = take(languages, weighted_index(rng, lang_w, total), has_lang & ~is_orig)
        # types / attributes: mostly null, some single, a few two values joined by \x02
        ut = rng.random(total)
        tidx1 = weighted_index(rng, AKA_TYPES_W, total)
        tidx2 = rng.integers(0, len(types2), total)
        ty = pc.if_else(pa.array(ut < 0.02), take(types2, tidx2), take(types1, tidx1))
        ty = null_where(ty, ut >= 0.30)
        ty = pc.if_else(pa.array(is_orig), const("original", total), ty)
        ua = rng.random(total)
        attr = pc.if_else(
            pa.array(ua < 0.006),
            take(attrs2, rng.integers(0, len(attrs2), total)),
            take(attrs1, zipf_index(rng, len(AKA_ATTRIBUTES), total, 1.5)),
        )
        attr = null_where(attr, (ua >= 0.06) | is_orig)
        cols = [
            pc.take(w.tconsts(a, b), pa.array(title)),
            ints(ordering),
            text,
            region,
            language,
            ty,
            attr,
            ints(is_orig.astype(np.int64)),
        ]
        yield tsv_lines(cols), total


def _chunks_names(w: World):
    profs = pa.array(PROFESSIONS)
    nicks = pa.array(NICKNAMES)
    for c in range(w.n_name_chunks):
        a, b = w.name_bounds(c)
        n = b - a
        rng = chunk_rng(w.seed, S_NAMES, c)
        first = take(FIRST_NAMES_ARRAY, zipf_index(rng, len(FIRST_NAMES), n, 1.3))
        # last names drawn per row, not from a pool (a pool would repeat)
        last = take(LAST_NAMES_ARRAY, zipf_index(rng, len(LAST_NAMES), n, 1.3))
        initial = take(
            pa.array([f"{ch}. " for ch in "ABCDEFGHJKLMNPRSTW"]),
            rng.integers(0, 18, n),
            rng.random(n) < 0.03,
        )
        nick = take(nicks, rng.integers(0, len(NICKNAMES), n), rng.random(n) < 0.002)
        nick = concat('"', nick, '" ')
        # (binary_join_element_wise with null_handling="skip" drops all-null rows in
        # pyarrow 26: every "skip" join here has a first column that is never null)
        mid = pc.coalesce(nick, initial, const("", n))
        full = concat(first, " ", mid, last)
        mono = rng.random(n) < 0.03
        name = pc.if_else(pa.array(mono), first, full)
        has_birth = rng.random(n) < 0.06
        birth = (
            FIRST_YEAR
            - 30
            + np.minimum(
                (rng.beta(4.0, 1.6, n) * (2015 - FIRST_YEAR + 30)).astype(np.int64),
                2015 - FIRST_YEAR + 30,
            )
        )
        dead = has_birth & (rng.random(n) < np.clip((2000 - birth) / 80.0, 0.02, 0.95))
        death = np.minimum(birth + 30 + (rng.random(n) * 65).astype(np.int64), LAST_YEAR)
        dead_only = ~has_birth & (rng.random(n) < 0.012)
        death = np.where(dead_only, rng.integers(1900, LAST_YEAR + 1, n), death)
        # professions: 0-3 distinct, in drawn order
        k = weighted_index(rng, np.array([0.12, 0.45, 0.23, 0.20]), n)
        p = weighted_index(rng, PROF_W, (n, 3))
        acting = p <= 1  # actor / actress: as in the principals
        p[acting] = np.broadcast_to(is_actress(np.arange(a + 1, b + 1))[:, None], p.shape)[acting]
        valid = np.arange(3) < k[:, None]
        valid[:, 1] &= p[:, 1] != p[:, 0]
        valid[:, 2] &= (p[:, 2] != p[:, 0]) & (p[:, 2] != p[:, 1])
        valid[:, 0] = True  # never null for the join; emptied below where k == 0
        pcols = [take(profs, p[:, j], valid[:, j]) for j in range(3)]
        prof = null_where(pc.binary_join_element_wise(*pcols, ",", null_handling="skip"), k == 0)
        # knownForTitles: 0-4 existing titles
        kk = weighted_index(rng, np.array([0.1, 0.35, 0.15, 0.1, 0.3]), n)
        kt = rng.integers(1, w.n_titles + 1, (n, 4))
        kcols = [
            take(imdb_ids("tt", kt[:, j]), np.arange(n), (kk > j) | (j == 0)) for j in range(4)
        ]
        known = null_where(pc.binary_join_element_wise(*kcols, ",", null_handling="skip"), kk == 0)
        cols = [
            imdb_ids("nm", np.arange(a + 1, b + 1)),
            name,
            ints(birth, has_birth),
            ints(death, dead | dead_only),
            prof,
            known,
        ]
        yield tsv_lines(cols), n


# IMDb file name -> its chunk generator (a World in, (lines, rows) per chunk out)
CHUNKS: dict[str, Callable] = {
    "title.basics": _chunks_basics,
    "title.akas": _chunks_akas,
    "title.crew": _chunks_crew,
    "title.episode": _chunks_episode,
    "title.principals": _chunks_principals,
    "title.ratings": _chunks_ratings,
    "name.basics": _chunks_names,
}
