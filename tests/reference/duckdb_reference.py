"""An independent second engine: the pipeline's answers computed with DuckDB SQL straight
over the raw IMDb TSV files.

It shares nothing with the pipeline but the file headers (ingest/schemas.py), so that a test
can compare the two engines' results on the same source folder.

Reading rules (the contract the pipeline's reader is held to):

* a file is ``<name>.tsv``, ``<name>.tsv.gz``, or ``<name>.<tag>.tsv[.gz]``; the exact name
  wins over tagged ones, and several candidates of the same rank is an error;
* UTF-8, tab-separated, header row first, ``\\N`` is null, fields are NEVER quoted (a bare
  ``"`` is an ordinary character);
* the header must be exactly the official one, else :class:`ImdbFormatError` (a whole-file
  problem: nothing in the file can be trusted by position);
* a data row is excluded as a whole when it has the wrong number of fields, when a typed
  field does not parse, or when an id is missing or malformed:
  - ``int``: ``-?[0-9]{1,9}`` (fits a 32-bit int); ``bool``: ``0`` or ``1``;
  - ``rating``: 0 to 10 with at most one decimal (``10``, ``10.0``, ``[0-9](.[0-9])?``), so
    that it is exact in DECIMAL(3,1), never rounded;
  - ids, wherever set: tconst / titleId / parentTconst ``tt[0-9]+``, nconst ``nm[0-9]+``;
  - never null: the first column of every file (its key), and title.ratings' averageRating
    and numVotes; ``\\N`` is fine anywhere else;
* blank lines are skipped (neither rows nor rejects); CRLF line ends are accepted;
* a tconst twice in title.ratings: the later line wins (as in the stream, and as a refresh
  does); duplicate keys in the other files are kept as they are (the pipeline counts them).

These are the rules the brief gives (wrong width, unparsable number) made precise; the
number ranges, the id patterns, the not-null columns and the blank-line rule were aligned
with the pipeline's converter so that rejected counts can be compared one to one.

Public API: :func:`compute`, :func:`rejected_rows`, :func:`find_file`, :class:`ImdbFormatError`.
"""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import duckdb

from ingest.schemas import ALL_FILES, BY_NAME, ImdbFile

__all__ = ["ImdbFormatError", "compute", "find_file", "rejected_rows"]

# DuckDB reads each physical line as one VARCHAR column: the field splitting, the column
# count check and the casts are then done in SQL below, so that a malformed row is counted
# and excluded rather than aborting the read. NUL never occurs in IMDb text.
_LINE_DELIM = "\x00"

# Validity check per column kind, applied to the raw field text `@v` (never null here).
_CHECKS = {
    "int": "(@v = '\\N' OR regexp_full_match(@v, '-?[0-9]{1,9}'))",
    "rating": "(@v = '\\N' OR regexp_full_match(@v, '10(\\.0)?|[0-9](\\.[0-9])?'))",
    "bool": "(@v IN ('\\N', '0', '1'))",
}
# Id columns (by snake_case name), checked wherever set.
_ID_CHECKS = {
    "tconst": "(@v = '\\N' OR regexp_full_match(@v, 'tt[0-9]+'))",
    "parent_tconst": "(@v = '\\N' OR regexp_full_match(@v, 'tt[0-9]+'))",
    "nconst": "(@v = '\\N' OR regexp_full_match(@v, 'nm[0-9]+'))",
}
# Columns that may not be null besides each file's key (its first column).
_NOT_NULL = {"title.ratings": ("average_rating", "num_votes")}
_CASTS = {
    "string": "VARCHAR",
    "list": "VARCHAR",  # kept as the raw comma list; split where needed
    "list02": "VARCHAR",  # kept raw (\x02-separated); not needed by the answers
    "int": "INTEGER",
    "rating": "DECIMAL(3,1)",
    "bool": "BOOLEAN",
}

REQUIRED = ("title.ratings", "title.basics", "title.principals", "name.basics")
OPTIONAL = ("title.akas",)


class ImdbFormatError(ValueError):
    """A source file that cannot be read at all (missing, ambiguous, wrong header)."""


# ---------------------------------------------------------------------------------------------
# files


def find_file(source_dir: str | os.PathLike, name: str) -> Path | None:
    """The file holding IMDb file `name` (e.g. "title.basics") in `source_dir`, or None."""
    d = Path(source_dir)
    exact = [d / f"{name}.tsv", d / f"{name}.tsv.gz"]
    exact = [p for p in exact if p.is_file()]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        raise ImdbFormatError(f"{d}: both {exact[0].name} and {exact[1].name} exist for {name}")
    tagged_re = re.compile(re.escape(name) + r"\.[^/]+\.tsv(\.gz)?")
    tagged = sorted(p for p in d.iterdir() if p.is_file() and tagged_re.fullmatch(p.name))
    if len(tagged) == 1:
        return tagged[0]
    if len(tagged) > 1:
        names = ", ".join(p.name for p in tagged)
        raise ImdbFormatError(f"{d}: several files for {name}: {names}")
    return None


