"""Null and duplicate keys of each lookup, counted in the ingest's one pass over the rows.

Keys (lake column names): ``tconst`` (title.basics, title.ratings, title.crew,
title.episode, and title_names), ``nconst`` (name.basics), ``(tconst, ordering)``
(title.principals, and title.akas, whose ``titleId`` is ``tconst`` in the lake).

Definitions, over the rows written (rejected rows are not keys):

* ``null_keys``: rows whose key has a null column (only ``ordering`` can be null: a null id
  is a rejected row);
* ``duplicate_keys``: rows with a non-null key minus the distinct non-null keys (0 when every
  key is unique; a key seen three times counts 2).

Exact, with no hashing. IMDb's files are sorted by their key, so :class:`KeyCounter` checks
each key against the one before it (within a batch and across batches, hence across the
parts of a split file): while the keys never go down — in string order or in number order
(shorter ids first), whichever the file keeps — equal keys are neighbours and counting equal
neighbours counts every duplicate, in O(1) memory. A key that goes down in both orders ends
that proof: the file is then counted again from the lookup just written
(:func:`count_duplicates` over the keys packed exactly into integers, one tconst bucket at a
time for the bucketed lookups), which costs a second read of the key columns only for such a
file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "title.basics": ("tconst",),
    "title.ratings": ("tconst",),
    "title.crew": ("tconst",),
    "title.episode": ("tconst",),
    "name.basics": ("nconst",),
    "title.principals": ("tconst", "ordering"),
    "title.akas": ("tconst", "ordering"),
}
TITLE_NAMES_KEY = ("tconst",)
_POW10 = 10 ** np.arange(19, dtype=np.int64)


@dataclass
class KeyCounts:
    """What the manifest and ``imdb_lookup.ingest_checks`` report for one lookup."""

    columns: tuple[str, ...]
    null_keys: int = 0
    duplicate_keys: int = 0
    in_order: bool = True  # counted on the way (sorted input); False: counted again after

    def as_dict(self) -> dict:
        """The counts as JSON-able data (``columns`` a list): a file's ``keys`` in the manifest."""
        return {
            "columns": list(self.columns),
            "null_keys": self.null_keys,
            "duplicate_keys": self.duplicate_keys,
            "in_order": self.in_order,
        }


def pack_ids(ids: pa.Array) -> np.ndarray:
    """IMDb ids (``tt``/``nm`` + 1-18 digits, no nulls) -> int64, one to one.

    The value is the number ``1`` followed by the digits (``tt0042`` -> 10042): the leading 1
    keeps the digit count, so ``tt042`` and ``tt42`` stay apart, and the order is the number
    order with shorter ids first. At most 1.99e18, within int64.
    """
    if len(ids) == 0:
        return np.zeros(0, np.int64)
    digits = pc.cast(pc.utf8_slice_codeunits(ids, 2), pa.int64()).to_numpy(zero_copy_only=False)
    lengths = pc.utf8_length(ids).to_numpy(zero_copy_only=False) - 2
    return digits + _POW10[lengths]


def count_duplicates(columns: list[np.ndarray]) -> int:
    """Rows minus distinct rows of the key ``columns`` (equal-length integer arrays, no nulls)."""
    n = len(columns[0])
    if n < 2:
        return 0
    if len(columns) == 1:
        ordered = np.sort(columns[0])
        return int(np.count_nonzero(ordered[1:] == ordered[:-1]))
    order = np.lexsort(columns[::-1])
    same = np.ones(n - 1, dtype=bool)
    for column in columns:
        ordered = column[order]
        same &= ordered[1:] == ordered[:-1]
    return int(np.count_nonzero(same))


def _lengths(ids: pa.Array) -> np.ndarray:
    offsets = np.frombuffer(ids.buffers()[1], np.int32, count=len(ids) + 1, offset=ids.offset * 4)
    return np.diff(offsets)


