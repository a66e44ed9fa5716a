"""An index in a local directory: the same layout as a bucket, so pip installs from it with
`--index-url file:///DIR/` and it can be synced to a bucket and back."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO

from s3pypi_core.exceptions import StorageError, WriteConflict
from s3pypi_core.storage.base import Blob, ProgressCallback, Storage, StoredObject, Stream

TEMP_PREFIX = ".s3pypi-tmp-"
"""Every write goes to a temporary file of this name beside its target, then is renamed."""


class LocalStorage(Storage):
    """An index in a local directory: `pip install --index-url file:///DIR/` reads it as is.

    pip looks for `index.html` in a directory URL, so page keys ending in `/` are stored as
    `index.html` there. Conditional writes are made atomic with an exclusive file lock. Every
    write is a temporary file renamed into place, so a reader never sees half a file, and a
    failing write (permissions, a full disk) is one `StorageError` that leaves nothing behind.
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

        with _os_errors(f"cannot write to {self.root}"):
            self.root.mkdir(parents=True, exist_ok=True)
            lock = open(self.root / self._LOCK_FILE, "a")  # noqa: SIM115 (closed below)
        with self._thread_lock, lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def get(self, key: str) -> Blob | None:
        try:
            with _os_errors(f"cannot read {self.url(key)}", reading=True):
                body = self._path(key).read_bytes()
        except _Missing:
            return None
        return Blob(body, _etag(body))

    def head(self, key: str) -> StoredObject | None:
        path = self._path(key)
        try:
            with _os_errors(f"cannot read {self.url(key)}", reading=True):
                stat = path.stat()
        except _Missing:
            return None
        if not stat_is_file(stat):
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
            with _os_errors(f"cannot write {self.url(key)}"):
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

        with _os_errors(f"cannot write {self.url(key)}"):
            tmp = _write_temp(target, copy)
        try:
            with self._locked():
                if not overwrite and target.exists():
                    raise WriteConflict(f"{self.url(key)} already exists")
                with _os_errors(f"cannot write {self.url(key)}"):
                    os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()  # not renamed: refused, or the rename failed

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        path = self._path(key)
        with self._locked():
            if if_match:
                current = self.get(key)
                if current is None or current.etag != if_match:
                    raise WriteConflict(f"{self.url(key)} changed while it was being deleted")
            with (
                contextlib.suppress(_Missing),
                _os_errors(f"cannot delete {self.url(key)}", reading=True),
            ):
                path.unlink()

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        if not self.root.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for name in sorted(filenames):
                path = Path(dirpath, name)
                key = path.relative_to(self.root).as_posix()
                if name == self._LOCK_FILE or name.startswith(TEMP_PREFIX):
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
            with _os_errors(f"cannot read {self.url(key)}"), open(self._path(key), "rb") as f:
                f.seek(first)
                remaining = last - first + 1
                while remaining > 0 and (chunk := f.read(min(64 * 1024, remaining))):
                    remaining -= len(chunk)
                    yield chunk

        return Stream(info, chunks(), (first, last) if byte_range else None)

    def key_problem(self, key: str) -> str | None:
        path = self._path(key)
        existing = next(p for p in (path, *path.parents) if _exists(p))
        if not existing.is_dir():
            existing = existing.parent
        name_max = _pathconf(existing, "PC_NAME_MAX", 255)
        for part in path.relative_to(self._real_root or self.root.resolve()).parts:
            length = len(os.fsencode(part))
            if length > name_max:
                return (
                    f"the file name {_shorten(part)} is {length} bytes; {existing} allows "
                    f"{name_max}"
                )
        path_max = _pathconf(existing, "PC_PATH_MAX", 4096)
        if (length := len(os.fsencode(str(path)))) >= path_max:
            limit = path_max - 1
            return f"the path {_shorten(str(path))} is {length} bytes; {existing} allows {limit}"
        return None

    def same_object(self, key: str, other: str) -> bool:
        try:
            return os.path.samefile(self._path(key), self._path(other))
        except OSError:
            return key == other

    def leftovers(self, prefix: str, older_than: timedelta) -> Iterator[StoredObject]:
        if not self.root.is_dir():
            return
        cutoff = time.time() - older_than.total_seconds()
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for name in sorted(filenames):
                if not name.startswith(TEMP_PREFIX):
                    continue
                path = Path(dirpath, name)
                key = path.relative_to(self.root).as_posix()
                try:
                    stat = path.lstat()
                except OSError:
                    continue  # renamed or removed meanwhile
                if key.startswith(prefix) and stat.st_mtime < cutoff:
                    yield StoredObject(
                        key=key,
                        etag="",
                        size=stat.st_size,
                        last_modified=datetime.fromtimestamp(stat.st_mtime, timezone.utc),
                    )


def _etag(body: bytes) -> str:
    return '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'


class _Missing(Exception):
    """Nothing at a path (or a directory where a file should be)."""


@contextlib.contextmanager
def _os_errors(doing: str, *, reading: bool = False) -> Iterator[None]:
    """The file system's errors as one line (`StorageError`: "cannot write X: No space left
    on device"); when `reading`, `_Missing` for a path that is not there (or not a file)."""
    try:
        yield
    except OSError as e:
        if reading and (
            isinstance(e, (FileNotFoundError, NotADirectoryError, IsADirectoryError))
            or e.errno == errno.ENAMETOOLONG  # no file can have that name
        ):
            raise _Missing() from e
        raise StorageError(f"{doing}: {e.strerror or e}") from e


def stat_is_file(info: os.stat_result) -> bool:
    return stat.S_ISREG(info.st_mode)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long, ...
        return False


def _pathconf(path: Path, name: str, default: int) -> int:
    try:
        return os.pathconf(path, name)
    except (OSError, ValueError):
        return default


def _shorten(name: str) -> str:
    return name if len(name) <= 60 else name[:20] + "..." + name[-40:]


def _write_temp(target: Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Write a temporary file beside `target`; on any failure it is removed again."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def _atomic_write(target: Path, write: Callable[[IO[bytes]], object]) -> None:
    tmp = _write_temp(target, write)
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