def _first_line(path: Path) -> str:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        line = fh.readline()
    line = line.removeprefix("\ufeff")
    return line.rstrip("\n").removesuffix("\r")


def _check_header(path: Path, spec: ImdbFile) -> None:
    found = _first_line(path).split("\t")
    if found != spec.header:
        raise ImdbFormatError(
            f"{path}: line 1: header {found!r} is not the official {spec.name} header "
            f"{spec.header!r}"
        )


def _load(con: duckdb.DuckDBPyConnection, path: Path, spec: ImdbFile) -> int:
    """Create table `<spec.table>` holding the valid rows, typed; return the rejected count."""
    _check_header(path, spec)
    n = len(spec.columns)
    raw = f"raw_{spec.table}"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {raw} AS
        SELECT string_split(line, chr(9)) AS f, row_number() OVER () AS line_no
        FROM read_csv(?, header = true, auto_detect = false, columns = {{'line': 'VARCHAR'}},
                      delim = ?, quote = '', escape = '', compression = 'auto')
        WHERE line IS NOT NULL  -- a blank line reads as NULL: skipped
        """,
        [str(path), _LINE_DELIM],
    )
    checks = [f"len(f) = {n}"]
    not_null = {spec.key, *_NOT_NULL.get(spec.name, ())}
    for i, col in enumerate(spec.columns, start=1):
        for check in (_CHECKS.get(col.kind), _ID_CHECKS.get(col.name)):
            if check:
                checks.append(check.replace("@v", f"f[{i}]"))
        if col.name in not_null:
            checks.append(f"f[{i}] <> '\\N'")
    valid = " AND ".join(checks)
    select = ",\n".join(
        f"CAST(nullif(f[{i}], '\\N') AS {_CASTS[col.kind]}) AS {col.name}"
        for i, col in enumerate(spec.columns, start=1)
    )
    # file order: one thread, insertion order kept (DuckDB's default), so line_no follows it
    latest = (
        "QUALIFY row_number() OVER (PARTITION BY f[1] ORDER BY line_no DESC) = 1"
        if spec.name == "title.ratings"
        else ""
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {spec.table} AS SELECT {select} FROM {raw} WHERE {valid} "
        f"{latest}"
    )
    rejected = con.execute(
        f"SELECT count(*) FROM {raw} WHERE NOT coalesce({valid}, false)"
    ).fetchone()[0]
    con.execute(f"DROP TABLE {raw}")
    return rejected


def _connect(threads: int = 1) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    # 1 for the tests (small inputs; keep CPU modest beside Spark); the benchmark uses every core
    con.execute(f"SET threads = {int(threads)}")
    return con


def rejected_rows(source_dir: str | os.PathLike) -> dict[str, int]:
    """Rows excluded per IMDb file, keyed by IMDb file name ("title.ratings", ...).

    Covers every file of ingest/schemas.py found in `source_dir` (absent ones are left out).
    Raises ImdbFormatError for a file whose header is not the official one.
    """
    con = _connect()
    try:
        out = {}
        for spec in ALL_FILES:
            path = find_file(source_dir, spec.name)
            if path is not None:
                out[spec.name] = _load(con, path, spec)
        return out
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------
# the answers

_AVG_SQL = """
CREATE TEMP TABLE avg_votes AS
SELECT count(*) AS ratings_processed, avg(num_votes)::DOUBLE AS average_number_of_votes
FROM title_ratings
"""

_TOP_MOVIES_SQL = """
CREATE TEMP TABLE top_movies AS
WITH eligible AS (
    SELECT r.tconst, b.primary_title, b.original_title, b.start_year,
           r.average_rating, r.num_votes,
           CAST(r.num_votes AS DECIMAL(38, 0)) * r.average_rating AS exact_product
    FROM title_ratings r
    JOIN title_basics b ON b.tconst = r.tconst
    WHERE list_contains($title_types, b.title_type)
      AND r.num_votes >= $min_votes
),
ranked AS (
    SELECT *, row_number() OVER (
               ORDER BY exact_product DESC, num_votes DESC, tconst ASC) AS rank
    FROM eligible
)
SELECT ranked.*,
       ranked.num_votes::DOUBLE / a.average_number_of_votes
           * ranked.average_rating::DOUBLE AS ranking_score
FROM ranked, avg_votes a
WHERE ranked.rank <= $top_n
"""

_KNOWN_FOR_SQL = """
WITH known_for AS (
    SELECT DISTINCT n.nconst, n.primary_name, k.tconst
    FROM name_basics n,
         unnest(string_split(n.known_for_titles, ',')) AS k(tconst)
    WHERE n.primary_name IS NOT NULL
)
SELECT t.tconst, list(k.primary_name ORDER BY k.primary_name, k.nconst) AS names
FROM top_movies t JOIN known_for k ON k.tconst = t.tconst
GROUP BY t.tconst
"""

_SELECT_TOP_SQL = """
SELECT rank, tconst, primary_title, original_title, start_year,
       average_rating::DOUBLE AS average_rating, num_votes, ranking_score