class KeyCounter:
    """Counts the null and duplicate keys of one file's written rows, batch by batch."""

    def __init__(self, columns: tuple[str, ...]):
        self.columns = columns
        self.null_keys = 0
        self.neighbours = 0  # rows whose key equals the key of the row before
        self.string_order = True  # no key so far was below the one before, as strings
        self.number_order = True  # ... as (length, string): number order for ids
        self._last: tuple | None = None  # (id, length, second) of the last non-null key

    @property
    def in_order(self) -> bool:
        """True while no key so far went down in string order or in number order: equal keys
        were neighbours, so the duplicates counted on the way are exact. False: :meth:`result`
        needs the keys again."""
        return self.string_order or self.number_order

    def add(self, batch: pa.RecordBatch) -> None:
        """Take the next typed batch of rows written (file order)."""
        ids = batch.column(self.columns[0])
        second = batch.column(self.columns[1]) if len(self.columns) > 1 else None
        nulls = ids.null_count + (second.null_count if second is not None else 0)
        if nulls:
            valid = (
                pc.is_valid(ids)
                if second is None
                else pc.and_(pc.is_valid(ids), pc.is_valid(second))
            )
            self.null_keys += len(ids) - valid.true_count
            ids = ids.filter(valid)
            second = second.filter(valid) if second is not None else None
        if not self.in_order or len(ids) == 0:
            return  # counted again from the lookup at the end
        first = (ids[0].as_py(), None if second is None else second[0].as_py())
        if self._last is not None:
            self._compare(self._last, first)
        n = len(ids)
        if n > 1 and self.in_order:
            self._within(ids, second, n)
        self._last = (ids[n - 1].as_py(), None if second is None else second[n - 1].as_py())

    def _compare(self, before: tuple, after: tuple) -> None:
        (a, a2), (b, b2) = before, after
        if a == b and a2 == b2:
            self.neighbours += 1
            return
        below_second = a == b and a2 is not None and b2 < a2
        self.string_order &= not (b < a or below_second)
        self.number_order &= not ((len(b), b) < (len(a), a) or below_second)

    def _within(self, ids: pa.Array, second: pa.Array | None, n: int) -> None:
        after, before = ids.slice(1), ids.slice(0, n - 1)
        same_id = pc.equal(after, before)
        lower_id = pc.less(after, before)
        if second is None:
            same, lower_second = same_id, None
        else:
            s_after, s_before = second.slice(1), second.slice(0, n - 1)
            same = pc.and_(same_id, pc.equal(s_after, s_before))
            lower_second = pc.and_(same_id, pc.less(s_after, s_before))
        self.neighbours += same.true_count
        down_second = lower_second is not None and lower_second.true_count > 0
        if down_second:  # (t, 2) after (t, 3): out of order in both orders
            self.string_order = self.number_order = False
            return
        if lower_id.true_count == 0:  # sorted as strings; as numbers unless a length goes down
            if self.number_order:
                lengths = _lengths(ids)
                self.number_order = not bool((lengths[1:] < lengths[:-1]).any())
            return
        self.string_order = False
        if self.number_order:
            lengths = _lengths(ids)
            lower = lower_id.to_numpy(zero_copy_only=False)
            shorter = lengths[1:] < lengths[:-1]
            self.number_order = not bool((shorter | ((lengths[1:] == lengths[:-1]) & lower)).any())

    def result(self, keys_again: Iterable[list[pa.Array]] | None = None) -> KeyCounts:
        """The counts. ``keys_again`` (needed only when the keys came out of order): the
        written rows' key columns once more, in groups that no key spans (tconst buckets),
        each group a list of arrays per key column (possibly several chunks)."""
        counts = KeyCounts(self.columns, self.null_keys, self.neighbours, self.in_order)
        if self.in_order:
            return counts
        if keys_again is None:
            raise ValueError("keys out of order: give keys_again to count them exactly")
        counts.duplicate_keys = sum(_duplicates_of(group) for group in keys_again)
        return counts


def _duplicates_of(group: list[pa.ChunkedArray | pa.Array]) -> int:
    """Duplicate non-null keys of one group of key columns (ids first)."""
    arrays = [
        column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        for column in group
    ]
    valid = pc.is_valid(arrays[0])
    for column in arrays[1:]:
        valid = pc.and_(valid, pc.is_valid(column))
    if valid.true_count < len(arrays[0]):
        arrays = [column.filter(valid) for column in arrays]
    packed = [pack_ids(arrays[0])] + [
        column.to_numpy(zero_copy_only=False).astype(np.int64) for column in arrays[1:]
    ]
    return count_duplicates(packed)


def latest_rows(ids: pa.Array) -> np.ndarray:
    """Indexes of the rows to keep when the later line wins: the last row of each id, in
    file order. ``ids`` without nulls."""
    packed = pack_ids(ids)
    order = np.argsort(packed[::-1], kind="stable")  # first in reverse = last in file
    reverse = packed[::-1][order]
    first = np.concatenate(([True], reverse[1:] != reverse[:-1]))
    return np.sort(len(packed) - 1 - order[first])
