"""The dbt names sqlfluff's jinja templater lacks, for linting the models without a warehouse.

sqlfluff's dbt templater compiles through dbt itself, and this project's macros query the
warehouse while dbt compiles (the kept marts, the top movies' tconsts), which would start a
SparkSession per lint. `.sqlfluff` therefore uses the jinja templater with dbt's builtins and
this package as its library: the project's vars from dbt_project.yml, an `adapter.dispatch`
that renders the dispatched macro as a plain function call, and `execute` false (dbt's parse
phase), so the macros that query the warehouse render their parse-time branch.
"""

from __future__ import annotations

from pathlib import Path

import yaml

_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project.yml"
_VARS = yaml.safe_load(_PROJECT.read_text())["vars"]

execute = False
invocation_id = "00000000-0000-0000-0000-000000000000"


def var(name, default=None):
    """dbt's var(): the value dbt_project.yml gives (the CLI's defaults)."""
    return _VARS.get(name, default)


class _Adapter:
    """adapter.dispatch(name)(args) renders as `name(args)`: a function call to lint."""

    def dispatch(self, name, macro_namespace=None):
        return lambda *args: f"{name}({', '.join(str(a) for a in args)})"

    def get_relation(self, database, schema, identifier):
        """No relation exists: the kept marts render the branch that computes them."""


adapter = _Adapter()
