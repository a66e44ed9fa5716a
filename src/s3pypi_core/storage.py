"""Storage: bytes at keys, in an S3 bucket or a local directory, with conditional writes.

The index never needs more than this small interface: read a key with its ETag, write a key
only if it still has the ETag we read (`if_match`) or does not exist yet (`if_none_match`),
upload a file, delete, list. Both backends keep the same key layout, so a directory written
here can be synced to a bucket (or served by pip straight from disk) and back.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from s3pypi_core.exceptions import MissingCredentials, StorageError, WriteConflict

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

T = TypeVar("T")

ProgressCallback = Callable[[int], None]
"""Called with the number of bytes sent since the last call."""

MULTIPART_THRESHOLD = 16 * 1024 * 1024
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


@dataclass(frozen=True)
class StoredObject:
    key: str
    etag: str
    size: int
    last_modified: datetime | None = None
    content_type: str | None = None
    cache_control: str | None = None
    """As stored with the object (S3); None where the store keeps none (a directory)."""


@dataclass(frozen=True)
class Blob:
    body: bytes
    etag: str


@dataclass(frozen=True)
class Stream:
    """An object being read: its description, the requested byte range, and its bytes."""

    info: StoredObject
    body: Iterator[bytes]
    content_range: tuple[int, int] | None = None
    """Inclusive first and last byte when a range was asked for."""


class Storage(ABC):
    """Bytes at keys. Keys are `/`-separated; a key ending in `/` is a directory page."""

    @abstractmethod
    def url(self, key: str = "") -> str:
        """Where a key is, for messages: `s3://bucket/key` or `file:///path`."""

    @abstractmethod
    def get(self, key: str) -> Blob | None:
        """The whole object and its ETag, or None when there is none."""

    @abstractmethod
    def head(self, key: str) -> StoredObject | None:
        """The object's description; its ETag is for HTTP caching, not for `if_match`."""

    @abstractmethod
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
        """Write `body`; return the new ETag. Raise `WriteConflict` when a condition fails."""

    @abstractmethod
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
        """Upload a local file, streamed. Without `overwrite`, raise `WriteConflict` if the key
        exists (decided by the store, atomically)."""

    @abstractmethod
    def delete(self, key: str, *, if_match: str | None = None) -> None: ...

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every object under `prefix`, recursively."""

    @abstractmethod
    def stream(self, key: str, byte_range: tuple[int, int | None] | None = None) -> Stream | None:
        """Read an object in chunks; `byte_range` is (first, last or None) inclusive."""

    def check_conditional_writes(self) -> None:  # noqa: B027 (optional hook)
        """Raise `ConditionalWritesUnsupported` if this store ignores If-Match/If-None-Match."""

    @property
    def boto_session(self) -> Any:
        """The boto3 session for other AWS services (DynamoDB), or None for local storage."""
        return None


def open_storage(s3: S3Config | None = None, directory: Path | None = None) -> Storage:
    if directory is not None:
        return LocalStorage(directory)
    if s3 is None:
        raise StorageError("no repository given: use --bucket or --repository-url")
    return S3Storage(s3)


# S3


class S3Storage(Storage):
    def __init__(self, cfg: S3Config) -> None:
        from botocore import UNSIGNED
        from botocore.config import Config as BotoConfig

        if not cfg.bucket:
            raise StorageError("no bucket given")
        self.cfg = cfg
        self.session = aws_session(cfg.profile, cfg.region)
        config = BotoConfig(
            retries={"mode": "standard", "max_attempts": 8},
            max_pool_connections=32,
            signature_version=UNSIGNED if cfg.no_sign_request else None,
        )
        self.client: S3Client = self.session.client(
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

    @property
    def boto_session(self) -> Any:
        return self.session

    def url(self, key: str = "") -> str:
        return f"s3://{self.cfg.bucket}/{key}"

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
                if _status(e) == 404:
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
        """AWS S3 has them; some S3-compatible servers accept the headers and ignore them."""
        from s3pypi_core.exceptions import ConditionalWritesUnsupported

        if self.client.meta.endpoint_url.endswith(".amazonaws.com"):
            return
        import uuid

        probe = f"{self.cfg.prefix or ''}/.s3pypi-probe-{uuid.uuid4().hex}".lstrip("/")
        self.put(probe, b"", content_type="text/plain", cache_control="no-store")
        try:
            self.put(
                probe, b"", content_type="text/plain", cache_control="no-store", if_none_match=True
            )
        except WriteConflict:
            return
        finally:
            self.delete(probe)
        raise ConditionalWritesUnsupported(
            f"{self.client.meta.endpoint_url} ignores conditional writes (If-None-Match), so "
            "concurrent publishers could overwrite each other: use a DynamoDB lock table "
            "(--locks-table)"
        )

    @contextlib.contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        """Turn botocore's exceptions into one-line errors a user can act on."""
        import botocore.exceptions as bex
        from boto3.exceptions import S3UploadFailedError

        try:
            try:
                yield
            except S3UploadFailedError as e:
                # boto3's upload_file wraps the ClientError that says what went wrong.
                if isinstance(e.__context__, bex.ClientError):
                    raise e.__context__ from e
                raise StorageError(f"{self.url(key)}: {e}") from e
        except bex.ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            status = _status(e)
            if status in (409, 412) or code in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise WriteConflict(f"{self.url(key)} changed while it was being updated") from e
            if code == "NoSuchBucket":
                raise StorageError(f"bucket does not exist: {self.cfg.bucket}") from e
            if code == "NoSuchKey" or status == 404:
                # A conditional write whose object vanished meanwhile: also a lost race.
                raise WriteConflict(
                    f"{self.url(key)} disappeared while it was being updated"
                ) from e
            message = e.response.get("Error", {}).get("Message", "") or str(e)
            raise StorageError(f"{self.url(key)}: {code or status}: {message}") from e
        except bex.NoCredentialsError as e:
            raise MissingCredentials(
                "no AWS credentials found: configure a profile (--profile, AWS_PROFILE) or "
                "environment credentials, or use --no-sign-request for a public bucket"
            ) from e
        except bex.EndpointConnectionError as e:
            raise StorageError(f"cannot reach S3: {e}") from e
        except bex.BotoCoreError as e:
            raise StorageError(f"{self.url(key)}: {e}") from e


