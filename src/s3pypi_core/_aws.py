"""What S3 storage and DynamoDB locking share: the boto3 session, and botocore's errors turned
into one-line errors a user can act on."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

from s3pypi_core.exceptions import MissingCredentials, StorageError


def session(profile: str | None, region: str | None) -> Any:
    """A boto3 session; standard AWS settings (AWS_PROFILE, AWS_REGION, ...) apply."""
    import boto3
    import botocore.exceptions
    import botocore.session

    core = botocore.session.get_session()
    core.register_component("data_loader", _data_loader())
    try:
        aws = boto3.Session(botocore_session=core, profile_name=profile, region_name=region)
        core.get_scoped_config()  # a missing profile is found here, not at the first request
        return aws
    except botocore.exceptions.ProfileNotFound as e:
        raise StorageError(f"AWS profile not found: {profile}") from e


@functools.cache
def _data_loader() -> Any:
    """botocore's loader of service models, shared by the sessions of one process: each new
    session would otherwise parse the S3 and DynamoDB models and the endpoint rules again
    (a quarter of a second of CPU), for every command a program (or a server) runs."""
    import botocore.loaders

    return botocore.loaders.create_loader()


def error_code(error: Any) -> str:
    """The `Error.Code` of a botocore ClientError (`NoSuchKey`, `PreconditionFailed`, ...)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def http_status(error: Any) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


ClientErrorHandler = Callable[[Any], None]
"""Called with a botocore ClientError; raises a more specific error, or returns to let the
generic one be raised."""


@contextlib.contextmanager
def errors(where: str, on_client_error: ClientErrorHandler | None = None) -> Iterator[None]:
    """Turn botocore's exceptions into `StorageError`s that start with `where`."""
    import botocore.exceptions as bex
    from boto3.exceptions import S3UploadFailedError

    try:
        try:
            yield
        except S3UploadFailedError as e:
            # boto3's upload_file wraps the ClientError that says what went wrong.
            if isinstance(e.__context__, bex.ClientError):
                raise e.__context__ from e
            raise StorageError(f"{where}: {e}") from e
    except bex.ClientError as e:
        if on_client_error is not None:
            on_client_error(e)
        message = e.response.get("Error", {}).get("Message", "") or str(e)
        raise StorageError(f"{where}: {error_code(e) or http_status(e)}: {message}") from e
    except bex.NoCredentialsError as e:
        raise MissingCredentials(
            "no AWS credentials found: configure a profile (--profile, AWS_PROFILE) or "
            "environment credentials, or use --no-sign-request for a public bucket"
        ) from e
    except bex.NoRegionError as e:
        raise StorageError(f"{where}: no AWS region configured (use --region or AWS_REGION)") from e
    except bex.EndpointConnectionError as e:
        raise StorageError(f"{where}: cannot reach the endpoint: {e}") from e
    except bex.BotoCoreError as e:
        raise StorageError(f"{where}: {e}") from e
