"""``imdb-pipeline``: a thin command line over the pipeline's stages.

Exit codes:
  0    success
  1    the pipeline stopped: bad input, a failed stage, no results yet, the home in use or of
       the other target, or anything unexpected (one ``error:`` line on stderr)
  2    usage error (unknown option, bad value), found before anything starts
  3    set-up missing (no Delta jars, no Java): run `make setup`
  130  interrupted (Ctrl-C)

Every failure ends in one ``error:`` line on stderr with the next step; tracebacks go to
``<home>/logs/pipeline.log``. stdout carries only the requested output.
"""

from __future__ import annotations

import functools
import logging
import os
import shlex
import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from imdb_pipeline import logs
from imdb_pipeline.home import Home

if TYPE_CHECKING:
    from pathlib import Path

    from imdb_pipeline.transform import ParseAhead

EXIT_FAILED, EXIT_USAGE, EXIT_SETUP, EXIT_INTERRUPTED = 1, 2, 3, 130
NO_SOURCE = (
    "no --source given: pass --source DIR (a folder with the IMDb .tsv/.tsv.gz files), "
    "https://datasets.imdbws.com/, s3://BUCKET/PREFIX or sample:SCALE, "
    "e.g. make run SOURCE=../shared/data/imdb-samples/real-2019-top25-repaired"
)

# Progress and error lines: on stderr (never stdout, which carries only the requested output)
# and in <home>/logs/pipeline.log, as imdb_pipeline.logs.configure sets up for each command.
logger = logging.getLogger(__name__)


class Context:
    """What every command gets as ``ctx.obj``: the home, the ``--conf`` Spark settings, the
    storage (``--storage``, else the home), the command's ``--target``/``--port`` and writing
    command name once its decorators set them, and the SparkSession (:attr:`spark`)."""

    def __init__(self, home: Home, conf: dict[str, str], storage=None):
        from imdb_pipeline.storage import Storage

        self.home = home
        self.conf = conf
        self.storage = storage or Storage(home.root)  # --storage: the lake, tables, checkpoints
        self.target, self.port = "local", None  # --target/--port of the command (with_target)
        self.command = None  # the writing command, as the home's lock names it (writes_home)
        self.parse_ahead: ParseAhead | None = None  # of a coming build: starts once Spark is up
        self._spark = None

    def check_spark_setup(self) -> None:
        """What a Spark start needs, checked in a second or less before it: the jars (hadoop-aws
        too for an S3 storage), for ``--target thrift`` a PostgreSQL metastore that accepts
        connections, a standalone master that answers (``--conf spark.master=spark://...``), and
        an S3 storage's endpoint, credentials and bucket."""
        from imdb_pipeline.jars import jar_paths
        from imdb_pipeline.metastore import pipeline_metastore
        from imdb_pipeline.spark import check_master, read_defaults

        jar_paths(self.storage.remote)
        check_master(self.conf.get("spark.master") or read_defaults()["spark.master"])
        pipeline_metastore(self.home, self.target)
        self.storage.check()

    @property
    def spark(self):
        """The process's SparkSession, started on first use (6-20 s); then
        :attr:`parse_ahead` (dbt's import and parse), when a build will follow, runs beside
        what uses it (the ingest's tables and the stream, in ``run``)."""
        if self._spark is None:
            from imdb_pipeline.metastore import pipeline_metastore
            from imdb_pipeline.spark import get_spark
            from imdb_pipeline.targets import claim_target

            metastore = pipeline_metastore(self.home, self.target)  # None = embedded Derby
            claim_target(
                self.home,
                self.target,
                self.command or "spark",  # its metastore now
                self.storage.uri,
            )
            started = time.monotonic()
            self._spark = get_spark(self.home, self.conf, metastore, self.storage)
            logger.info(
                f"spark: started in {time.monotonic() - started:.1f}s (home {self.home.root})"
            )
            if self.parse_ahead is not None:  # not beside the start: it slowed it, and Ctrl-C
                self.parse_ahead.start()
        return self._spark


