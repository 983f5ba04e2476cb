"""Run dbt in-process: over the session the pipeline already started (profile target ``local``),
or through a Spark Thrift server (target ``thrift``: host/port from IMDB_THRIFT_HOST/PORT).

What a user sees of dbt: one progress bar on a terminal (nothing per node otherwise), every
failure and the publish line as they happen, and one summary line, all on stderr (stdout
carries only the results). dbt's own log, every node and query, is ``<home>/logs/dbt.log``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from imdb_pipeline.home import REPO_ROOT, Home

if TYPE_CHECKING:
    from tqdm import tqdm

SKIP_TESTS = ["--exclude-resource-type", "test", "unit_test"]
SEED_SCHEMA = "imdb_reference"  # dbt_project.yml: seeds' +schema
FAILED = {"error", "fail", "runtime error"}
HOME_ENV = "IMDB_PIPELINE_HOME"  # profiles.yml reads the home from it (dbt by hand too)
logger = logging.getLogger(__name__)


class TransformError(Exception):
    """``dbt build`` failed (an exception, or a node that errored or failed); ``str()`` is one
    line naming the failures and dbt.log (exit 1)."""


def dbt_vars(min_votes: int, top_n: int, title_types) -> dict:
    """The dbt vars of one answer (``dbt_project.yml`` holds their defaults)."""
    return {"min_votes": min_votes, "top_n": top_n, "title_types": sorted(title_types)}


class DbtProgress:
    """A dbt event callback: a bar on a terminal, failures and the publish lines as they come.

    It logs one line per failed node (``dbt: FAIL <node>: <message>``) and per line the
    project logs itself (``publish: ...``), at ``level`` (DEBUG: pipeline.log only); ``bar``
    (a terminal) advances once per node.
    """

    def __init__(self, bar: bool, level: int = logging.INFO):
        self.level = level
        self.bar_enabled = bar
        self.bar: tqdm | None = None
        self.done = 0
        self.total = 0
        self.counts: dict[str, int] = {}
        self.failures: list[str] = []

    def __call__(self, event) -> None:
        name, data = event.info.name, event.data
        if name == "LogStartLine" and data.total:
            self.total = data.total
            if self.bar_enabled and self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(
                    total=data.total,
                    desc="dbt",
                    unit="node",
                    file=sys.stderr,
                    leave=False,
                    dynamic_ncols=True,
                )
        elif name == "NodeFinished":
            self._finished(data.node_info, data.run_result)
        elif name == "JinjaLogInfo":
            self._print(data.msg)

    def _finished(self, node, result) -> None:
        self.done += 1
        kind = node.resource_type or "node"
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if result.status in FAILED:
            message = " ".join((result.message or "").split())[:300]
            line = f"dbt: {result.status.upper()} {node.node_name}: {message}"
            self.failures.append(f"{node.node_name} ({result.status})")
            self._print(line)
        if self.bar is not None:
            self.bar.update(1)

    def _print(self, line: str) -> None:
        if self.bar is not None:
            self.bar.clear()
        logger.log(self.level, line)

    def close(self) -> None:
        """Remove the progress bar, if one is shown (:func:`run_dbt` calls it when dbt ends)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def summary(self) -> str:
        """``42 nodes: 15 models, 22 tests, ...``."""
        parts = ", ".join(f"{n} {kind}s" for kind, n in sorted(self.counts.items()))
        return f"{self.done} nodes" + (f" ({parts})" if parts else "")


def run_dbt(
    home: Home,
    args: list[str],
    variables: dict | None = None,
    target: str | None = None,
    *,
    bar: bool | None = None,
    target_path: Path | None = None,
    quiet: bool = False,
):
    """Invoke dbt with this project's folders and the home's target and log paths.

    Returns dbt's ``dbtRunnerResult`` after logging failures and the project's own log
    lines (see :class:`DbtProgress`, kept as ``result.progress``; ``quiet``: in pipeline.log
    only). ``bar``: a progress bar on stderr (default: when stderr is a terminal).
    ``target_path``: dbt's artifacts there instead of the home's ``dbt/target`` (whose
    run_results.json then stays the build's).
    """
    from dbt.cli.main import dbtRunner

    progress = DbtProgress(
        sys.stderr.isatty() if bar is None else bar, logging.DEBUG if quiet else logging.INFO
    )
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ[HOME_ENV] = str(home.root)  # the profile's warehouse, metastore and logs
    command = [
        *args,
        "--project-dir",
        str(REPO_ROOT),
        "--profiles-dir",
        str(REPO_ROOT),
        "--target-path",
        str(target_path or home.dbt_target),
        "--log-path",
        str(home.logs),
        "--log-level",
        "none",  # nothing on stdout: failures are logged by the callback
        "--log-level-file",
        "debug",
        "--no-use-colors",
    ]
    if variables is not None:
        command += ["--vars", json.dumps(variables)]
    if target is not None:
        command += ["--target", target]
    try:
        result = dbtRunner(callbacks=[progress]).invoke(command)
    finally:
        progress.close()
    result.progress = progress  # type: ignore[attr-defined]  # ours, on dbt's result dataclass
    return result


