"""Convert one IMDb TSV(.gz) file (or the parts of one) into typed Arrow batches,
quarantining bad rows.

Pure with respect to Spark: this module only reads text and yields Arrow data, so it is
tested on small in-memory files. ``ingest.lake`` decides where the batches land.

Rules (each has a test):
- the header must be exactly the IMDb header of that file (a UTF-8 byte order mark before
  it is accepted), else ``HeaderError``; a file of 0 bytes (or a gzip of no text) stops with
  ``EmptyFileError``, a required table with only its header with ``NoRowsError``;
- quoting is off (titles hold bare ``"``), ``\\N`` is null;
- a row with the wrong number of columns, an unparsable number, a missing key or bytes that
  are not UTF-8 goes to the rejects with its physical line number (header = line 1; for
  parts, the part and its line), the raw line (bytes that are not UTF-8 as ``\\xNN``) and
  a reason naming the IMDb column;
- rows read = rows written + rows rejected, per file;
- a truncated or corrupt gzip stops with ``CorruptFileError`` naming the file;
- every message that quotes file content shows invisible and control characters escaped
  (``escape``).

Speed: parsing is single-threaded per file (``use_threads=False``: only then does pyarrow
report the physical line of a row with the wrong column count); ``ingest.lake`` converts
several files at once to keep both cores busy. The checks take the cheap vectorised path
when a batch is clean (null counts, a plain cast) and fall back to the exact regular
expressions only for a batch that holds a bad value, to name the bad rows. Text is read as
UTF-8 strings, validated by pyarrow as it parses; only when a batch holds bytes that are not
UTF-8 is the file read again as bytes from where it stopped (the rows already given out are
skipped), and each text column of a batch is then checked on its own.

pyarrow decodes the text of a row with the wrong column count strictly before it calls the
handler, so such a row that also holds a byte that is not UTF-8 would stop the whole read
(``UnicodeDecodeError`` inside pyarrow). ``_lenient_row_text`` makes that one decoding
lenient (``surrogateescape``: the bytes come back exactly); it is installed on import and
pinned by a test.
"""

from __future__ import annotations

import bisect
import gzip
import io
import zlib
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow._csv as _pyarrow_csv
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ingest.schemas import INGEST_REJECTS, NULL, ImdbFile

BLOCK_SIZE = 8 << 20  # bytes of text parsed per Arrow batch
PEEK_BYTES = 1 << 16  # bytes read to check a header and that rows follow it
BOM = b"\xef\xbb\xbf"
GZIP_MAGIC = b"\x1f\x8b"

