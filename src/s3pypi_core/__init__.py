"""s3pypi: a private Python package index in an S3 bucket.

The public API is `s3pypi_core.core` (the operations), `s3pypi_core.index` (pages) and
`s3pypi_core.storage` (where pages and files live). Importing this package is cheap: boto3 is
only imported by the commands that talk to AWS.
"""

__version__ = "3.0.0"
__prog__ = "s3pypi"
