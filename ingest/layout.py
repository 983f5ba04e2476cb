"""Which files in a source folder hold which IMDb table: names, folders per table, parts.

A table's text is found as (``scan_folder``):

=====================================  ===================================================
``title.basics.tsv.gz``, ``.tsv``       the file (rank 0: an exact name)
``title.basics.<tag>.tsv[.gz]``         the file (rank 1: tagged, e.g. ``.small``, ``.2024.v2``)
``title.basics.tsv/`` (a folder)        its one data file (``data.tsv`` from an archiver), or
                                        its parts; the folder may also be named
                                        ``title.basics``, ``title.basics.tsv.gz`` or tagged
``title.akas.tsv.part-aa``, ``-ab``...  the parts of one file, read in order as that file
=====================================  ===================================================

Part names (after ``<name>[.<tag>].tsv[.gz]``, or inside a table folder after any stem):
``split``'s ``aa``/``ab``... and ``00``/``01``... (with ``.``, ``-``, ``_``, ``.part-``,
``part`` or nothing before them: ``.part-aa``, ``.000``, ``.part1``, ``part-00000``,
``xaa``), ``<name>.part1.tsv``, and any of them with ``.gz`` added. Parts are ordered by
their number (letters as ``split`` counts); the series must be complete (start at ``aa``,
``0`` or ``1``, no gap), else the ingest stops naming the missing part.

The candidates of one table with the best rank win; two of that rank (``title.basics.tsv``
and ``title.basics.tsv.gz``, or a file and its parts) stop the ingest naming both. A
lower-ranked candidate is not read and gets a note. Every other file is looked into: one
that begins with an IMDb header under a name not read here gets a note when its table was
found, and stops the ingest when it was not (name it ``<name>.tsv``). Hidden files and
download leftovers (``*.part``, ``*.meta.json``, ``*.tmp``) are skipped.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ingest.convert import TableFiles, escape
from ingest.schemas import ALL_FILES, BY_NAME

# the text after "<name>." in a whole file's name: "tsv", "tsv.gz" or "<tag>.tsv[.gz]"
_WHOLE = re.compile(r"(?:(?P<tag>.+)\.)?tsv(?:\.gz)?")
# a tag that is really a part number: "part1", "part-aa" (then the name is a part, not a file)
_PART_TAG = re.compile(r"(?:.+[._-])?part[._-]?(?:\d+|[a-z]{2})")
# part id at the end of a name (".gz" already removed); the separator is kept in the stem
_DIGITS_ID = re.compile(r"(?P<stem>.*?)(?P<id>\d+)")
_LETTERS_ID = re.compile(r"(?P<stem>.*)(?P<id>[a-z]{2})")
_SKIPPED_SUFFIXES = (".part", ".meta.json", ".tmp", ".crc")
_MARKERS = {"_SUCCESS", "_committed", "_started"}
_ARCHIVES = (".zip", ".7z", ".rar", ".tar", ".tgz", ".bz2", ".xz", ".zst")
PEEK_BYTES = 1 << 16


class LayoutError(ValueError):
    """A source folder whose files cannot be told apart; ``str()`` is one line."""


@dataclass(frozen=True)
class PartName:
    """A file name that is one part of a split file: ``stem`` + ``id`` (+ ``after``)."""

    stem: str  # everything before the id, its separator included
    id: str  # "aa", "ab", ... or "0", "001", ...
    after: str = ""  # ".tsv" / ".tsv.gz" when the id comes before the extension
    tagged: bool = False  # <name>.<tag>.tsv... (ranks after an exact name)

    @property
    def series(self) -> str:
        """The name of the series with the id left out, e.g. ``title.akas.tsv.part-{}``."""
        return f"{self.stem}{{}}{self.after}"

    def sort_key(self) -> tuple:
        """Order of a series' parts: numbered ids by their number (``part2`` before
        ``part10``), then lettered ids in order (``aa``, ``ab``: ``split``'s suffixes)."""
        return (0, int(self.id), "") if self.id.isdigit() else (1, 0, self.id)


_SUFFIX_STEM = re.compile(r"(?:(?P<tag>.+)\.)?tsv(?:\.gz)?(?:[._-]?part[._-]?|[._-])?")
_INNER_STEM = re.compile(r"(?:(?P<tag>.+)[._-])?part[._-]?")


def part_name(filename: str, imdb_name: str | None = None) -> PartName | None:
    """``PartName`` of ``filename`` if it names a part, else None.

    ``imdb_name`` given: the name must be ``<name>[.<tag>].tsv[.gz]`` + part suffix, or
    ``<name>[.<tag>].part<id>.tsv[.gz]``. None (inside a table folder): any stem.
    """
    body = filename.removesuffix(".gz")
    if imdb_name is not None:
        prefix = imdb_name + "."
        if not filename.startswith(prefix):
            return None
        for ext in (".tsv", ".tsv.gz"):  # title.akas.part1.tsv, title.akas.v2.part-aa.tsv.gz
            if filename.endswith(ext):
                inner = filename[len(prefix) : -len(ext)]
                m = _DIGITS_ID.fullmatch(inner) or _LETTERS_ID.fullmatch(inner)
                stem = m and _INNER_STEM.fullmatch(m["stem"])
                if m and stem:  # (stem implies m; said again for mypy)
                    return PartName(prefix + m["stem"], m["id"], ext, stem["tag"] is not None)
    m = _DIGITS_ID.fullmatch(body) or _LETTERS_ID.fullmatch(body)
    if m is None:
        return None
    if imdb_name is not None:
        stem = _SUFFIX_STEM.fullmatch(m["stem"][len(imdb_name) + 1 :])
        if stem is None:
            return None
        return PartName(m["stem"], m["id"], "", stem["tag"] is not None)
    if not m["stem"] and m["id"].isalpha():
        return None  # a bare two-letter name is no part of anything
    return PartName(m["stem"], m["id"])


def order_parts(paths: list[Path], where: str, imdb_name: str | None = None) -> list[Path]:
    """``paths`` (one series; names as ``part_name(name, imdb_name)`` reads them) in read
    order; ``LayoutError`` if a part is missing or doubled.

    Numbers count from 0 or 1 without a gap; letters are ``split``'s: ``aa``, ``ab``, ...
    """
    named: list[tuple[PartName, Path]] = []
    for p in paths:
        n = part_name(p.name, imdb_name)
        assert n is not None, p  # callers pass parts only (folder_files, scan_folder)
        named.append((n, p))
    named.sort(key=lambda item: item[0].sort_key())
    ids = [n.id for n, _ in named]
    if all(i.isdigit() for i in ids):
        numbers = [int(i) for i in ids]
        expected = list(range(numbers[0], numbers[0] + len(numbers)))
        first_ok = numbers[0] in (0, 1)
    elif all(i.isalpha() for i in ids):
        numbers = [(ord(i[0]) - 97) * 26 + ord(i[1]) - 97 for i in ids]
        expected = list(range(len(numbers)))
        first_ok = True
    else:
        raise LayoutError(
            f"{where}: {_list(p.name for p in paths)} mix numbered and lettered part names; "
            "keep the parts of one split file only"
        )
    if not first_ok or numbers != expected:
        gap = _first_missing(numbers, expected, named[0][0])
        raise LayoutError(
            f"{where}: the parts {_list(p.name for _, p in named)} are not a complete series "
            f"({gap}); put the missing part back, or replace the parts by the whole file"
        )
    return [p for _, p in named]


def _first_missing(numbers: list[int], expected: list[int], sample: PartName) -> str:
    seen = set(numbers)
    if len(seen) < len(numbers):
        return "a part number appears twice"
    if numbers[0] not in (0, 1) and sample.id.isdigit():
        return f"the first is numbered {numbers[0]}, not 0 or 1"
    missing = next(n for n in expected if n not in seen)
    if sample.id.isdigit():
        label = str(missing).zfill(len(sample.id)) if sample.id.startswith("0") else str(missing)
    else:
        label = chr(97 + missing // 26) + chr(97 + missing % 26)
    return f"{sample.series.format(label)} is missing"


def _list(names) -> str:
    names = list(names)
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")


@dataclass
class _Candidate:
    rank: int  # 0 exact name, 1 tagged
    files: TableFiles | list[Path] | None  # None: a folder, list: parts; resolved to TableFiles
    what: str  # how messages name it


@dataclass
class Layout:
    """What ``scan_folder`` found: a ``TableFiles`` per IMDb name, and lines to report."""

    tables: dict[str, TableFiles] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # one line each: read nothing, say why
    unknown_headers: dict[str, list[Path]] = field(default_factory=dict)  # name -> files
    subfolders: list[Path] = field(default_factory=list)  # other folders holding IMDb names


def _is_skipped(name: str) -> bool:
    return name.startswith(".") or name.endswith(_SKIPPED_SUFFIXES) or name in _MARKERS


def _table_of(name: str) -> tuple[str, int] | None:
    """(IMDb name, rank) of a whole file or table folder called ``name``."""
    for spec in ALL_FILES:
        if name == spec.name:
            return spec.name, 0  # a folder called "title.basics"
        if not name.startswith(spec.name + "."):
            continue
        m = _WHOLE.fullmatch(name[len(spec.name) + 1 :])
        if m is None:
            continue
        if m["tag"] is None:
            return spec.name, 0
        if _PART_TAG.fullmatch(m["tag"]):
            return None  # title.akas.part1.tsv: a part
        return spec.name, 1
    return None


def _part_of(name: str) -> tuple[str, PartName] | None:
    for spec in ALL_FILES:
        part = part_name(name, spec.name)
        if part is not None:
            return spec.name, part
    return None


def folder_files(folder: Path, imdb_name: str) -> TableFiles:
    """The data of a folder named like ``imdb_name``: its one data file or its parts."""
    entries = sorted(folder.iterdir())
    files = [p for p in entries if p.is_file() and not _is_skipped(p.name)]
    label = f"{folder}: a folder named like {imdb_name}"
    if not files:
        held = _list(p.name + ("/" if p.is_dir() else "") for p in entries) or "nothing"
        raise LayoutError(
            f"{label} holds no data file ({held}); put that table's .tsv or .tsv.gz file in it, "
            f"or pass the file itself as {folder.parent}/{imdb_name}.tsv[.gz]"
        )
    if len(files) == 1:
        (only,) = files
        data_name = only.name.lower().endswith((".tsv", ".gz"))
        if not data_name and peek_header(only) != imdb_name:
            hint = (
                "unpack it into the folder"
                if only.name.lower().endswith(_ARCHIVES)
                else "put that table's .tsv or .tsv.gz file in it"
            )
            raise LayoutError(
                f"{label} holds only {escape(only.name)}, which is neither a .tsv or .gz file "
                f"nor begins with the {imdb_name} header; {hint}, or pass the file itself as "
                f"{folder.parent}/{imdb_name}.tsv[.gz]"
            )
        return TableFiles((only,), root=folder.parent)
    parts = [(part_name(p.name), p) for p in files]
    series = {n.series for n, _ in parts if n is not None}
    if any(n is None for n, _ in parts) or len(series) != 1:
        raise LayoutError(
            f"{label} holds {len(files)} files that are not the parts of one file "
            f"({_list(p.name for p in files)}); keep its one data file (or the parts of one "
            "split file) in it"
        )
    return TableFiles(tuple(order_parts(files, label)), root=folder.parent)


def _holds_imdb_names(folder: Path) -> bool:
    """A folder (not named like a table) with a file or folder named like a table in it."""
    try:
        return any(_table_of(p.name) or _part_of(p.name) for p in folder.iterdir())
    except OSError:
        return False


def peek_header(path: Path) -> str | None:
    """The IMDb name whose exact header begins ``path`` (a BOM allowed), else None."""
    try:
        with path.open("rb") as raw:
            start = raw.read(PEEK_BYTES)
        if start[:2] == b"\x1f\x8b":
            start = zlib.decompressobj(wbits=31).decompress(start, PEEK_BYTES)
    except (OSError, zlib.error, EOFError, gzip.BadGzipFile):
        return None
    line = start.split(b"\n", 1)[0].rstrip(b"\r").removeprefix(b"\xef\xbb\xbf")
    for spec in ALL_FILES:
        if line == "\t".join(spec.header).encode():
            return spec.name
    return None


def scan_folder(directory: Path, tables: set[str] | None = None) -> Layout:
    """Find every IMDb table in ``directory`` (see the module docstring).

    ``tables``: the IMDb names to resolve (default all); any other is left out of
    ``Layout.tables`` without an error. Raises ``LayoutError`` (one line) when a table asked
    for cannot be told apart (two equal candidates, a broken part series, an unusable
    folder), or when a file under a name not read here begins with the header of a table
    asked for that has no file of its own.
    """
    wanted = set(BY_NAME) if tables is None else set(tables)
    layout = Layout()
    candidates: dict[str, list[_Candidate]] = {}
    series: dict[tuple[str, int, str], list[Path]] = {}
    unknown: list[Path] = []
    for entry in sorted(directory.iterdir()):
        name = entry.name
        if _is_skipped(name):
            continue
        whole = _table_of(name)
        if entry.is_dir():
            if whole is not None:
                candidates.setdefault(whole[0], []).append(
                    _Candidate(whole[1], None, f"{name}/")
                )  # resolved below, if asked for
            elif _holds_imdb_names(entry):
                layout.subfolders.append(entry)
                layout.notes.append(
                    f"{entry}/ holds IMDb files; not read (only {directory} itself is): pass "
                    f"--source {entry} to read them"
                )
            continue
        if not entry.is_file():
            continue
        if whole is not None:
            candidates.setdefault(whole[0], []).append(
                _Candidate(whole[1], TableFiles((entry,), root=directory), name)
            )
            continue
        part = _part_of(name)
        if part is not None:
            imdb_name, named = part
            series.setdefault((imdb_name, int(named.tagged), named.series), []).append(entry)
            continue
        unknown.append(entry)
    for (imdb_name, rank, pattern), paths in series.items():
        what = f"{pattern.format('*')} ({len(paths)} parts)"
        candidates.setdefault(imdb_name, []).append(_Candidate(rank, paths, what))
    for imdb_name in [spec.name for spec in ALL_FILES if spec.name in candidates]:
        found = sorted(candidates[imdb_name], key=lambda c: c.rank)
        best = [c for c in found if c.rank == found[0].rank]
        if imdb_name not in wanted:
            continue
        if len(best) > 1:
            raise LayoutError(
                f"ambiguous {imdb_name} in {directory}: {' and '.join(c.what for c in best)} "
                "match equally; remove or rename all but one"
            )
        chosen = best[0]
        if isinstance(chosen.files, list):
            ordered = order_parts(chosen.files, f"{directory}: {imdb_name}", imdb_name)
            chosen.files = TableFiles(tuple(ordered), root=directory)
        elif chosen.files is None:
            chosen.files = folder_files(directory / chosen.what.rstrip("/"), imdb_name)
        layout.tables[imdb_name] = chosen.files
        for other in found[len(best) :]:
            layout.notes.append(
                f"{directory / other.what}: not read, {chosen.what} is (an exact name wins over "
                f"a tagged one); move it out of the source to silence this"
            )
    for path in unknown:
        header = peek_header(path)
        if header is not None:
            layout.unknown_headers.setdefault(header, []).append(path)
    for imdb_name, paths in layout.unknown_headers.items():
        names = _list(escape(p.name) for p in paths)
        if imdb_name in layout.tables:
            layout.notes.append(
                f"{directory}: {names} begin{'s' if len(paths) == 1 else ''} with the "
                f"{imdb_name} header but {'is' if len(paths) == 1 else 'are'} not read "
                f"({layout.tables[imdb_name].name} is); move {'it' if len(paths) == 1 else 'them'} "
                "out of the source to silence this"
            )
        elif imdb_name in wanted:
            raise LayoutError(
                f"{directory / paths[0].name}: begins with the {imdb_name} header but its name "
                f"is not one the ingest reads; rename it {imdb_name}.tsv (or {imdb_name}.tsv.gz "
                f"if gzipped; the parts of a split file {imdb_name}.tsv.part-aa, -ab, ...)"
            )
        else:
            layout.notes.append(
                f"{directory}: {names} begin{'s' if len(paths) == 1 else ''} with the "
                f"{imdb_name} header; not read ({imdb_name} was not asked for)"
            )
    return layout


def select_names(names: list[str], where: str, tables: set[str] | None = None) -> dict[str, str]:
    """IMDb name -> the object to read, among the names of a remote listing (S3).

    Whole files only, ranked as in a folder (an exact name wins, two of the best rank raise
    ``LayoutError``). Parts and folders per table (names ending in ``/``) of a table asked
    for raise ``LayoutError`` when the table has no whole file: they are read from a folder
    source only (nothing that looks like a table is passed over in silence).
    """
    wanted = set(BY_NAME) if tables is None else set(tables)
    whole: dict[str, list[tuple[int, str]]] = {}
    other: dict[str, list[str]] = {}
    for name in names:
        if name.endswith("/"):
            found = _table_of(name[:-1])
            if found is not None:
                other.setdefault(found[0], []).append(name)
            continue
        found = _table_of(name)
        if found is not None:
            whole.setdefault(found[0], []).append((found[1], name))
            continue
        part = _part_of(name)
        if part is not None:
            other.setdefault(part[0], []).append(name)
    chosen: dict[str, str] = {}
    for spec in ALL_FILES:
        if spec.name not in wanted:
            continue
        candidates = sorted(whole.get(spec.name, ()))
        if not candidates:
            if spec.name in other:
                raise LayoutError(
                    f"{where}: {spec.name} is there only as {_list(other[spec.name])}: parts and "
                    "folders per table are read from a folder source; download them into a "
                    f"folder and pass it as --source, or upload the whole {spec.name}.tsv.gz"
                )
            continue
        best = [name for rank, name in candidates if rank == candidates[0][0]]
        listed = best + other.get(spec.name, [])  # a whole file and parts: which one?
        if len(listed) > 1:
            raise LayoutError(
                f"ambiguous {spec.name} file in {where}: {' and '.join(listed)} match equally; "
                "remove or rename all but one"
            )
        chosen[spec.name] = best[0]
    return chosen
