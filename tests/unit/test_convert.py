"""ingest.convert: headers, quoting, nulls, arrays and the quarantine of bad rows."""

from __future__ import annotations

import gzip
import re
from decimal import Decimal

import pyarrow as pa
import pytest

from ingest import convert
from ingest.convert import CorruptFileError, FileStats, HeaderError, InputError, read_file
from ingest.schemas import TITLE_AKAS, TITLE_BASICS, TITLE_RATINGS

BASICS_HEADER = "\t".join(TITLE_BASICS.header)


def write(path, text: str, gz: bool = False):
    data = text.encode("utf-8")
    if gz:
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def rows(path, spec):
    stats = FileStats(path.name)
    table = [r for batch in read_file(path, spec, stats) for r in batch.to_pylist()]
    return table, stats


def test_types_nulls_quotes_unicode_and_arrays(tmp_path):
    path = write(
        tmp_path / "title.basics.tsv.gz",
        BASICS_HEADER + "\n"
        'tt0000001\tmovie\t"Weird" Al\'s Movie\tAmélie 東京\t0\t1994\t\\N\t142\tDrama,Crime\n'
        "tt0000002\tshort\tPlain\tPlain\t1\t\\N\t\\N\t\\N\t\\N\n",
        gz=True,
    )
    table, stats = rows(path, TITLE_BASICS)
    assert table[0]["primary_title"] == '"Weird" Al\'s Movie'
    assert table[0]["original_title"] == "Amélie 東京"
    assert table[0]["genres"] == ["Drama", "Crime"]
    assert table[0]["start_year"] == 1994 and table[0]["end_year"] is None
    assert table[1]["is_adult"] is True and table[1]["genres"] is None
    assert (stats.rows_read, stats.rows_written, stats.rows_rejected) == (2, 2, 0)


def test_rating_is_an_exact_decimal(tmp_path):
    path = write(
        tmp_path / "title.ratings.tsv",
        "tconst\taverageRating\tnumVotes\ntt0000001\t7.3\t1000\ntt0000002\t10.0\t730\n",
    )
    table, _ = rows(path, TITLE_RATINGS)
    assert table[0]["average_rating"] == Decimal("7.3")
    assert table[1]["average_rating"] * table[1]["num_votes"] == Decimal("7300.0")


def test_akas_x02_separator_splits_types(tmp_path):
    header = "\t".join(TITLE_AKAS.header)
    path = write(
        tmp_path / "title.akas.tsv",
        header + "\ntt0000001\t1\tTitle\tUS\t\\N\timdbDisplay\x02working\tliteral\x02short\t0\n",
    )
    table, _ = rows(path, TITLE_AKAS)
    assert table[0]["types"] == ["imdbDisplay", "working"]
    assert table[0]["attributes"] == ["literal", "short"]
    assert table[0]["language"] is None


def test_bad_rows_are_quarantined_with_physical_line_numbers(tmp_path):
    path = write(
        tmp_path / "title.ratings.tsv",
        "tconst\taverageRating\tnumVotes\n"
        "tt0000001\t7.3\t1000\n"  # line 2
        "tt0000002\t8.0\n"  # line 3: two columns
        "tt0000003\t8.0\tmany\n"  # line 4: numVotes not a number
        "tt0000004\t8.0\t12\textra\n"  # line 5: four columns
        "tt0000005\t11.5\t12\n"  # line 6: rating out of range
        "tt0000006\t\\N\t12\n"  # line 7: missing rating
        "xx0000007\t5.0\t12\n"  # line 8: not a tconst
        "tt0000008\t5.0\t12\n",  # line 9
    )
    table, stats = rows(path, TITLE_RATINGS)
    assert [r["tconst"] for r in table] == ["tt0000001", "tt0000008"]
    rejected = {r["line"]: r for r in stats.rejects}
    assert sorted(rejected) == [3, 4, 5, 6, 7, 8]
    assert rejected[3]["reason"] == "expected 3 columns, found 2"
    assert rejected[4]["raw_line"] == "tt0000003\t8.0\tmany"
    assert "numVotes" in rejected[4]["reason"]
    assert "averageRating" in rejected[6]["reason"]
    assert "missing" in rejected[7]["reason"]
    assert "tconst" in rejected[8]["reason"]
    assert stats.rows_read == stats.rows_written + stats.rows_rejected == 8


