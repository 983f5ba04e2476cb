"""Where the lake, the warehouse and the stream checkpoints live: the home, or S3.

One setting, ``--storage s3://BUCKET/PREFIX`` (or ``IMDB_PIPELINE_STORAGE``), moves the three
under that prefix::

    s3://BUCKET/PREFIX/lake/<ingest_id>/...      Parquet lookups (pyarrow's S3 file system)
    s3://BUCKET/PREFIX/lake/CURRENT              the published ingest (one PUT moves it)
    s3://BUCKET/PREFIX/warehouse/                spark.sql.warehouse.dir (s3a://): Delta tables
    s3://BUCKET/PREFIX/checkpoints/<stream_id>/  checkpoint/ (Spark, s3a://), feeds.json, feeds/

Without it they stay in the home, as before. Everything else stays on the driver's local disk
in the home: logs, the writer lock, the metastore (Derby), downloads, the stream's buffered
micro-batches, dbt's target folder.

Connection settings come from the standard AWS configuration, the same for every client
(pyarrow, delta-rs, boto3 and Spark's s3a): the endpoint from ``AWS_ENDPOINT_URL_S3`` or
``AWS_ENDPOINT_URL`` (an S3-compatible store; unset = AWS), the region from ``AWS_REGION``,
``AWS_DEFAULT_REGION`` or the profile's ``region`` (``~/.aws/config``), path-style addressing
on when an endpoint is set (``IMDB_S3_PATH_STYLE=true|false`` decides otherwise).
Credentials are never settings: each client takes them from the standard AWS chain
(environment, profile files, web identity, container or instance role); Spark's s3a uses the
AWS SDK's ``DefaultCredentialsProvider`` in every JVM, so executors on other hosts use their
own host's credentials. Nothing here writes a credential to a file, a setting or a log.

A location is a plain string: a local path, or an ``s3://bucket/key`` URI (``s3a://`` is read
as ``s3://``). :func:`filesystem_for` gives pyarrow's file system for one, so code that reads
or writes locations works the same on both (also in the Python data source's worker process,
which gets the same environment as the driver).
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

STORAGE_ENV = "IMDB_PIPELINE_STORAGE"
PATH_STYLE_ENV = "IMDB_S3_PATH_STYLE"
CREDENTIALS_PROVIDER = "software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider"
S3_JARS = ("hadoop-aws-", "bundle-", "analyticsaccelerator-s3-")  # jars.txt: s3a for Spark
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class StorageError(Exception):
    """The storage is unusable (bad URI, unreachable endpoint, no credentials, no bucket);
    ``str()`` is one line with the next step."""


# --- connection settings ---------------------------------------------------------------------


@dataclass(frozen=True)
class S3Settings:
    """How every client reaches S3: endpoint (None = AWS), region, path-style addressing."""

    endpoint: str | None
    region: str
    path_style: bool

    @property
    def allow_http(self) -> bool:
        """True when the endpoint is plain ``http://`` (a local store): clients must allow it."""
        return bool(self.endpoint and self.endpoint.startswith("http://"))

    @property
    def where(self) -> str:
        """The endpoint as a user names it in a message."""
        return self.endpoint or f"AWS S3 ({self.region})"


def _profile_value(name: str) -> str | None:
    """``name`` of the active AWS profile (``~/.aws/config``, ``AWS_PROFILE``), via botocore."""
    try:
        import botocore.session

        value = botocore.session.Session().get_scoped_config().get(name)
    except Exception:  # noqa: BLE001 - a missing or broken profile file means "not set"
        return None
    return value if isinstance(value, str) and value else None


def s3_settings() -> S3Settings:
    """The S3 connection settings of this process's environment and AWS configuration.

    Raises:
        StorageError: no region anywhere while no endpoint is set (AWS needs one), or
            ``IMDB_S3_PATH_STYLE`` is neither true nor false.
    """
    endpoint = (
        os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
        or _profile_value("endpoint_url")
    )
    endpoint = endpoint.rstrip("/") if endpoint else None
    region = (
        os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or _profile_value("region")
    )
    if not region:
        if not endpoint:
            raise StorageError(
                "no AWS region configured for the S3 storage: set AWS_REGION (or region in "
                "~/.aws/config), e.g. export AWS_REGION=eu-west-1"
            )
        region = "us-east-1"  # S3-compatible stores accept any region in the signature
    style = os.environ.get(PATH_STYLE_ENV, "").strip().lower()
    if style not in ("", "true", "false"):
        raise StorageError(f"{PATH_STYLE_ENV}={style!r}: use true or false")
    path_style = (style == "true") if style else bool(endpoint)
    return S3Settings(endpoint, region, path_style)


