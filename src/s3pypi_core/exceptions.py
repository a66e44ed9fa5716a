"""Errors a user can act on. Front ends print them as one line, without a traceback."""

from __future__ import annotations


def one_line(text: object, sep: str = " ") -> str:
    """`text` (an error, a message from a library) as one line: what a user error prints."""
    return sep.join(line.strip() for line in str(text).splitlines() if line.strip())


class S3PyPIError(Exception):
    """Base class: the message is a complete sentence for the user."""


class OptionError(S3PyPIError):
    """An option is unknown, malformed, or does not apply to the repository it is given for."""


class InvalidDistribution(S3PyPIError):
    """A file is not a distribution we can publish (refused before anything is written)."""


class MetadataTooLarge(InvalidDistribution):
    """A distribution's core metadata is larger than the bound it is read with: the file may
    be sound (pip installs it), but s3pypi does not read it."""


class StorageError(S3PyPIError):
    """The bucket or directory cannot be read or written (missing bucket, credentials, ...)."""


class MissingCredentials(StorageError):
    """No AWS credentials were found for a request that needs them."""


class WriteConflict(StorageError):
    """A conditional write lost a race: the object changed since it was read."""


class ConditionalWritesUnsupported(StorageError):
    """The S3-compatible store ignores If-Match / If-None-Match."""


class LockTimeout(S3PyPIError):
    """Another publisher held the DynamoDB lock for longer than we were willing to wait."""


class ExistingFiles(S3PyPIError):
    """`--strict`: some files were already in the index."""


class NotFound(S3PyPIError):
    """The project or version to change is not in the index."""


class DamagedPage(S3PyPIError, ValueError):
    """A stored page (HTML or JSON) cannot be read: not UTF-8, not JSON, the wrong shape, a bad
    field, cut short. `reindex` rebuilds it; other commands refuse to change the index it
    belongs to. (A `ValueError` too, as the JSON decoder's errors were.)"""


class MirrorRefused(S3PyPIError):
    """`mirror` would copy a project that is published here as one of ours."""


class UpstreamError(S3PyPIError):
    """The index a mirror copies from cannot be read, or what it serves does not check out."""


S3PyPiError = S3PyPIError
"""s3pypi 2.x's name for `S3PyPIError`, so that `except S3PyPiError` in 2.x scripts still works."""