LIST_SEPARATORS = {"list": ",", "list02": "\x02"}
_VALIDATORS = {
    "int": r"^-?[0-9]{1,9}$",
    "bool": r"^[01]$",
    "rating": r"^(10(\.0)?|[0-9](\.[0-9])?)$",
}
# Identifier columns must look like IMDb's ids wherever they are set (at most 18 digits: the
# number must fit a 64-bit integer, the tconst buckets are computed from it).
ID_PATTERNS = {
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
    """A file's first line is not IMDb's header of its table; the message shows both, with
    invisible characters escaped, and where the columns first differ."""


class CorruptFileError(InputError):
    """A file that cannot be read to its end: a truncated or corrupt gzip, or a read error;
    the message says to fetch it again."""


class EmptyFileError(InputError):
    """A file with no text at all (0 bytes, or a gzip of nothing)."""


class NoRowsError(InputError):
    """A table that must have rows has none (only its header, or every row rejected)."""


def escape(text: str) -> str:
    """``text`` fit to quote in a message: invisible and control characters escaped.

    Printable characters stay as they are (``é``, ``東京``); everything else is written as
    Python writes it in a string literal: ``\\t``, ``\\x02``, ``\\ufeff``, ``\\xa0``. Bytes
    that were not UTF-8 (``surrogateescape``) show as ``\\xNN``.
    """
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char.isprintable():
            out.append(char)
        elif 0xDC80 <= ord(char) <= 0xDCFF:  # an undecodable byte kept by surrogateescape
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        else:
            out.append(repr(char)[1:-1])
    return "".join(out)


def header_difference(found: list[str], expected: list[str]) -> str:
    """Where a header line's columns first differ from IMDb's, each column quoted, so that
    what the ``a|b|c`` summary cannot show is told: a trailing space, a ``|``-separated line
    (one column where three are expected), a missing or extra column."""
    if len(found) != len(expected):
        what = (
            f"{len(found)} tab-separated column{'s' if len(found) != 1 else ''} where "
            f"{len(expected)} are expected"
        )
        if len(found) == 1:
            return f"{what}: '{escape(found[0])}'"
    else:
        what = ""
    for number, (got, wanted) in enumerate(zip(found, expected, strict=False), start=1):
        if got != wanted:
            column = f"column {number} is '{escape(got)}' where '{wanted}' is expected"
            return f"{what}; {column}" if what else column
    extra = found[len(expected) :]
    return f"{what}; extra: " + ", ".join(f"'{escape(c)}'" for c in extra) if extra else what


def _as_text(raw: bytes) -> str:
    """Bytes of a line as text; bytes that are not UTF-8 as ``\\xNN``."""
    return raw.decode("utf-8", errors="backslashreplace")


def _lenient_row_text(original: Callable) -> Callable:
    def frombytes(o, *, safe=False):
        try:
            return original(o, safe=safe)
        except UnicodeDecodeError:
            return bytes(o).decode("utf-8", errors="surrogateescape")

    frombytes.lenient = True  # type: ignore[attr-defined]  # our marker, see getattr below
    return frombytes


_frombytes = getattr(_pyarrow_csv, "frombytes", None)
if _frombytes is not None and not getattr(_frombytes, "lenient", False):
    _pyarrow_csv.frombytes = _lenient_row_text(_frombytes)


def arrow_schema(spec: ImdbFile) -> pa.Schema:
    """The Arrow schema of a converted batch of ``spec``: its columns, typed (ingest.schemas)."""
    return spec.lookup.arrow_schema()


REJECTS_SCHEMA = INGEST_REJECTS.arrow_schema()


# --------------------------------------------------------------------------- where the text is


def is_gzip(path: Path) -> bool:
    """True if ``path`` starts like a gzip (whatever its name says)."""
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


@dataclass(frozen=True)
class TableFiles:
    """The file(s) holding one IMDb table: one file, or the parts of one split file in order.

    ``root`` is the source folder: names in messages and rejects are relative to it
    (``title.basics.tsv/data.tsv``). Parts are read as one text: each part that is a gzip is
    inflated on its own (a gzip per part), or, when only the first part is a gzip, the parts
    are the pieces of one gzip cut by bytes and are joined before inflating. A later part that
    begins with a byte order mark or with the same header line as the first has them skipped.
    """

    paths: tuple[Path, ...]
    root: Path | None = None

    @classmethod
    def of(cls, value: TableFiles | Path | str) -> TableFiles:
        """``value`` as a ``TableFiles``: one as it is, a path as a single file (no ``root``)."""
        return value if isinstance(value, TableFiles) else cls((Path(value),))

    def display(self, path: Path) -> str:
        """How rejects and reports name ``path``."""
        if self.root is not None:
            try:
                return str(path.relative_to(self.root))
            except ValueError:
                pass
        return path.name

    @property
    def is_parts(self) -> bool:
        """True when the table is split into several part files."""
        return len(self.paths) > 1

    @property
    def name(self) -> str:
        """``title.ratings.tsv.gz``, ``title.basics.tsv/data.tsv`` or
        ``title.akas.tsv.part-aa .. title.akas.tsv.part-ac (3 parts)``."""
        first = self.display(self.paths[0])
        if not self.is_parts:
            return first
        return f"{first} .. {self.paths[-1].name} ({len(self.paths)} parts)"

    @property
    def size(self) -> int:
        """Bytes of the file(s) as stored (compressed, for a gzip)."""
        return sum(p.stat().st_size for p in self.paths)

    def fingerprint(self) -> list:
        """[path, size, mtime_ns] per file: an unchanged source has the same fingerprint."""
        out = []
        for path in self.paths:
            st = path.stat()
            out.append([str(path.resolve()), st.st_size, st.st_mtime_ns])
        return out[0] if len(out) == 1 else out

    def identity(self) -> list:
        """[device, inode, size, mtime_ns] per file: the same files, wherever they are named
        (a hard link, a renamed or moved file); a copy or a new download is another file."""
        out = []
        for path in self.paths:
            st = path.stat()
            out.append([st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns])
        return out

    def __str__(self) -> str:
        if not self.is_parts:
            return str(self.paths[0])
        return f"{self.paths[0]} .. {self.paths[-1].name}"


class _PartsReader(io.RawIOBase):
    """The parts of one table as one stream of bytes (see ``TableFiles``).

    ``inflate``: each part is a gzip of its own and is inflated on its own; otherwise the
    bytes of the parts are passed as they are (text, or the pieces of one gzip). For text
    (``text=True``), a later part's byte order mark and repeated header line are dropped,
    and the joined lines are mapped back to their part (``locate``).
    """

    def __init__(self, files: TableFiles, *, inflate: bool, text: bool, header: bytes = b""):
        super().__init__()
        self.files = files
        self.inflate = inflate
        self.text = text
        self.header = header
        self._index = -1
        self._raw: io.BufferedReader | None = None
        self._stream: io.BufferedIOBase | None = None  # _raw, or a gzip reading it
        self._done_bytes = 0  # stored bytes of the parts already read through
        self._newlines = 0  # newlines given out so far
        self._last = b"\n"  # last byte given out (a line starts after it)
        # per part: (first joined line starting in it, its line number in the part)
        self._starts: list[tuple[int, int]] = []
        self._open_next()

    def readable(self) -> bool:
        return True

    def _open_next(self) -> bool:
        self._close_part()
        self._index += 1
        if self._index >= len(self.files.paths):
            return False
        path = self.files.paths[self._index]
        self._raw = open(path, "rb")  # noqa: SIM115 - closed in _close_part
        self._stream = gzip.GzipFile(fileobj=self._raw) if self.inflate else self._raw
        if self.text:
            at_line_start = self._last == b"\n"  # else the last part ended inside a line
            first_line = self._newlines + (1 if at_line_start else 2)
            skipped = self._skip_repeats() if self._index and at_line_start else 0
            self._starts.append((first_line, 1 + skipped))
        return True

    def _skip_repeats(self) -> int:
        """Drop a byte order mark and a repeated header at the start of this part; the
        number of lines dropped (0 or 1)."""
        assert self._stream is not None  # called once _open_next opened a part
        self._pending = self._stream.read(len(BOM) + len(self.header) + 2)
        self._pending = self._pending.removeprefix(BOM)
        for end in (b"\n", b"\r\n"):
            if self.header and self._pending.startswith(self.header + end):
                self._pending = self._pending[len(self.header) + len(end) :]
                return 1
        return 0

    def _close_part(self) -> None:
        if self._raw is not None:
            self._done_bytes += self._raw.tell()
            if self._stream is not None and self._stream is not self._raw:  # a gzip over it
                self._stream.close()
            self._raw.close()
        self._raw = self._stream = None
        self._pending = b""

    def readinto(self, buffer) -> int:
        want = len(buffer)
        got = 0
        view = memoryview(buffer)
        while got < want and self._stream is not None:
            if self._pending:
                data, self._pending = self._pending[: want - got], self._pending[want - got :]
            else:
                data = self._stream.read(want - got)
            if not data:
                if not self._open_next():
                    break
                continue
            view[got : got + len(data)] = data
            got += len(data)
            if self.text:
                self._newlines += data.count(b"\n")
                self._last = data[-1:]
        return got

    @property
    def bytes_in(self) -> int:
        """Stored bytes consumed so far (for progress)."""
        return self._done_bytes + (self._raw.tell() if self._raw is not None else 0)

    def locate(self, line: int) -> tuple[str, int]:
        """(part name, line in that part) of a line of the joined text."""
        firsts = [first for first, _ in self._starts]
        index = max(bisect.bisect_right(firsts, line) - 1, 0)
        first, number = self._starts[index]
        return self.files.display(self.files.paths[index]), line - first + number

    def close(self) -> None:
        self._close_part()
        super().close()


def _parts_mode(files: TableFiles) -> str:
    """ "plain", "each" (a gzip per part) or "joined" (one gzip cut into pieces)."""
    gz = [is_gzip(p) for p in files.paths]
    if all(gz):
        return "each"
    if not any(gz):
        return "plain"
    if gz[0] and not any(gz[1:]):
        return "joined"
    which = ", ".join(files.display(p) for p, g in zip(files.paths, gz) if g)
    raise InputError(
        f"{files}: only some parts are gzips ({which}); give the parts of one file, all "
        "gzipped or none"
    )


def open_text(files: TableFiles | Path | str, header: bytes = b""):
    """A binary file object over the text of ``files`` (inflated, parts joined).

    Returns (stream, parts): ``parts`` is the ``_PartsReader`` (for ``locate`` and
    ``bytes_in``) when the text comes from several parts and lines can be told per part, else
    None. Python-level reading: for headers and checks; the conversion uses ``_arrow_input``.
    """
    files = TableFiles.of(files)
    if not files.is_parts:
        path = files.paths[0]
        return (gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")), None
    mode = _parts_mode(files)
    if mode == "joined":
        return gzip.GzipFile(fileobj=_PartsReader(files, inflate=False, text=False)), None
    reader = _PartsReader(files, inflate=mode == "each", text=True, header=header)
    return io.BufferedReader(reader, buffer_size=1 << 20), reader


def _arrow_input(files: TableFiles, header: bytes):
    """(pyarrow input stream of the text, raw handle for ``tell``, parts reader or None)."""
    if not files.is_parts:
        raw = pa.OSFile(str(files.paths[0]))
        gz = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        return (pa.CompressedInputStream(raw, "gzip") if gz else raw), raw, None
    mode = _parts_mode(files)
    if mode == "joined":
        reader = _PartsReader(files, inflate=False, text=False)
        return pa.CompressedInputStream(pa.PythonFile(reader, mode="r"), "gzip"), reader, None
    reader = _PartsReader(files, inflate=mode == "each", text=True, header=header)
    return pa.PythonFile(reader, mode="r"), reader, reader


# --------------------------------------------------------------------------- headers


@dataclass
class FileStats:
    """One file's conversion as it goes: rows read, written and rejected (read = written +
    rejected at the end), the rejects not yet written out, and bytes consumed for progress."""

    file: str
    rows_read: int = 0
    rows_written: int = 0
    rows_rejected: int = 0
    rejects: list[dict] = field(default_factory=list)  # not yet written out (one batch's worth)
    bytes_in: int = 0  # bytes of the file itself consumed so far (compressed, for a .gz)
    text_bytes: int = 0  # bytes of text parsed so far (uncompressed)
    # physical line -> (file name, line in that file); set for parts
    locate: Callable[[int], tuple[str, int]] | None = None

    def add_reject(self, line: int | None, raw: str, reason: str) -> None:
        """Count one rejected row and keep its rejects-table row: ``line`` is its physical
        line (header = 1; for parts, turned into the part's name and line by ``locate``),
        ``raw`` its text, ``reason`` why it was rejected."""
        self.rows_rejected += 1
        file = self.file
        if self.locate is not None and line is not None:
            file, line = self.locate(line)
        self.rejects.append({"file": file, "line": line, "raw_line": raw, "reason": reason})


def _peek(files: TableFiles) -> bytes:
    """The first ``PEEK_BYTES`` of the text (inflated); errors as one-line ``InputError``s."""
    try:
        if files.size == 0:
            return b""
        stream, _ = open_text(files)
        with stream:
            return stream.read(PEEK_BYTES)
    except PermissionError as exc:  # not damaged: fetching it again would not help
        where = exc.filename or files
        raise InputError(
            f"{where}: permission denied: this user cannot read the file; make it readable "
            f"(e.g. chmod a+r {where}) or run as a user who can read it"
        ) from exc
    except (OSError, EOFError, zlib.error) as exc:
        what = "a damaged gzip: " if any(is_gzip(p) for p in files.paths) else ""
        raise CorruptFileError(
            f"{files}: cannot read the file ({what}{escape(str(exc))}); fetch it again"
        ) from exc


def read_header(files: TableFiles | Path | str) -> list[str]:
    """The fields of the first line (a byte order mark before it left out)."""
    first = _peek(TableFiles.of(files)).split(b"\n", 1)[0]
    return _as_text(first.removeprefix(BOM)).rstrip("\r\n").split("\t")


def check_header(files: TableFiles | Path | str, spec: ImdbFile) -> bool:
    """Check that ``files`` hold ``spec``'s table: text, its exact header, rows if required.

    Returns True if the text starts with a UTF-8 byte order mark (accepted). Raises
    ``EmptyFileError`` (no text at all), ``HeaderError`` (another header; both shown with
    invisible characters escaped) or ``NoRowsError`` (only the header, for a table that must
    have rows: the four required ones). Reads at most ``PEEK_BYTES`` of text.
    """
    files = TableFiles.of(files)
    start = _peek(files)
    if not start:
        stored = files.size
        what = "0 bytes" if stored == 0 else f"a gzip of {stored} bytes that holds no text"
        raise EmptyFileError(
            f"{spec.name}: {files} is empty ({what}, not even the header line); fetch the file "
            "again" + ("" if spec.required else f", or remove it ({spec.name} is optional)")
        )
    bom = start.startswith(BOM)
    first, _, rest = start.removeprefix(BOM).partition(b"\n")
    found = _as_text(first).rstrip("\r").split("\t")
    if found != spec.header:
        raise HeaderError(
            f"{files}: header does not match {spec.name}: expected {'|'.join(spec.header)} "
            f"found {escape('|'.join(found))} ({header_difference(found, spec.header)}); "
            f"check that the file is {spec.name}, else fetch it again"
        )
    if spec.required and not rest.strip() and len(start) < PEEK_BYTES:
        raise NoRowsError(
            f"{spec.name}: no rows in {files} (only the header line); fetch the file again "
            f"({spec.name} is one of the four files that must have rows)"
        )
    return bom


class LineMap:
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
        """The physical line (header = 1) of parsed row ``parsed_index`` (0-based, valid-width
        rows only); exact for rows at or after the last :meth:`forget_before` line."""
        line = parsed_index + 2 + self.dropped
        seen = 0
        while True:
            before = bisect.bisect_right(self.skipped, line)
            if before == seen:
                return line
            line += before - seen
            seen = before

    def forget_before(self, line: int) -> None:
        """Fold the skipped lines before physical ``line`` into the ``dropped`` count (memory
        stays bounded); rows before ``line`` can no longer be looked up."""
        cut = bisect.bisect_left(self.skipped, line)
        if cut:
            self.dropped += cut
            del self.skipped[:cut]


def _gzip_damage(files: TableFiles, message: str) -> str | None:
    """Why the gzip(s) of ``files`` are damaged, or None if whole (or not gzips).

    Called only when parsing failed: garbage from a corrupt deflate stream can break a
    row before zlib reaches the checksum, so the stream is checked to the end.
    """
    lowered = message.lower()
    if any(word in lowered for word in ("gzip", "compress", "zlib", "inflate")):
        return message
    if not any(is_gzip(p) for p in files.paths):
        return None
    try:
        stream, _ = open_text(files)
        with stream:
            while stream.read(16 << 20):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        return str(exc) or type(exc).__name__
    return None


@dataclass
class _Pending:
    """A row with the wrong column count, seen by the parser but not yet given out."""

    number: int
    raw: str
    reason: str
    text_bytes: int


class _Reading:
    """Bookkeeping of one file's read, kept across a restart (see ``read_file``)."""

    def __init__(self, width: int):
        self.width = width
        self.lines = LineMap()
        self.parsed = 0  # valid-width rows given out (as batches)
        self.invalid_upto = 0  # last physical line of a wrong-width row given out
        self.pending: list[_Pending] = []

    def on_invalid(self, row) -> str:
        if row.number <= self.invalid_upto:
            return "skip"  # given out before the restart
        if not self.lines.skipped or row.number > self.lines.skipped[-1]:
            self.lines.skipped.append(row.number)  # increasing: parsing is single-threaded
        raw = row.text.encode("utf-8", errors="surrogateescape")
        self.pending.append(
            _Pending(
                row.number,
                _as_text(raw),
                f"expected {self.width} columns, found {row.actual_columns}",
                len(raw) + 1,
            )
        )
        return "skip"

    def give_out(self, stats: FileStats, upto: int | None) -> None:
        """Count the pending wrong-width rows up to line ``upto`` (None: all) as read and
        rejected."""
        keep = []
        for row in self.pending:
            if upto is None or row.number <= upto:
                stats.rows_read += 1
                stats.text_bytes += row.text_bytes
                stats.add_reject(row.number, row.raw, row.reason)
                self.invalid_upto = row.number
            else:
                keep.append(row)
        self.pending = keep


def read_file(
    files: TableFiles | Path | str, spec: ImdbFile, stats: FileStats, block_size: int = BLOCK_SIZE
) -> Iterator[pa.RecordBatch]:
    """Yield typed batches of ``spec``'s columns; bad rows land in ``stats``.

    ``files``: one file or a ``TableFiles`` (parts read as one text). ``stats.bytes_in``
    (stored bytes consumed) and ``stats.text_bytes`` (bytes of text parsed) advance with every
    batch, for progress reports. Raises ``InputError`` subclasses (one line, naming the file).

    Text columns are first read as UTF-8 strings (pyarrow validates them while parsing). A
    batch with bytes that are not UTF-8 fails that read; the file is then read again as
    bytes, the rows already given out are skipped, and each row with such bytes is rejected
    naming its column.
    """
    files = TableFiles.of(files)
    bom = check_header(files, spec)
    header = "\t".join(spec.header).encode()
    state = _Reading(len(spec.header))
    stats.text_bytes = len(header) + 1 + (len(BOM) if bom else 0)
    as_bytes = False
    while True:
        try:
            yield from _read(files, spec, stats, state, header, block_size, as_bytes)
            return
        except pa.ArrowInvalid as exc:
            message = str(exc).splitlines()[0]
            if not as_bytes and "invalid UTF8" in message:
                as_bytes = True  # read again as bytes, from where this read stopped
                state.pending.clear()
                continue
            damage = _gzip_damage(files, message)
            if damage:
                raise CorruptFileError(
                    f"{files}: truncated or corrupt gzip ({escape(damage)}); fetch the file again"
                ) from exc
            raise InputError(f"{files}: {escape(message)}") from exc
        except (OSError, EOFError, zlib.error) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CorruptFileError(
                f"{files}: truncated or corrupt file ({escape(message)}); fetch the file again"
            ) from exc


def _read(
    files: TableFiles,
    spec: ImdbFile,
    stats: FileStats,
    state: _Reading,
    header: bytes,
    block_size: int,
    as_bytes: bool,
) -> Iterator[pa.RecordBatch]:
    """One pass of ``read_file``: skips the rows ``state`` says were given out already."""
    names = spec.header
    stream, raw, parts = _arrow_input(files, header)
    if parts is not None:
        stats.locate = parts.locate
    text_type = pa.binary() if as_bytes else pa.string()
    try:
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
                invalid_row_handler=state.on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: text_type for n in names},
                null_values=[NULL],
                strings_can_be_null=True,
            ),
        )
        skip = state.parsed  # valid rows given out by an earlier pass
        for batch in reader:
            if skip:
                if batch.num_rows <= skip:
                    skip -= batch.num_rows
                    continue
                batch, skip = batch.slice(skip), 0
            stats.bytes_in = _tell(raw)
            stats.text_bytes += _text_bytes(batch)
            reasons: dict[int, str] = {}
            source = batch  # what raw lines are made of: the bytes, when read as bytes
            if as_bytes:
                batch = _utf8_checked(batch, spec, reasons)
            typed, bad = _type_batch(batch, spec, reasons)
            parsed = state.parsed
            last_line = state.lines.line_of(parsed + batch.num_rows - 1)
            state.give_out(stats, last_line)
            stats.rows_read += batch.num_rows
            for index, reason in bad:
                stats.add_reject(
                    state.lines.line_of(parsed + index), _raw_line(source, index), reason
                )
            state.parsed += batch.num_rows
            state.lines.forget_before(last_line)
            stats.rows_written += typed.num_rows
            if typed.num_rows:
                yield typed
        state.give_out(stats, None)
        stats.bytes_in = _tell(raw)
    finally:
        raw.close()


