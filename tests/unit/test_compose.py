"""docker-compose.yml and docker/Dockerfile, checked without a Docker engine: a real compose
parser (Debian's docker-compose, installed by .ci/run) and the one-source-of-truth rule for
Spark settings."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml

from imdb_pipeline.home import REPO_ROOT, Home
from imdb_pipeline.metastore import postgres_metastore
from imdb_pipeline.spark import read_defaults, spark_settings

COMPOSE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"
SPARK_SERVICES = ("thrift", "spark-master", "spark-worker", "pipeline")
DRIVERS = ("thrift", "pipeline")  # the only services with a home (a volume of their own)
# Settings of a standalone cluster that mean nothing in local mode, so the local
# configuration cannot hold them: how many cores each application of a shared cluster takes.
CLUSTER_ONLY = {"spark.cores.max"}
SECRETS = {
    "METASTORE_PASSWORD": "ci-only-password",
    "S3_ACCESS_KEY": "ci-only-key",
    "S3_SECRET_KEY": "ci-only-secret",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def docker_compose(*args, unset: str | None = None):
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env.update({k: v for k, v in SECRETS.items() if k != unset})
    return subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        check=False,
        timeout=60,
    )


needs_compose = pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose not installed (.ci/run installs Debian's docker-compose)",
)


@needs_compose
def test_a_real_compose_parser_accepts_the_file():
    done = docker_compose("config", "--quiet")
    assert done.returncode == 0, done.stderr


@needs_compose
@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_every_secret_must_be_set(secret):
    done = docker_compose("config", "--quiet", unset=secret)
    assert done.returncode != 0
    assert f"set {secret}" in done.stderr


@needs_compose
def test_the_resolved_services_start_in_order(tmp_path):
    done = docker_compose("config")
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert set(services) == {
        "object-store",
        "object-store-bucket",
        "metastore-db",
        "thrift",
        "spark-master",
        "spark-worker",
        "pipeline",
    }
    assert (
        services["object-store-bucket"]["depends_on"]["object-store"]["condition"]
        == "service_healthy"
    )
    assert services["thrift"]["depends_on"]["metastore-db"]["condition"] == "service_healthy"
    assert (
        services["thrift"]["depends_on"]["object-store-bucket"]["condition"]
        == "service_completed_successfully"
    )
    assert "spark-worker" in services["thrift"]["depends_on"]  # its executors run there
    assert services["pipeline"]["depends_on"]["thrift"]["condition"] == "service_healthy"
    assert services["spark-worker"]["depends_on"]["spark-master"]["condition"] == "service_healthy"
    for name in ("object-store", "metastore-db", "thrift", "spark-master"):
        assert services[name]["healthcheck"]["test"], name
    for secret in SECRETS.values():  # only ever from the environment
        assert secret not in COMPOSE.read_text()


def test_services_volumes_and_ports(compose):
    services = compose["services"]
    assert services["metastore-db"]["image"] == "postgres:15"
    assert "pg_isready" in " ".join(services["metastore-db"]["healthcheck"]["test"])
    assert set(compose["volumes"]) == {
        "object-store",
        "metastore-db",
        "thrift-home",
        "pipeline-home",
    }
    assert "metastore-db:/var/lib/postgresql/data" in services["metastore-db"]["volumes"]
    assert "object-store:/data" in services["object-store"]["volumes"]
    for name in SPARK_SERVICES:
        volumes = services[name]["volumes"]
        assert any(v.startswith("./conf/spark-defaults.conf:") for v in volumes), name
        # nothing shared but the network: only a driver has a home, each its own
        homes = [v for v in volumes if v.endswith(":/data/home")]
        assert homes == ([f"{name}-home:/data/home"] if name in DRIVERS else []), name
        environment = services[name]["environment"]
        assert environment["IMDB_METASTORE_PASSWORD"] == (
            "${METASTORE_PASSWORD:?set METASTORE_PASSWORD}"
        )
        assert environment["IMDB_PIPELINE_STORAGE"] == "s3://imdb-lakehouse/pipeline"
        assert environment["AWS_ENDPOINT_URL"] == "http://object-store:9000"
        assert environment["AWS_ACCESS_KEY_ID"] == "${S3_ACCESS_KEY:?set S3_ACCESS_KEY}"
        assert environment["AWS_SECRET_ACCESS_KEY"] == "${S3_SECRET_KEY:?set S3_SECRET_KEY}"
    for name in DRIVERS:  # both drivers of applications on the cluster
        assert "spark.master=spark://spark-master:7077" in services[name]["command"], name
    # no authentication on the server: published on the host's loopback only
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)
    assert services["pipeline"]["command"][-5:] == [
        "run",
        "--target",
        "thrift",
        "--source",
        "/data/imdb",
    ]


def test_every_spark_setting_it_names_is_a_local_setting(compose, tmp_path, monkeypatch):
    """One source of truth: compose may override a setting the local path has, never add one."""
    jars = tmp_path / "jars"
    jars.mkdir()
    for name in ("delta-spark_4.2_2.13-4.4.0.jar", "postgresql-42.7.14.jar"):
        (jars / name).write_bytes(b"")
    monkeypatch.setenv("IMDB_PIPELINE_JARS", str(jars))
    monkeypatch.setenv("IMDB_METASTORE_URL", "jdbc:postgresql://metastore-db:5432/metastore")
    home = Home.resolve(tmp_path / "home")
    known = set(read_defaults()) | set(spark_settings(home, metastore=postgres_metastore(home)))
    # spark.<key> anywhere (not inside a class name like org.apache.spark.deploy...)
    named = set(re.findall(r"(?<![\w.])(spark\.[A-Za-z0-9_.]+[A-Za-z0-9_])", COMPOSE.read_text()))
    named -= {"spark.py"}  # the module named in a comment
    for service in compose["services"].values():  # and every --conf KEY=VALUE
        command = service.get("command") or []
        named |= {
            command[i + 1].split("=", 1)[0] for i, part in enumerate(command) if part == "--conf"
        }
    assert named, "expected at least spark.master for the cluster"
    assert named <= known | CLUSTER_ONLY, f"settings only compose knows: {sorted(named - known)}"
    for name in SPARK_SERVICES:  # every Spark start reads the same mounted defaults
        assert "/opt/imdb-pipeline/conf/spark-defaults.conf:ro" in " ".join(
            compose["services"][name]["volumes"]
        )


def test_the_image_is_made_by_make_setup():
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11", text, re.MULTILINE)
    assert "openjdk-17" in text
    assert "make setup" in text
    for needed in ("requirements.lock", "jars.txt"):
        assert needed in text
