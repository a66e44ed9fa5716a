"""What the commands share: the repository options (one checked `Config`), AWS and size
options, --verbose, and user errors as one line."""

from __future__ import annotations

import functools
import logging
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import click

from s3pypi_core import __prog__
from s3pypi_core.config import Config
from s3pypi_core.distribution import MAX_METADATA_SIZE
from s3pypi_core.exceptions import OptionError, S3PyPIError
from s3pypi_core.locking import DEFAULT_TIMEOUT

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger(__prog__)


def parse_put_args(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> dict[str, str] | None:
    from s3pypi_core.storage import parse_put_args

    try:
        return parse_put_args(value) if value else None
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(ctx: click.Context, param: click.Parameter, value: str | int) -> int:
    """`1048576`, `512K`, `100MiB`, `2G`: binary units (a KB is 1024 bytes here, as in
    `du -h`)."""
    text = str(value).strip().lower().removesuffix("b").removesuffix("i")
    number, unit = (text[:-1], text[-1]) if text[-1:] in "kmgt" and text else (text, "")
    try:
        size = int(number) * _SIZE_UNITS[unit]
    except ValueError:
        raise click.BadParameter(f"not a size: {value!r} (e.g. 100MiB, 2GiB)") from None
    if size < 1:
        raise click.BadParameter("must be at least 1 byte")
    return size


def verbose_option(f: F) -> F:
    def set_verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            ctx.find_root().meta["verbose"] = True
            logging.getLogger(__prog__).setLevel(logging.DEBUG)

    return click.option(
        "-v",
        "--verbose",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=set_verbose,
        help="Show debug output and tracebacks.",
    )(f)


def aws_options(f: F) -> F:
    for option in reversed(
        [
            click.option("--profile", help="AWS profile to use (default: AWS_PROFILE)."),
            click.option("--region", help="AWS region (default: AWS_REGION / the profile's)."),
        ]
    ):
        f = option(f)
    return f


_REPOSITORY_OPTIONS = [
    click.option("-b", "--bucket", help="The S3 bucket of the index."),
    click.option("--prefix", help="Key prefix of the index inside the bucket."),
    click.option(
        "--repository-url",
        metavar="URL",
        help="s3://BUCKET[/PREFIX] or file:///PATH, instead of --bucket and --prefix.",
    ),
    click.option(
        "--s3-endpoint-url",
        "endpoint_url",
        metavar="URL",
        help="Custom S3 endpoint (MinIO, LocalStack, ...).",
    ),
    click.option("--no-sign-request", is_flag=True, help="Do not sign requests (public bucket)."),
    click.option(
        "--s3-put-args",
        "put_args",
        metavar="ARGS",
        callback=parse_put_args,
        help="Extra PutObject arguments, e.g. 'ServerSideEncryption=aws:kms,SSEKMSKeyId=...'.",
    ),
    click.option(
        "--index.html",
        "index_html",
        is_flag=True,
        help="Store pages as NAME/index.html instead of NAME/ (S3 website endpoints).",
    ),
    click.option(
        "--locks-table",
        metavar="TABLE",
        help="DynamoDB table for locking (default: BUCKET-locks, when it exists).",
    ),
    click.option(
        "--lock-timeout",
        type=click.FloatRange(min=0),
        metavar="SECONDS",
        help="How long to wait for a lock held by another publisher "
        f"[default: {DEFAULT_TIMEOUT:g}].",
    ),
    click.option("--profile", help="AWS profile to use (default: AWS_PROFILE)."),
    click.option("--region", help="AWS region (default: AWS_REGION / the profile's)."),
]
_REPOSITORY_PARAMETERS = (
    "bucket",
    "prefix",
    "repository_url",
    "endpoint_url",
    "no_sign_request",
    "put_args",
    "index_html",
    "locks_table",
    "lock_timeout",
    "profile",
    "region",
)


def repository_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The options that say which index to work on (the seed's S3 flags), handed to the
    command as one checked `cfg` (with `dry_run` when the command has that flag)."""

    @functools.wraps(f)
    def with_config(*args: Any, **kwargs: Any) -> Any:

        options = pop_repository_options(kwargs)
        try:
            kwargs["cfg"] = Config.from_options(**options, dry_run=kwargs.get("dry_run", False))
        except OptionError as e:
            raise click.UsageError(str(e)) from None
        return f(*args, **kwargs)

    for option in reversed(_REPOSITORY_OPTIONS):
        with_config = option(with_config)
    return with_config


def metadata_size_option(help: str) -> Callable[[F], F]:
    return click.option(
        "--max-metadata-size",
        type=click.IntRange(min=1),
        metavar="BYTES",
        default=MAX_METADATA_SIZE,
        show_default=True,
        help=help,
    )


def pop_repository_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    options = {name: kwargs.pop(name) for name in _REPOSITORY_PARAMETERS}
    if options["repository_url"] and (options["bucket"] or options["prefix"]):
        raise click.UsageError(
            "--repository-url replaces --bucket and --prefix; give one or the other"
        )
    return options


def repository_option_values(f: Callable[..., Any]) -> Callable[..., Any]:
    """The same options, handed to the command unchecked as `repository` (the arguments of
    `Config.from_options`), for a command that opens two indexes (promote)."""

    @functools.wraps(f)
    def with_options(*args: Any, **kwargs: Any) -> Any:
        kwargs["repository"] = pop_repository_options(kwargs)
        return f(*args, **kwargs)

    for option in reversed(_REPOSITORY_OPTIONS):
        with_options = option(with_options)
    return with_options


def handle_errors(f: F) -> F:
    """User errors become one line on stderr and exit 1; tracebacks only with --verbose."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except S3PyPIError as e:
            if click.get_current_context().find_root().meta.get("verbose"):
                traceback.print_exc()
            message = " ".join(str(e).split())  # one line, whatever the cause said
            click.echo(f"{__prog__}: error: {message}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]
