"""Source strings and file names: what a ``--source`` means and which files hold which table.

``parse_source`` and ``describe`` read a source string; ``locate_files`` and ``fetch_folder``
find the IMDb files of a folder source (used where they are, never copied); ``select_files``
picks them among the names of a bucket listing; ``wanted_tables`` is the set of IMDb names a
fetch asks for. The rules for file names are ``ingest.layout``'s.
"""

from __future__ import annotations

import math
import os
import re
import urllib.parse
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from ingest.convert import TableFiles
from ingest.layout import LayoutError, scan_folder, select_names
from ingest.schemas import ALL_FILES
from ingest.sources.errors import SourceError
from ingest.sources.results import FetchedFile, utc_iso

IMDB_BASE_URL = "https://datasets.imdbws.com/"
DEFAULT_S3_BUCKET = "imdb-data-495700631743"

# what to try instead, at the end of a SourceError's line
HINT_HTTPS = f"use --source {IMDB_BASE_URL}"
HINT_OFFLINE = "no internet here? then use a local directory or sample:SCALE"


class S3Location(NamedTuple):
    """Where an ``s3://`` source is: the bucket and a key prefix."""

    bucket: str
    prefix: str  # "" or ending with "/"


class SampleSpec(NamedTuple):
    """A ``sample:SCALE[:SEED]`` source: what the sample generator is asked for."""

    scale: float
    seed: int | None


# --------------------------------------------------------------------------- source strings


def parse_source(source: str | os.PathLike[str]) -> tuple[str, Any]:
    """``(kind, location)`` for a source string.

    ``("dir", Path)``, ``("http", base_url_ending_with_slash)``, ``("s3", S3Location)``,
    ``("sample", SampleSpec)``. Raises ``SourceError`` for an empty or unsupported source.
    """
    if isinstance(source, os.PathLike):
        return "dir", Path(source).expanduser()
    s = str(source).strip()
    low = s.lower()
    if not s:
        raise SourceError(
            "empty source: give a directory, an http(s):// URL, s3://BUCKET[/PREFIX], s3 "
            "or sample:SCALE[:SEED]"
        )
    if low == "s3":
        return "s3", S3Location(DEFAULT_S3_BUCKET, "")
    if low.startswith("s3://"):
        bucket, _, prefix = s[5:].partition("/")
        if not bucket or any(c.isspace() for c in bucket):
            raise SourceError(f"bad S3 source {s!r}: expected s3://BUCKET[/PREFIX]")
        prefix = prefix.strip("/")
        return "s3", S3Location(bucket, prefix + "/" if prefix else "")
    if low.startswith(("http://", "https://")):
        parsed = urllib.parse.urlsplit(s)
        if not parsed.hostname:
            raise SourceError(f"bad URL source {s!r}: expected e.g. {IMDB_BASE_URL}")
        if parsed.query or parsed.fragment:
            raise SourceError(f"bad URL source {s!r}: give a base URL without ?query or #fragment")
        return "http", s if s.endswith("/") else s + "/"
    if low.startswith("sample:"):
        parts = s.split(":")
        try:
            if len(parts) not in (2, 3):
                raise ValueError
            scale = float(parts[1])
            seed = int(parts[2]) if len(parts) == 3 and parts[2].strip() else None
            if not math.isfinite(scale) or scale <= 0:
                raise ValueError
        except ValueError:
            raise SourceError(
                f"bad sample source {s!r}: expected sample:SCALE[:SEED], SCALE a positive "
                "number and SEED an integer (e.g. sample:0.01:42)"
            ) from None
        return "sample", SampleSpec(scale, seed)
    if low.startswith("file://"):
        return "dir", Path(urllib.request.url2pathname(urllib.parse.urlsplit(s).path))
    if re.match(r"^[a-z][a-z0-9+.-]*://", low):
        raise SourceError(
            f"unsupported source {s!r}: use a directory, http(s)://, s3://BUCKET[/PREFIX] "
            "or sample:SCALE[:SEED]"
        )
    return "dir", Path(s).expanduser()


def describe(source: str | os.PathLike[str]) -> str:
    """A short human description of a source, for log lines."""
    kind, loc = parse_source(source)
    if kind == "dir":
        return f"local directory {loc} (files used in place)"
    if kind == "http":
        return f"HTTP {loc}"
    if kind == "s3":
        default = " (the project's default bucket)" if loc.bucket == DEFAULT_S3_BUCKET else ""
        return f"S3 s3://{loc.bucket}/{loc.prefix}{default}, anonymous first, then AWS credentials"
    seed = "random seed" if loc.seed is None else f"seed {loc.seed}"
    return f"generated sample (scale {loc.scale:g}, {seed})"


