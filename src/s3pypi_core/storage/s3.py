"""An index in an S3 bucket (or an S3-compatible store: MinIO, LocalStack, ...)."""

from __future__ import annotations

import base64
import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from s3pypi_core import __prog__, _aws
from s3pypi_core.exceptions import (
    ConditionalWritesUnsupported,
    S3PyPIError,
    StorageError,
    WriteConflict,
)
from s3pypi_core.storage.base import Blob, ProgressCallback, Storage, StoredObject, Stream

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

T = TypeVar("T")

log = logging.getLogger(__prog__)

CONDITIONAL_WRITES_MARKER = (
    b"s3pypi checks with this object that the store honours conditional writes (If-None-Match).\n"
)

MAX_COPY_SIZE = 5 * 1024**3
"""The largest object one CopyObject request copies; larger ones are streamed."""

MULTIPART_THRESHOLD = 16 * 1024 * 1024
MAX_KEY_LENGTH = 1024
"""The longest key S3 stores, in bytes of UTF-8."""
MULTIPART_UPLOADS = 4
"""Large files uploaded at once; each sends 4 parts in parallel and holds ~8 MiB of buffers."""


@dataclass
class S3Config:
    """Where an index lives in S3 and how to reach it (the flags of `s3pypi upload`)."""

    bucket: str
    prefix: str | None = None
    profile: str | None = None
    region: str | None = None
    no_sign_request: bool = False
    endpoint_url: str | None = None
    put_kwargs: dict[str, str] = field(default_factory=dict)
    """Extra PutObject arguments for every object, e.g. `{"ServerSideEncryption": "aws:kms"}`."""
    index_html: bool = False
    """Store project pages at `NAME/index.html` instead of `NAME/`."""
    locks_table: str | None = None
    """DynamoDB table for locking; by default `BUCKET-locks` when such a table exists."""


def _shorten(name: str) -> str:
    return name if len(name) <= 60 else name[:20] + "..." + name[-40:]


def parse_put_args(text: str) -> dict[str, str]:
    """`--s3-put-args` text, `ServerSideEncryption=aws:kms,SSEKMSKeyId=...`, as a dict.

    Raises ValueError naming the item that is not `KEY=VALUE`.
    """
    args = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected KEY=VALUE[,KEY=VALUE...], got {item!r}")
        args[key.strip()] = value.strip()
    return args