# The pipeline's own errors: (module, class name, exit code). Looked up in sys.modules, so
# that catching them imports nothing (`results` must not import pyspark): an exception class
# whose module was never imported cannot have been raised.
KNOWN_ERRORS = [
    ("imdb_pipeline.jars", "SetupError", EXIT_SETUP),
    ("imdb_pipeline.spark", "ClusterError", EXIT_FAILED),
    ("ingest.convert", "InputError", EXIT_FAILED),
    ("streaming.state", "StreamError", EXIT_FAILED),
    ("imdb_pipeline.transform", "TransformError", EXIT_FAILED),
    ("imdb_pipeline.results", "ResultsError", EXIT_FAILED),
    ("imdb_pipeline.report.sources", "ReportError", EXIT_FAILED),
    ("imdb_pipeline.docs", "DocsError", EXIT_FAILED),
    ("imdb_pipeline.thrift", "ThriftError", EXIT_FAILED),
    ("imdb_pipeline.metastore", "MetastoreError", EXIT_FAILED),
    ("imdb_pipeline.processes", "ProcessError", EXIT_FAILED),
    ("imdb_pipeline.lock", "HomeBusy", EXIT_FAILED),
    ("imdb_pipeline.targets", "TargetMismatch", EXIT_FAILED),
    ("imdb_pipeline.storage", "StorageError", EXIT_FAILED),
]


def _known_exit(exc: BaseException) -> int | None:
    for module, name, code in KNOWN_ERRORS:
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(exc, getattr(loaded, name)):
            return code
    return None


def _one_line(exc: BaseException) -> str:
    """The telling line of an error's text: for a Java error through py4j ("An error occurred
    while calling o45.sql.") the first ``...Exception: message`` line, else the first line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    java = [line for line in lines if "Exception: " in line or "Error: " in line]
    return ((java or lines or [""])[0][:400]) or type(exc).__name__


def with_typed_options(message: str) -> str:
    """``message`` with each `` `imdb-pipeline CMD ...` `` hint given the ``--home`` and
    ``--storage`` the user typed on this command line (not those from the environment, which
    the next command gets too), so that the hint runs against the same home."""
    from click.core import ParameterSource

    ctx = click.get_current_context(silent=True)
    if ctx is None or "`imdb-pipeline " not in message:
        return message
    root = ctx.find_root()
    typed = [
        f"{flag} {shlex.quote(str(root.params[name]))}"
        for name, flag in (("home", "--home"), ("storage", "--storage"))
        if root.params.get(name) and root.get_parameter_source(name) is ParameterSource.COMMANDLINE
    ]
    if not typed:
        return message
    return message.replace("`imdb-pipeline ", f"`imdb-pipeline {' '.join(typed)} ")


@contextmanager
def failures():
    """Every failure ends in one ``error:`` line on stderr and an exit code; the traceback
    goes to <home>/logs/pipeline.log only. Click's own usage errors and exits pass through."""
    try:
        yield
    except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
        raise
    except KeyboardInterrupt:  # logger.exception: the traceback goes to the log file only
        logger.exception(
            "error: interrupted; run the same command again to resume (finished work is kept)"
        )
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # the one place that turns anything into a line
        code = _known_exit(exc)
        if code is not None:  # their text is the message: one line
            logger.exception("error: " + with_typed_options(" ".join(str(exc).split())))
            sys.exit(code)
        log_file = logs.log_file()
        where = (
            f"; details in {log_file} (report it with that log if it persists)"
            if log_file
            else "; run it again, and report it if it persists"
        )
        line = f"error: unexpected {type(exc).__name__}: {_one_line(exc)}{where}"
        logger.exception(line)
        sys.exit(EXIT_FAILED)