def test_line_numbers_stay_exact_across_batches(tmp_path):
    lines = ["tconst\taverageRating\tnumVotes"]
    bad = {50, 51, 700, 1999}
    for line in range(2, 2002):
        lines.append(f"tt{line:07d}\t5.0" if line in bad else f"tt{line:07d}\t5.0\t{line}")
    lines[1500 - 1] = "tt0001500\t5.0\tNaN"
    path = write(tmp_path / "title.ratings.tsv", "\n".join(lines) + "\n")
    stats = FileStats(path.name)
    for _ in read_file(path, TITLE_RATINGS, stats, block_size=4096):
        pass
    assert sorted(r["line"] for r in stats.rejects) == sorted(bad | {1500})
    assert all(r["raw_line"].startswith(f"tt{r['line']:07d}") for r in stats.rejects)


def test_header_mismatch_names_file_expected_and_found(tmp_path):
    path = write(tmp_path / "title.ratings.tsv", "tconst\trating\tvotes\ntt1\t1.0\t1\n")
    with pytest.raises(HeaderError) as error:
        rows(path, TITLE_RATINGS)
    message = str(error.value)
    assert "title.ratings.tsv" in message and "\n" not in message
    assert "expected tconst|averageRating|numVotes" in message
    assert "found tconst|rating|votes" in message


@pytest.mark.parametrize(
    "header, difference",
    [
        (
            "tconst\taverageRating\tnumVotes ",
            "column 3 is 'numVotes ' where 'numVotes' is expected",
        ),
        (
            "tconst|averageRating|numVotes",
            "1 tab-separated column where 3 are expected: 'tconst|averageRating|numVotes'",
        ),
        ("tconst\taverageRating", "2 tab-separated columns where 3 are expected"),
        (
            "tconst\taverageRating\tnumVotes\textra",
            ("4 tab-separated columns where 3 are expected; extra: 'extra'"),
        ),
        (
            "tconst\tnumVotes\taverageRating\tx",
            (
                "4 tab-separated columns where 3 are expected; "
                "column 2 is 'numVotes' where 'averageRating' is expected"
            ),
        ),
    ],
)
def test_a_header_message_says_what_the_summary_cannot_show(tmp_path, header, difference):
    path = write(tmp_path / "title.ratings.tsv", header + "\ntt0000001\t7.0\t5\n")
    with pytest.raises(HeaderError) as error:
        convert.check_header(path, TITLE_RATINGS)
    assert f"({difference}); check that the file is title.ratings" in str(error.value)


def test_code_exercise_mangled_header_is_rejected():
    from tests.conftest import SAMPLES

    path = SAMPLES / "code-exercise" / "title.basics.tsv"
    with pytest.raises(HeaderError, match="title.basics.tsv: header does not match"):
        rows(path, TITLE_BASICS)


def test_truncated_gzip_stops_with_the_file_name(tmp_path):
    body = "tconst\taverageRating\tnumVotes\n" + "".join(
        f"tt{i:07d}\t5.0\t{i}\n" for i in range(20000)
    )
    data = gzip.compress(body.encode())
    path = tmp_path / "title.ratings.tsv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match="title.ratings.tsv.gz"):
        rows(path, TITLE_RATINGS)


def test_corrupt_gzip_in_the_middle_stops_with_the_file_name(tmp_path):
    body = "tconst\taverageRating\tnumVotes\n" + "".join(
        f"tt{i:07d}\t{i % 90 / 10 + 1:.1f}\t{i}\n" for i in range(200_000)
    )
    data = bytearray(gzip.compress(body.encode()))
    middle = len(data) // 2
    data[middle : middle + 64] = bytes((i * 37 + 11) % 256 for i in range(64))  # damaged, not cut
    path = tmp_path / "title.ratings.tsv.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError) as error:
        rows(path, TITLE_RATINGS)
    message = str(error.value)
    assert "title.ratings.tsv.gz" in message and "corrupt" in message and "\n" not in message


