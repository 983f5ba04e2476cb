"""Shared fixtures: one SparkSession (one JVM) per test run, on a home of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

# plain asserts in these helper modules report their values like a test module's own
pytest.register_assert_rewrite("tests.browser", "tests.e2e.report_checks", "tests.e2e.answers")

# the loopback HTTP and S3 servers, fixtures and checks of tests/unit/test_sources_*.py
pytest_plugins = ["tests.loopback_sources"]

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "imdb-samples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def home(tmp_path_factory):
    from imdb_pipeline.home import Home

    return Home.resolve(tmp_path_factory.mktemp("home")).make()


@pytest.fixture(scope="session")
def spark(home):
    from imdb_pipeline.spark import get_spark

    session = get_spark(home)
    yield session
    session.stop()


@pytest.fixture
def jar_cache(tmp_path, monkeypatch):
    """An empty jar cache (``IMDB_PIPELINE_JARS``); ``add(*names)`` puts empty jars in it and
    returns the folder."""
    folder = tmp_path / "jars"
    folder.mkdir()
    monkeypatch.setenv("IMDB_PIPELINE_JARS", str(folder))

    def add(*names):
        for name in names:
            (folder / name).write_bytes(b"")
        return folder

    return add