def usage_line(exc: click.UsageError) -> str:
    """Click's usage error (unknown option, bad value, missing argument) as the project's one
    ``error:`` line with the next step. A bad value that came from an environment variable
    (``IMDB_PIPELINE_STORAGE``, ``IMDB_PIPELINE_HOME``, ``IMDB_TARGET``) is named by it, not
    by the option the user never typed."""
    from click.core import ParameterSource

    ctx, param = exc.ctx, getattr(exc, "param", None)
    if (
        ctx is not None
        and param is not None
        and getattr(param, "envvar", None)
        and ctx.get_parameter_source(param.name) is ParameterSource.ENVIRONMENT
    ):
        assert isinstance(exc, click.BadParameter)  # the one usage error with a param
        exc.param_hint = f"${param.envvar}"
    where = ctx.command_path if ctx is not None else "imdb-pipeline"
    message = " ".join(exc.format_message().split()).rstrip(".")
    return f"error: {message[:1].lower()}{message[1:]} (see '{where} --help')"


class PipelineGroup(click.Group):
    """The command group: every command body runs inside :func:`failures`; click's usage
    errors end in one ``error:`` line (exit 2) instead of click's usage block."""

    def invoke(self, ctx):
        """Run the chosen command inside :func:`failures`: an error it raises ends in one
        ``error:`` line and exit code 1, 3 or 130 (click's own errors and exits pass on to
        :meth:`main`)."""
        with failures():
            return super().invoke(ctx)

    def main(
        self, args=None, prog_name=None, complete_var=None, standalone_mode: bool = True, **kwargs
    ):  # click's parameters: a positional standalone_mode is seen too
        """Click's ``main`` with the project's error lines; ``standalone_mode=False`` is
        click's own behaviour (returns the command's value, raises its errors).

        Standalone it never returns: a usage error prints :func:`usage_line` (exit 2), another
        click error one ``error:`` line (its exit code), an abort ``error: aborted`` (exit 1);
        else it exits with the command's return value if that is an int, otherwise 0.
        """
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **kwargs)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **kwargs)
        except click.UsageError as exc:  # nothing started: stderr only, no home log
            click.echo(usage_line(exc), err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo("error: " + " ".join(exc.format_message().split()), err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(EXIT_FAILED)
        sys.exit(code if isinstance(code, int) else 0)


def _title_types(ctx, param, value: str) -> tuple[str, ...]:
    """``--title-types a,b`` -> ("a", "b"), checked when the options are parsed (exit 2)."""
    types = tuple(t.strip() for t in value.split(",") if t.strip())
    if not types:
        raise click.BadParameter("give at least one title type, e.g. movie or movie,tvMovie")
    return types


def _source(ctx, param, value: str | None) -> str | None:
    """``--source`` checked for its form when the options are parsed (exit 2); whether it
    exists is checked by the ingest before anything starts."""
    if value is None:
        return None
    from ingest.sources import SourceError, parse_source

    try:
        parse_source(value)
    except SourceError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


def together(options):
    """One decorator applying several click options, in the order listed."""

    def decorate(function):
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


source_options = [
    click.option(
        "--source",
        callback=_source,
        help="Folder with the IMDb files (.tsv or .tsv.gz), an http(s):// base URL such as "
        "https://datasets.imdbws.com/, s3://BUCKET[/PREFIX] (`s3` = the plan's bucket), or "
        "sample:SCALE[:SEED] (generated files).",
    ),
    click.option("--s3-region", help="Region of an s3:// source."),
    click.option("--s3-endpoint-url", help="Endpoint of an S3-compatible store."),
]


with_source_options = together(source_options)


reject_option = click.option(
    "--max-reject-share",
    type=click.FloatRange(0, 1),
    default=0.001,
    show_default=True,
    help="Stop when more than this share of a file's rows is rejected.",
)
force_option = click.option(
    "--force", is_flag=True, help="Ingest again even if the source files have not changed."
)


def _with_tables(ctx, param, value):
    from ingest.schemas import tables_to_ingest

    try:
        return tables_to_ingest(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


with_tables_option = click.option(
    "--with-tables",
    "tables",
    default="",
    callback=_with_tables,
    metavar="NAMES",
    help="Optional IMDb tables to ingest as well, comma-separated: title.crew, title.episode "
    "(or all). The four required tables and title.akas are always ingested; the others are "
    "neither downloaded nor converted, and stay empty tables.",
)
batch_options = [
    click.option(
        "--records-per-batch",
        type=click.IntRange(min=1),
        default=100,
        show_default=True,
        help="Rating records per micro-batch.",
    ),
    click.option(
        "--flush-seconds",
        type=click.FloatRange(min=0),
        default=10.0,
        show_default=True,
        help="Micro-batches are buffered locally and reach the Delta tables together at "
        "least this often (and at the end); 0 writes every micro-batch to Delta.",
    ),
]


with_batch_options = together(batch_options)


answer_options = [
    click.option(
        "--min-votes",
        type=click.IntRange(min=0),
        default=500,
        show_default=True,
        help="Titles need at least this many votes to be ranked.",
    ),
    click.option(
        "--top-n",
        type=click.IntRange(min=1),
        default=10,
        show_default=True,
        help="How many titles the top list holds.",
    ),
    click.option(
        "--title-types",
        default="movie",
        show_default=True,
        callback=_title_types,
        help="Comma-separated title types that can be ranked.",
    ),
]
format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["json", "table"]),
    default="json",
    show_default=True,
    help="Output format of the results.",
)


with_answer_options = together(answer_options)
skip_tests_option = click.option(
    "--skip-tests",
    is_flag=True,
    help="Build the seeds and models without dbt's unit and schema tests (at IMDb's full size "
    "the tests over the lookups take most of `dbt build`).",
)


port_option = click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port of the Thrift server. Default: IMDB_THRIFT_PORT, else the port of this home's "
    "running server, else 10000.",
)


