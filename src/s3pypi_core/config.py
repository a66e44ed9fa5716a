"""`Config`: which index to work on and how, the one settings object every front end fills.

The command line, `s3pypi-twine` (flags and `.pypirc`) and the Hatch publisher (TOML and `-o`)
each read options their own way and hand them to `Config.from_options`, which checks them in
one place: the repository is named exactly once, URLs, regions and tables are well formed, and
an option that does not apply to the repository (an S3 option for a local directory) is an
error rather than silently dropped.
"""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from s3pypi_core import _aws
from s3pypi_core.distribution import MAX_METADATA_SIZE
from s3pypi_core.exceptions import OptionError, StorageError
from s3pypi_core.layout import IndexLayout
from s3pypi_core.locking import DEFAULT_TIMEOUT, Locker, no_lock, open_locker
from s3pypi_core.publishing import Publisher
from s3pypi_core.storage import DryRunStorage, LocalStorage, S3Config, S3Storage, Storage

# A DNS label, as botocore checks region names before it builds an endpoint from them.
_REGION = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")
# S3 bucket names (the rules for new buckets, plus the dots and capitals of old ones).
_BUCKET = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]{1,253}[a-zA-Z0-9]")
# DynamoDB table names.
_TABLE = re.compile(r"[a-zA-Z0-9_.-]{3,255}")

OPTION_NAMES = {
    "repository_url": "--repository-url",
    "bucket": "--bucket",
    "prefix": "--prefix",
    "profile": "--profile",
    "region": "--region",
    "endpoint_url": "--s3-endpoint-url",
    "no_sign_request": "--no-sign-request",
    "put_args": "--s3-put-args",
    "index_html": "--index.html",
    "locks_table": "--locks-table",
    "lock_timeout": "--lock-timeout",
}
"""How the command line spells each option of `Config.from_options`, for messages."""


