"""Shape statistics over a folder of the seven IMDb files, generated or real.

``shape_stats`` reads the files back with pyarrow (quoting off, ``\\N`` as null) and
measures what the generator's tests check: row counts, headers, shares, means, maxima and
foreign-key misses. It is independent of the writer (only the vocabularies are shared),
so it judges the written bytes, not the generator's intentions.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from imdb_pipeline.generate.shape import FILES, T_EPISODE, T_MINI, T_MOVIE, T_SERIES, TYPES
from ingest.schemas import NULL


def _read_batches(path: Path, columns: list[str]):
    """Record batches of `columns` (all as strings, ``\\N`` -> null) of an IMDb file."""
    import pyarrow.csv as pacsv

    header = _header(path)
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=8 << 20, column_names=header, skip_rows=1),
        parse_options=pacsv.ParseOptions(
            delimiter="\t", quote_char=False, escape_char=False, newlines_in_values=False
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in header},
            include_columns=columns,
            null_values=[NULL],
            strings_can_be_null=True,
        ),
    )
    yield from reader


def _header(path: Path) -> list[str]:
    import gzip

    with gzip.open(path, "rt", encoding="utf-8", newline="\n") as f:
        return f.readline().rstrip("\n").split("\t")


def _num(ids: pa.Array) -> np.ndarray:
    """``tt0000042`` -> 42 (nulls -> -1)."""
    v = pc.cast(pc.utf8_slice_codeunits(ids, 2), pa.int64())
    return v.fill_null(-1).to_numpy(zero_copy_only=False)


def _grow(arr: np.ndarray, size: int, fill=0) -> np.ndarray:
    if size <= len(arr):
        return arr
    out = np.full(max(size, len(arr) * 2), fill, dtype=arr.dtype)
    out[: len(arr)] = arr
    return out


def shape_stats(out_dir: str | os.PathLike) -> dict:
    """Shape statistics of the seven ``<name>.tsv.gz`` files in `out_dir`.

    Streamed with pyarrow (bounded memory: a few bytes per title and person id), so it also
    runs over the real files. Keys: ``rows`` and ``headers`` per file, then one dict per
    file of the statistics the tests check (shares in [0, 1], means, maxima, foreign-key
    misses as counts). A missing file raises FileNotFoundError.
    """
    d = Path(out_dir)
    path = {f.name: d / f"{f.name}.tsv.gz" for f in FILES}
    st: dict = {"rows": {}, "headers": {n: _header(p) for n, p in path.items()}}

    # title.basics ---------------------------------------------------------------------
    tmap = {t: i for i, t in enumerate(TYPES)}
    ttype = np.full(1, -1, dtype=np.int8)  # by tconst number; -1 = no such title
    n = quotes = differs = year_set = end_set = runtime_set = 0
    max_genres = 0
    ymin, ymax = 10**9, -(10**9)
    primary_ex = None
    for b in _read_batches(
        path["title.basics"],
        [
            "tconst",
            "titleType",
            "primaryTitle",
            "originalTitle",
            "startYear",
            "endYear",
            "runtimeMinutes",
            "genres",
        ],
    ):
        ids = _num(b["tconst"])
        if len(ids):
            ttype = _grow(ttype, int(ids.max()) + 1, -1)
        ttype[ids] = _type_codes(b["titleType"], tmap)
        n += len(ids)
        prim = b["primaryTitle"]
        has_q = pc.match_substring(prim, '"')
        quotes += int(pc.sum(has_q).as_py() or 0)
        if primary_ex is None and pc.any(has_q).as_py():
            primary_ex = prim.filter(has_q)[0].as_py()
        differs += int(pc.sum(pc.not_equal(prim, b["originalTitle"])).as_py() or 0)
        y = pc.cast(b["startYear"], pa.int64())
        year_set += len(y) - y.null_count
        if len(y) - y.null_count:
            mm = pc.min_max(y).as_py()
            ymin, ymax = min(ymin, mm["min"]), max(ymax, mm["max"])
        end_set += len(b) - b["endYear"].null_count
        runtime_set += len(b) - b["runtimeMinutes"].null_count
        g = pc.list_value_length(pc.split_pattern(b["genres"], ","))
        max_genres = max(max_genres, int(pc.max(g).as_py() or 0))
    counts = np.bincount(ttype[ttype >= 0], minlength=len(TYPES) + 1)
    st["rows"]["title.basics"] = n
    st["title.basics"] = {
        "type_counts": {t: int(counts[i]) for i, t in enumerate(TYPES)},
        "movie_share": counts[T_MOVIE] / max(n, 1),
        "episode_share": counts[T_EPISODE] / max(n, 1),
        "titles_with_double_quote": quotes,
        "double_quote_example": primary_ex,
        "original_differs_share": differs / max(n, 1),
        "start_year_set_share": year_set / max(n, 1),
        "start_year_range": (ymin, ymax),
        "end_year_set_share": end_set / max(n, 1),
        "runtime_set_share": runtime_set / max(n, 1),
        "max_genres": max_genres,
    }
    exists_t = ttype >= 0

    def title_fk(ids: np.ndarray) -> int:
        ok = (ids >= 0) & (ids < len(exists_t))
        return int((~ok).sum() + (~exists_t[ids[ok]]).sum())

    # name.basics ----------------------------------------------------------------------
    exists_n = np.zeros(1, dtype=bool)
    n = birth = death = known_null = known_fk = 0
    max_known = max_prof = 0
    for b in _read_batches(
        path["name.basics"],
        ["nconst", "birthYear", "deathYear", "primaryProfession", "knownForTitles"],
    ):
        ids = _num(b["nconst"])
        if len(ids):
            exists_n = _grow(exists_n, int(ids.max()) + 1)
        exists_n[ids] = True
        n += len(ids)
        birth += len(b) - b["birthYear"].null_count
        death += len(b) - b["deathYear"].null_count
        known = pc.split_pattern(b["knownForTitles"], ",")
        known_null += known.null_count
        max_known = max(max_known, int(pc.max(pc.list_value_length(known)).as_py() or 0))
        flat = pc.list_flatten(known)
        known_fk += title_fk(_num(flat)) if len(flat) else 0
        prof = pc.list_value_length(pc.split_pattern(b["primaryProfession"], ","))
        max_prof = max(max_prof, int(pc.max(prof).as_py() or 0))
    st["rows"]["name.basics"] = n
    st["name.basics"] = {
        "birth_year_set_share": birth / max(n, 1),
        "death_year_set_share": death / max(n, 1),
        "known_for_null_share": known_null / max(n, 1),
        "max_known_for_titles": max_known,
        "known_for_missing_titles": known_fk,
        "max_professions": max_prof,
    }

    # title.ratings --------------------------------------------------------------------
    votes, tenths, movie = [], [], []
    bad_rating = 0
    fk = 0
    for b in _read_batches(path["title.ratings"], ["tconst", "averageRating", "numVotes"]):
        ids = _num(b["tconst"])
        fk += title_fk(ids)
        r = b["averageRating"]
        bad_rating += len(r) - int(
            pc.sum(pc.match_substring_regex(r, r"^(10|[1-9])\.[0-9]$")).as_py() or 0
        )
        tenths.append(np.rint(pc.cast(r, pa.float64()).to_numpy(zero_copy_only=False) * 10))
        votes.append(pc.cast(b["numVotes"], pa.int64()).to_numpy(zero_copy_only=False))
        ok = (ids >= 0) & (ids < len(ttype))
        mv = np.zeros(len(ids), dtype=bool)
        mv[ok] = ttype[ids[ok]] == T_MOVIE
        movie.append(mv)
    v = np.concatenate(votes) if votes else np.zeros(0, np.int64)
    r10 = np.concatenate(tenths) if tenths else np.zeros(0)
    mv = np.concatenate(movie) if movie else np.zeros(0, bool)
    st["rows"]["title.ratings"] = len(v)
    st["title.ratings"] = {
        "rated_share": len(v) / max(st["rows"]["title.basics"], 1),
        "votes_median": float(np.median(v)) if len(v) else None,
        "votes_mean": float(v.mean()) if len(v) else None,
        "votes_min": int(v.min()) if len(v) else None,
        "votes_max": int(v.max()) if len(v) else None,
        "votes_ge_1m": int((v >= 1_000_000).sum()),
        "movies_rated": int(mv.sum()),
        "movies_ge_500_votes": int((mv & (v >= 500)).sum()),
        "rating_min": float(r10.min() / 10) if len(r10) else None,
        "rating_max": float(r10.max() / 10) if len(r10) else None,
        "rating_mean": float(r10.mean() / 10) if len(r10) else None,
        "ratings_not_one_decimal": bad_rating,
        "missing_titles": fk,
    }

    # title.principals -----------------------------------------------------------------
    per = np.zeros(len(ttype), dtype=np.int32)
    n = fk = missing_names = job_set = chars_set = chars_bad = 0
    cats: dict[str, int] = {}
    for b in _read_batches(
        path["title.principals"], ["tconst", "nconst", "category", "job", "characters"]
    ):
        ids = _num(b["tconst"])
        fk += title_fk(ids)
        ok = (ids >= 0) & (ids < len(per))
        per += np.bincount(ids[ok], minlength=len(per)).astype(np.int32)[: len(per)]
        nid = _num(b["nconst"])
        okn = (nid >= 0) & (nid < len(exists_n))
        missing_names += int((~okn).sum() + (~exists_n[nid[okn]]).sum())
        n += len(b)
        job_set += len(b) - b["job"].null_count
        ch = b["characters"]
        chars_set += len(ch) - ch.null_count
        good = pc.match_substring_regex(ch, r'^\[".*"\]$')
        chars_bad += int(pc.sum(pc.invert(good)).as_py() or 0)
        vc = pc.value_counts(b["category"])
        for item in vc.to_pylist():
            cats[item["values"]] = cats.get(item["values"], 0) + item["counts"]
    titled = int((per > 0).sum())
    st["rows"]["title.principals"] = n
    st["title.principals"] = {
        "titles_with_principals": titled,
        "per_title_mean": n / max(titled, 1),
        "per_title_max": int(per.max()) if len(per) else 0,
        "categories": dict(sorted(cats.items(), key=lambda kv: -kv[1])),
        "job_set_share": job_set / max(n, 1),
        "characters_set_share": chars_set / max(n, 1),
        "characters_not_json_array": chars_bad,
        "missing_titles": fk,
        "missing_names_share": missing_names / max(n, 1),
    }
    del per

    # title.akas -----------------------------------------------------------------------
    per = np.zeros(len(ttype), dtype=np.int32)
    n = fk = x02 = orig = 0
    for b in _read_batches(
        path["title.akas"], ["titleId", "types", "attributes", "isOriginalTitle"]
    ):
        ids = _num(b["titleId"])
        fk += title_fk(ids)
        ok = (ids >= 0) & (ids < len(per))
        per += np.bincount(ids[ok], minlength=len(per)).astype(np.int32)[: len(per)]
        n += len(b)
        for col in ("types", "attributes"):
            x02 += int(pc.sum(pc.match_substring(b[col], "\x02")).as_py() or 0)
        orig += int(pc.sum(pc.equal(b["isOriginalTitle"], "1")).as_py() or 0)
    titled = int((per > 0).sum())
    st["rows"]["title.akas"] = n
    st["title.akas"] = {
        "titles_with_akas": titled,
        "per_title_mean": n / max(titled, 1),
        "per_title_max": int(per.max()) if len(per) else 0,
        "values_with_x02": x02,
        "original_rows": orig,
        "missing_titles": fk,
    }
    del per

    # title.crew, title.episode --------------------------------------------------------
    n = fk = dir_set = 0
    for b in _read_batches(path["title.crew"], ["tconst", "directors"]):
        fk += title_fk(_num(b["tconst"]))
        n += len(b)
        dir_set += len(b) - b["directors"].null_count
    st["rows"]["title.crew"] = n
    st["title.crew"] = {"directors_set_share": dir_set / max(n, 1), "missing_titles": fk}
    n = fk = not_episode = parent_not_series = 0
    for b in _read_batches(path["title.episode"], ["tconst", "parentTconst"]):
        ids, par = _num(b["tconst"]), _num(b["parentTconst"])
        fk += title_fk(ids)
        ok = (ids >= 0) & (ids < len(ttype))
        not_episode += int((ttype[ids[ok]] != T_EPISODE).sum())
        okp = (par >= 0) & (par < len(ttype))
        pt = ttype[par[okp]]
        parent_not_series += int((~okp).sum() + ((pt != T_SERIES) & (pt != T_MINI)).sum())
        n += len(b)
    st["rows"]["title.episode"] = n
    st["title.episode"] = {
        "missing_titles": fk,
        "not_tv_episode": not_episode,
        "parent_not_series": parent_not_series,
    }
    st["rows"] = {f.name: st["rows"][f.name] for f in FILES}
    return st


def _type_codes(col: pa.Array, tmap: dict[str, int]) -> np.ndarray:
    vocab = pa.array(list(tmap))
    idx = pc.index_in(col, value_set=vocab)
    return idx.fill_null(99).to_numpy(zero_copy_only=False).astype(np.int8)
