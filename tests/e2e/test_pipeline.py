"""End to end in one process: ingest -> stream -> dbt -> results on every sample folder and
on the hand-made rule fixtures, cross-checked against DuckDB over the raw files.

One SparkSession and one home serve every case: each case re-ingests (a new ingest id, so
a new stream) and dbt builds the marts from the latest stream, which is also what a user
re-running the pipeline on a new dump does.
"""

from __future__ import annotations

import json
import logging
import math
import re

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from imdb_pipeline.docs import generate_docs
from imdb_pipeline.home import REPO_ROOT
from imdb_pipeline.results import DeltaReader, ResultsError, collect, render_json
from imdb_pipeline.transform import TransformError, dbt_vars, run_dbt, transform
from ingest.convert import HeaderError
from ingest.lake import current_ingest
from ingest.run import run_ingest
from streaming.job import StreamOptions, stream
from tests.conftest import FIXTURES, SAMPLES
from tests.e2e.answers import assert_same_answer
from tests.e2e.report_checks import check_report
from tests.reference.duckdb_reference import compute

pytestmark = pytest.mark.e2e


def run_pipeline(spark, home, source, *, build=True, records_per_batch=100, **answer):
    options = StreamOptions(records_per_batch=records_per_batch, **answer)
    run_ingest(spark, home, str(source), force=True)
    summary = stream(spark, home, options)
    variables = dbt_vars(options.min_votes, options.top_n, options.title_types)
    if build:
        transform(home, variables)  # dbt build: models + all tests
    else:
        result = run_dbt(home, ["run", "--select", "staging", "intermediate", "marts"], variables)
        assert result.success, result.exception
    return summary, collect(DeltaReader.of_warehouse(home.warehouse))  # as `results` reads them


def test_rule_fixtures_match_hand_computed_numbers_and_duckdb(spark, home, tmp_path):
    source = FIXTURES / "rules"
    expected = json.loads((source / "expected.json").read_text())
    summary, ours = run_pipeline(spark, home, source, records_per_batch=7)
    assert summary["batches_this_run"] == math.ceil(summary["records_this_run"] / 7)
    # through Spark's SQL (the path of the Thrift server's clients): the same JSON
    assert render_json(collect(spark)) == render_json(ours)
    assert ours["ratings_processed"] == expected["ratings_processed"]
    assert ours["average_number_of_votes"] == expected["average_number_of_votes"]
    assert [m["tconst"] for m in ours["top_movies"]] == expected["top_tconsts"]
    names = {m["tconst"]: m["known_for_names"] for m in ours["top_movies"]}
    for tconst, known in expected["known_for_names"].items():
        assert names[tconst] == known
    credits = {c["nconst"]: c for c in ours["top_movie_credits"]}
    assert [c["nconst"] for c in ours["top_movie_credits"]] == expected["credit_order"]
    for row in expected["credits"]:
        assert {k: credits[row["nconst"]][k] for k in row} == row
    assert_same_answer(ours, compute(source))
    checks = spark.table("imdb_lookup.ingest_checks")  # what dbt's key tests read
    assert checks.schema.simpleString() == (
        "struct<ingest_id:string,imdb_file:string,lookup_table:string,key_columns:array<string>,"
        "rows_read:bigint,rows_written:bigint,rows_rejected:bigint,null_keys:bigint,"
        "duplicate_keys:bigint,converted_in:string>"
    )
    rows = {r["lookup_table"]: r for r in checks.collect()}
    assert len(rows) == 8 and rows["title_ratings"]["rows_written"] == 30
    assert sum(r["duplicate_keys"] + r["null_keys"] for r in rows.values()) == 0
    # the batch cross-check read only the partitions at or above min_votes' votes_floor, and
    # ranked the same movies as the stream (its dbt test compared them in the build)
    batch = "imdb_intermediate.int_movies_ranked_from_lookup"
    plan = spark.sql(f"explain select * from {batch}").collect()[0][0]
    assert re.search(r"PartitionFilters: \[[^\]]*\(votes_floor#\d+ >= 500\)", plan), plan
    batch_top = spark.sql(f"select tconst from {batch} where movie_rank <= 10 order by movie_rank")
    assert [r.tconst for r in batch_top.collect()] == expected["top_tconsts"]
    check_report(spark, home, tmp_path, "rules")  # the HTML report, in headless Chromium


