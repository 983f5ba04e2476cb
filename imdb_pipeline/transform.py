"""Run dbt in-process: over the session the pipeline already started (profile target ``local``),
or through a Spark Thrift server (target ``thrift``: host/port from IMDB_THRIFT_HOST/PORT)."""

from __future__ import annotations

import json
import os
import sys

from imdb_pipeline.home import REPO_ROOT, Home

_SHOWN_EVENTS = {"LogModelResult", "LogTestResult", "LogSeedResult", "LogStartLine"}


class TransformError(Exception):
    pass


def dbt_vars(min_votes: int, top_n: int, title_types) -> dict:
    return {"min_votes": min_votes, "top_n": top_n, "title_types": sorted(title_types)}


def run_dbt(home: Home, args: list[str], variables: dict | None = None, log=None,
            target: str | None = None):
    """Invoke dbt with this project's folders and the home's target/log paths."""
    from dbt.cli.main import dbtRunner

    log = log or (lambda message: print(message, file=sys.stderr, flush=True))

    def show(event) -> None:
        if event.info.name in _SHOWN_EVENTS:
            log(f"dbt: {event.info.msg}")

    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    command = [
        *args,
        "--project-dir", str(REPO_ROOT),
        "--profiles-dir", str(REPO_ROOT / "profiles"),
        "--target-path", str(home.dbt_target),
        "--log-path", str(home.logs),
        "--quiet",
        "--no-use-colors",  # the lines go to pipeline.log too: no ANSI codes there
    ]
    if variables is not None:
        command += ["--vars", json.dumps(variables)]
    if target is not None:
        command += ["--target", target]
    return dbtRunner(callbacks=[show]).invoke(command)


SKIP_TESTS = ["--exclude-resource-type", "test", "unit_test"]


def transform(home: Home, variables: dict, log=None, target: str = "local",
              address: tuple[str, int] | None = None, *, tests: bool = True) -> None:
    """``dbt build``: seeds, models, unit tests and schema tests into the marts.

    ``target="thrift"`` builds through the Thrift server at ``address`` (host, port).
    ``tests=False`` builds the seeds and models only (``--skip-tests``).
    """
    if address is not None:  # read by profiles/profiles.yml (env_var) when dbt loads it
        os.environ["IMDB_THRIFT_HOST"], os.environ["IMDB_THRIFT_PORT"] = address[0], str(address[1])
    result = run_dbt(home, ["build", *([] if tests else SKIP_TESTS)], variables, log, target=target)
    if result.exception is not None:
        raise TransformError(f"dbt build failed: {result.exception}")
    if not result.success:
        failed = [
            f"{r.node.name} ({r.status})"
            for r in (result.result or [])
            if str(r.status) in {"error", "fail", "runtime error"}
        ]
        raise TransformError(
            f"dbt build failed: {', '.join(failed) or 'see the log'}; details in {home.logs / 'dbt.log'}"
        )
