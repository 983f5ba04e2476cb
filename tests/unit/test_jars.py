"""imdb_pipeline.jars: the jars a Spark start lists, the S3 ones only for an S3 storage, and a
one-line SetupError when ``make setup`` has not fetched them."""

from __future__ import annotations

import pytest

from imdb_pipeline.jars import SetupError, jar_paths, spark_home

DELTA = ("delta-spark_4.2_2.13-4.4.0.jar", "delta-storage-4.4.0.jar")
S3 = ("hadoop-aws-3.4.1.jar", "bundle-2.29.52.jar", "analyticsaccelerator-s3-1.0.0.jar")


def test_the_s3_jars_are_listed_for_an_s3_storage_only(jar_cache):
    folder = jar_cache(*DELTA, *S3, "postgresql-42.7.14.jar")
    local = [str(folder / n) for n in sorted([*DELTA, "postgresql-42.7.14.jar"])]
    assert jar_paths() == local
    assert jar_paths(s3=True) == sorted([*local, *(str(folder / n) for n in S3)])


def test_missing_jars_are_a_setup_error_naming_the_folder(jar_cache):
    folder = jar_cache()
    with pytest.raises(SetupError, match=f"no Delta jars in {folder}: run `make setup` first"):
        jar_paths()
    jar_cache(*DELTA)
    assert len(jar_paths()) == 2
    with pytest.raises(SetupError, match=r"no hadoop-aws jar in .* \(needed by --storage s3://"):
        jar_paths(s3=True)


def test_sparks_own_install_holds_its_jars_and_spark_submit():
    assert (spark_home() / "bin" / "spark-submit").exists()
    assert next((spark_home() / "jars").glob("spark-core_*.jar"), None) is not None


def test_a_folder_named_like_a_jar_is_not_a_delta_jar(tmp_path, monkeypatch):
    folder = tmp_path / "delta-spark-cache"
    folder.mkdir()
    (folder / "postgresql-42.7.14.jar").write_bytes(b"")
    monkeypatch.setenv("IMDB_PIPELINE_JARS", str(folder))
    with pytest.raises(SetupError, match="^no Delta jars in "):
        jar_paths()
