"""The S3 source: ``s3://BUCKET[/PREFIX]`` (and S3-compatible stores) through boto3.

Anonymous first, then, on AccessDenied, the standard AWS credential chain for the rest of the
fetch (``S3Source.call``). ``S3Source.probe`` lists the prefix (or, without ListBucket,
asks for the IMDb names one by one); ``S3Source.open`` GETs an object from an offset, guarded
by ``If-Match`` when resuming. boto3's errors become ``Transient`` (retried: 5xx, throttling,
time-outs, cut reads), ``NotFound``, ``Restart`` (412, 416) or a ``SourceError`` naming the
URL and what to try (no such bucket, access denied, bad credentials, wrong region, endpoint
unreachable). botocore's own retries are off: ``retry`` retries, and the download resumes.
"""

from __future__ import annotations

import http.client
import logging
import threading
import urllib.parse
from typing import Any

from ingest.schemas import ALL_FILES
from ingest.sources import retry
from ingest.sources.download import Remote, Restart, Stream, content_range
from ingest.sources.errors import NotFound, SourceError
from ingest.sources.locate import HINT_HTTPS, HINT_OFFLINE, S3Location, select_files, wanted_tables
from ingest.sources.results import utc_iso
from ingest.sources.retry import Transient, retrying

logger = logging.getLogger(__name__)

_HINT_CREDS = "set AWS credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"


class _S3Denied(SourceError):
    """Access denied, anonymously and (if any) with the AWS credentials."""


