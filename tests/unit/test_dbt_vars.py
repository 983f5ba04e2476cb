"""The dbt project's vars that restate a constant of the ingest must equal it: the macros
compute the lake's partitions from them (tconst_bucket, votes_floor_of)."""

from __future__ import annotations

import yaml

from imdb_pipeline.home import REPO_ROOT
from ingest.lake import VOTE_FLOORS
from ingest.names import TCONST_BUCKETS


def project_vars() -> dict:
    return yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())["vars"]


def test_tconst_buckets_is_the_ingests_bucket_count():
    assert project_vars()["tconst_buckets"] == TCONST_BUCKETS


def test_votes_floors_are_the_ingests_partition_bounds():
    assert tuple(project_vars()["votes_floors"]) == VOTE_FLOORS