def _tell(raw) -> int:
    return raw.bytes_in if isinstance(raw, _PartsReader) else raw.tell()


def _raw_line(batch: pa.RecordBatch, index: int) -> str:
    """Row ``index`` as its line of text (``\\N`` for nulls; bytes that are not UTF-8 as
    ``\\xNN``)."""
    values = []
    for column in batch.columns:
        value = column[index].as_py()
        if value is None:
            values.append(NULL)
        elif isinstance(value, bytes):
            values.append(_as_text(value))
        else:
            values.append(value)
    return "\t".join(values)


def _utf8_checked(batch: pa.RecordBatch, spec: ImdbFile, reasons: dict[int, str]):
    """A batch read as bytes -> the same as strings; rows with bytes that are not UTF-8 are
    noted in ``reasons`` (and their bad value made null, the row is rejected anyway)."""
    columns = []
    for column, values in zip(spec.columns, batch.columns):
        try:
            columns.append(values.cast(pa.string()))
            continue
        except pa.ArrowInvalid:
            pass
        bad = np.zeros(len(values), dtype=bool)
        for index, value in enumerate(values.to_pylist()):
            if value is None:
                continue
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                bad[index] = True
                if index not in reasons:
                    shown = escape(value.decode("utf-8", errors="surrogateescape"))
                    reasons[index] = f"{column.imdb_name} is not valid UTF-8: '{shown}'"
        cleaned = pc.if_else(pa.array(bad), pa.scalar(None, pa.binary()), values)
        columns.append(cleaned.cast(pa.string()))
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


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