# --------------------------------------------------------------------------- file names


def wanted_tables(tables) -> set[str]:
    """The IMDb names asked for: ``tables`` (an iterable of names), or all seven for None."""
    return {f.name for f in ALL_FILES} if tables is None else set(tables)


def select_files(filenames: Iterable[str], where: str, tables=None) -> dict[str, str]:
    """IMDb name -> the file name to fetch among a listing's names (``layout.select_names``).

    Args:
        filenames: the names in the listing (a name ending in ``/`` is a folder).
        where: the listing's URL, for messages.
        tables: the IMDb names to look for (default all).

    Raises:
        SourceError: an ambiguous name, or a table there only as parts or a folder.
    """
    try:
        return select_names(list(filenames), where, None if tables is None else set(tables))
    except LayoutError as exc:
        raise SourceError(str(exc)) from None


def locate_files(directory: str | os.PathLike[str], tables=None) -> dict[str, TableFiles]:
    """IMDb file name -> the file(s) holding it in ``directory`` (only the tables present).

    Accepted (``ingest.layout``): ``<name>.tsv.gz``, ``<name>.tsv``, ``<name>.<tag>.tsv[.gz]``
    (e.g. ``title.ratings.small.tsv.gz``), a folder named like a table holding its one data
    file or its parts (``title.basics.tsv/data.tsv``), and the parts of a split file
    (``title.akas.tsv.part-aa``, ``-ab``, ...). ``title.basics-movie.tsv`` is not a match
    (``-`` is not ``.<tag>``). An exact name wins over tagged ones; two candidates of the same
    rank (e.g. ``title.basics.tsv`` and ``title.basics.tsv.gz``) raise ``SourceError`` naming
    both. ``tables``: the IMDb names to look for (default all). Does not check which files are
    required: ``fetch`` does.
    """
    return _scan(Path(directory).expanduser(), tables)[0]


def _scan(d: Path, tables=None):
    """(IMDb name -> TableFiles, notes, subfolders holding IMDb files) of a folder source."""
    if d.is_file():
        raise SourceError(
            f"{d}: a file, not a folder; give the folder that holds it and the other IMDb "
            f".tsv[.gz] files (--source {d.parent}), or {HINT_HTTPS}"
        )
    if not d.is_dir():
        raise SourceError(
            f"{d}: no such directory; give a folder with the IMDb .tsv[.gz] files, or {HINT_HTTPS}"
        )
    try:
        layout = scan_folder(d, None if tables is None else set(tables))
    except LayoutError as exc:
        raise SourceError(str(exc)) from None
    return layout.tables, layout.notes, layout.subfolders


def fetch_folder(directory: Path, tables=None):
    """What ``fetch`` returns for a folder source: the files as they are, nothing copied.

    Args:
        directory: the folder.
        tables: the IMDb names asked for (default all).

    Returns:
        ``(files, absent, notes)``: a ``FetchedFile`` per table found (in ``ALL_FILES`` order,
        ``last_modified`` the newest mtime of its files), the optional IMDb names asked for but
        not there, and the lines to report about files in the folder that are not read.

    Raises:
        SourceError: no such folder, an ambiguous name, or a required table missing (naming a
            subfolder that holds IMDb files, if there is one).
    """
    wanted = wanted_tables(tables)
    found, notes, subfolders = _scan(directory, wanted)
    absent = [f for f in ALL_FILES if f.name in wanted and f.name not in found]
    required = [f.name for f in absent if f.required]
    if required:
        where = (
            f"--source {subfolders[0]}"
            if subfolders
            else f"point --source at a folder with the IMDb files, or {HINT_HTTPS}"
        )
        raise SourceError(
            f"{directory}: no {required[0]} file (expected {required[0]}.tsv.gz, .tsv, "
            f"{required[0]}.<tag>.tsv[.gz], a folder {required[0]}.tsv/ or parts "
            f"{required[0]}.tsv.part-aa, ...; {len(required)} required file(s) missing); {where}"
        )
    files = []
    for name, table_files in found.items():
        first = table_files.paths[0]
        mtime = datetime.fromtimestamp(max(p.stat().st_mtime for p in table_files.paths), UTC)
        files.append(
            FetchedFile(
                name,
                first,
                str(table_files),
                table_files.size,
                None,
                utc_iso(mtime),
                0.0,
                False,
                parts=table_files,
            )
        )
    return tuple(files), tuple(f.name for f in absent), tuple(notes)