# --- locations -------------------------------------------------------------------------------


def is_remote(location: str | os.PathLike) -> bool:
    """True for an ``s3://`` or ``s3a://`` URI, False for a local path."""
    return str(location).startswith(("s3://", "s3a://"))


def s3_uri(location: str) -> str:
    """``s3a://b/k`` -> ``s3://b/k`` (pyarrow, delta-rs and boto3 name S3 objects so)."""
    return "s3://" + location[len("s3a://") :] if location.startswith("s3a://") else location


def spark_location(location: str | os.PathLike) -> str:
    """The name Spark (Hadoop) uses for a location: ``s3a://`` for S3, a local path as is."""
    text = str(location)
    return "s3a://" + text[len("s3://") :] if text.startswith("s3://") else text


def join(location: str | os.PathLike, *parts: str) -> str:
    """``location/part/...`` for a local path or an S3 URI."""
    text = str(location)
    if is_remote(text):
        return "/".join([text.rstrip("/"), *parts])
    return str(Path(text).joinpath(*parts))


def parent(location: str) -> str:
    """The folder holding ``location``: ``s3://b/a/k`` -> ``s3://b/a``, or a path's parent."""
    if is_remote(location):
        return location.rstrip("/").rsplit("/", 1)[0]
    return str(Path(location).parent)


