"""Convert one IMDb TSV(.gz) file into typed Arrow batches, quarantining bad rows.

Pure with respect to Spark: this module only reads text and yields Arrow data, so it is
tested on small in-memory files. ``ingest.lake`` decides where the batches land.

Rules (each has a test):
- the header must be exactly the IMDb header of that file, else ``HeaderError``;
- quoting is off (titles hold bare ``"``), ``\\N`` is null;
- a row with the wrong number of columns, an unparsable number or a missing key goes to
  the rejects with its physical line number (header = line 1), the raw line and a reason;
- rows read = rows written + rows rejected, per file;
- a truncated or corrupt gzip stops with ``CorruptFileError`` naming the file.

Speed: parsing is single-threaded per file (``use_threads=False``: only then does pyarrow
report the physical line of a row with the wrong column count); ``ingest.lake`` converts
several files at once to keep both cores busy. The checks take the cheap vectorised path
when a batch is clean (null counts, a plain cast) and fall back to the exact regular
expressions only for a batch that holds a bad value, to name the bad rows.
"""

from __future__ import annotations

import bisect
import gzip
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ingest.schemas import NULL, ImdbFile

BLOCK_SIZE = 8 << 20  # bytes of text parsed per Arrow batch

ARROW_TYPES = {
    "string": pa.string(),
    "int": pa.int32(),
    "bool": pa.bool_(),
    "rating": pa.decimal128(3, 1),
    "list": pa.list_(pa.string()),
    "list02": pa.list_(pa.string()),
}
LIST_SEPARATORS = {"list": ",", "list02": "\x02"}
_VALIDATORS = {
    "int": r"^-?[0-9]{1,9}$",
    "bool": r"^[01]$",
    "rating": r"^(10(\.0)?|[0-9](\.[0-9])?)$",
}
# Identifier columns must look like IMDb's ids wherever they are set (at most 18 digits: the
# number must fit a 64-bit integer, the tconst buckets are computed from it).
_ID_PATTERNS = {
    "tconst": r"^tt[0-9]{1,18}$",
    "parent_tconst": r"^tt[0-9]{1,18}$",
    "nconst": r"^nm[0-9]{1,18}$",
}
_ID_PREFIXES = {"tconst": b"tt", "parent_tconst": b"tt", "nconst": b"nm"}
# Columns that may not be null: the key of every file, and both numbers of a rating.
_NOT_NULL_EXTRA = {"title.ratings": ("average_rating", "num_votes")}


class InputError(Exception):
    """A file that cannot be ingested; ``str()`` is one line naming the file."""


class HeaderError(InputError):
    pass


class CorruptFileError(InputError):
    pass


def arrow_schema(spec: ImdbFile) -> pa.Schema:
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.kind]) for c in spec.columns])


REJECTS_SCHEMA = pa.schema(
    [
        pa.field("file", pa.string()),
        pa.field("line", pa.int64()),
        pa.field("raw_line", pa.string()),
        pa.field("reason", pa.string()),
    ]
)


@dataclass
class FileStats:
    file: str
    rows_read: int = 0
    rows_written: int = 0
    rows_rejected: int = 0
    rejects: list[dict] = field(default_factory=list)  # not yet written out (one batch's worth)
    bytes_in: int = 0  # bytes of the file itself consumed so far (compressed, for a .gz)
    text_bytes: int = 0  # bytes of text parsed so far (uncompressed)

    def add_reject(self, line: int | None, raw: str, reason: str) -> None:
        self.rows_rejected += 1
        self.rejects.append({"file": self.file, "line": line, "raw_line": raw, "reason": reason})


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def read_header(path: Path) -> list[str]:
    try:
        with _open_text(path) as fh:
            first = fh.readline()
    except PermissionError as exc:  # not damaged: fetching it again would not help
        raise InputError(
            f"{path}: permission denied: this user cannot read the file; make it readable "
            f"(e.g. chmod a+r {path}) or run as a user who can read it"
        ) from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptFileError(f"{path}: cannot read the file ({exc}); fetch it again") from exc
    return first.decode("utf-8", errors="replace").rstrip("\r\n").split("\t")


def check_header(path: Path, spec: ImdbFile) -> None:
    found = read_header(path)
    if found != spec.header:
        raise HeaderError(
            f"{path}: header does not match {spec.name}: expected {'|'.join(spec.header)} "
            f"found {'|'.join(found)}"
        )


