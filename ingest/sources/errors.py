"""What goes wrong reading a source: ``SourceError`` for the user, ``NotFound`` within.

``SourceError`` is the one error ``fetch`` and the other entry points raise for a source that
cannot be read; ``NotFound`` is how the HTTP and S3 sources tell their own probing that a file
is not there (an optional file is then absent, a required one a ``SourceError``).
"""

from __future__ import annotations

from ingest.convert import InputError


class SourceError(InputError):
    """A source cannot be read. ``str()`` is one line: the URL, what went wrong, what to try."""

    def __init__(self, message: object):
        super().__init__(" ".join(str(message).split()))


class NotFound(Exception):
    """The source has no such file (HTTP 404, S3 NoSuchKey).

    Args:
        url: the file's URL, for the message that names it.
        message: the status as the server gave it.
    """

    def __init__(self, url: str, message: str = "404 Not Found"):
        super().__init__(message)
        self.url = url
