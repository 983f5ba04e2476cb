"""imdb_pipeline.logs: the console gets the lines alone, pipeline.log the same lines with time,
level and logger (and the tracebacks); configuring again replaces, never adds."""

from __future__ import annotations

import logging
import re

import pytest
from click.testing import CliRunner

from imdb_pipeline import logs
from imdb_pipeline.cli import main
from imdb_pipeline.home import Home

STAMPED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR) [\w.]+: ")


@pytest.fixture(autouse=True)
def unconfigured():
    yield
    logs.reset()


def file_lines(home: Home) -> list[str]:
    return (home.logs / logs.PIPELINE_LOG).read_text().splitlines()


def test_the_console_gets_the_message_alone_and_the_file_stamped_lines(tmp_path, capsys):
    home = Home.resolve(tmp_path / "home")
    logs.configure(home)
    logging.getLogger("ingest.run").info("ingest: %s -> %s", "src", "lake")
    logging.getLogger("streaming.job").warning("stream: a warning")
    captured = capsys.readouterr()
    assert captured.err == "ingest: src -> lake\nstream: a warning\n" and captured.out == ""
    assert all(STAMPED.match(line) for line in file_lines(home))
    assert [line.split(" ", 1)[1] for line in file_lines(home)] == [
        "INFO ingest.run: ingest: src -> lake",
        "WARNING streaming.job: stream: a warning",
    ]


def test_a_traceback_goes_to_the_file_only(tmp_path, capsys):
    home = Home.resolve(tmp_path / "home")
    logs.configure(home)
    try:
        raise KeyError("missing")
    except KeyError:
        logging.getLogger("imdb_pipeline.cli").exception("error: unexpected KeyError")
    assert capsys.readouterr().err == "error: unexpected KeyError\n"
    text = (home.logs / logs.PIPELINE_LOG).read_text()
    assert "ERROR imdb_pipeline.cli: error: unexpected KeyError\nTraceback (most recent" in text


def test_details_and_quiet_libraries_reach_the_file_not_the_console(tmp_path, capsys):
    home = Home.resolve(tmp_path / "home")
    logs.configure(home)
    logging.getLogger("ingest.sources.download").debug("title.basics.tsv.gz: unchanged")
    logging.getLogger("py4j.clientserver").info("Closing down clientserver connection")
    logging.getLogger("urllib3.connectionpool").warning("Connection pool is full")
    logging.getLogger("some.library").info("chatter")
    logging.getLogger("some.library").warning("some.library: careful")
    assert capsys.readouterr().err == "some.library: careful\n"
    assert [line.split(": ", 1)[1] for line in file_lines(home)] == [
        "title.basics.tsv.gz: unchanged",
        "Connection pool is full",
        "some.library: careful",
    ]


def test_configuring_twice_does_not_repeat_a_line(tmp_path, capsys):
    first, second = Home.resolve(tmp_path / "first"), Home.resolve(tmp_path / "second")
    logs.configure(first)
    logs.configure(first)
    logging.getLogger("imdb_pipeline.x").info("once")
    logs.configure(second)  # a new home: the lines go there from now on
    logging.getLogger("imdb_pipeline.x").info("twice")
    assert capsys.readouterr().err == "once\ntwice\n"
    assert [line.split(": ", 1)[1] for line in file_lines(first)] == ["once"]
    assert [line.split(": ", 1)[1] for line in file_lines(second)] == ["twice"]
    assert logs.log_file() == second.logs / logs.PIPELINE_LOG


def test_no_file_before_its_first_line_and_none_without_a_home(tmp_path, capsys):
    home = Home.resolve(tmp_path / "home")
    logs.configure(home)
    assert not home.logs.exists()  # a command that logs nothing leaves no empty logs/
    logs.configure()
    logging.getLogger("imdb_pipeline.x").info("console only")
    assert capsys.readouterr().err == "console only\n"
    assert not home.logs.exists() and logs.log_file() is None


def test_reset_leaves_logging_as_it_was():
    root = logging.getLogger()
    before = list(root.handlers)
    logs.configure()
    logs.reset()
    assert root.handlers == before
    assert all(
        logging.getLogger(name).level == logging.NOTSET for name in logs.PACKAGES + logs.QUIET
    )


def test_each_command_logs_each_line_once_to_stderr_and_the_file(tmp_path):
    """Two commands in one process (as click's runner runs them): one error line each on
    stderr, two in pipeline.log, each with its traceback."""
    home = tmp_path / "home"
    (home / "logs").mkdir(parents=True)
    (home / "stream.status.json").write_text('{"state": "runn')  # cut short by a full disk
    for _ in range(2):
        result = CliRunner().invoke(main, ["--home", str(home), "status"])
        assert result.exit_code == 1
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: unexpected")
    text = (home / "logs" / "pipeline.log").read_text()
    errors = [line for line in text.splitlines() if "error: unexpected JSONDecodeError" in line]
    assert len(errors) == 2 and all(STAMPED.match(line) for line in errors)
    assert text.count("Traceback (most recent call last)") == 2
    assert not any(
        h.name in ("imdb_pipeline.console", "imdb_pipeline.file")
        for h in logging.getLogger().handlers
    )  # the command's end undid it


@pytest.mark.parametrize("command", ["status", "results"])
def test_a_command_that_only_reads_leaves_a_missing_home_uncreated(tmp_path, command):
    """A mistyped --home: one error line naming it, and no folder (no logs/) made for it."""
    home = tmp_path / "no-such-home"
    result = CliRunner().invoke(main, ["--home", str(home), command])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert str(home) in result.stderr
    assert not home.exists()