class _LineMap:
    """Map the index of a parsed (valid-width) row to its physical line number.

    pyarrow reports the physical line of each row it skips for having the wrong width; a
    parsed row's line is its index + 2 (header, 1-based) plus the skipped lines before it.
    Lookups come in increasing order, so the skipped lines before the last parsed row are
    folded into a count (``forget_before``): memory stays bounded on a file full of bad rows.
    """

    def __init__(self) -> None:
        self.skipped = array("q")  # physical lines skipped, increasing (parsing is serial)
        self.dropped = 0  # skipped lines already folded into a count, all before later lookups

    def line_of(self, parsed_index: int) -> int:
        line = parsed_index + 2 + self.dropped
        seen = 0
        while True:
            before = bisect.bisect_right(self.skipped, line)
            if before == seen:
                return line
            line += before - seen
            seen = before

    def forget_before(self, line: int) -> None:
        cut = bisect.bisect_left(self.skipped, line)
        if cut:
            self.dropped += cut
            del self.skipped[:cut]


def _gzip_damage(path: Path, message: str) -> str | None:
    """Why the gzip ``path`` is damaged, or None if it is whole (or not a gzip).

    Called only when parsing failed: garbage from a corrupt deflate stream can break a
    row (invalid UTF-8) before zlib reaches the checksum, so the stream is checked to the end.
    """
    lowered = message.lower()
    if any(word in lowered for word in ("gzip", "compress", "zlib", "inflate")):
        return message
    if path.suffix != ".gz":
        return None
    try:
        with gzip.open(path, "rb") as fh:
            while fh.read(16 << 20):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        return str(exc) or type(exc).__name__
    return None


def read_file(
    path: Path, spec: ImdbFile, stats: FileStats, block_size: int = BLOCK_SIZE
) -> Iterator[pa.RecordBatch]:
    """Yield typed batches of ``spec``'s columns; bad rows land in ``stats``.

    ``stats.bytes_in`` (bytes of the file consumed) and ``stats.text_bytes`` (bytes of text
    parsed) advance with every batch, for progress reports.
    """
    check_header(path, spec)
    names = spec.header
    width = len(names)
    lines = _LineMap()
    stats.text_bytes = len("\t".join(names)) + 1

    def on_invalid(row) -> str:
        lines.skipped.append(row.number)  # increasing: parsing is single-threaded
        stats.rows_read += 1
        stats.text_bytes += len(row.text.encode("utf-8", errors="replace")) + 1
        stats.add_reject(
            row.number, row.text, f"expected {width} columns, found {row.actual_columns}"
        )
        return "skip"

    raw = None
    try:
        raw = pa.OSFile(str(path))
        stream = pa.CompressedInputStream(raw, "gzip") if path.suffix == ".gz" else raw
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                column_names=names, skip_rows=1, block_size=block_size, use_threads=False
            ),
            parse_options=pacsv.ParseOptions(
                delimiter="\t",
                quote_char=False,
                escape_char=False,
                double_quote=False,
                newlines_in_values=False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                null_values=[NULL],
                strings_can_be_null=True,
            ),
        )
        parsed = 0
        for batch in reader:
            stats.bytes_in = raw.tell()
            stats.text_bytes += _text_bytes(batch)
            typed, bad = _type_batch(batch, spec)
            stats.rows_read += batch.num_rows
            for index, reason in bad:
                raw_line = "\t".join(
                    NULL if v is None else v for v in batch.slice(index, 1).to_pylist()[0].values()
                )
                stats.add_reject(lines.line_of(parsed + index), raw_line, reason)
            parsed += batch.num_rows
            if parsed:
                lines.forget_before(lines.line_of(parsed - 1))
            stats.rows_written += typed.num_rows
            if typed.num_rows:
                yield typed
        stats.bytes_in = raw.tell()
    except pa.ArrowInvalid as exc:
        message = str(exc).splitlines()[0]
        damage = _gzip_damage(path, message)
        if damage:
            raise CorruptFileError(
                f"{path}: truncated or corrupt gzip ({damage}); fetch the file again"
            ) from exc
        raise InputError(f"{path}: {message}") from exc
    except (OSError, EOFError, zlib.error) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CorruptFileError(
            f"{path}: truncated or corrupt file ({message}); fetch the file again"
        ) from exc
    finally:
        if raw is not None:
            raw.close()


def _text_bytes(batch: pa.RecordBatch) -> int:
    """Bytes of text behind a batch of string columns: values, ``\\N`` for nulls, tabs, newlines."""
    total = batch.num_rows * batch.num_columns  # the tabs between columns and the newline
    for values in batch.columns:
        if len(values):
            offsets = np.frombuffer(
                values.buffers()[1], np.int32, count=len(values) + 1, offset=values.offset * 4
            )
            total += int(offsets[-1] - offsets[0]) + 2 * values.null_count
    return total


