"""Convert one IMDb TSV(.gz) file into typed Arrow batches, quarantining bad rows.

Pure with respect to Spark: this module only reads text and yields Arrow data, so it is
tested on small in-memory files. ``ingest.lake`` decides where the batches land.

Rules (each has a test):
- the header must be exactly the IMDb header of that file, else ``HeaderError``;
- quoting is off (titles hold bare ``"``), ``\\N`` is null;
- a row with the wrong number of columns, an unparsable number or a missing key goes to
  the rejects with its physical line number (header = line 1), the raw line and a reason;
- rows read = rows written + rows rejected, per file.
"""

from __future__ import annotations

import bisect
import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

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
# Identifier columns must look like IMDb's ids wherever they are set.
_ID_PATTERNS = {"tconst": r"^tt[0-9]+$", "parent_tconst": r"^tt[0-9]+$", "nconst": r"^nm[0-9]+$"}
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
    rejects: list[dict] = field(default_factory=list)  # the first MAX_KEPT are kept in memory

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
    """

    def __init__(self) -> None:
        self.skipped: list[int] = []

    def line_of(self, parsed_index: int) -> int:
        line = parsed_index + 2
        seen = 0
        while True:
            before = bisect.bisect_right(self.skipped, line)
            if before == seen:
                return line
            line += before - seen
            seen = before


def read_file(
    path: Path, spec: ImdbFile, stats: FileStats, block_size: int = BLOCK_SIZE
) -> Iterator[pa.RecordBatch]:
    """Yield typed batches of ``spec``'s columns; bad rows land in ``stats``."""
    check_header(path, spec)
    names = spec.header
    width = len(names)
    lines = _LineMap()

    def on_invalid(row) -> str:
        lines.skipped.append(row.number)  # increasing: parsing is single-threaded
        stats.rows_read += 1
        stats.add_reject(
            row.number, row.text, f"expected {width} columns, found {row.actual_columns}"
        )
        return "skip"

    try:
        reader = pacsv.open_csv(
            pa.input_stream(str(path), compression="detect"),
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
            typed, bad = _type_batch(batch, spec)
            stats.rows_read += batch.num_rows
            for index, reason in bad:
                raw = "\t".join(NULL if v is None else v for v in batch.slice(index, 1).to_pylist()[0].values())
                stats.add_reject(lines.line_of(parsed + index), raw, reason)
            parsed += batch.num_rows
            stats.rows_written += typed.num_rows
            if typed.num_rows:
                yield typed
    except pa.ArrowInvalid as exc:
        message = str(exc).splitlines()[0]
        if "gzip" in message.lower() or "compress" in message.lower():
            raise CorruptFileError(
                f"{path}: truncated or corrupt gzip ({message}); fetch the file again"
            ) from exc
        raise InputError(f"{path}: {message}") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptFileError(
            f"{path}: truncated or corrupt file ({exc}); fetch the file again"
        ) from exc


def _type_batch(batch: pa.RecordBatch, spec: ImdbFile) -> tuple[pa.RecordBatch, list]:
    """Cast the string columns of one batch; return (typed valid rows, [(index, reason)])."""
    n = batch.num_rows
    bad = pa.array([False] * n) if n else pa.array([], pa.bool_())
    reasons: dict[int, str] = {}
    not_null = {spec.key, *_NOT_NULL_EXTRA.get(spec.name, ())}
    for column in spec.columns:
        values = batch.column(column.imdb_name)
        if column.name in not_null:
            missing = pc.is_null(values)
            if pc.any(missing).as_py():
                _note(reasons, missing, f"{column.imdb_name} is missing")
                bad = pc.or_(bad, missing)
        pattern = _ID_PATTERNS.get(column.name) or _VALIDATORS.get(column.kind)
        if pattern is not None:
            invalid = pc.and_(pc.is_valid(values), pc.invert(pc.match_substring_regex(values, pattern)))
            invalid = pc.fill_null(invalid, False)
            if pc.any(invalid).as_py():
                _note(reasons, invalid, f"{column.imdb_name} is not a valid {_what(column)}", values)
                bad = pc.or_(bad, invalid)
    keep = pc.invert(bad)
    good = batch.filter(keep) if reasons else batch
    arrays = [_convert(good.column(c.imdb_name), c.kind) for c in spec.columns]
    typed = pa.RecordBatch.from_arrays(arrays, schema=arrow_schema(spec))
    return typed, sorted(reasons.items())


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
