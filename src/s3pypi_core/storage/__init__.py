"""Storage: bytes at keys, in an S3 bucket or a local directory, with conditional writes.

`Storage` is the interface the index is written through (`base`); `S3Storage` (`s3`),
`LocalStorage` (`local`) and `DryRunStorage` (`dryrun`) implement it. boto3 is imported only
when an S3 store is opened.
"""

from __future__ import annotations

from s3pypi_core.storage.base import Blob, ProgressCallback, Storage, StoredObject, Stream
from s3pypi_core.storage.dryrun import DryRunStorage
from s3pypi_core.storage.local import LocalStorage
from s3pypi_core.storage.s3 import MULTIPART_THRESHOLD, S3Config, S3Storage, parse_put_args

__all__ = [
    "MULTIPART_THRESHOLD",
    "Blob",
    "DryRunStorage",
    "LocalStorage",
    "ProgressCallback",
    "S3Config",
    "S3Storage",
    "Storage",
    "StoredObject",
    "Stream",
    "parse_put_args",
]
