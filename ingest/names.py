"""The restructured name lookup ``title_names``, built with pyarrow in bounded memory.

One row per title: ``tconst``, ``known_for`` = the (nconst, primary_name) of every person whose
knownForTitles lists the title, sorted by nconst (then name), and ``tconst_bucket`` (the
numeric part of tconst % 16, the partition).

Two passes, never more than two buckets in memory:

1. while name.basics is converted, :meth:`KnownForSpill.add` explodes each batch's
   knownForTitles into (tconst, nconst, primary_name) rows and appends them to one Arrow IPC
   file per tconst bucket (uncompressed: a copy, no encoding);
2. :meth:`KnownForSpill.build` reads the buckets two at a time (one per core), sorts each by
   (tconst, nconst), drops repeated (tconst, nconst) pairs (a person listing a title twice),
   folds each run of one tconst into a list and writes
   ``title_names/tconst_bucket=<k>/part-0.parquet``.

Elements of knownForTitles that are not a tconst (``tt`` + digits) name no title and are left
out. The same rows as the Spark query this replaces (``explode(array_distinct(...))``,
``array_sort(collect_list(named_struct(...)))``), without a JVM heap to grow.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest.convert import ID_PATTERNS, ids_look_right
from ingest.keys import TITLE_NAMES_KEY, KeyCounter, KeyCounts
from ingest.schemas import TITLE_NAMES

TCONST_BUCKETS = 16
TITLE_NAMES_SCHEMA = TITLE_NAMES.arrow_schema()  # the files' columns: tconst_bucket is a folder
PERSON = TITLE_NAMES_SCHEMA.field("known_for").type.value_type  # struct<nconst, primary_name>
_SPILL_SCHEMA = pa.schema(
    [
        pa.field("tconst", pa.string()),
        pa.field("nconst", pa.string()),
        pa.field("primary_name", pa.string()),
    ]
)
ROW_GROUP_ROWS = 250_000


def tconst_bucket(tconst: pa.Array) -> pa.Array:
    """The partition bucket of each id: its numeric part modulo TCONST_BUCKETS, as int32 (null
    for a null id); ``tconst``: strings ``tt<digits>``, an array or a chunked array.

    The dbt macro ``tconst_bucket`` (macros/lake/tconst_bucket.sql) computes the same in SQL:
    ``pmod(cast(substr(tconst, 3) as bigint), var('tconst_buckets'))``.
    """
    digits = pc.cast(pc.utf8_slice_codeunits(tconst, 2), pa.int64())
    return pc.cast(pc.bit_wise_and(digits, TCONST_BUCKETS - 1), pa.int32())


def split_by_bucket(batch: pa.RecordBatch, buckets: pa.Array):
    """Yield (bucket, rows of ``batch`` in that bucket), buckets in increasing order (nulls last).

    Each bucket's rows are a compact copy (one ``take`` per bucket), not a slice of a copy of
    the whole batch: a slice would keep the whole batch alive as long as any bucket holds it.
    """
    order = pc.sort_indices(buckets)  # nulls sort last
    runs = pc.run_end_encode(pc.take(buckets, order))
    start = 0
    for value, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist()):
        yield value, batch.take(order.slice(start, end - start))
        start = end


class KnownForSpill:
    """Collects (tconst, nconst, primary_name) per tconst bucket on disk, then builds the table."""

    def __init__(self, work: Path):
        self.work = work
        self.work.mkdir(parents=True, exist_ok=True)
        self._writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
        self.rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        """Take one typed name.basics batch (columns nconst, primary_name, known_for_titles)."""
        titles = batch.column("known_for_titles")
        if titles.null_count == len(titles):
            return
        flat = pc.list_flatten(titles)
        parents = pc.list_parent_indices(titles)
        if not ids_look_right(flat, b"tt"):  # an element that is not a tconst names no title
            keep = pc.fill_null(pc.match_substring_regex(flat, ID_PATTERNS["tconst"]), False)
            flat, parents = pc.filter(flat, keep), pc.filter(parents, keep)
        if not len(flat):
            return
        rows = pa.RecordBatch.from_arrays(
            [
                flat,
                pc.take(batch.column("nconst"), parents),
                pc.take(batch.column("primary_name"), parents),
            ],
            schema=_SPILL_SCHEMA,
        )
        for bucket, part in split_by_bucket(rows, tconst_bucket(flat)):
            writer = self._writers.get(bucket)
            if writer is None:
                sink = pa.OSFile(str(self.work / f"bucket-{bucket}.arrow"), "wb")
                writer = self._writers[bucket] = pa.ipc.new_stream(sink, _SPILL_SCHEMA)
            writer.write_batch(part)
        self.rows += len(flat)

    def _close_spill(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def build(self, folder: Path, write_options: dict, workers: int = 2) -> dict:
        """Write ``folder/tconst_bucket=<k>/part-0.parquet``; remove the spill; return counts.

        ``workers`` buckets at a time (each is sorted, folded and written on its own; pyarrow
        releases the GIL), so the build does not leave a core idle at the end of an ingest.
        """
        self._close_spill()
        folder.mkdir(parents=True, exist_ok=True)
        spills = [
            (bucket, self.work / f"bucket-{bucket}.arrow") for bucket in range(TCONST_BUCKETS)
        ]
        spills = [(bucket, spill) for bucket, spill in spills if spill.exists()]
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            # item[0], item[1], not *item: mypy reads a lambda's *item as of any length
            built = list(
                pool.map(
                    lambda item: _build_bucket(item[0], item[1], folder, write_options), spills
                )
            )
        shutil.rmtree(self.work, ignore_errors=True)
        keys = KeyCounts(
            TITLE_NAMES_KEY,
            sum(k.null_keys for *_, k in built),
            sum(k.duplicate_keys for *_, k in built),
            all(k.in_order for *_, k in built),
        )
        return {
            "rows": sum(titles for titles, *_ in built),
            "files": len(built),
            "partitions": len(built),
            "row_groups": sum(groups for _, groups, _ in built),
            "known_for_entries": self.rows,
            "keys": keys.as_dict(),
        }

    def discard(self) -> None:
        """Close and delete the spill files without building (an ingest that failed)."""
        self._close_spill()
        shutil.rmtree(self.work, ignore_errors=True)


def _build_bucket(
    bucket: int, spill: Path, folder: Path, write_options: dict
) -> tuple[int, int, KeyCounts]:
    """One bucket's spill -> its title_names file; (titles, row groups, its key counts)."""
    with pa.OSFile(str(spill), "rb") as source:
        rows = pa.ipc.open_stream(source).read_all()
    table = title_names_of(rows)
    del rows
    counter = KeyCounter(TITLE_NAMES_KEY)  # checked on the rows written, not assumed
    for batch in table.to_batches():
        counter.add(batch)
    keys = counter.result([[table.column("tconst")]])
    out = folder / f"tconst_bucket={bucket}"
    out.mkdir()
    pq.write_table(table, out / "part-0.parquet", row_group_size=ROW_GROUP_ROWS, **write_options)
    spill.unlink()
    return table.num_rows, -(-table.num_rows // ROW_GROUP_ROWS), keys


def title_names_of(rows: pa.Table) -> pa.Table:
    """(tconst, nconst, primary_name) rows -> one row per tconst with its people sorted by
    (nconst, primary_name) as strings (Spark's ``array_sort`` order); a repeated
    (tconst, nconst) counts once.

    Sorted on the number in tconst, then the strings of the people: half the cost of sorting
    on the tconst strings. Ids that spell one number two ways (``tt01``, ``tt1``) would fall
    into one title that way; such a bucket is sorted on the tconst strings instead.
    """
    if rows.num_rows == 0:
        return TITLE_NAMES_SCHEMA.empty_table()
    rows = rows.combine_chunks()
    number = pc.cast(pc.utf8_slice_codeunits(rows.column("tconst"), 2), pa.int64())
    order = pc.sort_indices(
        rows.append_column("_number", number),
        sort_keys=[
            ("_number", "ascending"),
            ("nconst", "ascending"),
            ("primary_name", "ascending"),
        ],
    )
    rows = rows.take(order).combine_chunks()
    number = number.take(order).to_numpy()
    tconst = rows.column("tconst").chunk(0)
    same_title = _true(pc.equal(tconst.slice(1), tconst.slice(0, len(tconst) - 1)))
    if (same_title != (number[1:] == number[:-1])).any():
        return _by_strings(rows)
    return _distinct_folded(rows, np.concatenate(([True], ~same_title)))


def _by_strings(rows: pa.Table) -> pa.Table:
    rows = rows.sort_by(
        [("tconst", "ascending"), ("nconst", "ascending"), ("primary_name", "ascending")]
    ).combine_chunks()
    tconst = rows.column("tconst").chunk(0)
    return _distinct_folded(
        rows,
        np.concatenate(
            ([True], ~_true(pc.equal(tconst.slice(1), tconst.slice(0, len(tconst) - 1))))
        ),
    )


def _distinct_folded(rows: pa.Table, new_title: np.ndarray) -> pa.Table:
    """Sorted rows (``new_title`` marks each title's first) -> one row per title, a person
    listing the same title twice once."""
    nconst = rows.column("nconst").chunk(0)
    if rows.num_rows > 1:
        same_person = _true(pc.equal(nconst.slice(1), nconst.slice(0, len(nconst) - 1)))
        repeated = ~new_title[1:] & same_person
        if repeated.any():
            keep = np.concatenate(([True], ~repeated))
            rows, new_title = rows.filter(pa.array(keep)), new_title[keep]
    return _fold(rows, np.cumsum(new_title))


def _fold(rows: pa.Table, key: np.ndarray) -> pa.Table:
    """Rows sorted so that equal ``key`` values are adjacent -> one row per key."""
    rows = rows.combine_chunks()
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    offsets = np.append(starts, len(key)).astype(np.int32)
    people = pa.StructArray.from_arrays(
        [rows.column("nconst").chunk(0), rows.column("primary_name").chunk(0)], fields=list(PERSON)
    )
    known_for = pa.ListArray.from_arrays(pa.array(offsets), people, type=pa.list_(PERSON))
    tconst = rows.column("tconst").chunk(0).take(pa.array(starts))
    return pa.Table.from_arrays([tconst, known_for], schema=TITLE_NAMES_SCHEMA)


def _true(mask: pa.Array) -> np.ndarray:
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
