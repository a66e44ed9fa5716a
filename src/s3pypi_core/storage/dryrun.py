"""A dry run: reads from the real store, reports the writes instead of making them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

from s3pypi_core.storage.base import Blob, ProgressCallback, Storage, StoredObject, Stream


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
        self.report(f"would copy {source.url(source_key)} to {self.url(key)} ({size} bytes)")
        return True

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        self.report(f"would delete {self.url(key)}")

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        return self.inner.list(prefix)

    def stream(self, key: str, byte_range: tuple[int, int | None] | None = None) -> Stream | None:
        return self.inner.stream(key, byte_range)

    def key_problem(self, key: str) -> str | None:
        return self.inner.key_problem(key)

    def same_object(self, key: str, other: str) -> bool:
        return self.inner.same_object(key, other)

    def leftovers(self, prefix: str, older_than: timedelta) -> Iterator[StoredObject]:
        return self.inner.leftovers(prefix, older_than)