def with_target(function):
    """--target local|thrift and --port: where Spark's metastore and dbt/results point."""

    @click.option(
        "--target",
        type=click.Choice(["local", "thrift"]),
        default="local",
        show_default=True,
        envvar="IMDB_TARGET",
        help="local: embedded Spark + Derby metastore, dbt in-process. thrift: the PostgreSQL "
        "metastore shared with the Thrift server; dbt and results go through the server.",
    )
    @port_option
    @functools.wraps(function)
    def wrapper(*args, target, port, **kwargs):
        context = click.get_current_context().obj
        context.target, context.port = target, port
        return function(*args, **kwargs)

    return wrapper


wait_option = click.option(
    "--wait",
    is_flag=True,
    help="If another command is writing to this home, wait for it to finish instead of "
    "stopping at once.",
)


def writes_home(command: str, target: str | None = None):
    """A command that writes to the home: ``--wait``, the home's writer lock for the whole
    command (imdb_pipeline.lock), and the home's target checked first (imdb_pipeline.targets;
    ``target``: fixed for the command, ``"none"`` for no check, else its ``--target``). The
    target is recorded when the command first starts Spark (:attr:`Context.spark`)."""

    def decorate(function):
        @wait_option
        @functools.wraps(function)
        def wrapper(*args, wait, **kwargs):
            from imdb_pipeline.lock import writer_lock
            from imdb_pipeline.targets import check_target

            context = click.get_current_context().obj
            context.command = command
            with writer_lock(context.home, command, wait=wait):
                if target != "none":
                    check_target(context.home, target or context.target, context.storage.uri)
                return function(*args, **kwargs)

        return wrapper

    return decorate