FROM top_movies ORDER BY rank
"""

_CREDITS_SQL = """
WITH credits AS (
    SELECT p.nconst,
           count(*) AS credit_count,
           count(DISTINCT p.tconst) AS movie_count,
           list_sort(list_distinct(list(p.category))) AS categories,
           list_sort(list_distinct(list(p.tconst))) AS tconsts
    FROM title_principals p
    WHERE p.tconst IN (SELECT tconst FROM top_movies)
    GROUP BY p.nconst
),
names AS (SELECT nconst, any_value(primary_name) AS primary_name FROM name_basics GROUP BY nconst)
SELECT dense_rank() OVER (ORDER BY c.credit_count DESC) AS rank,
       c.nconst, n.primary_name, c.credit_count, c.movie_count, c.categories, c.tconsts
FROM credits c LEFT JOIN names n ON n.nconst = c.nconst
ORDER BY c.credit_count DESC, c.movie_count DESC, c.nconst ASC
"""

_TITLES_SQL = """
WITH akas AS ({akas}),
titles AS (
    SELECT tconst, primary_title AS title FROM top_movies WHERE primary_title IS NOT NULL
    UNION
    SELECT tconst, original_title FROM top_movies WHERE original_title IS NOT NULL
    UNION
    SELECT a.tconst, a.title FROM akas a
    WHERE a.title IS NOT NULL AND a.tconst IN (SELECT tconst FROM top_movies)
),
usage AS (
    SELECT tconst, title,
           list_sort(list_distinct(list(region))) AS regions,
           list_sort(list_distinct(list(language))) AS languages
    FROM akas GROUP BY tconst, title
)
SELECT t.tconst, t.title,
       coalesce(u.regions, []) AS regions,
       coalesce(u.languages, []) AS languages,
       coalesce(t.title = m.primary_title, false) AS is_primary,
       coalesce(t.title = m.original_title, false) AS is_original
FROM titles t
JOIN top_movies m ON m.tconst = t.tconst
LEFT JOIN usage u ON u.tconst = t.tconst AND u.title = t.title
ORDER BY t.tconst, t.title
"""


def _dicts(rel: duckdb.DuckDBPyConnection) -> list[dict]:
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, row)) for row in rel.fetchall()]


def compute(
    source_dir: str | os.PathLike,
    min_votes: int = 500,
    top_n: int = 10,
    title_types: tuple[str, ...] | list[str] = ("movie",),
    threads: int = 1,
) -> dict:
    """The pipeline's answers for the IMDb files in `source_dir` (see the module docstring).

    ``threads``: DuckDB's worker threads (1 in the tests; the benchmark gives it every core).

    Returns {"parameters": {"min_votes", "title_types", "top_n"}, "ratings_processed",
    "average_number_of_votes", "top_movies", "top_movie_credits", "top_movie_titles"}.
    """
    con = _connect(threads)
    try:
        for name in REQUIRED:
            path = find_file(source_dir, name)
            if path is None:
                raise ImdbFormatError(f"{source_dir}: required file {name}.tsv[.gz] not found")
            _load(con, path, BY_NAME[name])
        akas_path = find_file(source_dir, "title.akas")
        if akas_path is not None:
            _load(con, akas_path, BY_NAME["title.akas"])
            akas = "SELECT tconst, title, region, language FROM title_akas"
        else:
            akas = (
                "SELECT NULL::VARCHAR AS tconst, NULL::VARCHAR AS title, "
                "NULL::VARCHAR AS region, NULL::VARCHAR AS language WHERE false"
            )

        types = sorted(set(title_types))
        con.execute(_AVG_SQL)
        con.execute(
            _TOP_MOVIES_SQL,
            {"title_types": types, "min_votes": int(min_votes), "top_n": int(top_n)},
        )
        processed, average = con.execute(
            "SELECT ratings_processed, average_number_of_votes FROM avg_votes"
        ).fetchone()

        known_for = dict(con.execute(_KNOWN_FOR_SQL).fetchall())
        top_movies = []
        for row in _dicts(con.execute(_SELECT_TOP_SQL)):
            row["known_for_names"] = list(known_for.get(row["tconst"], []))
            top_movies.append(row)

        credits = _dicts(con.execute(_CREDITS_SQL))
        for c in credits:
            c["categories"] = list(c["categories"])
            c["tconsts"] = list(c["tconsts"])
        titles = _dicts(con.execute(_TITLES_SQL.format(akas=akas)))
        for t in titles:
            t["regions"] = list(t["regions"])
            t["languages"] = list(t["languages"])

        return {
            "parameters": {"min_votes": int(min_votes), "title_types": types, "top_n": int(top_n)},
            "ratings_processed": int(processed),
            "average_number_of_votes": None if average is None else float(average),
            "top_movies": top_movies,
            "top_movie_credits": credits,
            "top_movie_titles": titles,
        }
    finally:
        con.close()
