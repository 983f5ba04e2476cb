"""imdb_pipeline.postgres without a PostgreSQL server: where a home's data folder goes, which
left-over data folders a start sweeps away, and what the home's files say about its server
(pid, readiness, metastore.json)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from imdb_pipeline.home import Home
from imdb_pipeline.postgres import Postgres, data_root, data_roots, home_key, sweep_orphan_data
from tests.metastore_homes import SECRET, dead_pid, managed


@pytest.fixture
def home(tmp_path):
    return Home.resolve(tmp_path / "home").make()


@pytest.fixture
def running_on():
    """Start a process whose command line names a data folder, as a postgres server's does."""
    started = []

    def start(data) -> int:
        process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(data)])
        started.append(process)
        return process.pid

    yield start
    for process in started:
        process.kill()
        process.wait()


def orphan(root, name: str, home_path, pid: int | None = None):
    """A data folder kept outside a home, as Postgres leaves it: ``home`` names its home."""
    folder = root / name
    (folder / "data").mkdir(parents=True)
    (folder / "home").write_text(f"{home_path}\n")
    if pid is not None:
        (folder / "data" / "postmaster.pid").write_text(f"{pid}\n{folder / 'data'}\n")
    return folder


# --- where data folders go --------------------------------------------------------------------


def test_a_homes_key_is_short_stable_and_its_own(tmp_path):
    key = home_key(Home.resolve(tmp_path / "a"))
    assert len(key) == 12 and int(key, 16) >= 0
    assert key == home_key(Home.resolve(tmp_path / "a"))
    assert key != home_key(Home.resolve(tmp_path / "b"))


def test_the_data_root_is_the_setting_else_the_owners_home_else_var_tmp(tmp_path, monkeypatch):
    monkeypatch.delenv("IMDB_POSTGRES_DATA_ROOT", raising=False)
    owner = SimpleNamespace(pw_dir=str(tmp_path), pw_name="postgres")
    assert data_root(owner) == tmp_path / "imdb-pipeline"
    homeless = SimpleNamespace(pw_dir="/", pw_name="pg")
    assert str(data_root(homeless)) == "/var/tmp/imdb-pipeline-pg"
    gone = SimpleNamespace(pw_dir=str(tmp_path / "missing"), pw_name="pg")
    assert str(data_root(gone)) == "/var/tmp/imdb-pipeline-pg"
    monkeypatch.setenv("IMDB_POSTGRES_DATA_ROOT", str(tmp_path / "chosen"))
    assert data_root(owner) == tmp_path / "chosen"
    assert data_roots() == [tmp_path / "chosen"]


# --- the sweep of data folders whose home is gone ---------------------------------------------


def test_only_folders_of_gone_homes_without_a_server_are_swept(tmp_path, running_on, caplog):
    root = tmp_path / "roots"
    live_home = Home.resolve(tmp_path / "live").make()
    kept = orphan(root, "live-1", live_home.root)
    (live_home.root / "postgres").mkdir()
    (live_home.root / "postgres" / "data").symlink_to(kept / "data", target_is_directory=True)
    relinked_home = Home.resolve(tmp_path / "relinked").make()
    relinked = orphan(root, "relinked-2", relinked_home.root)
    (relinked_home.root / "postgres").mkdir()
    (relinked_home.root / "postgres" / "data").symlink_to(tmp_path, target_is_directory=True)
    gone = orphan(root, "gone-3", tmp_path / "gone")
    serving = root / "serving-4"
    orphan(root, "serving-4", tmp_path / "gone-too", pid=running_on(serving / "data"))
    reused = orphan(root, "reused-5", tmp_path / "gone-as-well", pid=os.getpid())  # not postgres
    dead = orphan(root, "dead-6", tmp_path / "gone-also", pid=dead_pid())
    (root / "not-ours").mkdir()  # no `home` file

    caplog.set_level(logging.INFO)
    removed = sweep_orphan_data([root, tmp_path / "no-such-root"])
    messages = caplog.messages
    assert removed == [dead, gone, relinked, reused]  # in name order
    assert sorted(p.name for p in root.iterdir()) == ["live-1", "not-ours", "serving-4"]
    assert messages[1] == (
        f"thrift: removed {gone}, the PostgreSQL data of {tmp_path / 'gone'}, which is gone"
    )
    assert kept.exists()


# --- what the home's files say ------------------------------------------------------------------


def test_the_data_folder_is_the_links_target_when_it_is_a_link(home, tmp_path):
    postgres = Postgres(home)
    assert postgres.data == home.root / "postgres" / "data"
    (home.root / "postgres").mkdir()
    postgres.link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert postgres.data == tmp_path / "elsewhere"


def test_the_pid_is_the_servers_only_while_it_runs_on_this_data(home, running_on):
    postgres = Postgres(home)
    assert postgres.pid() is None and not postgres.ready()  # never started
    postgres.data.mkdir(parents=True)
    pid_file = postgres.data / "postmaster.pid"
    pid_file.write_text(f"{dead_pid()}\n")
    assert postgres.pid() is None
    pid_file.write_text(f"{os.getpid()}\n")  # a live process, but not on this data
    assert postgres.pid() is None
    pid = running_on(postgres.data)
    lines = [str(pid), str(postgres.data), "1700000000", "5999", "", "127.0.0.1", "1 2", "starting"]
    pid_file.write_text("\n".join(lines) + "\n")
    assert postgres.pid() == pid and not postgres.ready()
    pid_file.write_text("\n".join([*lines[:7], "ready  "]) + "\n")
    assert postgres.ready()


def test_metastore_json_and_the_password_as_thrift_start_leaves_them(home):
    postgres = Postgres(home)
    assert postgres.config() == {}
    (home.root / "metastore.json").write_text("{not json")
    assert postgres.config() == {}
    managed(home)
    assert postgres.config()["port"] == 5999 and postgres.password() == SECRET
    postgres.mark_schema_ready()
    config = json.loads((home.root / "metastore.json").read_text())
    assert config["schema"] == "hive-2.3" and config["user"] == "imdb"  # the rest kept


def test_stopping_a_postgres_that_does_not_run_says_so(home, caplog):
    caplog.set_level(logging.INFO)
    Postgres(home).stop()
    assert caplog.messages == ["thrift: PostgreSQL not running"]
