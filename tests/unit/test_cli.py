"""The CLI's argument handling and one-line errors, checked before Spark could start."""

from __future__ import annotations

import gzip
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from imdb_pipeline.cli import main
from tests.conftest import FIXTURES

RULES = FIXTURES / "rules"


def test_run_without_source_says_what_to_pass(tmp_path):
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "ingest"])
    assert result.exit_code == 1
    assert "no --source given: pass --source DIR" in result.output


def test_bad_option_values_are_usage_errors(tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["stream", "--records-per-batch", "0"]).exit_code == 2
    assert runner.invoke(main, ["run", "--format", "xml"]).exit_code == 2
    assert runner.invoke(main, ["--conf", "no-equals", "results"]).exit_code == 2


def test_main_takes_clicks_parameters_positionally_too():
    """``standalone_mode`` as click's fourth positional parameter: the error is raised to the
    caller (it was a TypeError, the parameter given twice to click)."""
    import click

    with pytest.raises(click.BadParameter):
        main.main(["run", "--format", "xml"], "imdb-pipeline", None, False)


@pytest.mark.parametrize(
    "args, env, expected",
    [
        (
            ["run", "--format", "xml"],
            {},
            (
                "error: invalid value for '--format': 'xml' is not one of 'json', 'table' "
                "(see 'imdb-pipeline run --help')"
            ),
        ),
        (
            ["run", "--bogus"],
            {},
            "error: no such option '--bogus' (see 'imdb-pipeline run --help')",
        ),
        (["nosuch"], {}, "error: no such command 'nosuch' (see 'imdb-pipeline --help')"),
        (
            ["--storage", "notaurl", "results"],
            {},
            "error: invalid value for '--storage': 'notaurl': give s3://BUCKET/PREFIX",
        ),
        (
            ["results"],
            {"IMDB_PIPELINE_STORAGE": "notaurl"},
            "error: invalid value for $IMDB_PIPELINE_STORAGE: 'notaurl': give s3://BUCKET/PREFIX",
        ),
        (
            ["results"],
            {"IMDB_TARGET": "nowhere"},
            "error: invalid value for $IMDB_TARGET: 'nowhere' is not one of 'local', 'thrift'",
        ),
    ],
)
def test_a_usage_error_is_one_error_line_naming_what_the_user_set(
    tmp_path, monkeypatch, args, env, expected
):
    """Click's usage block (Usage:, Try ..., Error: ...) becomes the one ``error:`` line; a
    value read from an environment variable is named by that variable. Nothing is written to
    the home: nothing started."""
    for name in ("IMDB_PIPELINE_STORAGE", "IMDB_TARGET"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    result = CliRunner().invoke(
        main, ["--home", str(home), *args], env=env, prog_name="imdb-pipeline"
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(expected), result.stderr
    assert result.stderr.count("\n") == 1 and "Usage:" not in result.stderr
    assert result.stdout == "" and not (home / "logs").exists()


def test_help_names_the_storage_variable():
    assert "$IMDB_PIPELINE_STORAGE" in CliRunner().invoke(main, ["--help"]).output


def test_help_lists_every_stage():
    output = CliRunner().invoke(main, ["--help"]).output
    for command in ("ingest", "stream", "transform", "run", "results", "generate", "status"):
        assert command in output


def test_results_on_a_home_that_never_ran_answers_without_spark(tmp_path):
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "results"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("error: no results yet: run")
    assert "spark: started" not in result.output  # the fast path, not a 12 s Spark start


# --- cheap checks first: each of these fails in seconds, before Spark starts -----------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def imdb_folder(root: Path, broken: str | None = None) -> Path:
    """The rule fixture's files as .tsv.gz; ``broken`` names one whose gzip is damaged right
    after its header (a plain-text file named .gz is read as text: gzip is told by its bytes)."""
    root.mkdir(parents=True, exist_ok=True)
    for path in sorted(RULES.glob("*.tsv")):
        data = gzip.compress(path.read_bytes())
        target = root / f"{path.name}.gz"
        target.write_bytes(data[:10] + b"\xff" * 40 if path.name.startswith(f"{broken}.") else data)
    return root


def check_fails_fast(home: Path, args: list[str], expected: str, code: int = 1):
    result = CliRunner().invoke(main, ["--home", str(home), *args])
    assert result.exit_code == code, result.output
    assert result.stdout == ""  # stdout carries only results
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and expected in lines[-1], result.stderr
    assert sum(line.startswith("error:") for line in lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "spark: started" not in result.stderr and not (home / "logs" / "jvm.log").exists()
    assert not (home / "lake" / "CURRENT").exists()  # nothing published
    return lines[-1]


def test_a_missing_folder_fails_before_spark(tmp_path):
    check_fails_fast(
        tmp_path / "home",
        ["ingest", "--source", str(tmp_path / "nowhere")],
        "nowhere: no such directory",
    )


def test_stream_on_a_home_with_nothing_ingested_fails_before_spark(tmp_path):
    home = tmp_path / "my home"
    line = check_fails_fast(home, ["stream"], "no ingest in ")
    # the hint runs against the same home: the --home typed is in it, quoted for a shell
    assert f"run `imdb-pipeline --home '{home}' ingest --source DIR` first" in line


def test_a_hint_leaves_out_the_home_that_came_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("IMDB_PIPELINE_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(main, ["stream"])
    assert result.exit_code == 1, result.output
    assert "run `imdb-pipeline ingest --source DIR` first" in result.stderr


def test_a_missing_file_fails_before_spark(tmp_path):
    source = imdb_folder(tmp_path / "imdb")
    (source / "name.basics.tsv.gz").unlink()
    check_fails_fast(tmp_path / "home", ["run", "--source", str(source)], "no name.basics file")


def test_a_damaged_gz_file_fails_before_spark(tmp_path):
    source = imdb_folder(tmp_path / "imdb", broken="title.principals")
    line = check_fails_fast(
        tmp_path / "home",
        ["ingest", "--source", str(source)],
        "title.principals.tsv.gz: cannot read the file",
    )
    assert "gzip" in line


def test_an_unreachable_url_fails_before_spark(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/imdb/"  # a loopback port nobody listens on
    line = check_fails_fast(tmp_path / "home", ["run", "--source", url], "connection refused")
    assert "local directory or sample:SCALE" in line  # as the DNS and S3 errors say


def test_title_types_without_a_type_is_a_usage_error_before_anything_runs(tmp_path):
    home = tmp_path / "home"
    result = CliRunner().invoke(
        main, ["--home", str(home), "run", "--source", str(RULES), "--title-types", ","]
    )
    assert result.exit_code == 2, result.output
    assert "give at least one title type" in result.stderr
    assert not (home / "lake").exists() and not (home / ".lock").exists()


def test_a_malformed_source_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "ingest", "--source", "sample:x"])
    assert result.exit_code == 2 and "bad sample source 'sample:x'" in result.stderr


def test_the_s3_error_has_the_offline_hint_too(tmp_path):
    endpoint = f"http://127.0.0.1:{free_port()}"  # an S3 endpoint nobody serves
    line = check_fails_fast(
        tmp_path / "home",
        ["ingest", "--source", "s3://imdb-test", "--s3-endpoint-url", endpoint],
        endpoint,
    )
    assert "local directory or sample:SCALE" in line


# --- no command ends in a stack trace -----------------------------------------------------------


def test_an_unexpected_failure_is_one_line_and_its_traceback_goes_to_the_log(tmp_path):
    home = tmp_path / "home"
    (home / "logs").mkdir(parents=True)
    (home / "stream.status.json").write_text('{"state": "runn')  # cut short by a full disk
    result = CliRunner().invoke(main, ["--home", str(home), "status"])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: unexpected JSONDecodeError: ")
    assert f"details in {home / 'logs' / 'pipeline.log'}" in result.stderr
    assert "Traceback (most recent call last)" in (home / "logs" / "pipeline.log").read_text()


NO_OVERRIDE = [
    "setpriv",
    "--bounding-set=-dac_override,-dac_read_search",
    "--inh-caps=-dac_override,-dac_read_search",
]
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def without_read_override(*args: str) -> subprocess.CompletedProcess:
    """The console script as a process that file modes apply to. Root reads every file
    whatever its mode, so as root it runs without the two capabilities that allow that
    (util-linux's setpriv); any other user is held by the modes already."""
    command = [str(Path(sys.executable).with_name("imdb-pipeline")), *args]
    return subprocess.run(
        [*NO_OVERRIDE, *command] if ROOT else command,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(
    ROOT and shutil.which("setpriv") is None,
    reason="root ignores file modes and util-linux's setpriv is missing",
)
def test_unreadable_folder_and_file_are_permission_errors_not_damage(tmp_path):
    home = tmp_path / "home"
    source = imdb_folder(tmp_path / "imdb")
    source.chmod(0o000)  # cannot be listed
    try:
        folder = without_read_override("--home", str(home), "ingest", "--source", str(source))
    finally:
        source.chmod(0o755)
    assert folder.returncode == 1, folder.stderr
    lines = folder.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in folder.stderr, folder.stderr
    assert lines[0].startswith(f"error: {source}: permission denied") and "chmod" in lines[0]

    (source / "title.basics.tsv.gz").chmod(0o000)  # listed, but cannot be read
    file = without_read_override("--home", str(home), "ingest", "--source", str(source))
    assert file.returncode == 1, file.stderr
    lines = file.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in file.stderr, file.stderr
    assert lines[0].startswith(f"error: {source / 'title.basics.tsv.gz'}: permission denied")
    assert "fetch it again" not in lines[0]
