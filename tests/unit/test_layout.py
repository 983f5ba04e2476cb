"""ingest.layout: which files of a source folder hold which IMDb table, for every layout the
README lists — plain, .gz, tagged, a folder per table, parts, unknown files — and the one-line
stops when a folder cannot be read unambiguously."""

from __future__ import annotations

import gzip

import pytest

from ingest.layout import LayoutError, part_name, scan_folder, select_names
from ingest.schemas import BY_NAME

RATINGS_HEADER = "\t".join(BY_NAME["title.ratings"].header)
AKAS_HEADER = "\t".join(BY_NAME["title.akas"].header)


def touch(folder, name, text="x", gz=False):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def found(layout):
    return {
        name: [str(p.relative_to(files.root)) for p in files.paths]
        for name, files in layout.tables.items()
    }


def test_plain_gz_and_tagged_names(tmp_path):
    touch(tmp_path, "title.ratings.tsv")
    touch(tmp_path, "title.basics.tsv.gz", gz=True)
    touch(tmp_path, "name.basics.small.tsv.gz", gz=True)
    touch(tmp_path, "title.crew.2024.v2.tsv")
    layout = scan_folder(tmp_path)
    assert found(layout) == {
        "title.ratings": ["title.ratings.tsv"],
        "title.basics": ["title.basics.tsv.gz"],
        "name.basics": ["name.basics.small.tsv.gz"],
        "title.crew": ["title.crew.2024.v2.tsv"],
    }
    assert layout.notes == []


def test_an_exact_name_wins_and_the_tagged_file_is_reported(tmp_path):
    touch(tmp_path, "title.ratings.tsv")
    touch(tmp_path, "title.ratings.old.tsv")
    layout = scan_folder(tmp_path)
    assert found(layout) == {"title.ratings": ["title.ratings.tsv"]}
    assert layout.notes == [
        (
            f"{tmp_path}/title.ratings.old.tsv: not read, title.ratings.tsv is (an exact name wins "
            "over a tagged one); move it out of the source to silence this"
        )
    ]


def test_two_candidates_of_the_same_rank_stop_naming_both(tmp_path):
    touch(tmp_path, "title.ratings.tsv")
    touch(tmp_path, "title.ratings.tsv.gz", gz=True)
    with pytest.raises(LayoutError) as error:
        scan_folder(tmp_path)
    assert str(error.value) == (
        f"ambiguous title.ratings in {tmp_path}: title.ratings.tsv and title.ratings.tsv.gz "
        "match equally; remove or rename all but one"
    )


@pytest.mark.parametrize("folder", ["title.basics.tsv", "title.basics.tsv.gz", "title.basics"])
def test_a_folder_per_table_is_read_as_its_one_data_file(tmp_path, folder):
    touch(tmp_path / folder, "data.tsv")
    touch(tmp_path / folder, ".DS_Store")  # hidden files and markers are not data
    touch(tmp_path / folder, "_SUCCESS")
    layout = scan_folder(tmp_path)
    assert found(layout) == {"title.basics": [f"{folder}/data.tsv"]}
    assert layout.tables["title.basics"].name == f"{folder}/data.tsv"


def test_a_folder_per_table_with_parts(tmp_path):
    for part in ("part-00001", "part-00000", "part-00002.gz"):
        touch(tmp_path / "title.akas.tsv", part)
    layout = scan_folder(tmp_path)
    assert found(layout) == {
        "title.akas": [
            "title.akas.tsv/part-00000",
            "title.akas.tsv/part-00001",
            "title.akas.tsv/part-00002.gz",
        ]
    }
    assert layout.tables["title.akas"].name == (
        "title.akas.tsv/part-00000 .. part-00002.gz (3 parts)"
    )


def test_a_folder_per_table_that_cannot_be_read_says_what_it_holds(tmp_path):
    (tmp_path / "title.basics.tsv" / "nested").mkdir(parents=True)
    with pytest.raises(LayoutError) as error:
        scan_folder(tmp_path)
    assert str(error.value) == (
        f"{tmp_path}/title.basics.tsv: a folder named like title.basics holds no data file "
        f"(nested/); put that table's .tsv or .tsv.gz file in it, or pass the file itself as "
        f"{tmp_path}/title.basics.tsv[.gz]"
    )
    touch(tmp_path / "title.basics.tsv", "data.tsv")
    touch(tmp_path / "title.basics.tsv", "readme.txt")
    with pytest.raises(
        LayoutError,
        match=r"holds 2 files that are not the parts of one file "
        r"\(data.tsv, readme.txt\); keep its one data file",
    ):
        scan_folder(tmp_path)