@click.group(cls=PipelineGroup)
@click.option(
    "--home",
    envvar="IMDB_PIPELINE_HOME",
    type=click.Path(file_okay=False),
    help="Folder for all state (lake, warehouse, metastore, checkpoints, logs). "
    "Default: $IMDB_PIPELINE_HOME or .home/ in the repository.",
)
@click.option(
    "--conf",
    multiple=True,
    metavar="KEY=VALUE",
    help="Extra Spark setting, e.g. --conf spark.driver.memory=8g or "
    "--conf spark.master=spark://HOST:7077 (repeatable).",
)
@click.option(
    "--storage",
    envvar="IMDB_PIPELINE_STORAGE",
    metavar="s3://BUCKET/PREFIX",
    help="Keep the lake, the warehouse and the stream checkpoints under this S3 prefix "
    "(endpoint: AWS_ENDPOINT_URL; region and credentials: the AWS configuration). Default: "
    "$IMDB_PIPELINE_STORAGE, else in the home.",
)
@click.pass_context
def main(ctx, home, conf, storage):
    """IMDb top movies with Spark Structured Streaming and dbt."""
    from imdb_pipeline.storage import Storage, StorageError

    settings = {}
    for item in conf:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--conf")
        settings[key] = value
    resolved = Home.resolve(home)
    # the commands that only read (status, results) and generate only log into a home that
    # has logs, so a mistyped --home is left uncreated; the others create logs/ with their
    # first line
    writes_log = (
        ctx.invoked_subcommand not in (None, "generate", "status", "results")
        or resolved.logs.is_dir()
    )
    logs.configure(resolved if writes_log else None)
    ctx.call_on_close(logs.reset)
    try:
        chosen = Storage.resolve(resolved, storage)
    except StorageError as exc:
        option = next(param for param in ctx.command.params if param.name == "storage")
        raise click.BadParameter(str(exc), ctx=ctx, param=option) from None
    ctx.obj = Context(resolved, settings, chosen)


def _ingest(ctx: Context, source, s3_region, s3_endpoint_url, max_reject_share, force, tables=None):
    """The ingest stage. Spark starts only once the source's files are located and their
    headers checked (run_ingest calls ``ctx.spark`` then), so a wrong source fails in
    seconds. ``tables``: the IMDb names to ingest (``--with-tables``)."""
    from ingest.run import run_ingest

    if not source:
        logger.error(f"error: {NO_SOURCE}")
        sys.exit(EXIT_FAILED)
    ctx.check_spark_setup()
    fetch_options = {"s3_region": s3_region, "s3_endpoint_url": s3_endpoint_url}
    return run_ingest(
        lambda: ctx.spark,
        ctx.home,
        source,
        max_reject_share=max_reject_share,
        force=force,
        fetch_options=fetch_options,
        tables=tables,
        storage=ctx.storage,
    )


def _stream(
    ctx: Context, records_per_batch, flush_seconds, min_votes, top_n, title_types, follow=False
):
    from streaming.job import StreamOptions, require_ingest, stream

    require_ingest(ctx.storage.lake)  # before Spark starts: an empty home fails at once
    options = StreamOptions(records_per_batch, min_votes, top_n, title_types, flush_seconds)
    summary = stream(ctx.spark, ctx.home, options, follow=follow, storage=ctx.storage)
    batches = summary["batches_this_run"]
    logger.info(
        f"stream: {summary['records_this_run']:,} records in {batches:,} "
        f"micro-batch{'' if batches == 1 else 'es'} this run; {summary['records']:,} of "
        f"{summary['feed_rows']:,} feed records done, {summary['ratings_processed']:,} titles rated"
    )
    return summary


def _transform(ctx: Context, min_votes, top_n, title_types, skip_tests=False):
    from imdb_pipeline.thrift import require_server
    from imdb_pipeline.transform import ParseAhead, dbt_vars, transform

    variables = dbt_vars(min_votes, top_n, title_types)
    if ctx.target == "thrift":  # dbt builds the marts through the server
        address = require_server(ctx.home, ctx.port)
        if ctx.parse_ahead is not None:  # (run: started once Spark was up for the ingest)
            ctx.parse_ahead.wait()
        transform(
            ctx.home,
            variables,
            target="thrift",
            address=address,
            tests=not skip_tests,
            warehouse=_warehouse(ctx),
        )
        return
    if ctx.parse_ahead is None:  # `transform`: beside the Spark start, the only wait there is
        ctx.parse_ahead = ParseAhead(ctx.home, variables)
        ctx.parse_ahead.start()
    _ = ctx.spark  # dbt's session method reuses this process's SparkSession (start it first)
    ctx.parse_ahead.wait()  # (`run`: started when Spark was up)
    transform(ctx.home, variables, target="local", tests=not skip_tests, warehouse=_warehouse(ctx))