def seed_state(home: Home) -> Path:
    """Where the manifest of the last successful build is kept (``--state`` of the next)."""
    return home.root / "dbt" / "state"


def _seeds_loaded(warehouse: str | Path) -> bool:
    """Every seed of the project has its table in ``warehouse`` (a folder or s3://), loaded
    whole: the seeds are Parquet tables (dbt_project.yml), and Spark writes a table folder's
    ``_SUCCESS`` marker only when the insert that fills it has committed."""
    from imdb_pipeline.storage import exists, join

    seeds = sorted(p.stem for p in (REPO_ROOT / "seeds").glob("*.csv"))
    return all(exists(join(warehouse, f"{SEED_SCHEMA}.db", name, "_SUCCESS")) for name in seeds)


UNIT_TESTS_PASSED = "unit_tests.passed"  # in seed_state(home): the fingerprint they passed on
# What dbt's unit tests depend on: their fixtures and the SQL they test (they never read data).
DBT_CODE = ("dbt_project.yml", "models", "macros", "seeds", "tests/dbt")


def unit_test_fingerprint(variables: dict | None, target: str | None) -> str:
    """sha256 (hex) of what decides dbt's unit tests: every file of the dbt project
    (:data:`DBT_CODE`, paths and bytes), the vars, the target, and the dbt, dbt-spark and
    pyspark versions. Equal fingerprints mean the unit tests would run the same SQL on the
    same fixtures, so they would give the same result."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    for name in DBT_CODE:
        top = REPO_ROOT / name
        for path in sorted([top] if top.is_file() else top.rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(REPO_ROOT)).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    packages = [version(p) for p in ("dbt-core", "dbt-spark", "pyspark")]
    digest.update(json.dumps([variables, target, packages], sort_keys=True).encode())
    return digest.hexdigest()


def build_vars(variables: dict, target: str) -> dict:
    """The vars a build of ``variables`` (:func:`dbt_vars`) runs with: those plus
    ``build_fingerprint`` (:func:`unit_test_fingerprint`), which the kept marts are keyed on
    (``macros/marts/kept_mart.sql``)."""
    return {**variables, "build_fingerprint": unit_test_fingerprint(variables, target)}


def thrift_env(address: tuple[str, int] | None) -> None:
    """Point profiles.yml's thrift target (IMDB_THRIFT_HOST/PORT) at ``address`` (host, port);
    ``None`` changes nothing."""
    if address is not None:
        os.environ["IMDB_THRIFT_HOST"], os.environ["IMDB_THRIFT_PORT"] = address[0], str(address[1])


class ParseAhead:
    """dbt's import (2-4 s) and its parse of the project (4-5 s on a fresh home), in a
    background thread, so that the build that follows reuses the parse (dbt's partial
    parsing) instead of paying both at its start: in ``run`` beside the ingest's tables and
    the stream, once Spark is up (beside the Spark start it slowed the start by 4 s, and a
    Ctrl-C's exit with it); in ``transform`` beside the Spark start.

    It parses with exactly the vars, target and server ``address`` of the coming
    :func:`transform` (anything else would make dbt parse again). A failed parse is only
    logged to pipeline.log: the build then parses as it always did and reports any error
    itself.
    """

    def __init__(
        self,
        home: Home,
        variables: dict,
        target: str = "local",
        address: tuple[str, int] | None = None,
    ):
        self.home, self.variables, self.target, self.address = home, variables, target, address
        # a daemon: a failed ingest or Ctrl-C does not wait for it (a parse cut short leaves
        # at worst a partial-parse file dbt discards, and parses again)
        self.thread = threading.Thread(target=self._parse, name="dbt-parse", daemon=True)

    def start(self) -> None:
        """Start the parse (once; later calls do nothing)."""
        if self.thread.ident is None:
            self.thread.start()

    def wait(self) -> None:
        """Return once the parse (if started) has ended."""
        if self.thread.ident is not None:
            self.thread.join()

    def _parse(self) -> None:
        started = time.monotonic()
        try:
            thrift_env(self.address)
            vars_ = build_vars(self.variables, self.target)
            result = run_dbt(self.home, ["parse"], vars_, target=self.target, bar=False, quiet=True)
            outcome = "done" if result.success else f"failed ({result.exception})"
        except Exception as error:  # noqa: BLE001 - the build parses again and says what is wrong
            outcome = f"failed ({error})"
        logger.debug(f"dbt: parse ahead {outcome} in {time.monotonic() - started:.1f}s")


def _unit_tests_passed(home: Home, fingerprint: str) -> bool:
    passed = seed_state(home) / UNIT_TESTS_PASSED
    return passed.is_file() and passed.read_text().strip() == fingerprint


def selection(
    home: Home,
    tests: bool = True,
    fingerprint: str | None = None,
    warehouse: str | Path | None = None,
) -> list[str]:
    """The ``dbt build`` arguments of a transform: seeds only when their CSV or config changed
    since the last successful build (dbt's ``state:modified``) or their tables are missing
    from ``warehouse`` (default: the home's); without ``tests``, no unit or data tests; unit
    tests not again when they passed in this home on the same ``fingerprint``
    (:func:`unit_test_fingerprint`: same code, vars, target and versions; dbt's advice is to
    run them in development and CI, not on every production build). Data tests always run."""
    args = ["build"]
    state = seed_state(home)
    if (state / "manifest.json").is_file() and _seeds_loaded(warehouse or home.warehouse):
        args += ["--state", str(state), "--exclude", "resource_type:seed,state:unmodified"]
    if not tests:
        args += SKIP_TESTS
    elif fingerprint is not None and _unit_tests_passed(home, fingerprint):
        args += ["--exclude-resource-type", "unit_test"]
    return args


def _keep_state(home: Home, unit_tests: str | None = None) -> None:
    """After a successful build: its manifest (the next build's ``--state``) and, when it
    ran the unit tests, the fingerprint they passed on."""
    state = seed_state(home)
    state.mkdir(parents=True, exist_ok=True)
    manifest = home.dbt_target / "manifest.json"
    if manifest.is_file():
        shutil.copyfile(manifest, state / "manifest.json.tmp")
        os.replace(state / "manifest.json.tmp", state / "manifest.json")
    if unit_tests is not None:
        (state / f"{UNIT_TESTS_PASSED}.tmp").write_text(unit_tests + "\n")
        os.replace(state / f"{UNIT_TESTS_PASSED}.tmp", state / UNIT_TESTS_PASSED)


def transform(
    home: Home,
    variables: dict,
    target: str = "local",
    address: tuple[str, int] | None = None,
    *,
    tests: bool = True,
    warehouse: str | Path | None = None,
) -> None:
    """``dbt build``: seeds (when changed), models, unit tests and data tests, then the
    on-run-end hook publishes the marts of the answer together (or not at all).

    ``target="thrift"`` builds through the Thrift server at ``address`` (host, port).
    ``tests=False`` builds the seeds and models only (``--skip-tests``). ``warehouse``: where
    the tables are (default the home's; ``Storage.warehouse`` for an S3 storage).
    Raises :class:`TransformError` (one line) when dbt fails; the published answer then
    stays the previous one and ``<answer schema>.transform_runs`` says so.
    """
    thrift_env(address)  # read by profiles.yml (env_var) when dbt loads it
    started = time.monotonic()
    variables = build_vars(variables, target)
    fingerprint = variables["build_fingerprint"]
    args = selection(home, tests, fingerprint, warehouse)
    reran = tests and "unit_test" not in args
    if tests and not reran:
        logger.info(
            "dbt: unit tests: passed in this home on the same code, vars and target, not rerun"
        )
    result = run_dbt(home, args, variables, target=target)
    details = f"details in {home.logs / 'dbt.log'}"
    if result.exception is not None:
        _record_failure(home, variables, target, str(result.exception))
        reason = " ".join(str(result.exception).split())[:400]
        raise TransformError(f"dbt build failed: {reason}; {details}")
    if not result.success:
        failed = ", ".join(result.progress.failures) or "see the log"
        raise TransformError(
            f"dbt build failed: {failed}; the published answer is unchanged; {details}"
        )
    _keep_state(home, fingerprint if reran else None)
    logger.info(f"dbt: build: {result.progress.summary()} in {time.monotonic() - started:.1f}s")


def _record_failure(home: Home, variables: dict, target: str, reason: str) -> None:
    """Best effort: a ``failed`` row in transform_runs when dbt stopped before its
    on-run-end hook (a compilation error), so ``results`` knows the last request failed."""
    detail = " ".join(reason.split())[:200]
    run_dbt(
        home,
        [
            "run-operation",
            "record_transform_run",
            "--args",
            json.dumps({"status": "failed", "detail": detail}),
        ],
        variables,
        target=target,
        bar=False,
        quiet=True,
    )