def test_a_folder_and_a_file_for_one_table_are_ambiguous(tmp_path):
    touch(tmp_path / "title.basics.tsv", "data.tsv")
    touch(tmp_path, "title.basics.tsv.gz", gz=True)
    with pytest.raises(LayoutError, match="title.basics.tsv/ and title.basics.tsv.gz match"):
        scan_folder(tmp_path)


@pytest.mark.parametrize(
    "names, order",
    [
        (["title.akas.tsv.part-ab", "title.akas.tsv.part-aa", "title.akas.tsv.part-ac"], [1, 0, 2]),
        (["title.akas.tsv.001", "title.akas.tsv.000"], [1, 0]),
        (["title.akas.tsv.002", "title.akas.tsv.001"], [1, 0]),  # 7-zip volumes count from 1
        (
            ["title.akas.tsv.part10", "title.akas.tsv.part2", "title.akas.tsv.part1"]
            + [f"title.akas.tsv.part{i}" for i in range(3, 10)],
            None,
        ),  # by number, not as text
        (["title.akas.part2.tsv", "title.akas.part1.tsv"], [1, 0]),
        (["title.akas.tsv.gz.part-aa", "title.akas.tsv.gz.part-ab"], [0, 1]),  # a gzip cut by bytes
        (["title.akas.tsv.part-aa.gz", "title.akas.tsv.part-ab.gz"], [0, 1]),
        (["title.akas.tsvaa", "title.akas.tsvab"], [0, 1]),  # split FILE FILE: no separator
    ],
)
def test_parts_of_a_split_file_are_one_table_in_order(tmp_path, names, order):
    for name in names:
        touch(tmp_path, name)
    files = scan_folder(tmp_path).tables["title.akas"]
    if order is None:
        assert [p.name for p in files.paths] == [f"title.akas.tsv.part{i}" for i in range(1, 11)]
    else:
        assert [p.name for p in files.paths] == [names[i] for i in order]


def test_a_missing_part_stops_naming_it(tmp_path):
    for name in ("title.akas.tsv.part-aa", "title.akas.tsv.part-ac"):
        touch(tmp_path, name)
    with pytest.raises(LayoutError) as error:
        scan_folder(tmp_path)
    assert str(error.value) == (
        f"{tmp_path}: title.akas: the parts title.akas.tsv.part-aa, title.akas.tsv.part-ac are "
        "not a complete series (title.akas.tsv.part-ab is missing); put the missing part back, "
        "or replace the parts by the whole file"
    )
    for name in ("title.akas.tsv.002", "title.akas.tsv.003"):
        touch(tmp_path / "other", name)
    with pytest.raises(LayoutError, match=r"the first is numbered 2, not 0 or 1"):
        scan_folder(tmp_path / "other")


def test_a_file_and_its_parts_are_ambiguous(tmp_path):
    touch(tmp_path, "title.akas.tsv")
    touch(tmp_path, "title.akas.tsv.part-aa")
    with pytest.raises(
        LayoutError,
        match=r"ambiguous title.akas in .*: title.akas.tsv and "
        r"title.akas.tsv.part-\* \(1 parts\) match equally",
    ):
        scan_folder(tmp_path)


def test_an_unknown_file_with_an_imdb_header_is_reported(tmp_path):
    touch(tmp_path, "title.ratings.tsv", RATINGS_HEADER + "\ntt1\t1.0\t5\n")
    touch(tmp_path, "ratings-backup.tsv", "\ufeff" + RATINGS_HEADER + "\r\ntt1\t1.0\t5\n")
    touch(tmp_path, "notes.txt", "nothing IMDb here\n")
    layout = scan_folder(tmp_path)
    assert layout.notes == [
        (
            f"{tmp_path}: ratings-backup.tsv begins with the title.ratings header but is not read "
            "(title.ratings.tsv is); move it out of the source to silence this"
        )
    ]
    touch(tmp_path, "akas.tsv.gz", AKAS_HEADER + "\ntt1\t1\tA\tUS\t\\N\t\\N\t\\N\t0\n", gz=True)
    with pytest.raises(LayoutError) as error:  # an akas table under a name not read
        scan_folder(tmp_path)
    assert str(error.value) == (
        f"{tmp_path}/akas.tsv.gz: begins with the title.akas header but its name is not one "
        "the ingest reads; rename it title.akas.tsv (or title.akas.tsv.gz if gzipped; the parts "
        "of a split file title.akas.tsv.part-aa, -ab, ...)"
    )
    layout = scan_folder(tmp_path, tables={"title.ratings"})  # akas not asked for: a note
    assert (
        f"{tmp_path}: akas.tsv.gz begins with the title.akas header; not read (title.akas "
        "was not asked for)"
    ) in layout.notes