def _warehouse(ctx: Context):
    """Spark's warehouse for this home: a folder, or an s3:// URI with ``--storage`` (a
    ``--conf spark.sql.warehouse.dir`` wins)."""
    from pathlib import Path
    from urllib.parse import urlsplit

    from imdb_pipeline.storage import is_remote, s3_uri

    configured = ctx.conf.get("spark.sql.warehouse.dir")
    if not configured:
        return ctx.storage.warehouse if ctx.storage.remote else ctx.home.warehouse
    if is_remote(configured):
        return s3_uri(configured)
    return Path(urlsplit(configured).path if configured.startswith("file:") else configured)


def _results(ctx: Context, output_format):
    """Print the results: on the embedded target read from the marts' Delta files without a
    JVM (so also while a run holds the home); through the server with ``--target thrift``."""
    from imdb_pipeline.results import DeltaReader, ThriftReader, collect, render_json, render_table
    from imdb_pipeline.targets import check_target
    from imdb_pipeline.thrift import require_server

    check_target(ctx.home, ctx.target, ctx.storage.uri)
    if ctx.target == "thrift":  # read the marts through the server, as any SQL client would
        with ThriftReader(*require_server(ctx.home, ctx.port)) as reader:
            results = collect(reader)
    else:
        ctx.storage.check()  # an S3 storage: its endpoint, credentials, bucket (a second)
        results = collect(DeltaReader.of_warehouse(_warehouse(ctx)))
    click.echo(render_json(results) if output_format == "json" else render_table(results))


def _report(ctx: Context, out) -> Path:
    """Write the HTML report from the marts and the stream's micro-batches: on the embedded
    target read from their Delta files without a JVM, through the server with ``--target
    thrift``. Refuses what ``results`` refuses, with the same line."""
    from imdb_pipeline.report import build_report, default_folder, write_report
    from imdb_pipeline.report.sources import DeltaSource, SqlSource
    from imdb_pipeline.results import ThriftReader
    from imdb_pipeline.targets import check_target
    from imdb_pipeline.thrift import require_server

    check_target(ctx.home, ctx.target)
    started = time.monotonic()
    logger.info("report: reading the marts and the stream's micro-batches, drawing the charts")
    if ctx.target == "thrift":
        with ThriftReader(*require_server(ctx.home, ctx.port)) as reader:
            html = build_report(SqlSource(reader), ctx.home, lake=ctx.storage.lake)
    else:
        html = build_report(DeltaSource(_warehouse(ctx)), ctx.home, lake=ctx.storage.lake)
    path = write_report(html, out if out is not None else default_folder(ctx.home))
    logger.info(
        f"report: wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in "
        f"{time.monotonic() - started:.1f}s; open it in a browser (works offline)"
    )
    return path


@main.command()
@with_source_options
@reject_option
@force_option
@with_tables_option
@with_target
@writes_home("ingest")
@click.pass_obj
def ingest(ctx, source, s3_region, s3_endpoint_url, max_reject_share, force, tables):
    """Land the IMDb files as partitioned lookup tables."""
    _ingest(ctx, source, s3_region, s3_endpoint_url, max_reject_share, force, tables)


