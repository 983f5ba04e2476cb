"""Where the pipeline's progress and error lines go: one configuration for every stage.

Every module logs through ``logging.getLogger(__name__)``; the CLI calls :func:`configure`
once per command (and :func:`reset` when it ends):

- the console, stderr: the pipeline's INFO lines and above, the message alone (the
  ``stage: message`` lines; stdout carries only a command's output);
- ``<home>/logs/pipeline.log``: the same lines and the DEBUG details, with time, level and
  logger, and the tracebacks the console never shows; created with its first line.

The JVM logs to ``<home>/logs/spark.log`` (conf/log4j2.properties) and dbt to
``<home>/logs/dbt.log`` (imdb_pipeline/transform.py): neither passes through here.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from imdb_pipeline.home import Home

PIPELINE_LOG = "pipeline.log"  # in the home's logs/
PACKAGES = ("imdb_pipeline", "ingest", "streaming")  # their lines: INFO on the console
# Noisy below WARNING (py4j: a line per callback connection). Each installs a NullHandler of
# its own, so their warnings never reached the console: they go to pipeline.log only.
QUIET = ("py4j", "urllib3", "botocore", "boto3", "s3transfer")
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
_NAMES = ("imdb_pipeline.console", "imdb_pipeline.file")  # the handlers configure() adds


class _Stderr(logging.StreamHandler):
    """stderr as it is when a line is written (click's test runner swaps it per command)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class _MessageOnly(logging.Formatter):
    """The line as given: no traceback on the console (the file has it)."""

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()


class _LazyFile(logging.FileHandler):
    """``pipeline.log``, created with its folder on the first line (a command that fails
    before writing one leaves no empty logs/)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8", delay=True)

    def _open(self):
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


def _for_console(record: logging.LogRecord) -> bool:
    return record.name.partition(".")[0] not in QUIET


def configure(home: Home | None = None) -> None:
    """Log the pipeline's lines to stderr and, given a ``home``, to its ``logs/pipeline.log``.

    Idempotent: a second call replaces the handlers of the first (a new home, or none)."""
    reset()
    root = logging.getLogger()
    console = _Stderr()
    console.set_name(_NAMES[0])
    console.setLevel(logging.INFO)
    console.setFormatter(_MessageOnly())
    console.addFilter(_for_console)
    root.addHandler(console)
    if home is not None:
        file = _LazyFile(home.logs / PIPELINE_LOG)
        file.set_name(_NAMES[1])
        file.setLevel(logging.DEBUG)
        file.setFormatter(logging.Formatter(FILE_FORMAT, DATE_FORMAT))
        root.addHandler(file)
    for name in PACKAGES:
        logging.getLogger(name).setLevel(logging.DEBUG)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


def log_file() -> Path | None:
    """The ``pipeline.log`` :func:`configure` writes to, if any."""
    for handler in logging.getLogger().handlers:
        if handler.name == _NAMES[1] and isinstance(handler, logging.FileHandler):
            return Path(handler.baseFilename)
    return None


def reset() -> None:
    """Undo :func:`configure`: its handlers closed and removed, the levels it set cleared."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.name in _NAMES]:
        root.removeHandler(handler)
        handler.close()
    for name in PACKAGES + QUIET:
        logging.getLogger(name).setLevel(logging.NOTSET)
