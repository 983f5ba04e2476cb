"""Which target a home belongs to: ``local`` (embedded Derby metastore under the home) or
``thrift`` (a PostgreSQL metastore shared with the Thrift server).

The two metastores cannot see each other's tables while both point at the same warehouse
folder, so a home serves one of them. The first command that writes a home records which in
``<home>/target.json``; later commands of the other kind stop with one line saying what to do.
Homes written before that record existed are recognised by what they hold (``metastore.json``
for the PostgreSQL one, ``metastore/metastore_db`` for Derby).

The record also names the home's storage (``imdb_pipeline.storage``: the home itself, or an
``s3://`` prefix): the home's metastore knows the tables of that storage only, and its buffered
micro-batches belong to that storage's checkpoints, so a command with another ``--storage``
stops too.
"""

from __future__ import annotations

import json
import os
import time

from imdb_pipeline.home import Home

RECORD_FILE = "target.json"
METASTORE_URL_ENV = "IMDB_METASTORE_URL"  # as imdb_pipeline.metastore.URL_ENV (not imported)
DERBY, POSTGRESQL = "derby", "postgresql"


class TargetMismatch(Exception):
    """The home belongs to the other target; ``str()`` is one line with the next step."""


def metastore_of(target: str) -> str:
    """The metastore a command of ``target`` uses: PostgreSQL for ``thrift`` or whenever
    ``IMDB_METASTORE_URL`` is set, else the home's embedded Derby."""
    return POSTGRESQL if target == "thrift" or os.environ.get(METASTORE_URL_ENV) else DERBY


def recorded_metastore(home: Home) -> str | None:
    """The metastore the home's tables are in (``derby``/``postgresql``), None for a new home."""
    try:
        value = json.loads((home.root / RECORD_FILE).read_text()).get("metastore")
    except (OSError, ValueError, AttributeError):
        value = None
    if value in (DERBY, POSTGRESQL):
        return value
    if (home.metastore / "metastore_db").exists():
        return DERBY
    if (home.root / "metastore.json").exists():
        return POSTGRESQL
    return None


def mismatch_message(home: Home, have: str, target: str) -> str:
    """The :class:`TargetMismatch` line for a home whose tables are in ``have`` (``derby`` or
    ``postgresql``) and a command of ``target``: why it cannot see them, which home or
    ``--target`` to use."""
    if have == DERBY:
        return (
            f"home {home.root} holds the local target's tables (embedded Derby metastore); "
            f"--target {target} keeps its tables in a PostgreSQL metastore that cannot see "
            f"them: use another home for it, e.g. `imdb-pipeline --home {home.root}-thrift "
            "thrift start`, then the same --home for `run --target thrift`"
        )
    return (
        f"home {home.root} belongs to the Thrift target (its tables are in a PostgreSQL "
        "metastore): pass --target thrift (with `imdb-pipeline thrift start` running), or "
        "use another home for the local target (--home DIR)"
    )


def recorded_storage(home: Home) -> str | None:
    """The S3 storage the home's record names (None: the home itself, or no record yet)."""
    try:
        return json.loads((home.root / RECORD_FILE).read_text()).get("storage")
    except (OSError, ValueError, AttributeError):
        return None


def check_target(home: Home, target: str, storage: str | None = None) -> None:
    """Raise :class:`TargetMismatch` if the home belongs to the other target, or was
    recorded with another storage than ``storage`` (an ``s3://`` URI, None = the home)."""
    have = recorded_metastore(home)
    if have is not None and have != metastore_of(target):
        raise TargetMismatch(mismatch_message(home, have, target))
    if (home.root / RECORD_FILE).exists() and recorded_storage(home) != storage:
        recorded = recorded_storage(home)
        have_text = f"--storage {recorded}" if recorded else "the home (no --storage)"
        want_text = f"--storage {storage}" if storage else "no --storage"
        raise TargetMismatch(
            f"home {home.root} keeps its lake, tables and checkpoints in {have_text}, not "
            f"{want_text}: pass the same storage (--storage or IMDB_PIPELINE_STORAGE), or use "
            "another home for the other one (--home DIR)"
        )


def claim_target(home: Home, target: str, command: str, storage: str | None = None) -> None:
    """:func:`check_target`, then record the target (and the storage) if the home has none
    yet. Call it while holding the home's writer lock (imdb_pipeline.lock)."""
    check_target(home, target, storage)
    record = home.root / RECORD_FILE
    if record.exists():
        return
    home.root.mkdir(parents=True, exist_ok=True)
    data = {
        "target": target,
        "metastore": recorded_metastore(home) or metastore_of(target),
        "storage": storage,
        "first_command": command,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    tmp = record.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, record)