def _type_batch(batch: pa.RecordBatch, spec: ImdbFile) -> tuple[pa.RecordBatch, list]:
    """Check and cast the string columns of one batch.

    Returns (the typed valid rows, [(index, reason)] of the others). A clean batch costs a
    null count and one cheap check per checked column; the exact rule (a regular expression)
    only runs on a column that failed the cheap check, and names the bad rows.
    """
    reasons: dict[int, str] = {}
    not_null = {spec.key, *_NOT_NULL_EXTRA.get(spec.name, ())}
    converted: dict[str, pa.Array | None] = {}
    for column in spec.columns:
        values = batch.column(column.imdb_name)
        if column.name in not_null and values.null_count:
            _note(reasons, pc.is_null(values), f"{column.imdb_name} is missing")
        typed, invalid = _check(values, column)
        converted[column.name] = typed
        if invalid is not None:
            _note(reasons, invalid, f"{column.imdb_name} is not a valid {_what(column)}", values)
    if reasons:
        keep = np.ones(batch.num_rows, dtype=bool)
        keep[list(reasons)] = False
        keep = pa.array(keep)
        arrays = [
            pc.filter(converted[c.name], keep)
            if converted[c.name] is not None
            else _convert(pc.filter(batch.column(c.imdb_name), keep), c.kind)
            for c in spec.columns
        ]
    else:
        arrays = [
            converted[c.name]
            if converted[c.name] is not None
            else _convert(batch.column(c.imdb_name), c.kind)
            for c in spec.columns
        ]
    typed = pa.RecordBatch.from_arrays(arrays, schema=arrow_schema(spec))
    return typed, sorted(reasons.items())


def _check(values: pa.Array, column) -> tuple[pa.Array | None, pa.Array | None]:
    """(typed values if already cast, mask of set values breaking the rule or None)."""
    pattern = _ID_PATTERNS.get(column.name) or _VALIDATORS.get(column.kind)
    if pattern is None:
        return None, None
    if column.kind == "int" and column.name not in _ID_PATTERNS:
        # A string of at most 9 characters that casts to int32 is exactly -?[0-9]{1,9}.
        try:
            typed = pc.cast(values, pa.int32())
        except pa.ArrowInvalid:
            typed = None
        if typed is not None and (pc.max(pc.binary_length(values)).as_py() or 0) <= 9:
            return typed, None
        return None, _breaks(values, pattern)
    if column.kind == "bool":
        is_one = pc.equal(values, "1")
        if pc.or_(is_one, pc.equal(values, "0")).false_count == 0:
            return is_one, None
        return None, _breaks(values, pattern)
    if column.name in _ID_PATTERNS and _ids_look_right(values, _ID_PREFIXES[column.name]):
        return None, None
    return None, _breaks(values, pattern)


def _ids_look_right(values: pa.Array, prefix: bytes) -> bool:
    """True if every value is ``prefix`` + 1-18 ASCII digits, checked over the raw buffers.

    Exactly the rule of ``_ID_PATTERNS`` for a column without nulls, at a few ns a value
    (the regular expression costs ~60): each value is 3-20 bytes long, starts with the
    two-letter prefix, and the column's text holds no other non-digit byte than those two
    per value. False sends the column to the regular expression, which names the bad rows.
    """
    n = len(values)
    if n == 0 or values.null_count:
        return n == 0
    _, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int32, count=n + 1, offset=values.offset * 4)
    lengths = np.diff(offsets)
    if data_buffer is None or lengths.min() < 3 or lengths.max() > 20:
        return False
    data = np.frombuffer(data_buffer, np.uint8)
    starts = offsets[:-1]
    if not ((data[starts] == prefix[0]).all() and (data[starts + 1] == prefix[1]).all()):
        return False
    text = data[offsets[0] : offsets[-1]]
    return int(np.count_nonzero((text - 48) > 9)) == 2 * n  # uint8: '0'..'9' -> 0..9


def _breaks(values: pa.Array, pattern: str) -> pa.Array | None:
    ok = pc.match_substring_regex(values, pattern)
    return _invalid_of(ok) if ok.false_count else None


def _invalid_of(ok: pa.Array) -> pa.Array:
    return pc.fill_null(pc.invert(ok), False)


def _what(column) -> str:
    return "id" if column.name in _ID_PATTERNS else column.kind


def _note(reasons: dict[int, str], mask: pa.Array, reason: str, values: pa.Array | None = None):
    for index in pc.indices_nonzero(mask).to_pylist():
        if index not in reasons:
            shown = f": {values[index].as_py()!r}" if values is not None else ""
            reasons[index] = reason + shown


def _convert(values: pa.Array, kind: str) -> pa.Array:
    if kind == "string":
        return values
    if kind == "int":
        return pc.cast(values, pa.int32())
    if kind == "bool":
        return pc.equal(values, "1")
    if kind == "rating":
        return pc.cast(values, pa.decimal128(3, 1))
    return pc.split_pattern(values, LIST_SEPARATORS[kind])
