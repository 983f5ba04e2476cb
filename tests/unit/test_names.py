"""ingest.names: title_names (one row per title, the people known for it) in bounded memory."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds

from ingest.lake import write_options
from ingest.names import KnownForSpill, split_by_bucket, tconst_bucket, title_names_of


def people(*rows):
    nconst, name, titles = zip(*rows)
    return pa.record_batch(
        [pa.array(nconst), pa.array(name), pa.array(titles, pa.list_(pa.string()))],
        names=["nconst", "primary_name", "known_for_titles"],
    )


def test_bucket_is_the_number_modulo_16():
    assert tconst_bucket(
        pa.array(["tt0000001", "tt0000016", "tt0111161", "tt10000017"])
    ).to_pylist() == [
        1,
        0,
        111161 % 16,
        10000017 % 16,
    ]


def test_bucket_of_short_long_sliced_chunked_and_null_ids():
    ids = ["tt0", "tt7", "tt12", "tt123", "tt1234", "tt12345", "tt999999999999999999"]
    expected = [int(i[2:]) % 16 for i in ids]
    assert tconst_bucket(pa.array(ids)).to_pylist() == expected
    assert tconst_bucket(pa.array(["x", *ids]).slice(1)).to_pylist() == expected
    assert tconst_bucket(pa.chunked_array([ids[:3], ids[3:]])).to_pylist() == expected
    assert tconst_bucket(pa.array(["tt17", None])).to_pylist() == [1, None]


def test_split_by_bucket_gives_compact_groups_in_order():
    batch = pa.record_batch([pa.array(list("abcdef"))], names=["x"])
    groups = list(split_by_bucket(batch, pa.array([3, 1, None, 3, 1, 1])))
    assert [(k, g.column("x").to_pylist()) for k, g in groups] == [
        (1, ["b", "e", "f"]),
        (3, ["a", "d"]),
        (None, ["c"]),
    ]
    assert all(g.column("x").offset == 0 for _, g in groups)  # copies, not slices of a copy


def test_people_sorted_by_nconst_as_strings_repeats_and_non_titles_dropped(tmp_path):
    spill = KnownForSpill(tmp_path / "work")
    spill.add(
        people(
            ("nm0000002", "Bo", ["tt0000001", "tt0000017"]),
            ("nm10000000", "Al", ["tt0000001", "tt0000001"]),  # listed twice: once
            ("nm9999999", None, ["tt0000001", "", "xx12"]),  # "" and xx12 name no title
            ("nm0000003", "Cy", None),
        )
    )
    spill.add(people(("nm0000001", "Di", ["tt0000017"])))
    summary = spill.build(tmp_path / "title_names", write_options())
    table = ds.dataset(tmp_path / "title_names", partitioning="hive").to_table()
    rows = {r["tconst"]: r for r in table.to_pylist()}
    assert rows["tt0000001"]["known_for"] == [  # string order: nm1... < nm9...
        {"nconst": "nm0000002", "primary_name": "Bo"},
        {"nconst": "nm10000000", "primary_name": "Al"},
        {"nconst": "nm9999999", "primary_name": None},
    ]
    assert [p["nconst"] for p in rows["tt0000017"]["known_for"]] == ["nm0000001", "nm0000002"]
    assert rows["tt0000001"]["tconst_bucket"] == 1 and rows["tt0000017"]["tconst_bucket"] == 1
    assert summary["rows"] == 2 and summary["files"] == 1
    assert not (tmp_path / "work").exists()


def test_title_names_of_nothing_is_empty():
    empty = pa.table(
        {
            "tconst": pa.array([], pa.string()),
            "nconst": pa.array([], pa.string()),
            "primary_name": pa.array([], pa.string()),
        }
    )
    assert title_names_of(empty).num_rows == 0


def test_ids_spelling_one_number_twice_stay_two_titles():
    rows = pa.table(
        {
            "tconst": ["tt1", "tt01", "tt1", "tt0000002"],
            "nconst": ["nm0000003", "nm0000001", "nm0000002", "nm0000001"],
            "primary_name": ["C", "A", "B", "A"],
        }
    )
    table = {
        r["tconst"]: [p["nconst"] for p in r["known_for"]] for r in title_names_of(rows).to_pylist()
    }
    assert table == {
        "tt01": ["nm0000001"],
        "tt1": ["nm0000002", "nm0000003"],
        "tt0000002": ["nm0000001"],
    }


def test_title_names_of_matches_a_plain_sort_on_random_rows():
    import random

    rnd = random.Random(7)
    rows = [
        (
            f"tt{rnd.randint(1, 40):07d}",
            f"nm{rnd.choice([1, 2, 9, 10, 99, 100]) * 1000:d}",
            rnd.choice(["A", "B", None]),
        )
        for _ in range(500)
    ]
    table = pa.table(
        {
            "tconst": [r[0] for r in rows],
            "nconst": [r[1] for r in rows],
            "primary_name": [r[2] for r in rows],
        }
    )
    expected = {}
    for tconst, nconst, name in sorted(rows, key=lambda r: (r[0], r[1], r[2] is None, r[2] or "")):
        people = expected.setdefault(tconst, [])
        if not people or people[-1]["nconst"] != nconst:
            people.append({"nconst": nconst, "primary_name": name})
    got = {r["tconst"]: r["known_for"] for r in title_names_of(table).to_pylist()}
    assert got == expected