@main.command()
@with_batch_options
@with_answer_options
@click.option(
    "--follow",
    is_flag=True,
    help="Keep running and pick up each new ingest; Ctrl-C or SIGTERM stops it after "
    "the current micro-batch.",
)
@with_target
@writes_home("stream")
@click.pass_obj
def stream(ctx, records_per_batch, flush_seconds, min_votes, top_n, title_types, follow):
    """Stream the ratings not processed yet into Delta, N records per micro-batch."""
    ctx.check_spark_setup()
    _stream(ctx, records_per_batch, flush_seconds, min_votes, top_n, title_types, follow=follow)


@main.command()
@click.pass_obj
def status(ctx):
    """Show the running or last stream: batches, records done and left, rows/s, ETA, errors."""
    from streaming.status import read_status, render_status

    current = read_status(ctx.home)
    if current is None:
        logger.error(
            with_typed_options(
                f"error: no stream has run in {ctx.home.root} yet: run `imdb-pipeline stream`"
            )
        )
        sys.exit(EXIT_FAILED)
    click.echo(render_status(current))


@main.command()
@with_answer_options
@skip_tests_option
@with_target
@writes_home("transform")
@click.pass_obj
def transform(ctx, min_votes, top_n, title_types, skip_tests):
    """Build and test the dbt models (dbt build)."""
    if ctx.target == "local":
        ctx.check_spark_setup()
    _transform(ctx, min_votes, top_n, title_types, skip_tests)


@main.command()
@format_option
@with_target
@click.pass_obj
def results(ctx, output_format):
    """Print the top movies, their credits and titles (never waits for a running command)."""
    _results(ctx, output_format)


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Folder for report.html (created if needed). Default: <home>/reports.",
)
@with_target
@click.pass_obj
def report(ctx, out):
    """Write the answer as one HTML page with charts: top movies, credits, titles, the
    stream's story, the run (works offline; never waits). Prints the file's path."""
    click.echo(str(_report(ctx, out)))


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Folder for the site (index.html, static_index.html, manifest.json, "
    "catalog.json). Default: <home>/dbt/docs.",
)
@with_target
@writes_home("docs")
@click.pass_obj
def docs(ctx, out):
    """dbt docs of a built home: sources, seeds, models, tests, lineage and every column
    (dbt docs generate --static). Prints the path of static_index.html."""
    from imdb_pipeline.docs import DocsError, answer_vars, generate_docs
    from imdb_pipeline.results import DeltaReader, ThriftReader
    from imdb_pipeline.thrift import require_server

    unbuilt = (
        "the docs need a built home (the catalog reads every table's columns from the "
        f"warehouse) and {ctx.home.root} has no marts yet: run `imdb-pipeline run "
        "--source DIR` first"
    )
    if ctx.target == "thrift":
        address = require_server(ctx.home, ctx.port)
        with ThriftReader(*address) as reader:
            variables = answer_vars(reader)
        if variables is None:
            raise DocsError(unbuilt)
        os.environ["IMDB_THRIFT_HOST"], os.environ["IMDB_THRIFT_PORT"] = address[0], str(address[1])
    else:
        variables = answer_vars(DeltaReader.of_warehouse(_warehouse(ctx)))
        if variables is None:
            raise DocsError(unbuilt)
        ctx.check_spark_setup()
        _ = ctx.spark  # dbt's session method reuses this process's SparkSession
    started = time.monotonic()
    site = generate_docs(ctx.home, variables, out=out, target=ctx.target)
    counts = ", ".join(f"{n} {kind}s" for kind, n in sorted(site["counts"].items()))
    logger.info(f"docs: {counts} in {site['folder']} ({time.monotonic() - started:.1f}s)")
    for gap in site["not_in_catalog"] + site["undocumented"]:
        logger.warning(
            f"docs: warning: {gap}"
            if ": " in gap
            else f"docs: warning: {gap}: not in the warehouse"
        )
    logger.info(
        f"docs: open {site['index']} in a browser, or serve the site from the "
        f"repository: .venv/bin/dbt docs serve --target-path {site['folder']} --port 8080"
    )
    click.echo(str(site["index"]))


