"""imdb_pipeline.transform: which dbt nodes a transform selects, and what a user sees of dbt."""

from __future__ import annotations

from types import SimpleNamespace

from imdb_pipeline.home import REPO_ROOT, Home
from imdb_pipeline.transform import SKIP_TESTS, DbtProgress, dbt_vars, seed_state, selection


def test_vars_are_the_options_with_sorted_title_types():
    assert dbt_vars(500, 10, ("tvMovie", "movie")) == {
        "min_votes": 500, "top_n": 10, "title_types": ["movie", "tvMovie"]}


def loaded_seeds(home: Home) -> None:
    for csv in (REPO_ROOT / "seeds").glob("*.csv"):
        (home.warehouse / "imdb_reference.db" / csv.stem / "_delta_log").mkdir(parents=True)


def test_seeds_are_loaded_until_a_build_kept_its_state_and_their_tables_exist(tmp_path):
    home = Home.resolve(tmp_path / "home").make()
    assert selection(home) == ["build"]  # a fresh home: every seed
    seed_state(home).mkdir(parents=True)
    (seed_state(home) / "manifest.json").write_text("{}")
    assert selection(home) == ["build"]  # no seed tables in the warehouse yet
    loaded_seeds(home)
    assert selection(home) == [
        "build", "--state", str(seed_state(home)),
        "--exclude", "resource_type:seed,state:unmodified",
    ]
    assert selection(home, tests=False)[-len(SKIP_TESTS):] == SKIP_TESTS


def event(name: str, **data):
    return SimpleNamespace(info=SimpleNamespace(name=name), data=SimpleNamespace(**data))


def finished(name: str, kind: str, status: str, message: str = ""):
    return event("NodeFinished", node_info=SimpleNamespace(node_name=name, resource_type=kind),
                 run_result=SimpleNamespace(status=status, message=message))


def test_progress_shows_failures_and_the_project_log_lines_and_counts_the_rest():
    lines = []
    progress = DbtProgress(lines.append, bar=False)
    progress(event("LogStartLine", total=3))
    progress(finished("top_movies", "model", "success"))
    progress(finished("primary_key_top_movies_tconst", "test", "fail", "Got 1 result,\n configured"))
    progress(finished("not_run", "test", "skipped"))
    progress(event("JinjaLogInfo", msg="publish: the answer was not published"))
    progress(event("MainReportVersion", version="1.11"))
    assert lines == [
        "dbt: FAIL primary_key_top_movies_tconst: Got 1 result, configured",
        "publish: the answer was not published",
    ]
    assert progress.failures == ["primary_key_top_movies_tconst (fail)"]
    assert progress.summary() == "3 nodes (1 models, 2 tests)"
