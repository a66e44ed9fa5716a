"""`s3pypi-twine upload dist/*` (also `twine s3pypi-upload`): twine's upload, to an index in S3.

A thin front end: it reads twine's flags and `.pypirc`, checks files as twine does, and hands
them to `s3pypi_core.core.upload_packages`.
"""
