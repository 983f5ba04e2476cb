"""imdb_pipeline.transform: which dbt nodes a transform selects, and what a user sees of dbt."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import imdb_pipeline.transform as transform_module
from imdb_pipeline.home import REPO_ROOT, Home
from imdb_pipeline.transform import (
    SKIP_TESTS,
    DbtProgress,
    ParseAhead,
    build_vars,
    dbt_vars,
    seed_state,
    selection,
    transform,
    unit_test_fingerprint,
)


def test_vars_are_the_options_with_sorted_title_types():
    assert dbt_vars(500, 10, ("tvMovie", "movie")) == {
        "min_votes": 500,
        "top_n": 10,
        "title_types": ["movie", "tvMovie"],
    }


def loaded_seeds(home: Home) -> None:
    for csv in (REPO_ROOT / "seeds").glob("*.csv"):
        table = home.warehouse / "imdb_reference.db" / csv.stem
        table.mkdir(parents=True)
        (table / "_SUCCESS").touch()


def test_seeds_are_loaded_until_a_build_kept_its_state_and_their_tables_exist(tmp_path):
    home = Home.resolve(tmp_path / "home").make()
    assert selection(home) == ["build"]  # a fresh home: every seed
    seed_state(home).mkdir(parents=True)
    (seed_state(home) / "manifest.json").write_text("{}")
    assert selection(home) == ["build"]  # no seed tables in the warehouse yet
    loaded_seeds(home)
    assert selection(home) == [
        "build",
        "--state",
        str(seed_state(home)),
        "--exclude",
        "resource_type:seed,state:unmodified",
    ]
    assert selection(home, tests=False)[-len(SKIP_TESTS) :] == SKIP_TESTS
    (home.warehouse / "imdb_reference.db" / "regions" / "_SUCCESS").unlink()
    assert selection(home) == ["build"]  # a seed whose insert never committed: load them again


def passing_dbt(monkeypatch) -> list[list[str]]:
    """dbt as a build that passes: the arguments of each run_dbt call, recorded in order."""
    calls: list[list[str]] = []

    def run_dbt(home, args, variables=None, target=None, **options):
        calls.append(args)
        return SimpleNamespace(exception=None, success=True, progress=DbtProgress(bar=False))

    monkeypatch.setattr(transform_module, "run_dbt", run_dbt)
    return calls


def test_unit_tests_run_again_only_when_what_they_depend_on_changed(tmp_path, monkeypatch):
    home = Home.resolve(tmp_path / "home").make()
    variables = dbt_vars(500, 10, ["movie"])
    fingerprint = unit_test_fingerprint(variables, "local")
    assert selection(home, fingerprint=fingerprint) == ["build"]  # never passed here
    builds = passing_dbt(monkeypatch)
    transform(home, variables)  # a build that ran them passed
    assert builds == [["build"]]
    assert selection(home, fingerprint=fingerprint) == [
        "build",
        "--exclude-resource-type",
        "unit_test",
    ]
    for other in (
        unit_test_fingerprint(dbt_vars(501, 10, ["movie"]), "local"),
        unit_test_fingerprint(variables, "thrift"),
    ):
        assert selection(home, fingerprint=other) == ["build"]
    # a later build that skipped them keeps the fingerprint they passed on
    transform(home, variables)
    assert builds[-1][-1] == "unit_test"
    assert selection(home, fingerprint=fingerprint)[-1] == "unit_test"
    assert selection(home, tests=False, fingerprint=fingerprint) == ["build", *SKIP_TESTS]


def test_the_fingerprint_covers_every_file_of_the_dbt_project(tmp_path, monkeypatch):
    monkeypatch.setattr(transform_module, "REPO_ROOT", tmp_path)
    (tmp_path / "dbt_project.yml").write_text("name: imdb\n")
    for folder in ("models/marts", "macros", "seeds", "tests/dbt"):
        (tmp_path / folder).mkdir(parents=True)
    seen = {unit_test_fingerprint({}, "local")}
    for path in (
        "models/marts/top.sql",
        "macros/m.sql",
        "seeds/s.csv",
        "tests/dbt/t.sql",
        "tests/dbt/t.sql",
        "dbt_project.yml",
    ):
        with open(tmp_path / path, "a") as f:
            f.write("-- changed\n")
        seen.add(unit_test_fingerprint({}, "local"))
    (tmp_path / "models/marts/top.sql").rename(tmp_path / "models/marts/top2.sql")
    seen.add(unit_test_fingerprint({}, "local"))
    (tmp_path / "README.md").write_text("not dbt's")  # outside the project's dbt folders
    seen.add(unit_test_fingerprint({}, "local"))
    assert len(seen) == 8  # each change to the project gave a new fingerprint, README none


def test_the_parse_ahead_uses_the_builds_vars_starts_once_and_only_logs_a_failure(
    tmp_path, monkeypatch, caplog
):
    """dbt reuses a parse only for the same vars and target: the parse ahead must use
    exactly those of the build that follows, or the build parses again."""
    home = Home.resolve(tmp_path / "home").make()
    variables = dbt_vars(500, 10, ["movie"])
    calls: list[tuple] = []

    def run_dbt(home, args, variables=None, target=None, **options):
        calls.append((args[0], variables, target))
        return SimpleNamespace(exception=None, success=True, progress=DbtProgress(bar=False))

    monkeypatch.setattr(transform_module, "run_dbt", run_dbt)
    ahead = ParseAhead(home, variables)
    ahead.wait()  # not started: nothing to wait for
    ahead.start()
    ahead.start()  # started once
    ahead.wait()
    transform(home, variables)  # the build that follows
    expected = {**variables, "build_fingerprint": unit_test_fingerprint(variables, "local")}
    assert build_vars(variables, "local") == expected
    assert calls == [("parse", expected, "local"), ("build", expected, "local")]

    def broken(*args, **kwargs):
        raise RuntimeError("dbt_project.yml: no such file")

    monkeypatch.setattr(transform_module, "run_dbt", broken)
    caplog.set_level(logging.DEBUG, logger="imdb_pipeline")
    failing = ParseAhead(home, variables)
    failing.start()
    failing.wait()  # no exception: the build parses again and says what is wrong
    assert any("parse ahead failed (dbt_project.yml: no such file)" in m for m in caplog.messages)


def event(name: str, **data):
    return SimpleNamespace(info=SimpleNamespace(name=name), data=SimpleNamespace(**data))


def finished(name: str, kind: str, status: str, message: str = ""):
    return event(
        "NodeFinished",
        node_info=SimpleNamespace(node_name=name, resource_type=kind),
        run_result=SimpleNamespace(status=status, message=message),
    )


def test_progress_shows_failures_and_the_project_log_lines_and_counts_the_rest(caplog):
    caplog.set_level(logging.INFO)
    progress = DbtProgress(bar=False)
    progress(event("LogStartLine", total=3))
    progress(finished("top_movies", "model", "success"))
    progress(
        finished("primary_key_top_movies_tconst", "test", "fail", "Got 1 result,\n configured")
    )
    progress(finished("not_run", "test", "skipped"))
    progress(event("JinjaLogInfo", msg="publish: the answer was not published"))
    progress(event("MainReportVersion", version="1.11"))
    assert caplog.messages == [
        "dbt: FAIL primary_key_top_movies_tconst: Got 1 result, configured",
        "publish: the answer was not published",
    ]
    assert progress.failures == ["primary_key_top_movies_tconst (fail)"]
    assert progress.summary() == "3 nodes (1 models, 2 tests)"