class S3Source:
    """The IMDb files under an S3 prefix.

    Args:
        loc: the bucket and prefix (as ``parse_source`` gives them).
        region: the bucket's region (``--s3-region``); None: the AWS configuration's.
        endpoint_url: an S3-compatible store (MinIO & co.; path-style addressing), or None.
        parallel: downloads at a time (sizes the connection pool).
        tables: the IMDb names asked for (default all).

    Raises:
        SourceError: boto3 is not installed.
    """

    kind = "s3"

    def __init__(
        self,
        loc: S3Location,
        region: str | None,
        endpoint_url: str | None,
        parallel: int,
        tables=None,
    ):
        try:
            import boto3
            from botocore import UNSIGNED
            from botocore.config import Config
        except ImportError:  # pragma: no cover - boto3 is in requirements.lock
            raise SourceError(
                f"s3://{loc.bucket}/{loc.prefix} needs boto3 (pip install boto3), or {HINT_HTTPS}"
            ) from None
        self.loc = loc
        self.tables = wanted_tables(tables)
        self.endpoint_url = endpoint_url
        self.where = f"s3://{loc.bucket}/{loc.prefix}"
        options: dict[str, Any] = {
            "connect_timeout": 20,
            "read_timeout": retry.TIMEOUT,
            "retries": {"total_max_attempts": 1},  # we retry ourselves (and resume)
            "max_pool_connections": max(10, parallel + 2),
        }
        if endpoint_url:
            options["s3"] = {"addressing_style": "path"}  # MinIO & co.; IP endpoints need it
        self._session = boto3.session.Session(region_name=region)
        self._config = Config
        self._options = options
        self._anonymous = self._session.client(
            "s3", endpoint_url=endpoint_url, config=Config(signature_version=UNSIGNED, **options)
        )
        self._signed: Any = None
        self._signed_checked = False
        self._lock = threading.Lock()
        self.auth = "anonymous"

    # -- clients and errors

    def _signed_client(self) -> Any:
        from botocore.exceptions import BotoCoreError

        with self._lock:
            if not self._signed_checked:
                self._signed_checked = True
                try:
                    credentials = self._session.get_credentials()
                except BotoCoreError as e:  # e.g. ProfileNotFound
                    raise SourceError(
                        f"AWS credentials for {self.where}: {e}; fix AWS_PROFILE/~/.aws/config"
                    ) from None
                if credentials is not None:
                    self._signed = self._session.client(
                        "s3", endpoint_url=self.endpoint_url, config=self._config(**self._options)
                    )
            return self._signed

    def _denied_message(self, url: str, signed: bool) -> str:
        if signed:
            return (
                f"403 Forbidden for {url}: access denied also with your AWS credentials; check "
                f"the bucket/IAM policy and AWS_PROFILE, or {HINT_HTTPS}"
            )
        return (
            f"403 Forbidden for {url}: the bucket is not public and no AWS credentials were "
            f"found; {_HINT_CREDS}, or {HINT_HTTPS}"
        )

    def _classify(self, e: Exception, url: str, signed: bool) -> Exception:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            HTTPClientError,
            IncompleteReadError,
            NoCredentialsError,
        )

        if isinstance(e, ClientError):
            err = e.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            if code == "NoSuchBucket":
                return SourceError(
                    f"404 Not Found for s3://{self.loc.bucket}/: no such bucket; check the name "
                    f"in s3://BUCKET[/PREFIX] (and --s3-endpoint-url for S3-compatible stores)"
                )
            if code in ("AccessDenied", "AllAccessDisabled", "403", "Forbidden") or status == 403:
                return _S3Denied(self._denied_message(url, signed))
            if code in ("NoSuchKey", "404", "NotFound") or status == 404:
                return NotFound(url)
            if code in ("PreconditionFailed", "412", "InvalidRange", "416") or status in (412, 416):
                return Restart(f"{code or status}: the object changed or the range is invalid")
            if code in (
                "InvalidAccessKeyId",
                "SignatureDoesNotMatch",
                "ExpiredToken",
                "InvalidToken",
                "TokenRefreshRequired",
            ):
                return SourceError(
                    f"{code} for {url}: the AWS credentials were rejected; check AWS_PROFILE / "
                    f"AWS_ACCESS_KEY_ID / AWS_SESSION_TOKEN, or {HINT_HTTPS}"
                )
            if (
                code in ("PermanentRedirect", "301", "AuthorizationHeaderMalformed")
                or status == 301
            ):
                return SourceError(
                    f"{code or status} for {url}: the bucket is in another region; pass "
                    "--s3-region (or set AWS_DEFAULT_REGION)"
                )
            if (
                status >= 500
                or status in (408, 429)
                or code
                in (
                    "SlowDown",
                    "InternalError",
                    "ServiceUnavailable",
                    "RequestTimeout",
                )
            ):
                return Transient(f"{code or status} from {url}")
            return SourceError(f"{code or status} for {url}: {err.get('Message', '')}")
        if isinstance(e, NoCredentialsError):
            return _S3Denied(self._denied_message(url, False))
        if isinstance(e, EndpointConnectionError):
            parts = urllib.parse.urlsplit(e.kwargs.get("endpoint_url") or self.endpoint_url or "")
            endpoint = f"{parts.scheme}://{parts.netloc}" if parts.netloc else "the S3 endpoint"
            return SourceError(
                f"cannot connect to {endpoint} for {url}: check the network/DNS, "
                f"--s3-endpoint-url and --s3-region ({HINT_OFFLINE})"
            )
        if isinstance(e, (ConnectTimeoutError, HTTPClientError, IncompleteReadError)):
            return Transient(f"{type(e).__name__}: {e}")
        if isinstance(e, BotoCoreError):
            return SourceError(f"{url}: {e}")
        if isinstance(e, (OSError, http.client.HTTPException)):
            return Transient(f"{type(e).__name__}: {e}")
        return e

    def _invoke(self, client: Any, op: str, url: str, signed: bool, **kw: Any) -> Any:
        try:
            return getattr(client, op)(**kw)
        except Exception as e:
            classified = self._classify(e, url, signed)
            if classified is e:
                raise
            raise classified from None

    def call(self, op: str, url: str, **kw: Any) -> Any:
        """``op`` anonymously first; on AccessDenied switch (for good) to the credential chain.

        Args:
            op: a boto3 S3 client method, e.g. ``"get_object"``.
            url: the ``s3://`` URL it is about, for messages.
            **kw: the method's arguments.

        Returns:
            What the client method returned.

        Raises:
            SourceError: denied also with credentials (or none found), or another error a
                retry cannot fix.
            Transient, NotFound, Restart: as classified from boto3's error.
        """
        if self.auth == "anonymous":
            try:
                return self._invoke(self._anonymous, op, url, False, **kw)
            except _S3Denied:
                client = self._signed_client()
                if client is None:
                    raise
                with self._lock:
                    if self.auth == "anonymous":
                        logger.debug("%s: anonymous access denied; using AWS credentials", url)
                        self.auth = "credentials"
        return self._invoke(self._signed_client(), op, url, True, **kw)

    # -- listing

    def probe(self, retries: int, parallel: int, cancel: threading.Event) -> dict[str, Remote]:
        """IMDb name -> ``Remote`` (key, size, ETag, LastModified) of each file asked for.

        From one listing of the prefix (``select_files`` picks the names); when listing is
        denied, a HEAD per IMDb name ``<prefix><name>.tsv.gz``. ``parallel`` is unused (the
        signature is ``HttpSource.probe``'s).

        Raises:
            SourceError: a required file is not there, access denied, or an error a retry
                cannot fix.
        """
        try:
            objects = retrying(self._list, f"list {self.where}", retries, cancel)
        except _S3Denied:
            # No ListBucket right: a bucket may still allow GetObject. Try the IMDb names.
            remotes = self._probe_direct(retries, cancel)
            if any(f.required and f.name not in remotes for f in ALL_FILES):
                raise
            return remotes
        chosen = select_files(objects, self.where, self.tables)
        missing = [f.name for f in ALL_FILES if f.required and f.name not in chosen]
        if missing:
            name = missing[0]
            raise SourceError(
                f"no {name} file under {self.where} ({len(objects)} objects there; expected "
                f"{name}.tsv.gz, {name}.tsv or {name}.<tag>.tsv[.gz]): check the bucket and prefix"
            )
        remotes = {}
        for f in ALL_FILES:
            if f.name in chosen:
                fn = chosen[f.name]
                key, size, etag, lm = objects[fn]
                url = f"s3://{self.loc.bucket}/{key}"
                remotes[f.name] = Remote(f, url, fn, size, etag, lm, key)
        return remotes

    def _list(self) -> dict[str, tuple[str, int, str | None, str | None]]:
        objects: dict[str, tuple[str, int, str | None, str | None]] = {}
        kw: dict[str, Any] = {
            "Bucket": self.loc.bucket,
            "Prefix": self.loc.prefix,
            "Delimiter": "/",
        }
        while True:
            page = self.call("list_objects_v2", self.where, **kw)
            for obj in page.get("Contents", ()):
                key = obj["Key"]
                name = key[len(self.loc.prefix) :]
                if name and "/" not in name:
                    objects[name] = (
                        key,
                        int(obj["Size"]),
                        obj.get("ETag"),
                        utc_iso(obj.get("LastModified")),
                    )
            for prefix in page.get("CommonPrefixes", ()):  # "folders": seen, never fetched
                name = prefix["Prefix"][len(self.loc.prefix) :]
                if name:
                    objects[name] = (prefix["Prefix"], 0, None, None)
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return objects
            kw["ContinuationToken"] = token

    def _probe_direct(self, retries: int, cancel: threading.Event) -> dict[str, Remote]:
        remotes: dict[str, Remote] = {}
        self.auth = "anonymous"
        for f in ALL_FILES:
            if f.name not in self.tables:
                continue
            key = f"{self.loc.prefix}{f.name}.tsv.gz"
            url = f"s3://{self.loc.bucket}/{key}"

            def head(key: str = key, url: str = url) -> Any:
                return self._invoke(
                    self._anonymous, "head_object", url, False, Bucket=self.loc.bucket, Key=key
                )

            try:
                h = retrying(head, f"HEAD {url}", retries, cancel)
            except (_S3Denied, NotFound):  # without ListBucket a missing key is a 403
                continue
            remotes[f.name] = Remote(
                f,
                url,
                f"{f.name}.tsv.gz",
                int(h["ContentLength"]),
                h.get("ETag"),
                utc_iso(h.get("LastModified")),
                key,
            )
        return remotes

    # -- download

    def open(self, r: Remote, offset: int, meta: dict[str, Any] | None) -> Stream:
        """A GET of object ``r.key`` from byte ``offset``, with ``If-Match`` the ``.part``'s
        strong ETag when resuming (``meta``: its sidecar; a changed object gives ``Restart``).

        Raises ``Transient``, ``Restart`` or ``SourceError`` (the object disappeared, ...).
        """
        kw: dict[str, Any] = {"Bucket": self.loc.bucket, "Key": r.key}
        if offset:
            kw["Range"] = f"bytes={offset}-"
            etag = (meta or {}).get("etag")
            if etag and not str(etag).startswith("W/"):  # 412 if the object changed: restart
                kw["IfMatch"] = etag
        try:
            resp = self.call("get_object", r.url, **kw)
        except NotFound:
            raise SourceError(
                f"404 Not Found for {r.url}: the object disappeared during the fetch; run again"
            ) from None
        span = content_range(resp.get("ContentRange"))
        if span is not None:
            start, total = span
        else:
            start, total = 0, resp.get("ContentLength")
        body = resp["Body"]

        def read(n: int) -> bytes:
            try:
                return body.read(n)
            except Exception as e:
                classified = self._classify(e, r.url, self.auth == "credentials")
                if isinstance(classified, Transient):
                    raise classified from None
                raise

        return Stream(
            start, total, resp.get("ETag"), utc_iso(resp.get("LastModified")), read, body.close
        )
