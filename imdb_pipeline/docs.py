"""``imdb-pipeline docs`` (``make docs``): dbt's documentation site for a built home.

``dbt docs generate --static`` in-process on the pipeline's SparkSession (or through the
Thrift server): the manifest (sources, seeds, models, tests, macros, lineage), the catalog
(the columns and types Spark's metastore reports for every relation, so the home must be
built), ``index.html`` and ``static_index.html`` (everything inlined: opens from ``file://``).
They go to ``<home>/dbt/docs``, not the home's ``dbt/target``, whose ``run_results.json``
stays the build's (the report's dbt timings).

:func:`undocumented` is the rule the tests hold the project to: every model, seed and
source has a description, and so does every column the catalog finds in the warehouse.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from imdb_pipeline.home import Home

PROJECT = "imdb"  # dbt_project.yml: name
DESCRIBED_TYPES = ("model", "seed")  # plus every source


class DocsError(Exception):
    """``docs`` cannot build the site: the home has no marts yet, or ``dbt docs generate``
    failed or left no manifest/catalog; ``str()`` is one line with the next step (exit 1)."""


def docs_folder(home: Home) -> Path:
    """Where ``docs`` writes without ``--out``: ``<home>/dbt/docs``."""
    return home.root / "dbt" / "docs"


def answer_vars(reader) -> dict | None:
    """The dbt vars of the published answer (``run_summary``), so the docs' compiled SQL is
    the SQL of the answer the home holds; None when the home has no marts.

    Args:
        reader: a :class:`~imdb_pipeline.results.DeltaReader` or
            :class:`~imdb_pipeline.results.ThriftReader`.
    """
    if not reader.exists("run_summary"):
        return None
    rows = reader.rows("run_summary", ["min_votes", "top_n", "title_types"], "min_votes")
    if not rows:
        return None
    row = rows[0]
    return {
        "min_votes": row["min_votes"],
        "top_n": row["top_n"],
        "title_types": sorted(row["title_types"]),
    }


def _documented_nodes(manifest: dict) -> list[tuple[str, dict]]:
    nodes = [
        (uid, n)
        for uid, n in manifest.get("nodes", {}).items()
        if n.get("resource_type") in DESCRIBED_TYPES and n.get("package_name") == PROJECT
    ]
    sources = [
        (uid, s)
        for uid, s in manifest.get("sources", {}).items()
        if s.get("package_name") == PROJECT
    ]
    return sorted(nodes + sources)


def _catalog_entry(catalog: dict, unique_id: str) -> dict | None:
    kind = "sources" if unique_id.startswith("source.") else "nodes"
    return catalog.get(kind, {}).get(unique_id)


def undocumented(manifest: dict, catalog: dict) -> list[str]:
    """What the docs leave undescribed.

    Args:
        manifest: dbt's ``manifest.json`` (descriptions from the ymls).
        catalog: dbt's ``catalog.json`` (the columns the warehouse has).

    Returns:
        One line per gap, sorted: ``"<unique_id>: no description"`` for a model, seed or
        source of the project without one, ``"<unique_id>: column <name> has no
        description"`` for a column the catalog finds but the yml does not describe, and
        ``"<unique_id>: column <name> is described but not in the table"`` for a yml entry
        the warehouse lacks (a renamed or dropped column). Empty when all is described.
    """
    gaps = []
    for unique_id, node in _documented_nodes(manifest):
        if not (node.get("description") or "").strip():
            gaps.append(f"{unique_id}: no description")
        described = {
            name.lower(): (column.get("description") or "").strip()
            for name, column in (node.get("columns") or {}).items()
        }
        entry = _catalog_entry(catalog, unique_id)
        if entry is None:
            continue  # not_in_catalog() reports it
        found = {name.lower() for name in entry.get("columns", {})}
        gaps += [
            f"{unique_id}: column {c} has no description"
            for c in sorted(found)
            if not described.get(c)
        ]
        gaps += [
            f"{unique_id}: column {c} is described but not in the table"
            for c in sorted(set(described) - found)
        ]
    return sorted(gaps)


def not_in_catalog(manifest: dict, catalog: dict) -> list[str]:
    """The project's models, seeds and sources whose relation the catalog did not find (not
    built yet, or dropped): their columns could not be checked."""
    return [uid for uid, _ in _documented_nodes(manifest) if _catalog_entry(catalog, uid) is None]


def generate_docs(
    home: Home, variables: dict | None, *, out: str | Path | None = None, target: str = "local"
) -> dict:
    """``dbt docs generate --static`` for the project against ``home``.

    Args:
        home: a built home (the catalog reads every relation's columns from its metastore).
        variables: dbt vars (:func:`answer_vars`), or None for dbt_project.yml's.
        out: the folder for the site (default :func:`docs_folder`).
        target: the profile's target: ``local`` (this process's SparkSession, started
            first) or ``thrift`` (IMDB_THRIFT_HOST/PORT set by the caller).

    Returns:
        ``{"folder", "index", "counts": {resource type: n}, "undocumented": [...],
        "not_in_catalog": [...]}``.

    Raises:
        DocsError: dbt failed (one line, details in ``<home>/logs/dbt.log``).
    """
    from imdb_pipeline.transform import run_dbt

    folder = Path(out).expanduser() if out is not None else docs_folder(home)
    folder.mkdir(parents=True, exist_ok=True)
    parsed = home.dbt_target / "partial_parse.msgpack"
    if parsed.is_file():  # dbt re-checks it (vars, files, profile) and parses again if stale
        shutil.copyfile(parsed, folder / "partial_parse.msgpack")
    # compiled, as dbt docs shows nodes by default (and --no-compile writes no manifest.json
    # into a fresh target folder, which --static then needs)
    result = run_dbt(
        home,
        ["docs", "generate", "--static"],
        variables,
        target=target,
        bar=False,
        target_path=folder,
    )
    details = f"details in {home.logs / 'dbt.log'}"
    if result.exception is not None or not result.success:
        reason = " ".join(str(result.exception or "").split())[:300] or "see the log"
        raise DocsError(f"dbt docs generate failed: {reason}; {details}")
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        catalog = json.loads((folder / "catalog.json").read_text())
    except (OSError, ValueError) as exc:
        raise DocsError(
            f"dbt docs generate left no readable manifest/catalog in {folder}: {exc}; {details}"
        ) from exc
    counts: dict[str, int] = {}
    for group in ("nodes", "sources", "unit_tests"):
        for node in manifest.get(group, {}).values():
            kind = node["resource_type"]
            if node.get("package_name") == PROJECT and kind != "operation":  # not the hooks
                counts[kind] = counts.get(kind, 0) + 1
    return {
        "folder": folder,
        "index": folder / "static_index.html",
        "counts": counts,
        "undocumented": undocumented(manifest, catalog),
        "not_in_catalog": not_in_catalog(manifest, catalog),
    }
