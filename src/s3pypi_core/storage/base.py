"""The storage interface: bytes at keys, with conditional writes.

The index never needs more than this: read a key with its ETag, write a key only if it still
has the ETag we read (`if_match`) or does not exist yet (`if_none_match`), upload a file,
delete, list, stream. Every backend keeps the same key layout, so a directory written here can
be synced to a bucket (or served by pip straight from disk) and back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

ProgressCallback = Callable[[int], None]
"""Called with the number of bytes sent since the last call."""


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
        """Copy an object of `source` (another store, or this one) to `key` inside the store,
        its bytes never passing through this process; create-only, like `put_file` without
        `overwrite`: raise `WriteConflict` if `key` exists. `sha256` is the hex digest the
        bytes must have: the store checks the copy against it and raises `S3PyPIError` when it
        differs (the copy then stays, named by no page). Return False when this store cannot
        copy from that source (the caller then streams the bytes through `put_file`)."""
        return False

    def check_conditional_writes(self) -> None:  # noqa: B027 (optional hook)
        """Raise `ConditionalWritesUnsupported` if this store ignores If-Match/If-None-Match."""

    def key_problem(self, key: str) -> str | None:
        """Why the store cannot hold an object at `key` (a name too long), or None."""
        return None

    def same_object(self, key: str, other: str) -> bool:
        """Whether two keys name one object (a case-insensitive file system)."""
        return key == other

    def leftovers(self, prefix: str, older_than: timedelta) -> Iterator[StoredObject]:
        """Partial writes of killed writers (temporary files of a local directory) under
        `prefix`, not modified for `older_than`; removed with `delete`."""
        return iter(())