class S3Storage(Storage):
    def __init__(self, cfg: S3Config, session: Any = None) -> None:
        """`session`: a boto3 session to share (with the lock table); a new one by default."""
        from botocore import UNSIGNED
        from botocore.config import Config as BotoConfig

        if not cfg.bucket:
            raise StorageError("no bucket given")
        self.cfg = cfg
        session = session or _aws.session(cfg.profile, cfg.region)
        config = BotoConfig(
            retries={"mode": "standard", "max_attempts": 8},
            max_pool_connections=32,
            signature_version=UNSIGNED if cfg.no_sign_request else None,
        )
        with _aws.errors(f"s3://{cfg.bucket}/"):
            self.client: S3Client = session.client(
                "s3", endpoint_url=cfg.endpoint_url, config=config
            )
        # The transfer manager does not pass IfNoneMatch through, so it is added to the
        # requests that create an object (PutObject, or CompleteMultipartUpload) right before
        # they are built, for the keys that must not be overwritten.
        self._create_only: set[str] = set()
        self._create_only_lock = threading.Lock()
        self._multipart_slots = threading.BoundedSemaphore(MULTIPART_UPLOADS)
        events = self.client.meta.events
        events.register("before-parameter-build.s3.PutObject", self._add_if_none_match)
        events.register(
            "before-parameter-build.s3.CompleteMultipartUpload", self._add_if_none_match
        )
        # Every copy is create-only. The header goes in as a header, not as CopyObject's
        # IfNoneMatch parameter, which botocore releases before 2025 do not know.
        events.register("before-call.s3.CopyObject", _create_only_copy)

    def url(self, key: str = "") -> str:
        return f"s3://{self.cfg.bucket}/{key}"

    def key_problem(self, key: str) -> str | None:
        length = len(key.encode())
        if length > MAX_KEY_LENGTH:
            return f"the key {_shorten(key)} is {length} bytes; S3 allows {MAX_KEY_LENGTH}"
        return None

    def _add_if_none_match(self, params: dict[str, Any], **_: Any) -> None:
        with self._create_only_lock:
            if params.get("Key") in self._create_only:
                params["IfNoneMatch"] = "*"

    def get(self, key: str) -> Blob | None:
        with self._errors(key):
            try:
                response = self.client.get_object(Bucket=self.cfg.bucket, Key=key)
            except self.client.exceptions.NoSuchKey:
                return None
            return Blob(response["Body"].read(), response["ETag"])

    def head(self, key: str) -> StoredObject | None:
        with self._errors(key):
            try:
                response = self.client.head_object(Bucket=self.cfg.bucket, Key=key)
            except self.client.exceptions.ClientError as e:
                if _aws.http_status(e) == 404:
                    return None
                raise
            return StoredObject(
                key=key,
                etag=response["ETag"],
                size=response["ContentLength"],
                last_modified=response.get("LastModified"),
                content_type=response.get("ContentType"),
                cache_control=response.get("CacheControl"),
            )

    def put(
        self,
        key: str,
        body: bytes,
        *,
        content_type: str,
        cache_control: str,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str:
        args: dict[str, Any] = {
            "Bucket": self.cfg.bucket,
            "Key": key,
            "Body": body,
            "ContentType": content_type,
            "CacheControl": cache_control,
            **self.cfg.put_kwargs,
        }
        if if_match:
            args["IfMatch"] = if_match
        if if_none_match:
            args["IfNoneMatch"] = "*"

        def put() -> str:
            with self._errors(key):
                return self.client.put_object(**args)["ETag"]

        return put() if if_match or if_none_match else _retry_conflicts(put)

    def put_file(
        self,
        key: str,
        path: Path,
        *,
        content_type: str,
        cache_control: str,
        overwrite: bool,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        extra_args = {"ContentType": content_type, "CacheControl": cache_control}
        extra_args.update(self.cfg.put_kwargs)
        if not overwrite:
            with self._create_only_lock:
                self._create_only.add(key)

        def upload() -> None:
            with self._errors(key):
                self._upload_file(path, key, extra_args, on_progress)

        try:
            if overwrite:
                _retry_conflicts(upload)
            else:
                upload()
        finally:
            with self._create_only_lock:
                self._create_only.discard(key)

    def _upload_file(
        self,
        path: Path,
        key: str,
        extra_args: dict[str, str],
        on_progress: ProgressCallback | None,
    ) -> None:
        """A file below the multipart threshold is one PutObject, streamed from disk (the
        transfer manager would send the same request, but import s3transfer and start a thread
        pool for every file first). A large file goes through the transfer manager, in parts,
        at most MULTIPART_UPLOADS at a time. Both ways get IfNoneMatch from
        `_add_if_none_match`."""
        size = path.stat().st_size
        if size < MULTIPART_THRESHOLD:
            args: dict[str, Any] = {"Bucket": self.cfg.bucket, "Key": key, **extra_args}
            with open(path, "rb") as body:
                self.client.put_object(Body=body, **args)
            if on_progress:
                on_progress(size)
            return
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD,
            multipart_chunksize=MULTIPART_THRESHOLD,
            max_concurrency=4,
        )
        with self._multipart_slots:
            self.client.upload_file(
                str(path),
                self.cfg.bucket,
                key,
                ExtraArgs=extra_args,
                Callback=on_progress,
                Config=config,
            )

    def copy_from(
        self,
        source: Storage,
        source_key: str,
        key: str,
        *,
        size: int,
        sha256: str,
        content_type: str,
        cache_control: str,
    ) -> bool:
        """CopyObject, within a bucket or across buckets, when the source is S3 at the same
        endpoint (this store's credentials must be able to read it), with If-None-Match; S3
        computes the copy's SHA-256 as it writes it, and it is checked against `sha256`."""
        if not isinstance(source, S3Storage) or size > MAX_COPY_SIZE:
            return False
        if source.client.meta.endpoint_url != self.client.meta.endpoint_url:
            return False
        args: dict[str, Any] = {
            "Bucket": self.cfg.bucket,
            "Key": key,
            "CopySource": {"Bucket": source.cfg.bucket, "Key": source_key},
            "MetadataDirective": "REPLACE",
            "ChecksumAlgorithm": "SHA256",
            "ContentType": content_type,
            "CacheControl": cache_control,
            **self.cfg.put_kwargs,
        }

        def on_client_error(error: Any) -> None:
            code, status = _aws.error_code(error), _aws.http_status(error)
            if status in (409, 412) or code in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise WriteConflict(f"{self.url(key)} already exists") from error
            if code == "NoSuchKey" or status == 404:
                raise StorageError(f"{source.url(source_key)} does not exist") from error

        with _aws.errors(f"copying {source.url(source_key)} to {self.url(key)}", on_client_error):
            result = self.client.copy_object(**args)["CopyObjectResult"]
        # An S3-compatible store that computes no checksum is trusted to copy bytes exactly.
        checksum = result.get("ChecksumSHA256")
        copied = base64.b64decode(checksum).hex() if checksum else sha256
        if copied != sha256:
            raise S3PyPIError(
                f"{source.url(source_key)} does not have the sha256 it should have "
                f"({sha256}, its copy {self.url(key)} has {copied}): run s3pypi verify"
            )
        return True

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        args: dict[str, Any] = {"Bucket": self.cfg.bucket, "Key": key}
        if if_match:
            args["IfMatch"] = if_match

        def delete() -> None:
            with self._errors(key):
                self.client.delete_object(**args)

        if if_match:
            delete()
        else:
            _retry_conflicts(delete)

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        with self._errors(prefix):
            for page in paginator.paginate(Bucket=self.cfg.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield StoredObject(
                        key=item["Key"],
                        etag=item["ETag"],
                        size=item["Size"],
                        last_modified=item.get("LastModified"),
                    )

    def stream(self, key: str, byte_range: tuple[int, int | None] | None = None) -> Stream | None:
        args: dict[str, Any] = {"Bucket": self.cfg.bucket, "Key": key}
        if byte_range:
            first, last = byte_range
            args["Range"] = f"bytes={first}-{'' if last is None else last}"
        with self._errors(key):
            try:
                response = self.client.get_object(**args)
            except self.client.exceptions.NoSuchKey:
                return None
        content_range = None
        total = response["ContentLength"]
        if "ContentRange" in response:  # "bytes first-last/total"
            span, _, size = response["ContentRange"].removeprefix("bytes ").partition("/")
            first_s, _, last_s = span.partition("-")
            content_range = (int(first_s), int(last_s))
            total = int(size)
        info = StoredObject(
            key=key,
            etag=response["ETag"],
            size=total,
            last_modified=response.get("LastModified"),
            content_type=response.get("ContentType"),
            cache_control=response.get("CacheControl"),
        )
        body = response["Body"]
        return Stream(info, iter(lambda: body.read(64 * 1024), b""), content_range)

    def check_conditional_writes(self) -> None:
        """Refuse a store that accepts If-None-Match and ignores it (some S3-compatible ones).

        AWS S3 honours conditional writes and is not asked. Elsewhere the first publisher
        creates a small marker object (`.s3pypi-conditional-writes`, kept: no delete permission
        needed) and every publisher then asks to create it again, which an honest store refuses
        without writing anything: one request per run.
        """
        endpoint = self.client.meta.endpoint_url
        if endpoint.endswith(".amazonaws.com"):
            return
        # A file, not a directory: s3pypi 2.x lists every directory on its root page.
        key = "/".join(p for p in (self.cfg.prefix, ".s3pypi-conditional-writes") if p)
        for attempt in ("create", "create again"):
            try:
                self.put(
                    key,
                    CONDITIONAL_WRITES_MARKER,
                    content_type="text/plain; charset=utf-8",
                    cache_control="no-store",
                    if_none_match=True,
                )
            except WriteConflict:
                if attempt == "create again":  # the first use of this store
                    log.info("Checked that %s honours conditional writes (%s)", endpoint, key)
                return
        raise ConditionalWritesUnsupported(
            f"{endpoint} ignores conditional writes (If-None-Match), so concurrent publishers "
            "could overwrite each other: use a DynamoDB lock table (--locks-table)"
        )

    @contextlib.contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        """botocore's errors as ours; a lost race (409, 412, or a vanished object during a
        conditional write) is a `WriteConflict`, which callers retry."""

        def on_client_error(error: Any) -> None:
            code, status = _aws.error_code(error), _aws.http_status(error)
            if status in (409, 412) or code in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise WriteConflict(
                    f"{self.url(key)} changed while it was being updated"
                ) from error
            if code == "NoSuchBucket":
                raise StorageError(f"bucket does not exist: {self.cfg.bucket}") from error
            if code == "NoSuchKey" or status == 404:
                raise WriteConflict(
                    f"{self.url(key)} disappeared while it was being updated"
                ) from error

        with _aws.errors(self.url(key), on_client_error):
            yield


def _create_only_copy(params: dict[str, Any], **_: Any) -> None:
    params["headers"]["If-None-Match"] = "*"


def _retry_conflicts(write: Callable[[], T], attempts: int = 8) -> T:
    """Run an unconditional write, again after a conflict.

    It has no condition to fail, but S3 answers 409 ConditionalRequestConflict to any write of
    a key while a conditional write of that key is in flight, and asks to retry.
    """
    for attempt in range(1, attempts + 1):
        try:
            return write()
        except WriteConflict:
            if attempt == attempts:
                raise
            time.sleep(min(1.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.0))
    raise AssertionError("unreachable")
