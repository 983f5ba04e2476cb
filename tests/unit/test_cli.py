"""The CLI's argument handling and one-line errors (no Spark needed)."""

from __future__ import annotations

from click.testing import CliRunner

from imdb_pipeline.cli import main


def test_run_without_source_says_what_to_pass(tmp_path):
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "ingest"])
    assert result.exit_code == 1
    assert "no --source given: pass --source DIR" in result.output


def test_bad_option_values_are_usage_errors(tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["stream", "--records-per-batch", "0"]).exit_code == 2
    assert runner.invoke(main, ["run", "--format", "xml"]).exit_code == 2
    assert runner.invoke(main, ["--conf", "no-equals", "results"]).exit_code == 2


def test_help_lists_every_stage():
    output = CliRunner().invoke(main, ["--help"]).output
    for command in ("ingest", "stream", "transform", "run", "results", "generate", "status"):
        assert command in output


def test_results_on_a_home_that_never_ran_answers_without_spark(tmp_path):
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "results"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("error: no results yet: run")
    assert "spark: started" not in result.output  # the fast path, not a 12 s Spark start