def test_split_without_a_prefix_is_reported_by_its_header(tmp_path):
    touch(tmp_path, "xaa", AKAS_HEADER + "\ntt1\t1\tA\tUS\t\\N\t\\N\t\\N\t0\n")
    touch(tmp_path, "xab", "tt1\t2\tB\tUS\t\\N\t\\N\t\\N\t0\n")
    with pytest.raises(LayoutError, match="xaa: begins with the title.akas header"):
        scan_folder(tmp_path)


def test_leftovers_and_hidden_files_are_not_looked_into(tmp_path):
    for name in (
        "title.ratings.tsv.gz.part",
        "title.ratings.tsv.gz.meta.json",
        ".hidden.tsv",
        "title.ratings.tsv.tmp",
    ):
        touch(tmp_path, name, RATINGS_HEADER + "\n")
    assert scan_folder(tmp_path).tables == {} and scan_folder(tmp_path).notes == []


def test_tables_not_asked_for_are_not_resolved(tmp_path):
    touch(tmp_path, "title.crew.tsv")
    touch(tmp_path, "title.crew.tsv.gz", gz=True)  # ambiguous, but crew is not read
    touch(tmp_path, "title.ratings.tsv")
    assert found(scan_folder(tmp_path, tables={"title.ratings"})) == {
        "title.ratings": ["title.ratings.tsv"]
    }


def test_part_names():
    assert part_name("title.akas.tsv.part-ab", "title.akas").series == "title.akas.tsv.part-{}"
    assert part_name("title.akas.v2.tsv.part-ab", "title.akas").tagged
    assert part_name("title.akas.tsv.gz", "title.akas") is None
    assert part_name("title.akas.tsv", "title.akas") is None
    assert part_name("title.basics-movie.tsv", "title.basics") is None
    assert part_name("title.akasaa", "title.akas") is None
    assert part_name("part-00003.gz").id == "00003"
    assert part_name("xab").stem == "x"
    assert part_name("gz") is None


def test_remote_listings_read_whole_files_and_report_parts():
    names = [
        "title.ratings.tsv.gz",
        "title.basics.tsv.gz",
        "title.akas.tsv.part-aa",
        "title.akas.tsv.part-ab",
        "name.basics.tsv/",
        "title.principals.small.tsv.gz",
    ]
    with pytest.raises(
        LayoutError,
        match="s3://b/p/: name.basics is there only as name.basics.tsv/: parts and folders",
    ):
        select_names(names, "s3://b/p/")
    with pytest.raises(LayoutError) as error:
        select_names(names, "s3://b/p/", {"title.akas"})
    assert str(error.value) == (
        "s3://b/p/: title.akas is there only as title.akas.tsv.part-aa, title.akas.tsv.part-ab: "
        "parts and folders per table are read from a folder source; download them into a "
        "folder and pass it as --source, or upload the whole title.akas.tsv.gz"
    )
    wanted = {"title.ratings", "title.basics", "title.principals"}
    assert select_names(names, "s3://b/p/", wanted) == {
        "title.ratings": "title.ratings.tsv.gz",
        "title.basics": "title.basics.tsv.gz",
        "title.principals": "title.principals.small.tsv.gz",
    }
    with pytest.raises(
        LayoutError,
        match="ambiguous title.ratings file in s3://b/p/: "
        "title.ratings.tsv.gz and title.ratings.tsv/",
    ):
        select_names([*names, "title.ratings.tsv/"], "s3://b/p/", wanted)


def test_a_subfolder_with_imdb_files_is_reported(tmp_path):
    from ingest.sources import SourceError, fetch

    touch(tmp_path / "imdb-2024", "title.ratings.tsv.gz", gz=True)
    touch(tmp_path / "photos", "cat.jpg")
    layout = scan_folder(tmp_path)
    assert layout.notes == [
        (
            f"{tmp_path}/imdb-2024/ holds IMDb files; not read (only {tmp_path} "
            f"itself is): pass --source {tmp_path}/imdb-2024 to read them"
        )
    ]
    with pytest.raises(
        SourceError,
        match=rf"required file\(s\) missing\); --source "
        rf"{tmp_path}/imdb-2024$",
    ):
        fetch(tmp_path, tmp_path / "cache")