def test_dbt_docs_describe_every_model_seed_source_and_column(spark, home, tmp_path):
    """`make docs` on a built home: the catalog finds every model, seed and source of the
    project in the warehouse, and each of them and each of their columns has a description
    (a new column without one fails here). The build's run_results.json is left alone."""
    if not (home.warehouse / "imdb_reference.db" / "regions").is_dir():  # run alone: build first
        run_pipeline(spark, home, FIXTURES / "rules", records_per_batch=7)
    build = json.loads((home.dbt_target / "run_results.json").read_text())["metadata"]
    site = generate_docs(home, None, out=tmp_path / "docs")
    assert site["not_in_catalog"] == []
    assert site["undocumented"] == [], "\n".join(site["undocumented"])
    assert site["counts"]["model"] == len(list((REPO_ROOT / "models").rglob("*.sql")))
    assert site["counts"]["seed"] == len(list((REPO_ROOT / "seeds").glob("*.csv")))
    assert site["counts"]["source"] >= 11 and site["counts"]["test"] >= 1
    index = site["index"].read_text()  # the static site carries manifest and catalog inline
    assert "model.imdb.top_movie_credits" in index and "source.imdb.imdb_stream.batches" in index
    assert json.loads((home.dbt_target / "run_results.json").read_text())["metadata"] == build


def test_without_akas_and_fewer_eligible_than_top_n(spark, home):
    source = FIXTURES / "rules_no_akas"
    _, ours = run_pipeline(spark, home, source, build=False)
    assert 0 < len(ours["top_movies"]) < 10
    assert all(not t["regions"] for t in ours["top_movie_titles"])
    assert_same_answer(ours, compute(source))


OPTION_MATRIX = [
    {"min_votes": 2_000_000},  # nothing eligible: empty marts, run_summary still tells
    {"min_votes": 0, "top_n": 3, "title_types": ("tvSeries", "tvMovie", "tvMiniSeries")},
    {"min_votes": 1_900, "top_n": 1},
]


def test_every_option_gives_the_reference_answer_through_the_full_build(spark, home, capfd, caplog):
    """The CLI's options through `transform`, each answer published and read back without
    Spark as `results` reads it; each with the full `dbt build` (its unit tests pin their own
    vars, so options far from the defaults pass them, and every data test holds)."""
    source = FIXTURES / "rules"
    run_ingest(spark, home, str(source), force=True)
    for number, answer in enumerate(OPTION_MATRIX):
        options = StreamOptions(records_per_batch=1000, **answer)
        stream(spark, home, options)
        transform(home, dbt_vars(options.min_votes, options.top_n, options.title_types))
        assert_same_answer(
            collect(DeltaReader.of_warehouse(home.warehouse)), compute(source, **answer)
        )
    # The last answer again, after an ingest that converted title.akas anew (as a refresh
    # whose akas file changed): the credits are kept (the same top movies, principals, names
    # and code), the titles computed again; the answer is still DuckDB's.
    checks_file = home.lake / current_ingest(home.lake) / "_checks" / "part-0.parquet"
    checks = pq.read_table(checks_file)
    akas = pc.if_else(
        pc.equal(checks["lookup_table"], "title_akas"), "a-later-ingest", checks["converted_in"]
    )
    pq.write_table(
        checks.set_column(checks.schema.get_field_index("converted_in"), "converted_in", akas),
        checks_file,
    )
    spark.sql("refresh table imdb_lookup.ingest_checks")
    # and as after a build killed in top_movies' CREATE TABLE AS SELECT: its folder holds
    # files but no table; the candidates are written at an explicit location, which the next
    # CREATE overwrites (a managed table's would stop with LOCATION_ALREADY_EXISTS)
    spark.sql("drop table imdb_candidate.top_movies")  # external: the folder stays
    leftover = home.warehouse / "imdb_candidate.db" / "top_movies"
    (leftover / "_temporary" / "0").mkdir(parents=True)
    (leftover / "part-00000-cut-short.zstd.parquet").write_bytes(b"not parquet")
    caplog.set_level(logging.INFO, logger="imdb_pipeline")
    caplog.clear()
    try:
        transform(
            home, dbt_vars(options.min_votes, options.top_n, options.title_types), tests=False
        )  # the models: what keeps or computes them
    finally:
        pq.write_table(checks, checks_file)
        spark.sql("refresh table imdb_lookup.ingest_checks")
    shown = caplog.messages
    assert [re.sub(r"version \d+", "version N", line) for line in shown if "kept" in line] == [
        "dbt: top_movie_credits: kept from version N (the same top movies, lookups and code)"
    ]
    assert_same_answer(
        collect(DeltaReader.of_warehouse(home.warehouse)), compute(source, **OPTION_MATRIX[-1])
    )
    assert capfd.readouterr().out == ""  # dbt prints nothing on stdout


