"""The home's own PostgreSQL (the metastore of `imdb-pipeline thrift start`), started as root
with the home inside a private folder (a 0700 `mktemp -d` folder): it must run without any
permission outside the home being changed, keep its password in no file others can read,
survive a restart, and its data must go once the home is gone. No Spark here: PostgreSQL alone
(the whole server starts the same way in test_thrift.py, whose home is private too).
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from imdb_pipeline import postgres as home_postgres
from imdb_pipeline.home import Home

pytestmark = pytest.mark.e2e


def _modes(path: Path) -> list[tuple[str, int]]:
    """(folder, mode) of ``path`` and every folder above it."""
    return [(str(p), p.stat().st_mode) for p in [path, *path.parents]]


@pytest.fixture
def private_home():
    if os.geteuid() != 0:
        pytest.skip("the case is root's: PostgreSQL then runs as the postgres user")
    try:
        home_postgres.Postgres.bin_dir()
    except Exception as exc:  # noqa: BLE001 - no server binaries: nothing to test
        pytest.skip(str(exc))
    root = Path(tempfile.mkdtemp(prefix="imdb-private-"))  # 0700, owned by root
    home = Home.resolve(root / "home").make()
    try:
        yield root, home
    finally:
        postgres = home_postgres.Postgres(home)
        if postgres.pid() is not None:
            postgres.stop()
        shutil.rmtree(root, ignore_errors=True)
        home_postgres.sweep_orphan_data()


def test_postgres_runs_as_root_in_a_private_home_and_goes_with_it(private_home, caplog):
    root, home = private_home
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    before = _modes(root)
    caplog.set_level(logging.INFO, logger="imdb_pipeline")
    postgres = home_postgres.Postgres(home)
    metastore = postgres.ensure()
    messages = caplog.messages

    data = postgres.data
    assert postgres.link.is_symlink() and not data.is_relative_to(
        root
    )  # kept where postgres reaches
    folder = data.parent
    owner = folder.stat()
    assert stat.S_IMODE(owner.st_mode) == 0o700 and owner.st_uid != 0  # postgres' own, private
    assert (folder / "home").read_text().strip() == str(home.root)
    assert any(f"PostgreSQL's data is kept in {folder}" in m for m in messages)
    assert _modes(root) == before  # no permission outside the home changed
    password_file = home.root / "postgres" / "password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    password = password_file.read_text().strip()
    assert not list(folder.glob(".pwfile-*")) and not list(
        (home.root / "postgres").glob(".pwfile-*")
    )
    for log in (home.root / "logs").glob("*.log"):
        assert password not in log.read_text(errors="replace")

    port = int(metastore.url.split(":")[-1].split("/")[0])
    psql = str(home_postgres.Postgres.bin_dir() / "psql")
    query = [
        psql,
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-U",
        "imdb",
        "-d",
        "metastore",
        "-tAc",
        "select current_user",
    ]
    done = subprocess.run(
        query,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        env={**os.environ, "PGPASSWORD": password},
    )
    assert done.returncode == 0 and done.stdout.strip() == "imdb", done.stderr
    wrong = subprocess.run(
        query,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        env={**os.environ, "PGPASSWORD": "not-the-password"},
    )
    assert wrong.returncode != 0  # scram-sha-256: the password is needed

    postgres.stop()  # a restart keeps the same database
    caplog.clear()
    home_postgres.Postgres(home).ensure()
    restarted = caplog.messages
    assert not any("initialised" in m for m in restarted)
    home_postgres.Postgres(home).stop()

    shutil.rmtree(root)  # the home goes: its data goes at the next start of any home
    caplog.clear()
    assert home_postgres.sweep_orphan_data() == [folder]
    gone = caplog.messages
    assert not folder.exists() and f"thrift: removed {folder}" in gone[0]