def test_a_byte_that_is_not_utf8_rejects_its_row_in_a_whole_gzip(tmp_path):
    body = b"tconst\taverageRating\tnumVotes\ntt0000001\t7.3\t1000\ntt0000002\t\xff\xfe\t5\n"
    path = tmp_path / "title.ratings.tsv.gz"
    path.write_bytes(gzip.compress(body))
    table, stats = rows(path, TITLE_RATINGS)  # not a corrupt gzip: one bad row
    assert [r["tconst"] for r in table] == ["tt0000001"]
    assert [(r["line"], r["raw_line"], r["reason"]) for r in stats.rejects] == [
        (3, "tt0000002\t\\xff\\xfe\t5", "averageRating is not valid UTF-8: '\\xff\\xfe'")
    ]
    assert stats.rows_read == stats.rows_written + stats.rows_rejected == 2


@pytest.mark.parametrize(
    "value",
    [
        "tt1",
        "tt0000001",
        "tt" + "9" * 18,
        "tt" + "9" * 19,
        "tt",
        "t1",
        "xx0000001",
        "tt00a1",
        "tt-1",
        "tt+1",
        "tt 1",
        " tt1",
        "tt1 ",
        "TT0000001",
        "tt١٢",
        "nm0000001",
        "",
    ],
)
def test_id_fast_path_agrees_with_the_exact_rule(tmp_path, value):
    exact = re.fullmatch(r"tt[0-9]{1,18}", value) is not None
    column = pa.array(["tt0000002", value, "tt0000003"])
    assert convert.ids_look_right(column, b"tt") is exact
    assert convert.ids_look_right(column.slice(1, 1), b"tt") is exact
    lines = ["tt0000002\t5.0\t10", f"{value}\t5.0\t10", "tt0000003\t5.0\t10"]
    path = write(tmp_path / "title.ratings.tsv", "\n".join([RATINGS_HEADER, *lines]) + "\n")
    table, stats = rows(path, TITLE_RATINGS)
    kept = ["tt0000002", value, "tt0000003"] if exact else ["tt0000002", "tt0000003"]
    assert [r["tconst"] for r in table] == kept
    rejected = [] if exact else [(3, f"tconst is not a valid id: {value!r}")]
    assert [(r["line"], r["reason"]) for r in stats.rejects] == rejected


@pytest.mark.parametrize(
    "value",
    [
        "0",
        "7",
        "-12",
        "123456789",
        "1234567890",
        "0000000001",
        "+5",
        " 5",
        "5 ",
        "1.0",
        "1e3",
        "",
        "٣",
    ],
)
def test_number_fast_path_agrees_with_the_exact_rule(tmp_path, value):
    exact = re.fullmatch(r"-?[0-9]{1,9}", value) is not None
    lines = [
        f"tt000000{number}\tmovie\tT\tT\t0\t{year}\t\\N\t90\tDrama"
        for number, year in enumerate(["5", value, "\\N"], start=1)
    ]
    path = write(tmp_path / "title.basics.tsv", "\n".join([BASICS_HEADER, *lines]) + "\n")
    table, stats = rows(path, TITLE_BASICS)
    years = [5, int(value), None] if exact else [5, None]
    assert [r["start_year"] for r in table] == years
    rejected = [] if exact else [(3, f"startYear is not a valid int: {value!r}")]
    assert [(r["line"], r["reason"]) for r in stats.rejects] == rejected


def test_bool_must_be_0_or_1(tmp_path):
    header = "\t".join(TITLE_AKAS.header)
    path = write(
        tmp_path / "title.akas.tsv",
        header + "\ntt0000001\t1\tA\tUS\t\\N\t\\N\t\\N\t1\n"
        "tt0000001\t2\tB\tUS\t\\N\t\\N\t\\N\t2\n"
        "tt0000001\t3\tC\tUS\t\\N\t\\N\t\\N\t\\N\n",
    )
    table, stats = rows(path, TITLE_AKAS)
    assert [(r["title"], r["is_original_title"]) for r in table] == [("A", True), ("C", None)]
    assert [(r["line"], r["reason"]) for r in stats.rejects] == [
        (3, "isOriginalTitle is not a valid bool: '2'")
    ]


def test_text_bytes_count_the_whole_file(tmp_path):
    text = (
        "tconst\taverageRating\tnumVotes\n"
        "tt0000001\t7.3\t1000\n"
        "tt0000002\t8.0\n"  # wrong width: counted too
        "tt0000003\t\\N\t5\n"
    )
    path = write(tmp_path / "title.ratings.tsv.gz", text, gz=True)
    _, stats = rows(path, TITLE_RATINGS)
    assert stats.text_bytes == len(text.encode())
    assert stats.bytes_in == path.stat().st_size


