"""Issue 12: the inputs people really have, each built from the real-2019 sample and run
through the ingest as `imdb-pipeline ingest` runs it (no Spark: the CLI's Spark session is a
stand-in that nothing before publishing touches). Each case asserts the exit code and the one
error line, or the lookups and the answer against the reference engine (DuckDB over the
original files), and rows read = rows written + rows rejected for every file.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import shutil
import subprocess

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from imdb_pipeline import cli
from imdb_pipeline.home import Home
from ingest.lake import LookupKeyError, land
from ingest.run import fetch_source
from streaming.process import Rules, RunningState, fold
from tests.conftest import SAMPLES
from tests.reference.duckdb_reference import compute

REAL = SAMPLES / "real-2019-top25-repaired"
NAMES = ("title.basics", "title.ratings", "title.principals", "name.basics", "title.akas")


def copy_sample(folder):
    folder.mkdir(parents=True)
    for name in NAMES:
        shutil.copyfile(REAL / f"{name}.tsv", folder / f"{name}.tsv")
    return folder


def ingest(source, tmp_path, **options):
    """fetch_source + land, as run_ingest runs them; (lake folder, reports, log lines)."""
    home = Home.resolve(tmp_path / "home")
    fetched = fetch_source(home, str(source))
    _, folder, reports = land(
        fetched.paths, home.lake, progress=False, skipped=fetched.skipped, **options
    )
    for report in reports:
        assert report.rows_read == report.rows_written + report.rows_rejected, report.file
    return folder, reports


def lookup(folder, table):
    rows = ds.dataset(folder / table, partitioning="hive").to_table().to_pylist()
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def answer(folder):
    """The stream's fold over the ingest's feed: count, average, top 10 (movies, >= 500)."""
    basics = ds.dataset(folder / "title_basics", partitioning="hive").to_table()
    movies = {r["tconst"] for r in basics.to_pylist() if r["title_type"] == "movie"}
    feed = pq.read_table(folder / "ratings_feed" / "part-0.parquet").to_pylist()
    records = [(r["tconst"], int(r["average_rating"] * 10), r["num_votes"], False) for r in feed]
    state, _ = fold(RunningState(), records, Rules(movies, 500, 10))
    return state.ratings_processed, state.average_number_of_votes, [r.tconst for r in state.top]


def reference(source):
    expected = compute(source)
    return (
        expected["ratings_processed"],
        expected["average_number_of_votes"],
        [m["tconst"] for m in expected["top_movies"]],
    )


def same_answer(ours, theirs) -> bool:
    return (
        ours[0] == theirs[0]
        and math.isclose(ours[1], theirs[1], rel_tol=1e-12)
        and ours[2] == theirs[2]
    )


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """The sample as it is, ingested: the lookups every layout must reproduce."""
    tmp = tmp_path_factory.mktemp("plain")
    folder, _ = ingest(copy_sample(tmp / "src"), tmp)
    return folder


def run_cli(args, monkeypatch, tmp_path):
    """`imdb-pipeline ingest ...` in-process; Spark stands in (nothing before publishing uses it)."""
    monkeypatch.setattr(cli.Context, "spark", property(lambda self: object()))
    home = tmp_path / "cli-home"
    result = CliRunner().invoke(cli.main, ["--home", str(home), "ingest", *args])
    return result


# --- case 1: one folder per table ------------------------------------------------------------


def test_one_folder_per_table_is_read_as_that_table(tmp_path, plain):
    source = tmp_path / "src"
    for name in NAMES:  # what an archiver makes of <name>.tsv.gz: <name>.tsv/data.tsv
        (source / f"{name}.tsv").mkdir(parents=True)
        shutil.copyfile(REAL / f"{name}.tsv", source / f"{name}.tsv" / "data.tsv")
    folder, reports = ingest(source, tmp_path)
    assert sorted(r.file for r in reports) == sorted(f"{n}.tsv/data.tsv" for n in NAMES)
    for table in (
        "title_basics",
        "title_ratings",
        "title_principals",
        "name_basics",
        "title_akas",
        "title_names",
    ):
        assert lookup(folder, table) == lookup(plain, table), table
    assert same_answer(answer(folder), reference(REAL))


def test_a_folder_per_table_that_holds_no_data_stops_saying_what_to_pass(tmp_path, monkeypatch):
    source = copy_sample(tmp_path / "src")
    (source / "title.ratings.tsv").unlink()
    (source / "title.ratings.tsv").mkdir()
    (source / "title.ratings.tsv" / "data.tsv.zip").write_bytes(b"PK")
    (source / "title.ratings.tsv" / "notes.txt").write_text("x")
    result = run_cli(["--source", str(source)], monkeypatch, tmp_path)
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"error: {source}/title.ratings.tsv: a folder named like title.ratings holds 2 files "
        "that are not the parts of one file (data.tsv.zip, notes.txt); keep its one data file "
        "(or the parts of one split file) in it"
    )


@pytest.mark.parametrize(
    "held, content, hint",
    [
        ("data.tsv.zip", b"PK\x03\x04", "unpack it into the folder"),
        (
            "README.txt",
            b"IMDb ratings, downloaded today\n",
            "put that table's .tsv or .tsv.gz file",
        ),
    ],
)
def test_a_folder_per_table_holding_one_other_file_says_what_it_holds(
    tmp_path, monkeypatch, held, content, hint
):
    source = copy_sample(tmp_path / "src")
    (source / "title.ratings.tsv").unlink()
    (source / "title.ratings.tsv").mkdir()
    (source / "title.ratings.tsv" / held).write_bytes(content)
    result = run_cli(["--source", str(source)], monkeypatch, tmp_path)
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"error: {source}/title.ratings.tsv: a folder named like title.ratings holds only {held}, "
        f"which is neither a .tsv or .gz file nor begins with the title.ratings header; {hint}"
        f"{' in it' if hint.startswith('put') else ''}, or pass the file itself as "
        f"{source}/title.ratings.tsv[.gz]"
    )


def test_a_folder_per_table_holding_one_headed_file_of_any_name_is_read(tmp_path, plain):
    source = copy_sample(tmp_path / "src")
    (source / "title.ratings.tsv").rename(tmp_path / "ratings")
    (source / "title.ratings.tsv").mkdir()
    (tmp_path / "ratings").rename(source / "title.ratings.tsv" / "part-00000")  # Spark's name
    folder, _ = ingest(source, tmp_path)
    assert lookup(folder, "title_ratings") == lookup(plain, "title_ratings")


# --- case 2: a table cut into parts ----------------------------------------------------------


def split(path, lines, prefix):
    """``split -l LINES PATH PREFIX`` (the real tool)."""
    subprocess.run(["split", "-l", str(lines), str(path), str(prefix)], check=True)


def test_parts_of_akas_are_read_as_one_file(tmp_path, plain, caplog):
    caplog.set_level(logging.INFO)
    source = copy_sample(tmp_path / "src")
    split(source / "title.akas.tsv", 500, source / "title.akas.tsv.part-")
    (source / "title.akas.tsv").unlink()
    folder, reports = ingest(source, tmp_path)
    messages = caplog.messages
    akas = next(r for r in reports if r.table == "title_akas")
    assert akas.parts == ["title.akas.tsv.part-aa", "title.akas.tsv.part-ab"]
    assert akas.rows_read == 997 and akas.rows_rejected == 0
    assert lookup(folder, "title_akas") == lookup(plain, "title_akas")  # all 997 akas, once
    assert not any("absent" in m for m in messages)


@pytest.mark.parametrize("layout", ["numbered", "folder of part-NNNNN", "gzip cut by bytes"])
def test_other_part_namings(tmp_path, plain, layout):
    source = copy_sample(tmp_path / "src")
    akas = source / "title.akas.tsv"
    if layout == "numbered":  # split -d -a 3 --additional-suffix: title.akas.tsv.000, .001
        subprocess.run(["split", "-l", "300", "-d", "-a", "3", str(akas), f"{akas}."], check=True)
    elif layout == "folder of part-NNNNN":
        (source / "title.akas").mkdir()
        subprocess.run(
            [
                "split",
                "-l",
                "400",
                "-d",
                "-a",
                "5",
                str(akas),
                str(source / "title.akas" / "part-"),
            ],
            check=True,
        )
    else:
        (source / "title.akas.tsv.gz").write_bytes(gzip.compress(akas.read_bytes()))
        subprocess.run(
            [
                "split",
                "-b",
                "7000",
                str(source / "title.akas.tsv.gz"),
                str(source / "title.akas.tsv.gz.part-"),
            ],
            check=True,
        )
        (source / "title.akas.tsv.gz").unlink()
    akas.unlink()
    folder, reports = ingest(source, tmp_path)
    assert len(next(r for r in reports if r.table == "title_akas").parts) > 1
    assert lookup(folder, "title_akas") == lookup(plain, "title_akas")


def test_a_rejected_row_of_a_part_is_named_by_its_part_and_line(tmp_path):
    source = copy_sample(tmp_path / "src")
    lines = (source / "title.akas.tsv").read_text().splitlines()
    lines[700] = lines[700] + "\textra"  # line 701 of the file = line 201 of part ab
    (source / "title.akas.tsv").write_text("\n".join(lines) + "\n")
    split(source / "title.akas.tsv", 500, source / "title.akas.tsv.part-")
    (source / "title.akas.tsv").unlink()
    folder, _ = ingest(source, tmp_path, max_reject_share=0.01)
    rejects = pq.read_table(folder / "_rejects" / "title_akas.parquet").to_pylist()
    assert [(r["file"], r["line"], r["reason"]) for r in rejects] == [
        ("title.akas.tsv.part-ab", 201, "expected 8 columns, found 9")
    ]


def test_a_file_with_an_imdb_header_under_another_name_is_reported(tmp_path, monkeypatch):
    source = copy_sample(tmp_path / "src")
    (source / "title.akas.tsv").rename(source / "akas-2019.tsv")
    result = run_cli(["--source", str(source)], monkeypatch, tmp_path)
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"error: {source}/akas-2019.tsv: begins with the title.akas header but its name is not "
        "one the ingest reads; rename it title.akas.tsv (or title.akas.tsv.gz if gzipped; the "
        "parts of a split file title.akas.tsv.part-aa, -ab, ...)"
    )


# --- case 3: a byte order mark ----------------------------------------------------------------


def test_a_byte_order_mark_is_accepted(tmp_path, plain):
    source = copy_sample(tmp_path / "src")
    ratings = source / "title.ratings.tsv"
    ratings.write_bytes(b"\xef\xbb\xbf" + ratings.read_bytes())
    folder, _ = ingest(source, tmp_path)
    assert lookup(folder, "title_ratings") == lookup(plain, "title_ratings")
    assert same_answer(answer(folder), reference(REAL))


# --- case 4: no rows ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, line",
    [
        (
            "tconst\taverageRating\tnumVotes\n",
            (
                "error: title.ratings: no rows in {path} (only the header line); fetch the file again "
                "(title.ratings is one of the four files that must have rows)"
            ),
        ),
        (
            "",
            (
                "error: title.ratings: {path} is empty (0 bytes, not even the header line); fetch the "
                "file again"
            ),
        ),
    ],
)
@pytest.mark.parametrize("gz", [False, True])
def test_a_ratings_file_without_rows_stops_at_ingest(tmp_path, monkeypatch, content, line, gz):
    source = copy_sample(tmp_path / "src")
    (source / "title.ratings.tsv").unlink()
    path = source / ("title.ratings.tsv.gz" if gz else "title.ratings.tsv")
    path.write_bytes(gzip.compress(content.encode()) if gz and content else content.encode())
    result = run_cli(["--source", str(source)], monkeypatch, tmp_path)
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == line.format(path=path)
    assert not (tmp_path / "cli-home" / "lake" / "CURRENT").exists()


def test_optional_tables_may_have_only_their_header(tmp_path, plain):
    source = copy_sample(tmp_path / "src")
    akas = source / "title.akas.tsv"
    akas.write_text(akas.read_text().splitlines()[0] + "\n")
    folder, reports = ingest(source, tmp_path)
    assert next(r for r in reports if r.table == "title_akas").rows_read == 0
    assert lookup(folder, "title_akas") == [] and same_answer(answer(folder), reference(REAL))


# --- case 5: a byte that is not UTF-8 ------------------------------------------------------------


def test_a_name_re_encoded_by_a_windows_tool_is_one_bad_row(tmp_path, monkeypatch):
    source = copy_sample(tmp_path / "src")
    names = source / "name.basics.tsv"
    lines = names.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"\t", b"\tCl\xe9ment ", 1)  # cp1252 e-acute in primaryName
    names.write_bytes(b"\n".join(lines))
    bad_id = lines[2].split(b"\t")[0].decode()
    with pytest.raises(
        Exception,
        match=r"name.basics.tsv: 1 of 152 rows rejected \(0.66% > "
        r"--max-reject-share 0.10%\); first at line 3: "
        r"primaryName is not valid UTF-8: 'Cl\\xe9ment ",
    ):
        ingest(source, tmp_path / "a")  # counted against the share like any bad row
    folder, reports = ingest(source, tmp_path / "b", max_reject_share=0.01)
    report = next(r for r in reports if r.table == "name_basics")
    assert (report.rows_read, report.rows_written, report.rows_rejected) == (152, 151, 1)
    (reject,) = pq.read_table(folder / "_rejects" / "name_basics.parquet").to_pylist()
    assert reject["line"] == 3 and reject["raw_line"].startswith(f"{bad_id}\tCl\\xe9ment ")
    assert bad_id not in {r["nconst"] for r in lookup(folder, "name_basics")}


# --- case 6: a duplicate key ----------------------------------------------------------------------


def test_a_duplicate_tconst_in_ratings_is_counted_and_the_later_line_wins(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    source = copy_sample(tmp_path / "src")
    ratings = source / "title.ratings.tsv"
    lines = ratings.read_text().splitlines()
    tconst, _, votes = lines[5].split("\t")
    lines.append(f"{tconst}\t9.9\t{int(votes) * 2}")  # the same title later, other numbers
    ratings.write_text("\n".join(lines) + "\n")
    folder, reports = ingest(source, tmp_path)
    messages = caplog.messages
    (kept,) = [r for r in lookup(folder, "title_ratings") if r["tconst"] == tconst]
    assert (str(kept["average_rating"]), kept["num_votes"]) == ("9.9", int(votes) * 2)
    report = next(r for r in reports if r.table == "title_ratings")
    assert (report.rows_read, report.keys["duplicate_keys"]) == (26, 1)
    assert any(
        m.startswith("ingest: title.ratings: 26 rows, 0 rejected")
        and m.endswith("1 duplicate keys (tconst; the later line wins)")
        for m in messages
    )
    checks = {r["lookup_table"]: r for r in pq.read_table(folder / "_checks").to_pylist()}
    assert (
        checks["title_ratings"]["duplicate_keys"] == 1
        and checks["title_ratings"]["rows_read"] == 26
    )
    assert len(lookup(folder, "title_ratings")) == 25
    assert same_answer(answer(folder), reference(source))
    assert reference(source)[0] == 25  # ratings_processed: 25 titles for 26 rows


@pytest.mark.parametrize(
    "name, line, expected",
    [
        ("title.basics", 3, "1 repeated key (tconst)"),
        ("name.basics", 7, "1 repeated key (nconst)"),
        ("title.principals", 40, "1 repeated key (tconst, ordering)"),
        ("title.akas", 12, "1 repeated key (titleId, ordering)"),
    ],
)
def test_a_repeated_lookup_key_stops_the_ingest_naming_the_file(tmp_path, name, line, expected):
    """Only title.ratings may repeat its key: a lookup's repeated key stops the ingest with one
    line (before anything is published), not dbt's key test minutes later."""
    source = copy_sample(tmp_path / "src")
    path = source / f"{name}.tsv"
    lines = path.read_text().splitlines()
    lines.append(lines[line])  # the same key once more, at the end (out of key order)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LookupKeyError) as stopped:
        ingest(source, tmp_path)
    message = str(stopped.value)
    assert message.startswith(f"{path}: {expected}: each {name} row needs its own complete key"), (
        message
    )
    assert "\n" not in message and message.endswith("fetch the file again")
    lake = tmp_path / "home" / "lake"
    assert not (lake / "CURRENT").exists() and not list(lake.glob(".*.partial"))


def test_a_null_ordering_in_principals_is_a_key_problem_too(tmp_path):
    source = copy_sample(tmp_path / "src")
    path = source / "title.principals.tsv"
    lines = path.read_text().splitlines()
    fields = lines[1].split("\t")
    lines[1] = "\t".join([fields[0], "\\N", *fields[2:]])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LookupKeyError, match=r"1 null key \(tconst, ordering\)"):
        ingest(source, tmp_path)


# --- case C: only what the marts need ----------------------------------------------------------------


def test_crew_and_episode_are_read_only_when_asked_for(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    source = SAMPLES / "imdb-dataset"
    folder, reports = ingest(source, tmp_path)
    messages = caplog.messages
    assert {r.table for r in reports} == {
        "title_basics",
        "title_ratings",
        "title_principals",
        "name_basics",
        "title_akas",
    }
    assert (
        "ingest: title.crew: skipped (not asked for; --with-tables title.crew ingests it), "
        "empty table" in messages
    )
    assert (folder / "title_crew").is_dir() and not any((folder / "title_crew").iterdir())
    result = run_cli(["--source", str(source), "--with-tables", "title.foo"], monkeypatch, tmp_path)
    assert result.exit_code == 2 and "title.foo is no IMDb table" in result.output
