"""A home serves one target (imdb_pipeline.targets): the local one (embedded Derby metastore)
or the Thrift one (PostgreSQL metastore). A command of the other kind stops before it starts
anything, with one line saying what to do."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from imdb_pipeline.cli import main
from imdb_pipeline.home import Home
from imdb_pipeline.targets import TargetMismatch, check_target, claim_target, recorded_metastore
from tests.conftest import FIXTURES


def local_home(root) -> Home:
    """A home as `make run` leaves it: its Derby metastore exists."""
    home = Home.resolve(root)
    (home.metastore / "metastore_db").mkdir(parents=True)
    return home


def thrift_home(root) -> Home:
    """A home as `imdb-pipeline thrift start` leaves it: metastore.json names its PostgreSQL."""
    home = Home.resolve(root)
    home.root.mkdir(parents=True)
    (home.root / "metastore.json").write_text(
        json.dumps({"url": "jdbc:postgresql://127.0.0.1:1/metastore", "user": "imdb"})
    )
    return home


def invoke(home: Home, *args: str):
    return CliRunner().invoke(main, ["--home", str(home.root), *args])


def one_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: "), (
        result.output
    )
    return lines[0]


def test_thrift_start_on_a_local_home_says_to_use_another_home(tmp_path, monkeypatch):
    monkeypatch.delenv("IMDB_METASTORE_URL", raising=False)
    home = local_home(tmp_path / "home")
    line = one_error(invoke(home, "thrift", "start", "--port", "1"))
    assert "holds the local target's tables" in line and "--home" in line
    assert not (home.root / "postgres").exists() and not (home.root / "thrift").exists()


def test_run_through_thrift_on_a_local_home_is_refused_before_it_starts(tmp_path, monkeypatch):
    monkeypatch.delenv("IMDB_METASTORE_URL", raising=False)
    home = local_home(tmp_path / "home")
    line = one_error(invoke(home, "run", "--target", "thrift", "--source", str(FIXTURES / "rules")))
    assert "use another home" in line
    assert not home.lake.exists()


def test_local_commands_on_a_thrift_home_say_to_pass_target_thrift(tmp_path, monkeypatch):
    monkeypatch.delenv("IMDB_METASTORE_URL", raising=False)
    home = thrift_home(tmp_path / "home")
    for args in (["results"], ["ingest", "--source", str(FIXTURES / "rules")], ["transform"]):
        line = one_error(invoke(home, *args))
        assert "belongs to the Thrift target" in line and "--target thrift" in line, args
    assert not home.lake.exists()


def test_the_first_writer_records_the_target(tmp_path, monkeypatch):
    monkeypatch.delenv("IMDB_METASTORE_URL", raising=False)
    home = Home.resolve(tmp_path / "home")
    assert recorded_metastore(home) is None
    check_target(home, "thrift")  # a new home takes either
    claim_target(home, "local", "run")
    assert json.loads((home.root / "target.json").read_text())["metastore"] == "derby"
    with pytest.raises(TargetMismatch, match="use another home"):
        claim_target(home, "thrift", "run")
    claim_target(home, "local", "stream")  # the same target again is fine


def test_a_shared_postgresql_metastore_serves_both_targets(tmp_path, monkeypatch):
    monkeypatch.setenv("IMDB_METASTORE_URL", "jdbc:postgresql://db:5432/metastore")
    home = Home.resolve(tmp_path / "home")
    claim_target(home, "thrift", "run")
    check_target(home, "local")  # IMDB_METASTORE_URL: the local target uses it too
