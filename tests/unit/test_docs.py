"""The docs rule (imdb_pipeline.docs.undocumented) on small manifests and catalogs, the
answer's vars read from the marts, and `docs` on a home with no marts. dbt docs generate
itself runs on a built home in tests/e2e/test_pipeline.py."""

from __future__ import annotations

from click.testing import CliRunner

from imdb_pipeline.cli import main
from imdb_pipeline.docs import answer_vars, not_in_catalog, undocumented
from imdb_pipeline.results import DeltaReader
from tests.unit.test_results import write_marts


def node(kind: str, name: str, description: str, columns: dict[str, str], package="imdb") -> tuple:
    unique_id = f"{kind}.{package}.{name}"
    return unique_id, {
        "resource_type": kind,
        "package_name": package,
        "description": description,
        "columns": {c: {"name": c, "description": d} for c, d in columns.items()},
    }


def catalog_entry(*columns: str) -> dict:
    return {
        "columns": {c: {"name": c, "type": "string", "index": i} for i, c in enumerate(columns)}
    }


def test_every_model_seed_source_and_column_the_warehouse_has_needs_a_description():
    model = node("model", "top_movies", "The top movies.", {"tconst": "Id.", "rank": ""})
    seed = node("seed", "regions", "", {"region": "Code."})
    source = node(
        "source", "imdb_lookup.title_basics", "title.basics.", {"tconst": "Id.", "gone": "Renamed."}
    )
    test = node("test", "primary_key_top_movies", "", {})  # tests need no description
    other = node("model", "theirs", "", {}, package="dbt")  # another package's model
    manifest = {"nodes": dict([model, seed, test, other]), "sources": dict([source])}
    catalog = {
        "nodes": {
            model[0]: catalog_entry("TCONST", "rank", "ranking_score"),
            seed[0]: catalog_entry("region"),
        },
        "sources": {source[0]: catalog_entry("tconst")},
    }
    assert undocumented(manifest, catalog) == [
        "model.imdb.top_movies: column rank has no description",
        "model.imdb.top_movies: column ranking_score has no description",  # in the table only
        "seed.imdb.regions: no description",
        "source.imdb.imdb_lookup.title_basics: column gone is described but not in the table",
    ]
    assert not_in_catalog(manifest, catalog) == []
    del catalog["sources"][source[0]]
    assert not_in_catalog(manifest, catalog) == ["source.imdb.imdb_lookup.title_basics"]


def test_a_fully_described_project_has_no_gaps():
    model = node("model", "run_summary", "One row.", {"stream_id": "The stream."})
    manifest = {"nodes": dict([model]), "sources": {}}
    assert undocumented(manifest, {"nodes": {model[0]: catalog_entry("stream_id")}}) == []


def test_the_docs_use_the_published_answers_vars(tmp_path):
    assert answer_vars(DeltaReader.of_warehouse(tmp_path)) is None
    write_marts(tmp_path)
    assert answer_vars(DeltaReader.of_warehouse(tmp_path)) == {
        "min_votes": 500,
        "top_n": 3,
        "title_types": ["movie", "tvMovie"],
    }


def test_docs_on_a_home_without_marts_is_one_error_line_before_spark(tmp_path):
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "docs"])
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the docs need a built home")
    assert f"`imdb-pipeline --home {tmp_path} run --source DIR`" in last  # the same home
    assert "spark: started" not in result.stderr
