"""imdb_pipeline.home: which folder is the home (``--home``, then ``IMDB_PIPELINE_HOME``, then
``<repo>/.home``), the paths a home gives out, and the folders ``make`` creates."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from imdb_pipeline.home import DEFAULT_HOME, REPO_ROOT, Home

REPO = Path(__file__).resolve().parents[2]  # tests/unit/test_home.py -> the repository


def test_an_explicit_home_wins_over_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("IMDB_PIPELINE_HOME", str(tmp_path / "from-env"))
    assert Home.resolve(tmp_path / "given").root == tmp_path.resolve() / "given"
    assert Home.resolve(str(tmp_path / "given")).root == tmp_path.resolve() / "given"


def test_the_environment_is_used_without_an_explicit_home(tmp_path, monkeypatch):
    monkeypatch.setenv("IMDB_PIPELINE_HOME", str(tmp_path / "from-env"))
    assert Home.resolve().root == tmp_path.resolve() / "from-env"
    assert Home.resolve(None).root == tmp_path.resolve() / "from-env"
    assert Home.resolve("").root == tmp_path.resolve() / "from-env"  # an empty --home is unset


@pytest.mark.parametrize("env", [None, ""])
def test_the_default_home_is_dot_home_in_the_repository(monkeypatch, env):
    if env is None:
        monkeypatch.delenv("IMDB_PIPELINE_HOME", raising=False)
    else:
        monkeypatch.setenv("IMDB_PIPELINE_HOME", env)
    assert REPO_ROOT == REPO
    assert DEFAULT_HOME == REPO / ".home"
    assert Home.resolve().root == REPO / ".home"


def test_a_home_is_made_absolute_with_the_user_folder_expanded(tmp_path, monkeypatch):
    monkeypatch.delenv("IMDB_PIPELINE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert Home.resolve("~/h").root == tmp_path.resolve() / "user" / "h"
    monkeypatch.chdir(tmp_path)
    assert Home.resolve("relative/../h2").root == tmp_path.resolve() / "h2"


def test_every_path_of_a_home_is_a_fixed_folder_under_its_root(tmp_path):
    home = Home(tmp_path)
    assert home.lake == tmp_path / "lake"
    assert home.warehouse == tmp_path / "warehouse"
    assert home.metastore == tmp_path / "metastore"
    assert home.checkpoints == tmp_path / "checkpoints"
    assert home.logs == tmp_path / "logs"
    assert home.downloads == tmp_path / "downloads"
    assert home.dbt_target == tmp_path / "dbt" / "target"
    with pytest.raises(dataclasses.FrozenInstanceError):
        home.root = tmp_path / "other"  # type: ignore[misc]


def test_make_creates_the_run_folders_only_and_can_run_again(tmp_path):
    home = Home(tmp_path / "h")
    assert home.make() is home
    assert sorted(p.name for p in home.root.iterdir()) == [
        "checkpoints",
        "lake",
        "logs",
        "metastore",
        "warehouse",
    ]  # downloads, dbt: made on use
    (home.lake / "kept").write_text("x")
    home.make()
    assert (home.lake / "kept").read_text() == "x"