def aws_session(profile: str | None, region: str | None) -> Any:
    """A boto3 session; standard AWS settings (AWS_PROFILE, AWS_REGION, ...) apply."""
    import boto3
    import botocore.exceptions

    try:
        return boto3.Session(profile_name=profile, region_name=region)
    except botocore.exceptions.ProfileNotFound as e:
        raise StorageError(f"AWS profile not found: {profile}") from e


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


def _status(error: Any) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


# Local directory


class LocalStorage(Storage):
    """An index in a local directory: `pip install --index-url file:///DIR/` reads it as is.

    pip looks for `index.html` in a directory URL, so page keys ending in `/` are stored as
    `index.html` there. Conditional writes are made atomic with an exclusive file lock.
    """

    _LOCK_FILE = ".s3pypi.lock"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()
        if self.root.exists() and not self.root.is_dir():
            raise StorageError(f"not a directory: {self.root}")
        self._thread_lock = threading.Lock()
        self._real_root: Path | None = None

    def url(self, key: str = "") -> str:
        return self.root.as_uri().rstrip("/") + "/" + urllib.parse.quote(key)

    def _path(self, key: str) -> Path:
        relative = key + "index.html" if key.endswith("/") or not key else key
        path = (self.root / relative).resolve()
        real_root = self._real_root or self.root.resolve()
        if self._real_root is None and real_root.is_dir():
            self._real_root = real_root  # once it exists: a realpath costs a served request
        if real_root not in path.parents:
            raise StorageError(f"key outside of the index directory: {key!r}")
        return path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, open(self.root / self._LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def get(self, key: str) -> Blob | None:
        try:
            body = self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        return Blob(body, _etag(body))

    def head(self, key: str) -> StoredObject | None:
        path = self._path(key)
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        return StoredObject(
            key=key,
            etag=f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"',
            size=stat.st_size,
            last_modified=datetime.fromtimestamp(stat.st_mtime, timezone.utc),
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
        path = self._path(key)
        with self._locked():
            if if_match or if_none_match:
                current = self.get(key)
                if if_none_match and current is not None:
                    raise WriteConflict(f"{self.url(key)} already exists")
                if if_match and (current is None or current.etag != if_match):
                    raise WriteConflict(f"{self.url(key)} changed while it was being updated")
            _atomic_write(path, lambda f: f.write(body))
        return _etag(body)

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
        target = self._path(key)

        def copy(out: IO[bytes]) -> None:
            with open(path, "rb") as src:
                while chunk := src.read(1024 * 1024):
                    out.write(chunk)
                    if on_progress:
                        on_progress(len(chunk))

        tmp = _write_temp(target, copy)
        with self._locked():
            if not overwrite and target.exists():
                tmp.unlink()
                raise WriteConflict(f"{self.url(key)} already exists")
            os.replace(tmp, target)

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        path = self._path(key)
        with self._locked():
            if if_match:
                current = self.get(key)
                if current is None or current.etag != if_match:
                    raise WriteConflict(f"{self.url(key)} changed while it was being deleted")
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        if not self.root.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for name in sorted(filenames):
                path = Path(dirpath, name)
                key = path.relative_to(self.root).as_posix()
                if name == self._LOCK_FILE or name.startswith(".s3pypi-tmp-"):
                    continue
                if name == "index.html":
                    key = key.removesuffix("index.html")
                if key.startswith(prefix):
                    info = self.head(key)
                    if info:
                        yield info

    def stream(self, key: str, byte_range: tuple[int, int | None] | None = None) -> Stream | None:
        info = self.head(key)
        if info is None:
            return None
        first, last = 0, info.size - 1
        if byte_range:
            first = byte_range[0]
            last = min(info.size - 1, byte_range[1] if byte_range[1] is not None else last)

        def chunks() -> Iterator[bytes]:
            with open(self._path(key), "rb") as f:
                f.seek(first)
                remaining = last - first + 1
                while remaining > 0 and (chunk := f.read(min(64 * 1024, remaining))):
                    remaining -= len(chunk)
                    yield chunk

        return Stream(info, chunks(), (first, last) if byte_range else None)


def _etag(body: bytes) -> str:
    return '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'


def _write_temp(target: Path, write: Callable[[IO[bytes]], object]) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".s3pypi-tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)
    except BaseException:
        os.unlink(tmp)
        raise
    return Path(tmp)


def _atomic_write(target: Path, write: Callable[[IO[bytes]], object]) -> None:
    os.replace(_write_temp(target, write), target)


def parse_repository_url(url: str) -> tuple[S3Config | None, Path | None]:
    """`s3://BUCKET[/PREFIX]` -> an S3Config; `file:///ABSOLUTE/PATH` -> a directory."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise StorageError(f"repository URL has no bucket: {url}")
        return S3Config(bucket=parsed.netloc, prefix=parsed.path.strip("/") or None), None
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise StorageError(f"file URL must be local (file:///PATH): {url}")
        return None, Path(urllib.request.url2pathname(parsed.path))
    raise StorageError(
        f"unsupported repository URL {url!r}: use s3://BUCKET[/PREFIX] or file:///PATH"
    )


class DryRunStorage(Storage):
    """Reads from the real store; reports the writes instead of making them."""

    def __init__(self, inner: Storage, report: Callable[[str], None]) -> None:
        self.inner = inner
        self.report = report

    def url(self, key: str = "") -> str:
        return self.inner.url(key)

    def get(self, key: str) -> Blob | None:
        return self.inner.get(key)

    def head(self, key: str) -> StoredObject | None:
        return self.inner.head(key)

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
        self.report(f"would write {self.url(key)} ({len(body)} bytes, {content_type})")
        return '"dry-run"'

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
        size = path.stat().st_size
        self.report(f"would upload {path} to {self.url(key)} ({size} bytes, {content_type})")

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        self.report(f"would delete {self.url(key)}")

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        return self.inner.list(prefix)

    def stream(self, key: str, byte_range: tuple[int, int | None] | None = None) -> Stream | None:
        return self.inner.stream(key, byte_range)

    @property
    def boto_session(self) -> Any:
        return self.inner.boto_session
