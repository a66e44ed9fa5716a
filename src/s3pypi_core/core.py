"""The Python API under the name the seed (and s3pypi 2.x, as `s3pypi.core`) imports it by.

New code imports the same names from `s3pypi_core`; this module stays so that scripts written
against 2.x run after `s3pypi` -> `s3pypi_core`.
"""

from __future__ import annotations

from s3pypi_core.config import Config
from s3pypi_core.distribution import (
    DistributionId,
    find_distributions,
    normalize_package_name,
    parse_distribution_id,
)
from s3pypi_core.exceptions import S3PyPIError, S3PyPiError
from s3pypi_core.maintenance import Change, Problem, force_unlock, reindex, verify_index
from s3pypi_core.publishing import (
    UploadResult,
    delete_package,
    existing_files,
    unyank_package,
    upload_packages,
    yank_package,
)
from s3pypi_core.storage import S3Config

__all__ = [
    "Change",
    "Config",
    "DistributionId",
    "Problem",
    "S3Config",
    "S3PyPIError",
    "S3PyPiError",
    "UploadResult",
    "delete_package",
    "existing_files",
    "find_distributions",
    "force_unlock",
    "normalize_package_name",
    "parse_distribution_id",
    "reindex",
    "unyank_package",
    "upload_packages",
    "verify_index",
    "yank_package",
]