@dataclass
class Config:
    """Which index to change, and how.

    `s3` names a bucket; `directory` a local directory index instead (what a `file://`
    repository URL means). `dry_run` reports every write instead of making it.
    """

    s3: S3Config | None = None
    directory: Path | None = None
    lock_timeout: float = DEFAULT_TIMEOUT
    dry_run: bool = False
    report: Callable[[str], None] = field(default=print, repr=False)
    """Where dry-run reports go."""
    max_metadata_size: int = MAX_METADATA_SIZE
    """The largest core metadata (METADATA, PKG-INFO) a distribution may have, in bytes."""

    def __post_init__(self) -> None:
        if self.s3 is not None and self.directory is not None:
            raise OptionError("a Config names a bucket or a directory, not both")

    @classmethod
    def from_options(
        cls,
        *,
        repository_url: str | None = None,
        bucket: str | None = None,
        prefix: str | None = None,
        profile: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        no_sign_request: bool = False,
        put_args: Mapping[str, str] | None = None,
        index_html: bool = False,
        locks_table: str | None = None,
        lock_timeout: float | None = None,
        dry_run: bool = False,
        names: Mapping[str, str] = OPTION_NAMES,
    ) -> Config:
        """Check the options of a front end and build the Config they describe.

        The repository is `repository_url` (`s3://BUCKET[/PREFIX]` or `file:///PATH`; a
        `prefix` given as well replaces the URL's) or `bucket` (+ `prefix`). `names` says how
        the front end spells each option, so that messages name what the user typed.
        """

        def name(option: str) -> str:
            return names.get(option, option)

        if repository_url and bucket:
            raise OptionError(
                f"{name('repository_url')} and {name('bucket')} both name the repository: "
                "give one of them"
            )
        if not repository_url and not bucket:
            raise OptionError(f"missing {name('bucket')} (or {name('repository_url')})")
        s3, directory = parse_repository_url(repository_url or f"s3://{bucket}")
        if lock_timeout is not None and lock_timeout < 0:
            raise OptionError(f"{name('lock_timeout')} must not be negative")
        if directory is not None:
            given = {
                "prefix": prefix is not None,
                "profile": profile,
                "region": region,
                "endpoint_url": endpoint_url,
                "no_sign_request": no_sign_request,
                "put_args": put_args,
                "index_html": index_html,
                "locks_table": locks_table,
                "lock_timeout": lock_timeout is not None,
            }
            if wrong := [name(option) for option, value in given.items() if value]:
                raise OptionError(
                    f"{', '.join(wrong)} {'applies' if len(wrong) == 1 else 'apply'} to S3 "
                    f"repositories only, not to the directory {directory.as_uri()}"
                )
            return cls(directory=directory, dry_run=dry_run)
        assert s3 is not None
        if prefix is not None:
            s3.prefix = prefix.strip("/") or None
        if endpoint_url is not None and not _is_http_url(endpoint_url):
            raise OptionError(
                f"{name('endpoint_url')}: not an http:// or https:// URL: {endpoint_url!r}"
            )
        if region is not None and not _REGION.fullmatch(region):
            raise OptionError(f"{name('region')}: not a valid AWS region name: {region!r}")
        if locks_table is not None and not _TABLE.fullmatch(locks_table):
            raise OptionError(
                f"{name('locks_table')}: not a valid DynamoDB table name: {locks_table!r}"
            )
        s3 = replace(
            s3,
            profile=profile,
            region=region,
            endpoint_url=endpoint_url,
            no_sign_request=no_sign_request,
            put_kwargs=dict(put_args or {}),
            index_html=index_html,
            locks_table=locks_table,
        )
        return cls(
            s3=s3,
            lock_timeout=DEFAULT_TIMEOUT if lock_timeout is None else lock_timeout,
            dry_run=dry_run,
        )

    @classmethod
    def from_repository_url(cls, url: str, **s3_options: Any) -> Config:
        """`s3://BUCKET[/PREFIX]` or `file:///PATH`; `s3_options` are other S3Config fields."""
        known = {f.name for f in fields(S3Config)} - {"bucket", "prefix"}
        if unknown := sorted(set(s3_options) - known):
            raise OptionError(f"unknown S3 option(s): {', '.join(unknown)}")
        s3, directory = parse_repository_url(url)
        if s3 is None:
            if given := sorted(k for k, v in s3_options.items() if v):
                raise OptionError(
                    f"{', '.join(given)}: S3 options do not apply to {url} (a local directory)"
                )
            return cls(directory=directory)
        return cls(s3=replace(s3, **s3_options))

    @property
    def layout(self) -> IndexLayout:
        if self.s3 is None:
            return IndexLayout()
        return IndexLayout(prefix=self.s3.prefix or "", index_html=self.s3.index_html)

    @property
    def location(self) -> str:
        """The index, for messages: `s3://BUCKET/PREFIX/` or `file:///PATH/`."""
        if self.s3 is not None:
            return f"s3://{self.s3.bucket}/{self.layout.files_prefix()}"
        return Path(self.directory or ".").absolute().as_uri().rstrip("/") + "/"

    def open_storage(self, session: Any = None) -> Storage:
        """The store; `session` is a boto3 session to share with the lock table."""
        storage: Storage
        if self.directory is not None:
            storage = LocalStorage(self.directory)
        elif self.s3 is not None:
            if not _BUCKET.fullmatch(self.s3.bucket):
                raise OptionError(f"not a valid S3 bucket name: {self.s3.bucket!r}")
            storage = S3Storage(self.s3, session)
        else:
            raise OptionError("no repository given: use --bucket or --repository-url")
        return DryRunStorage(storage, self.report) if self.dry_run else storage

    def open_locker(self, session: Any) -> Locker:
        """The DynamoDB lock: `--locks-table`, or `BUCKET-locks` when that table exists.

        The default table is looked for wherever DynamoDB is: on AWS, and at a DynamoDB
        endpoint configured for this session (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL`,
        the profile's), as s3pypi 2.x does. Not for an unsigned client (a public bucket has no
        identity to look with), nor next to a custom S3 endpoint with no DynamoDB endpoint
        (MinIO is not AWS).
        """
        s3 = self.s3
        if s3 is None or self.dry_run:
            return no_lock
        if s3.locks_table is None:
            if s3.no_sign_request:
                return no_lock
            if s3.endpoint_url and not _has_dynamodb_endpoint(session):
                return no_lock
        return open_locker(session, s3.locks_table, s3.bucket, timeout=self.lock_timeout)

    def publisher(self) -> Publisher:
        """The operations on this index, with its storage and lock."""
        session = _aws.session(self.s3.profile, self.s3.region) if self.s3 else None
        storage = self.open_storage(session)
        locker = self.open_locker(session)
        if locker is no_lock and not self.dry_run:
            storage.check_conditional_writes()
        return Publisher(storage, self.layout, locker)


def parse_repository_url(url: str) -> tuple[S3Config | None, Path | None]:
    """`s3://BUCKET[/PREFIX]` -> an S3Config; `file:///ABSOLUTE/PATH` -> a directory."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise OptionError(f"repository URL has no bucket: {url}")
        if not _BUCKET.fullmatch(parsed.netloc):
            raise OptionError(f"not a valid S3 bucket name: {parsed.netloc!r}")
        return S3Config(bucket=parsed.netloc, prefix=parsed.path.strip("/") or None), None
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise OptionError(f"file URL must be local (file:///PATH): {url}")
        return None, Path(urllib.request.url2pathname(parsed.path))
    raise OptionError(
        f"unsupported repository URL {url!r}: use s3://BUCKET[/PREFIX] or file:///PATH"
    )


def _is_http_url(url: str) -> bool:
    try:
        parsed = urllib.parse.urlsplit(url)
        parsed.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.hostname)


def _has_dynamodb_endpoint(session: Any) -> bool:
    """Whether this session's DynamoDB client goes to an endpoint other than AWS's."""
    try:
        with _aws.errors("DynamoDB"):
            endpoint: str = session.client("dynamodb").meta.endpoint_url
    except StorageError:  # no region: then no DynamoDB either
        return False
    return not urllib.parse.urlsplit(endpoint).netloc.endswith(".amazonaws.com")