def bucket_and_key(location: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` (or ``s3a://``) -> ``("bucket", "a/b")``: the key without a
    leading slash."""
    parts = urlsplit(s3_uri(location))
    return parts.netloc, parts.path.lstrip("/")


@functools.lru_cache(maxsize=1)
def s3_filesystem():
    """pyarrow's S3 file system for this process's settings (:func:`s3_settings`;
    credentials: the AWS C++ SDK's default chain).

    Made on the first call and kept for the process (its environment does not change);
    ``s3_filesystem.cache_clear()`` makes the next call read the environment again. Raises
    StorageError as :func:`s3_settings` does.
    """
    from pyarrow import fs

    settings = s3_settings()
    options = {"region": settings.region}
    if settings.endpoint:
        parts = urlsplit(settings.endpoint)
        options.update(
            endpoint_override=parts.netloc + parts.path,
            scheme=parts.scheme or "https",
            force_virtual_addressing=not settings.path_style,
        )
    return fs.S3FileSystem(**options)


def filesystem_for(location: str | os.PathLike):
    """(pyarrow file system, its path) for a local path or an ``s3://`` / ``s3a://`` URI."""
    from pyarrow import fs

    text = str(location)
    if is_remote(text):
        bucket, key = bucket_and_key(text)
        return s3_filesystem(), f"{bucket}/{key}".rstrip("/")
    return fs.LocalFileSystem(), os.path.abspath(text)


def exists(location: str | os.PathLike) -> bool:
    """A file or folder (on S3: an object or any object under that prefix) is there."""
    from pyarrow import fs as pafs

    filesystem, path = filesystem_for(location)
    return filesystem.get_file_info(path).type != pafs.FileType.NotFound


def read_text(location: str | os.PathLike) -> str | None:
    """The text of a small file, or None if it does not exist."""
    from pyarrow import fs as pafs

    filesystem, path = filesystem_for(location)
    if not is_remote(location):
        try:
            return Path(path).read_text()
        except FileNotFoundError:
            return None
    if filesystem.get_file_info(path).type == pafs.FileType.NotFound:
        return None
    with filesystem.open_input_stream(path) as stream:
        return stream.read().decode()


def write_text(location: str | os.PathLike, text: str) -> None:
    """Replace a small file atomically: a reader sees the old text or the new one, whole.

    Local: written under a temporary name, then renamed. S3: one PUT (S3 makes an object
    visible only once it is whole, and reads after a PUT see it: strongly consistent).
    """
    filesystem, path = filesystem_for(location)
    if is_remote(location):
        with filesystem.open_output_stream(path) as out:
            out.write(text.encode())
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(text)
    os.replace(tmp, target)


def identity(location: str | os.PathLike) -> tuple:
    """What changes when a small file is replaced (local: inode, mtime, size; S3: mtime, size)."""
    if not is_remote(location):
        stat = os.stat(location)
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    filesystem, path = filesystem_for(location)
    info = filesystem.get_file_info(path)
    return (info.mtime_ns, info.size)


def list_names(location: str | os.PathLike) -> list[str]:
    """Names directly under a folder (or S3 prefix); empty when there is none."""
    from pyarrow import fs as pafs

    filesystem, path = filesystem_for(location)
    selector = pafs.FileSelector(path, allow_not_found=True)
    return sorted(
        posixpath.basename(info.path.rstrip("/")) for info in filesystem.get_file_info(selector)
    )


def remove_tree(location: str | os.PathLike) -> None:
    """Delete a folder (S3: every object under the prefix); nothing if it is not there."""
    filesystem, path = filesystem_for(location)
    if exists(location):
        filesystem.delete_dir(path)


def delta_options(location: str | os.PathLike) -> dict[str, str] | None:
    """delta-rs ``storage_options`` for a Delta table at ``location`` (None when local).

    delta-rs (1.x) commits to S3 with conditional writes (``If-None-Match``): two writers
    cannot both create one log version. With a custom endpoint it does not run the AWS
    credential chain itself (it reads the ``AWS_*`` variables only), so the chain's result
    (botocore: environment, profile, ...) is handed over here, in memory.
    """
    if not is_remote(location):
        return None
    settings = s3_settings()
    options = {
        "AWS_REGION": settings.region,
        "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "false" if settings.path_style else "true",
    }
    if settings.endpoint:
        options["AWS_ENDPOINT_URL"] = settings.endpoint
        options["AWS_ALLOW_HTTP"] = "true" if settings.allow_http else "false"
        credentials = _chain_credentials()
        if credentials is not None:
            options["AWS_ACCESS_KEY_ID"] = credentials.access_key
            options["AWS_SECRET_ACCESS_KEY"] = credentials.secret_key
            if credentials.token:
                options["AWS_SESSION_TOKEN"] = credentials.token
    return options


def _chain_credentials():
    """The standard AWS chain's credentials (botocore), frozen; None when it finds none."""
    import botocore.session

    found = botocore.session.Session().get_credentials()
    return found.get_frozen_credentials() if found is not None else None


# --- the storage of a home -------------------------------------------------------------------


def parse_storage(value: str) -> str:
    """``s3://BUCKET[/PREFIX]`` -> the normalised URI (no trailing slash).

    Raises:
        StorageError: not an ``s3://`` URI, or not a valid bucket name.
    """
    text = value.strip()
    if text.startswith("s3a://"):
        text = s3_uri(text)
    if not text.startswith("s3://"):
        raise StorageError(
            f"{value!r}: give s3://BUCKET/PREFIX (without --storage the lake, "
            "warehouse and checkpoints stay in the home)"
        )
    bucket, key = bucket_and_key(text)
    if not _BUCKET.match(bucket or ""):
        raise StorageError(f"{value!r}: {bucket!r} is not a valid S3 bucket name")
    key = key.strip("/")
    return f"s3://{bucket}/{key}" if key else f"s3://{bucket}"


@dataclass(frozen=True)
class Storage:
    """The lake, warehouse and checkpoints of a home: under ``<home>`` (``uri`` None) or
    under an S3 prefix. Properties are locations (see the module docstring)."""

    home_root: Path
    uri: str | None = None

    @classmethod
    def resolve(cls, home, value: str | None = None) -> Storage:
        """``--storage`` (or ``IMDB_PIPELINE_STORAGE``) for ``home``; raises StorageError."""
        chosen = value or os.environ.get(STORAGE_ENV) or None
        return cls(home.root, parse_storage(chosen) if chosen else None)

    @property
    def remote(self) -> bool:
        """True when the lake, warehouse and checkpoints are under an S3 prefix."""
        return self.uri is not None

    @property
    def lake(self) -> str:
        """Where the lake is: ``<uri>/lake``, or ``<home>/lake``."""
        return join(self.uri, "lake") if self.uri else str(self.home_root / "lake")

    @property
    def warehouse(self) -> str:
        """``spark.sql.warehouse.dir``: ``<uri>/warehouse`` (as ``s3://``), or
        ``<home>/warehouse``."""
        return join(self.uri, "warehouse") if self.uri else str(self.home_root / "warehouse")

    @property
    def checkpoints(self) -> str:
        """Where the streams' folders are: ``<uri>/checkpoints``, or ``<home>/checkpoints``."""
        return join(self.uri, "checkpoints") if self.uri else str(self.home_root / "checkpoints")

    def describe(self) -> str:
        """The storage as messages name it: its ``s3://`` URI, or ``the home (<home>)``."""
        return self.uri or f"the home ({self.home_root})"

    def spark_settings(self) -> dict[str, str]:
        """Spark settings for this storage: the warehouse, and on S3 the s3a connection
        (endpoint, region, path-style, TLS per the endpoint's scheme, the AWS SDK's default
        credential chain). No credential is ever a setting."""
        if not self.remote:
            return {"spark.sql.warehouse.dir": self.warehouse}
        settings = s3_settings()
        hadoop = {
            "fs.s3a.endpoint.region": settings.region,
            "fs.s3a.path.style.access": str(settings.path_style).lower(),
            "fs.s3a.aws.credentials.provider": CREDENTIALS_PROVIDER,
        }
        if settings.endpoint:
            hadoop["fs.s3a.endpoint"] = settings.endpoint
            hadoop["fs.s3a.connection.ssl.enabled"] = str(not settings.allow_http).lower()
        return {
            "spark.sql.warehouse.dir": spark_location(self.warehouse),
            **{f"spark.hadoop.{key}": value for key, value in hadoop.items()},
        }

    def check(self, timeout: float = 10.0) -> None:
        """Reach the endpoint, find credentials, see the bucket: a second, before any Spark
        start. Raises :class:`StorageError` (one line with the next step)."""
        if self.uri is None:  # not remote
            return
        settings = s3_settings()
        bucket, _ = bucket_and_key(self.uri)
        if settings.endpoint:
            _check_reachable(settings.endpoint, timeout)
        if _chain_credentials() is None:
            raise StorageError(
                f"no AWS credentials for {self.uri}: the standard AWS chain found none; set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (~/.aws/credentials), "
                "or run where an instance or container role applies"
            )
        _check_bucket(bucket, settings, timeout)


def _check_reachable(endpoint: str, timeout: float) -> None:
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    port = parts.port or (80 if parts.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise StorageError(
            f"cannot reach the S3 endpoint {endpoint} (AWS_ENDPOINT_URL): "
            f"{exc.strerror or exc}; start the object store or fix AWS_ENDPOINT_URL"
        ) from None


def _check_bucket(bucket: str, settings: S3Settings, timeout: float) -> None:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client(
        "s3",
        endpoint_url=settings.endpoint,
        region_name=settings.region,
        config=Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": 2, "mode": "standard"},
            s3={"addressing_style": "path" if settings.path_style else "auto"},
        ),
    )
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise StorageError(
                f"bucket {bucket} does not exist at {settings.where}: create it (e.g. `aws s3 mb "
                f"s3://{bucket}`) or fix --storage / {STORAGE_ENV}"
            ) from None
        if code in ("403", "AccessDenied", "Forbidden"):
            raise StorageError(
                f"access to bucket {bucket} at {settings.where} is denied: check the credentials "
                "the AWS chain finds (AWS_PROFILE, AWS_ACCESS_KEY_ID) and the bucket's policy"
            ) from None
        raise StorageError(f"bucket {bucket} at {settings.where}: {code or exc}") from None
    except BotoCoreError as exc:
        raise StorageError(f"cannot reach S3 at {settings.where}: {exc}") from None