def test_line_map_forgets_what_it_no_longer_needs():
    lines = convert.LineMap()
    lines.skipped.extend([3, 4, 10])
    assert [lines.line_of(i) for i in range(4)] == [2, 5, 6, 7]
    lines.forget_before(lines.line_of(3))
    assert list(lines.skipped) == [10] and lines.dropped == 2
    assert [lines.line_of(i) for i in range(4, 7)] == [8, 9, 11]


# --------------------------------------------------------------------------- issue 12 cases

RATINGS_HEADER = "tconst\taverageRating\tnumVotes"


def test_a_utf8_byte_order_mark_before_the_header_is_accepted(tmp_path):
    text = "\ufeff" + RATINGS_HEADER + "\ntt0000001\t7.3\t1000\n"
    for gz in (False, True):
        path = write(tmp_path / ("title.ratings.tsv" + (".gz" if gz else "")), text, gz=gz)
        assert convert.check_header(path, TITLE_RATINGS) is True
        table, stats = rows(path, TITLE_RATINGS)
        assert [r["tconst"] for r in table] == ["tt0000001"]
        assert stats.text_bytes == len(text.encode())  # the mark is text too


def test_messages_quoting_file_content_escape_invisible_characters(tmp_path):
    path = write(tmp_path / "title.ratings.tsv", "tconst\taverage\x02Rating\u00a0\tnumVotes\n")
    with pytest.raises(HeaderError) as error:
        convert.check_header(path, TITLE_RATINGS)
    assert str(error.value) == (
        f"{path}: header does not match title.ratings: expected tconst|averageRating|numVotes "
        "found tconst|average\\x02Rating\\xa0|numVotes (column 2 is 'average\\x02Rating\\xa0' "
        "where 'averageRating' is expected); check that the file is title.ratings, else fetch it "
        "again"
    )
    path = write(tmp_path / "title.ratings.tsv", RATINGS_HEADER + "\ntt0000001\t7\u200b.3\t5\n")
    _, stats = rows(path, TITLE_RATINGS)
    assert stats.rejects[0]["reason"] == "averageRating is not a valid rating: '7\\u200b.3'"
    assert convert.escape("a\tb\ufeff\x00é東") == "a\\tb\\ufeff\\x00é東"


@pytest.mark.parametrize(
    "content, what",
    [
        (b"", "0 bytes"),
        (gzip.compress(b""), "a gzip of 20 bytes that holds no text"),
    ],
)
def test_an_empty_file_says_it_is_empty(tmp_path, content, what):
    path = tmp_path / "title.ratings.tsv.gz"
    path.write_bytes(content)
    with pytest.raises(convert.EmptyFileError) as error:
        convert.check_header(path, TITLE_RATINGS)
    assert str(error.value) == (
        f"title.ratings: {path} is empty ({what}, not even the header line); fetch the file again"
    )
    akas = tmp_path / "title.akas.tsv"
    akas.write_bytes(content)
    with pytest.raises(
        convert.EmptyFileError,
        match=r"fetch the file again, or remove it "
        r"\(title.akas is optional\)",
    ):
        convert.check_header(akas, TITLE_AKAS)


@pytest.mark.parametrize("gz", [False, True])
def test_a_required_table_with_only_its_header_has_no_rows(tmp_path, gz):
    path = write(
        tmp_path / ("title.ratings.tsv" + (".gz" if gz else "")), RATINGS_HEADER + "\n\n", gz=gz
    )
    with pytest.raises(convert.NoRowsError) as error:
        convert.check_header(path, TITLE_RATINGS)
    assert str(error.value) == (
        f"title.ratings: no rows in {path} (only the header line); fetch the file again "
        "(title.ratings is one of the four files that must have rows)"
    )
    akas = write(tmp_path / "title.akas.tsv", "\t".join(TITLE_AKAS.header) + "\n")
    assert convert.check_header(akas, TITLE_AKAS) is False  # optional: may be empty
    assert rows(akas, TITLE_AKAS)[0] == []


NAMES_HEADER = "nconst\tprimaryName\tbirthYear\tdeathYear\tprimaryProfession\tknownForTitles"


def test_a_byte_that_is_not_utf8_is_a_bad_row_not_a_failed_file(tmp_path):
    from ingest.schemas import NAME_BASICS

    good = [f"nm{i:07d}\tName {i}\t1950\t\\N\tactor\ttt0000001".encode() for i in range(1, 4001)]
    lines = [NAMES_HEADER.encode(), *good]
    lines[2500] = b"nm0002500\tRen\xe9 Clair\t1898\t1981\tdirector\ttt0000001"  # Latin-1 e-acute
    lines[3000] = b"nm0003000\tOk\t1950\t\\N\t\xff\xfeactor"  # also the wrong column count
    lines[3500] = "nm0003500\tRené Cláir 東京\t1950\t\\N\tactor\ttt0000001".encode()  # fine
    path = tmp_path / "name.basics.tsv.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    stats = FileStats(path.name)
    out = [r for b in read_file(path, NAME_BASICS, stats, block_size=16384) for r in b.to_pylist()]
    assert [(r["line"], r["raw_line"], r["reason"]) for r in stats.rejects] == [
        (
            2501,
            "nm0002500\tRen\\xe9 Clair\t1898\t1981\tdirector\ttt0000001",
            "primaryName is not valid UTF-8: 'Ren\\xe9 Clair'",
        ),
        (3001, "nm0003000\tOk\t1950\t\\N\t\\xff\\xfeactor", "expected 6 columns, found 5"),
    ]
    ids = [r["nconst"] for r in out]  # read again as bytes from where it stopped: no row twice
    assert len(ids) == len(set(ids)) == 3998
    assert {r["nconst"]: r["primary_name"] for r in out}["nm0003500"] == "René Cláir 東京"
    assert stats.rows_read == stats.rows_written + stats.rows_rejected == 4000
    assert stats.text_bytes == len(b"\n".join(lines)) + 1


def _split_lines(text: str, every: int) -> list[str]:
    lines = text.splitlines(keepends=True)
    return ["".join(lines[i : i + every]) for i in range(0, len(lines), every)]


def _ratings_text(n: int, bad: dict | None = None) -> str:
    lines = [RATINGS_HEADER] + [f"tt{i:07d}\t5.0\t{i}" for i in range(1, n + 1)]
    for line, text in (bad or {}).items():
        lines[line - 1] = text
    return "\n".join(lines) + "\n"


def test_parts_are_read_as_one_file_with_lines_per_part(tmp_path):
    text = _ratings_text(1200, {600: "tt0000599\t5.0", 1001: "tt0001000\tten\t5"})
    parts = _split_lines(text, 500)  # like split -l 500: the header in the first part only
    paths = []
    for suffix, part in zip(("aa", "ab", "ac"), parts):
        paths.append(write(tmp_path / f"title.ratings.tsv.part-{suffix}", part))
    files = convert.TableFiles(tuple(paths), root=tmp_path)
    stats = FileStats(files.name)
    out = [
        r for b in read_file(files, TITLE_RATINGS, stats, block_size=4096) for r in b.to_pylist()
    ]
    assert len(out) == 1198 and out[0]["tconst"] == "tt0000001" and out[-1]["tconst"] == "tt0001200"
    assert [(r["file"], r["line"], r["reason"]) for r in stats.rejects] == [
        ("title.ratings.tsv.part-ab", 100, "expected 3 columns, found 2"),  # line 600 in all
        ("title.ratings.tsv.part-ac", 1, "averageRating is not a valid rating: 'ten'"),  # 1001
    ]
    assert stats.rows_read == stats.rows_written + stats.rows_rejected == 1200
    assert stats.text_bytes == len(text.encode())
    assert stats.bytes_in == files.size


