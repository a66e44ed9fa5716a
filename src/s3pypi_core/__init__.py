"""s3pypi: a private Python package index in an S3 bucket (or a local directory).

The public API is what this package exports (`__all__`): configure an index once with
`Config`, then upload, delete, yank, verify, reindex and mirror. The modules behind it each hold
one idea: `distribution` (reading and validating files), `index` (the pages), `layout` (where
objects live), `storage` (S3, a directory), `publishing` (the operations), `maintenance`
(verify, reindex), `channels` (promote, prune), `mirroring` (copying from another index).
Modules whose names start with `_` are internal. Importing this package is cheap: boto3 is only
imported when a bucket is opened.

    from s3pypi_core import Config, upload_packages

    upload_packages(Config.from_options(bucket="my-pypi-bucket"), ["dist/*"])
"""

__version__ = "3.0.0"
__prog__ = "s3pypi"

# The modules below import `__prog__` from here, so it is defined first.
from s3pypi_core.channels import (
    Promotion,
    Removal,
    RetentionPolicy,
    promote_release,
    promotion_configs,
    prune,
)
from s3pypi_core.config import Config
from s3pypi_core.distribution import (
    Distribution,
    DistributionId,
    find_distributions,
    normalize_package_name,
    parse_distribution_id,
)
from s3pypi_core.exceptions import (
    ConditionalWritesUnsupported,
    ExistingFiles,
    InvalidDistribution,
    LockTimeout,
    MirrorRefused,
    MissingCredentials,
    NotFound,
    OptionError,
    S3PyPIError,
    StorageError,
    UpstreamError,
    WriteConflict,
)
from s3pypi_core.index import Hash, Index, IndexFile, RootIndex
from s3pypi_core.layout import IndexLayout
from s3pypi_core.maintenance import Change, Problem, force_unlock, reindex, verify_index
from s3pypi_core.mirroring import MirrorResult, mirror_packages
from s3pypi_core.publishing import (
    Publisher,
    UploadObserver,
    UploadResult,
    delete_package,
    existing_files,
    read_distributions,
    unyank_package,
    upload_packages,
    yank_package,
)
from s3pypi_core.storage import S3Config

__all__ = [
    "Change",
    "ConditionalWritesUnsupported",
    "Config",
    "Distribution",
    "DistributionId",
    "ExistingFiles",
    "Hash",
    "Index",
    "IndexFile",
    "IndexLayout",
    "InvalidDistribution",
    "LockTimeout",
    "MirrorRefused",
    "MirrorResult",
    "MissingCredentials",
    "NotFound",
    "OptionError",
    "Problem",
    "Promotion",
    "Publisher",
    "Removal",
    "RetentionPolicy",
    "RootIndex",
    "S3Config",
    "S3PyPIError",
    "StorageError",
    "UploadObserver",
    "UploadResult",
    "UpstreamError",
    "WriteConflict",
    "__version__",
    "delete_package",
    "existing_files",
    "find_distributions",
    "force_unlock",
    "mirror_packages",
    "normalize_package_name",
    "parse_distribution_id",
    "promote_release",
    "promotion_configs",
    "prune",
    "read_distributions",
    "reindex",
    "unyank_package",
    "upload_packages",
    "verify_index",
    "yank_package",
]