def test_a_repeated_key_fails_the_build_and_results_keep_saying_so(spark, home, capfd, caplog):
    """The ingest counted a repeated (tconst, ordering) in title.principals: dbt's key test
    fails mid-build, the answer asked for is not published, and `results` says so instead
    of showing the older answer as if it were the one asked for."""
    # the home as the option matrix left it: its last answer published
    published = collect(DeltaReader.of_warehouse(home.warehouse))
    checks_file = home.lake / current_ingest(home.lake) / "_checks" / "part-0.parquet"
    checks = pq.read_table(checks_file)
    repeated = pc.if_else(
        pc.equal(checks["lookup_table"], "title_principals"), 1, checks["duplicate_keys"]
    ).cast(pa.int64())
    pq.write_table(
        checks.set_column(
            checks.schema.get_field_index("duplicate_keys"), "duplicate_keys", repeated
        ),
        checks_file,
    )
    spark.sql("refresh table imdb_lookup.ingest_checks")
    caplog.set_level(logging.INFO, logger="imdb_pipeline")
    caplog.clear()
    with pytest.raises(TransformError, match="lookup_keys_checked_stg_imdb__title_principals"):
        transform(home, dbt_vars(100, 3, ["movie"]))
    shown = caplog.messages
    assert any(line.startswith("dbt: FAIL lookup_keys_checked") for line in shown)
    assert (published["parameters"]["min_votes"], published["parameters"]["top_n"]) == (1_900, 1)
    assert capfd.readouterr().out == ""  # the failure went to the log (stderr), not stdout
    with pytest.raises(
        ResultsError,
        match=r"^the last transform \(min_votes 100, top_n 3, "
        r"title_types movie, at .*\) did not publish an answer \(failed: ",
    ):
        collect(DeltaReader.of_warehouse(home.warehouse))
    with pytest.raises(ResultsError, match="did not publish"):
        collect(spark)  # the same through Spark, as the Thrift server's clients read it
    pq.write_table(checks, checks_file)  # the next test's build publishes again
    spark.sql("refresh table imdb_lookup.ingest_checks")


SAMPLE_FOLDERS = [
    "imdbSpark",
    "spark-structured-streaming-imdb",
    "query-evaluation-imdb",
    "imdb-dataset",
    "IMDb-Dataset-Query-Tester",
    "pimdb",
]
# The samples with the most rows (credits, alternative titles, an extra basics file) run to
# the marts; the others, whose files differ in layout rather than in what the marts do with
# them, to the end of the stream: the running answer (ratings, average, top 10) is compared.
# A dbt run costs 25-35 s on tiny data, about half of such a case.
SAMPLES_TO_THE_MARTS = {"imdb-dataset", "pimdb"}


@pytest.mark.parametrize("folder", SAMPLE_FOLDERS)
def test_sample_folder_matches_duckdb(spark, home, folder):
    source = SAMPLES / folder
    reference = compute(source)
    if folder in SAMPLES_TO_THE_MARTS:
        _, ours = run_pipeline(spark, home, source, build=False)
        assert_same_answer(ours, reference)
        return
    run_ingest(spark, home, str(source), force=True)
    summary = stream(spark, home, StreamOptions(records_per_batch=100))
    assert summary["ratings_processed"] == reference["ratings_processed"]
    assert math.isclose(
        summary["average_number_of_votes"], reference["average_number_of_votes"], rel_tol=1e-12
    )
    assert summary["top"] == [m["tconst"] for m in reference["top_movies"]]


def test_malformed_sample_stops_and_keeps_the_last_good_results(spark, home):
    before = collect(spark)
    with pytest.raises(HeaderError, match="title.basics.tsv: header does not match"):
        run_ingest(spark, home, str(SAMPLES / "code-exercise"), force=True)
    assert collect(spark) == before