def test_parts_with_their_own_header_gzips_and_cuts_inside_a_line(tmp_path):
    text = _ratings_text(300, {150: "tt0000149\t5.0", 250: "tt0000249\t5.0"})
    data = text.encode()
    starts = [0] + [i + 1 for i, byte in enumerate(data) if byte == 10]  # byte of each line
    at_101, inside_201 = starts[100], starts[200] + 4
    pieces = [data[:at_101], data[at_101:inside_201], data[inside_201:]]
    # part 2 was saved with its own byte order mark and header: both skipped (line 1 there)
    pieces[1] = "\ufeff".encode() + RATINGS_HEADER.encode() + b"\r\n" + pieces[1]
    paths = [tmp_path / f"p.{i:03d}" for i in range(3)]
    for path, piece in zip(paths, pieces):
        path.write_bytes(gzip.compress(piece))  # a gzip per part
    files = convert.TableFiles(tuple(paths), root=tmp_path)
    stats = FileStats(files.name)
    out = [r for b in read_file(files, TITLE_RATINGS, stats) for r in b.to_pylist()]
    assert [r["tconst"] for r in out] == [
        f"tt{i:07d}" for i in range(1, 301) if i not in (149, 249)
    ]  # line 201 joined whole
    assert [(r["file"], r["line"]) for r in stats.rejects] == [
        ("p.001", 51),  # line 150: part 2's header is its line 1, line 101 its line 2
        ("p.002", 49),  # line 250: line 201 began in part 2, so part 3's line 1 is line 202
    ]
    assert stats.rows_read == stats.rows_written + stats.rows_rejected == 300


def test_a_gzip_cut_into_pieces_is_joined_before_it_is_inflated(tmp_path):
    text = _ratings_text(3000, {2000: "tt0001999\tbad\t1"})
    data = gzip.compress(text.encode())
    third = len(data) // 3
    paths = []
    for i, piece in enumerate((data[:third], data[third : 2 * third], data[2 * third :])):
        paths.append(tmp_path / f"title.ratings.tsv.gz.part-a{'abc'[i]}")
        paths[-1].write_bytes(piece)
    files = convert.TableFiles(tuple(paths), root=tmp_path)
    stats = FileStats(files.name)
    out = [r for b in read_file(files, TITLE_RATINGS, stats) for r in b.to_pylist()]
    assert len(out) == 2999
    assert [(r["file"], r["line"]) for r in stats.rejects] == [(files.name, 2000)]


def test_parts_that_mix_gzip_and_text_stop(tmp_path):
    a = write(tmp_path / "x.part-aa", RATINGS_HEADER + "\ntt1\t1.0\t5\n")
    b = write(tmp_path / "x.part-ab", "tt2\t1.0\t5\n", gz=True)
    with pytest.raises(InputError, match=r"only some parts are gzips \(x.part-ab\)"):
        rows(convert.TableFiles((a, b), root=tmp_path), TITLE_RATINGS)


def test_a_bad_byte_in_a_later_part_is_read_again_from_where_it_stopped(tmp_path):
    lines = _ratings_text(3000).encode().split(b"\n")
    lines[2500] = b"tt0002500\t5.0\t25\xe900"  # line 2501; part ab starts at line 2002
    data = b"\n".join(lines)
    cut = data.index(b"\ntt0002001\t") + 1
    paths = [tmp_path / "t.part-aa", tmp_path / "t.part-ab"]
    paths[0].write_bytes(data[:cut])
    paths[1].write_bytes(data[cut:])
    files = convert.TableFiles(tuple(paths), root=tmp_path)
    stats = FileStats(files.name)
    out = [
        r["tconst"]
        for b in read_file(files, TITLE_RATINGS, stats, block_size=8192)
        for r in b.to_pylist()
    ]
    assert out == [f"tt{i:07d}" for i in range(1, 3001) if i != 2500]  # each once, in order
    assert [(r["file"], r["line"], r["reason"]) for r in stats.rejects] == [
        ("t.part-ab", 500, "numVotes is not valid UTF-8: '25\\xe900'")
    ]


def test_gzip_is_told_by_its_bytes_not_its_name(tmp_path):
    # a browser that unpacked a download (Content-Encoding: gzip) and kept the name
    text = RATINGS_HEADER + "\ntt0000001\t7.3\t1000\n"
    plain = write(tmp_path / "title.ratings.tsv.gz", text)
    assert [r["tconst"] for r in rows(plain, TITLE_RATINGS)[0]] == ["tt0000001"]
    hidden = write(tmp_path / "data.tsv", text, gz=True)  # a folder's data file, gzipped
    assert [r["tconst"] for r in rows(hidden, TITLE_RATINGS)[0]] == ["tt0000001"]
    damaged = tmp_path / "damaged.tsv.gz"
    damaged.write_bytes(gzip.compress(text.encode())[:10] + b"\xff" * 40)
    with pytest.raises(
        CorruptFileError,
        match=r"damaged.tsv.gz: cannot read the file \(a damaged "
        r"gzip: .*\); fetch it again",
    ):
        convert.check_header(damaged, TITLE_RATINGS)