@main.command()
@with_source_options
@reject_option
@force_option
@with_tables_option
@with_batch_options
@with_answer_options
@skip_tests_option
@format_option
@click.option(
    "--report",
    "with_report",
    is_flag=True,
    help="Also write the HTML report (`imdb-pipeline report`) to <home>/reports.",
)
@with_target
@writes_home("run")
@click.pass_obj
def run(
    ctx,
    source,
    s3_region,
    s3_endpoint_url,
    max_reject_share,
    force,
    tables,
    records_per_batch,
    flush_seconds,
    min_votes,
    top_n,
    title_types,
    skip_tests,
    output_format,
    with_report,
):
    """ingest + stream + transform, then print the results (and write the report)."""
    started = time.monotonic()
    from imdb_pipeline.transform import ParseAhead, dbt_vars

    address = None
    if ctx.target == "thrift":  # fail before the Spark start when no server answers
        from imdb_pipeline.thrift import require_server

        address = require_server(ctx.home, ctx.port)
    # dbt's import and parse, started once Spark is up (Context.spark)
    variables = dbt_vars(min_votes, top_n, title_types)
    ctx.parse_ahead = ParseAhead(ctx.home, variables, ctx.target, address)
    _ingest(ctx, source, s3_region, s3_endpoint_url, max_reject_share, force, tables)
    _stream(ctx, records_per_batch, flush_seconds, min_votes, top_n, title_types)
    _transform(ctx, min_votes, top_n, title_types, skip_tests)
    _results(ctx, output_format)
    if with_report:
        _report(ctx, None)
    logger.info(f"run: done in {time.monotonic() - started:.1f}s")


@main.group()
def thrift():
    """Spark Thrift server (+ its PostgreSQL metastore) for SQL clients and --target thrift."""


@thrift.command("start")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind. The server has NO authentication: anything that can reach "
    "this address can read and change every table (see docs/server.md).",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=10000,
    show_default=True,
    help="Thrift (JDBC/ODBC) port.",
)
@click.option(
    "--foreground",
    is_flag=True,
    help="Run the server in this process (containers): no pid file, stops with it.",
)
@writes_home("thrift start", target="thrift")
@click.pass_obj
def thrift_start(ctx, host, port, foreground):
    """Start the server; returns once it accepts connections."""
    from imdb_pipeline import thrift as server
    from imdb_pipeline.jars import jar_paths
    from imdb_pipeline.spark import check_master, read_defaults

    jar_paths(ctx.storage.remote)
    check_master(ctx.conf.get("spark.master") or read_defaults()["spark.master"])
    ctx.storage.check()
    server.start(ctx.home, host, port, ctx.conf, foreground=foreground, storage=ctx.storage)


@thrift.command("stop")
@writes_home("thrift stop", target="none")
@click.pass_obj
def thrift_stop(ctx):
    """Stop the server and this home's PostgreSQL (SIGTERM, wait, then SIGKILL)."""
    from imdb_pipeline import thrift as server

    server.stop(ctx.home)


@thrift.command("status")
@port_option
@click.pass_obj
def thrift_status(ctx, port):
    """Print what runs: the server, its metastore database. Exit 0 if the server runs, else 1."""
    from imdb_pipeline import thrift as server

    running, lines = server.status(ctx.home, port)
    click.echo("\n".join(lines))
    sys.exit(0 if running else EXIT_FAILED)


@main.command()
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True),
    required=True,
    help="Row counts = the real 2026 counts x SCALE (1.0 = full size, ~2.9 GB gz).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same bytes.")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    required=True,
    help="Folder for the seven <name>.tsv.gz files.",
)
def generate(scale, seed, out):
    """Write synthetic IMDb files of the real shape (for tests and benchmarks)."""
    from imdb_pipeline.generate.write import generate as write_files

    rows = write_files(out, scale, seed)
    for name, count in rows.items():
        logger.info(f"generate: {name}: {count:,} rows")


if __name__ == "__main__":
    main()
