"""Vectorised Arrow string columns: the building blocks of every file's rows.

Values come in as numpy arrays (indices, numbers, boolean masks) and leave as pyarrow
string arrays; nothing loops over rows in Python. ``tsv_lines`` turns
a row's columns into TSV text (``\\N`` for null) and ``payload`` hands that text to the
writer without a copy.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from imdb_pipeline.generate.draws import weighted_index, zipf_index
from imdb_pipeline.generate.shape import FIRST_NAMES, FOREIGN_WORDS, LAST_NAMES
from ingest.schemas import NULL

_FOREIGN = pa.array(FOREIGN_WORDS)
# the name vocabularies as Arrow arrays, drawn from by index (here and in name.basics)
FIRST_NAMES_ARRAY = pa.array(FIRST_NAMES)
LAST_NAMES_ARRAY = pa.array(LAST_NAMES)


def take(vocab: pa.Array, idx: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """``vocab[idx]`` element-wise: an array as long as `idx` (cast to int32), null where
    `valid` (a boolean array as long as `idx`) is False. An index outside `vocab` raises
    ``pyarrow.ArrowIndexError``."""
    ia = pa.array(idx, type=pa.int32(), mask=None if valid is None else ~valid)
    return pc.take(vocab, ia)


def ints(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Integers as decimal strings (``-3``, ``0``, ``2026``), null where `valid` is False;
    as long as `values`."""
    return pc.cast(
        pa.array(values, type=pa.int64(), mask=None if valid is None else ~valid), pa.string()
    )


def const(text: str, n: int) -> pa.Array:
    """`n` copies of `text` as a string array (pyarrow's element-wise joins are slow with
    scalar arguments). Built with int32 offsets: ``n * len(text.encode())`` must stay under
    2 GiB (a chunk is far below it)."""
    b = text.encode()
    offsets = np.arange(n + 1, dtype=np.int32) * len(b)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(b * n))


def join(parts: list, sep: str = "", **options) -> pa.Array:
    """Element-wise join of `parts` (equal-length string arrays, and python ``str``
    constants repeated to that length) with `sep` between them: an array as long as the
    arrays. `options` go to ``pc.binary_join_element_wise`` (by default a null in any part
    makes the row null). At least one part must be an array (else ``StopIteration``);
    arrays of other lengths raise ``pyarrow.ArrowInvalid``."""
    n = next(len(x) for x in parts if not isinstance(x, str))
    arrays = [const(x, n) if isinstance(x, str) else x for x in parts]
    return pc.binary_join_element_wise(*arrays, sep, **options)


def imdb_ids(prefix: str, ids: np.ndarray) -> pa.Array:
    """``tt0000042`` style identifiers: `prefix` + the numbers `ids` (int, >= 0) with at
    least 7 digits, zero-padded; as long as `ids`."""
    s = pc.utf8_lpad(pc.cast(pa.array(ids, type=pa.int64()), pa.string()), width=7, padding="0")
    return join([prefix, s])


def concat(*parts) -> pa.Array:
    """``join(parts)`` with no separator: arrays and ``str`` constants, nulls propagate."""
    return join(list(parts))


def null_where(arr: pa.Array, null: np.ndarray) -> pa.Array:
    """`arr` with nulls where `null` (a boolean array as long as `arr`) holds."""
    return pc.if_else(pa.array(null), pa.scalar(None, arr.type), arr)


def replace(arr: pa.Array, mask: np.ndarray, values: pa.Array) -> pa.Array:
    """`arr` with the rows where `mask` (boolean, as long as `arr`) holds replaced by
    `values` in order; `values` has ``mask.sum()`` items (else ``pyarrow.ArrowInvalid``)."""
    return pc.replace_with_mask(arr, pa.array(mask), values) if len(values) else arr


def spread(values: pa.Array, mask: np.ndarray) -> pa.Array:
    """An array as long as `mask`: `values` (``mask.sum()`` items) in order where it
    holds, null elsewhere."""
    return take(values, np.cumsum(mask) - 1, mask)


_POOL = 16384  # distinct phrases/names built per chunk, then drawn from


def phrases(rng: np.random.Generator, m: int) -> pa.Array:
    """`m` (>= 0) foreign-language phrases of 1-4 space-separated words (unicode-heavy),
    drawn from a pool of at most 16,384 built from `rng`."""
    p = min(m, _POOL)
    k = weighted_index(rng, (0.2, 0.4, 0.25, 0.15), p) + 1
    idx = zipf_index(rng, len(FOREIGN_WORDS), (p, 4), power=1.3)
    idx[:, 0] = zipf_index(rng, len(FOREIGN_WORDS), p, power=1.0)
    cols = [take(_FOREIGN, idx[:, j], k > j) for j in range(4)]
    pool = pc.binary_join_element_wise(*cols, " ", null_handling="skip")  # col 0 never null
    return pool if p == m else take(pool, rng.integers(0, p, m))


def people(rng: np.random.Generator, m: int) -> pa.Array:
    """`m` (>= 0) ``First Last`` names, drawn from a pool of at most 16,384 built from
    `rng`."""
    p = min(m, _POOL)
    first = take(FIRST_NAMES_ARRAY, zipf_index(rng, len(FIRST_NAMES), p, 1.3))
    pool = concat(first, " ", take(LAST_NAMES_ARRAY, zipf_index(rng, len(LAST_NAMES), p, 1.3)))
    return pool if p == m else take(pool, rng.integers(0, p, m))


def comma_lists(parent: np.ndarray, values: pa.Array, n: int) -> pa.Array:
    """`n` strings: for each parent i in [0, n) the `values` whose `parent` is i, joined
    with commas in order, null if there are none. `parent` (ints, sorted, as long as
    `values`) says which of the n rows each value belongs to."""
    counts = np.bincount(parent, minlength=n)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), values), ",")
    return null_where(joined, counts == 0)


def tsv_lines(cols: list) -> pa.Array:
    """One TSV line per row of `cols` (equal-length string arrays): the fields joined with
    tabs, null written as ``\\N``, each line ending in ``\\n``."""
    row = pc.binary_join_element_wise(*cols, "\t", null_handling="replace", null_replacement=NULL)
    return join([row, "\n"])


def payload(lines: pa.Array) -> pa.Buffer:
    """The concatenated UTF-8 bytes of a string (or large_string) array, a slice of its
    data buffer without copying (a ChunkedArray is combined first, which copies)."""
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    bufs = lines.buffers()
    width = 8 if pa.types.is_large_string(lines.type) else 4
    dtype = np.int64 if width == 8 else np.int32
    off = np.frombuffer(bufs[1], dtype=dtype, count=len(lines) + 1, offset=lines.offset * width)
    return bufs[2].slice(int(off[0]), int(off[-1] - off[0]))
