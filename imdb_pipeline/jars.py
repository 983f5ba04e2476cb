"""The jars a Spark start needs: those ``make setup`` fetched (``jars.txt``) and Spark's own
(pyspark's install), and :class:`SetupError` when the machine lacks something setup provides.

Below both ``spark.py`` (every Spark start) and ``metastore.py`` (the metastore's settings and
schema), which need the same jars without importing each other.
"""

from __future__ import annotations

import os
from pathlib import Path

from imdb_pipeline.home import REPO_ROOT

DEFAULT_JARS = REPO_ROOT / ".cache" / "jars"


class SetupError(Exception):
    """The machine lacks what ``make setup`` (or a system package) provides: one line that
    names the step to take."""


def jar_paths(s3: bool = False) -> list[str]:
    """The jars ``make setup`` fetched (``jars.txt``), as ``spark.jars`` lists them.

    ``s3``: also hadoop-aws and the AWS SDK (for an S3 storage). They are left out otherwise:
    the SDK bundle is 690 MB, and every executor copies what ``spark.jars`` lists.
    Raises :class:`SetupError` when the Delta jars (or, with ``s3``, hadoop-aws) are missing.
    """
    from imdb_pipeline.storage import S3_JARS

    folder = Path(os.environ.get("IMDB_PIPELINE_JARS", DEFAULT_JARS))
    jars = sorted(str(p) for p in folder.glob("*.jar"))
    if not any(Path(j).name.startswith("delta-spark") for j in jars):
        raise SetupError(f"no Delta jars in {folder}: run `make setup` first")
    s3_jars = [j for j in jars if Path(j).name.startswith(S3_JARS)]
    if s3 and not any(Path(j).name.startswith("hadoop-aws-") for j in s3_jars):
        raise SetupError(
            f"no hadoop-aws jar in {folder} (needed by --storage s3://...): run `make setup` first"
        )
    return jars if s3 else [j for j in jars if j not in s3_jars]


def spark_home() -> Path:
    """pyspark's install folder: Spark's own ``jars/`` and ``bin/spark-submit``."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent
