"""Fetch the IMDb dataset files from a source into a local cache folder.

Sources (``parse_source``):

  ``/some/dir``              the files are used where they are (no copy), found by ``locate_files``
  ``https://host/path/``     a base URL serving ``<name>.tsv.gz`` (IMDb: https://datasets.imdbws.com/)
  ``s3://BUCKET[/PREFIX]``   boto3; anonymous first, then the standard AWS credential chain;
                             ``s3`` alone is the project's bucket ``imdb-data-495700631743``
  ``sample:SCALE[:SEED]``    only parsed here: the sample generator makes those files

Downloads run in a thread pool, stream 1 MiB chunks into ``<dest>/<file>.part`` and rename it when
the size matches what the server announced. A ``.part`` left by a cut connection or an interrupted
run is resumed with a ranged GET (``If-Range``/``If-Match`` guard against a file that changed in
between); a server that ignores the range makes the download restart from byte 0. Each downloaded
file gets a ``<file>.meta.json`` sidecar (URL, size, ETag, Last-Modified): a re-run skips files whose
remote size and ETag (or Last-Modified) still match it. Transient failures (connection reset or cut,
timeouts, incomplete reads, 5xx, 429) are retried with exponential back-off; everything that a retry
cannot fix (403, 404, unknown bucket, DNS failure, refused connection) raises ``SourceError``, whose
text is one line naming the URL and what to try.

The modules, one job each:

  ``fetching``   ``fetch``, the entry point: probe, plan, download in parallel
  ``locate``     source strings (``parse_source``, ``describe``) and the files of a folder
                 (``locate_files``) or of a bucket listing
  ``http``       the HTTP(S) source: HEAD/GET, statuses and socket errors classified
  ``s3``         the S3 source: boto3, anonymous then credentials, errors classified
  ``download``   one file's resumable download: plan (skip/resume/start), ``.part``, sidecar
  ``retry``      time-out, back-off, the retry loop, the thread pool stopping on an error
  ``results``    what a fetch returns: ``FetchedFile``, ``FetchResult``
  ``errors``     ``SourceError`` (and ``NotFound``, between the sources and their probes)

The progress bars are ``ingest.progress.DownloadProgress``. The tunables are read where they
are used, so set (or monkeypatch) them in their module: ``retry.TIMEOUT``,
``retry.BACKOFF_BASE``, ``retry.BACKOFF_MAX``, ``download.CHUNK_SIZE``,
``download.MAX_RESTARTS``.
"""

from __future__ import annotations

from ingest.sources.download import META_SUFFIX, PART_SUFFIX
from ingest.sources.errors import SourceError
from ingest.sources.fetching import fetch
from ingest.sources.locate import (
    DEFAULT_S3_BUCKET,
    IMDB_BASE_URL,
    S3Location,
    SampleSpec,
    describe,
    locate_files,
    parse_source,
)
from ingest.sources.results import FetchedFile, FetchResult

__all__ = [
    "DEFAULT_S3_BUCKET",
    "IMDB_BASE_URL",
    "META_SUFFIX",
    "PART_SUFFIX",
    "FetchResult",
    "FetchedFile",
    "S3Location",
    "SampleSpec",
    "SourceError",
    "describe",
    "fetch",
    "locate_files",
    "parse_source",
]