def _type_batch(
    batch: pa.RecordBatch, spec: ImdbFile, reasons: dict[int, str] | None = None
) -> tuple[pa.RecordBatch, list]:
    """Check and cast the string columns of one batch.

    Returns (the typed valid rows, [(index, reason)] of the others). A clean batch costs a
    null count and one cheap check per checked column; the exact rule (a regular expression)
    only runs on a column that failed the cheap check, and names the bad rows. ``reasons``:
    rows already known bad (their first reason is kept).
    """
    reasons = {} if reasons is None else reasons
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
    pattern = ID_PATTERNS.get(column.name) or _VALIDATORS.get(column.kind)
    if pattern is None:
        return None, None
    if column.kind == "int" and column.name not in ID_PATTERNS:
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
    if column.name in ID_PATTERNS and ids_look_right(values, _ID_PREFIXES[column.name]):
        return None, None
    return None, _breaks(values, pattern)


def ids_look_right(values: pa.Array, prefix: bytes) -> bool:
    """True if every value is ``prefix`` + 1-18 ASCII digits, checked over the raw buffers.

    Exactly the rule of ``ID_PATTERNS`` for a column without nulls, at a few ns a value
    (the regular expression costs ~60): each value is 3-20 bytes long, starts with the
    two-letter prefix, and the column's text holds no other non-digit byte than those two
    per value. False sends the column to the regular expression, which names the bad rows.
    ``values``: a string array; empty gives True, any null gives False.
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
    return "id" if column.name in ID_PATTERNS else column.kind


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
