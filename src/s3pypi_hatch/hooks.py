"""Registers the `s3pypi` publisher with Hatch (entry-point group `hatch`)."""

from __future__ import annotations

from hatchling.plugin import hookimpl

from s3pypi_hatch.publisher import S3PyPIPublisher


@hookimpl
def hatch_register_publisher() -> type[S3PyPIPublisher]:
    return S3PyPIPublisher
