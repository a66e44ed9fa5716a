"""Reading a distribution archive in full, once: every zip member decompressed and checked
against its CRC, a tar stream read to its end-of-archive block, the file hashed on the way, the
core metadata kept (up to a bound). A damaged or unfit archive is one `InvalidDistribution`.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import posixpath
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar, cast

from s3pypi_core.exceptions import InvalidDistribution, MetadataTooLarge, one_line

WHEEL_EXTENSION = ".whl"
SDIST_EXTENSIONS = (".tar.gz", ".zip", ".tar.bz2", ".tar.xz")
EXTENSIONS = (WHEEL_EXTENSION, *SDIST_EXTENSIONS)

MAX_METADATA_SIZE = 10 * 1024 * 1024
"""The default bound, in bytes, on the core metadata (wheel METADATA, sdist PKG-INFO) read from a
distribution: a larger one is refused, so that no command's memory depends on what a file says."""

ZIP_COMPRESSIONS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
"""The zip compression methods that every supported Python, and so pip, can read."""

_ZIP_METHOD_NAMES = {
    1: "shrink",
    6: "implode",
    9: "deflate64",
    93: "zstandard",
    95: "xz",
    98: "ppmd",
    99: "AES encryption",
}

_CHUNK = 1024 * 1024
_MAX_TAR_READ = _CHUNK
"""The most tarfile may read at once: a header block, or a long name or pax header (which it
reads whole, at the size the archive claims)."""
_MAX_HASH_GAP = 64 * 1024
"""Bytes a zip reader skips between members (data descriptors), hashed on the way."""
_TAR_BLOCK = tarfile.BLOCKSIZE

_T = TypeVar("_T")


@dataclass(frozen=True)
class ArchiveContents:
    """What reading a whole archive gives: its core metadata and the file's checksum."""

    metadata: bytes
    sha256: str
    size: int


class _Refused(Exception):
    """An archive is unfit (our check, not a library error); the message says why."""


class _TooLarge(_Refused):
    """The core metadata is larger than the bound."""


_LIBRARY_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    tarfile.TarError,
    EOFError,  # a compressed stream that ends early
    zlib.error,
    lzma.LZMAError,
    OSError,  # bz2's "Invalid data stream", gzip's BadGzipFile (the file's own errors are not)
    NotImplementedError,  # a compression method this Python lacks
    ValueError,  # bad numbers and names in headers
    struct.error,
    OverflowError,
)
"""What the standard library's archive readers raise for a damaged archive, caught in one place."""


def read_archive(path: Path, *, max_metadata_size: int = MAX_METADATA_SIZE) -> ArchiveContents:
    """Read a distribution archive in full, once, hashing it on the way.

    Every zip member is decompressed and checked against its CRC and size; a tar stream is read
    to its end-of-archive blocks and the compressed stream to its end (gzip's CRC and length,
    bzip2's and xz's checks). Nothing is held in memory but the core metadata, itself bounded
    by `max_metadata_size`. An encrypted member, a compression method pip may not read,
    overlapping or duplicate zip members, member paths outside the archive, and every error of
    the archive libraries are refused with one line (`InvalidDistribution`).
    """
    filename = path.name
    if not filename.endswith(EXTENSIONS):
        raise InvalidDistribution(
            f"{filename}: unknown file type (expected one of {', '.join(EXTENSIONS)})"
        )
    try:
        if not path.exists():
            raise InvalidDistribution(f"{path}: no such file")
        if not path.is_file():
            raise InvalidDistribution(f"{path}: not a file")
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                raise InvalidDistribution(f"{path}: file is empty")
            reader = _DigestingReader(f)
            if filename.endswith(WHEEL_EXTENSION):
                metadata = _read_zip(reader, _wheel_metadata_names, "METADATA", max_metadata_size)
            elif filename.endswith(".zip"):
                metadata = _read_zip(reader, _sdist_metadata_names, "PKG-INFO", max_metadata_size)
            else:
                decompress = _DECOMPRESSORS[filename.rpartition(".tar.")[2]]
                metadata = _read_tar(decompress(_as_file(reader)), max_metadata_size)
            sha256, size = reader.finish()
    except _Unreadable as e:
        reason = e.cause.strerror or e.cause
        raise InvalidDistribution(f"{path}: cannot read file ({reason})") from e
    except OSError as e:
        if e.errno is not None:  # the file's own error (opening it), not the archive's
            raise InvalidDistribution(f"{path}: cannot read file ({e.strerror or e})") from e
        raise InvalidDistribution(f"{path}: corrupt archive: {_describe(e)}") from e
    except _TooLarge as e:
        raise MetadataTooLarge(f"{path}: {one_line(e)}") from e
    except _Refused as e:
        raise InvalidDistribution(f"{path}: {one_line(e)}") from e
    except _LIBRARY_ERRORS as e:
        raise InvalidDistribution(f"{path}: corrupt archive: {_describe(e)}") from e
    return ArchiveContents(metadata=metadata, sha256=sha256, size=size)


def _describe(error: Exception) -> str:
    if isinstance(error, EOFError) and not str(error):
        return "unexpected end of data"
    return one_line(error) or type(error).__name__


class _Unreadable(Exception):
    """The distribution file itself could not be read (an OS error, not a damaged archive)."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _DigestingReader(io.RawIOBase):
    """The distribution file, hashed as it is read: every byte once, in order.

    Archive readers jump about (zipfile reads the central directory at the end first); a read
    that continues where hashing stands is hashed as it goes, small gaps a reader leaves
    (data descriptors between zip members) are read and hashed on the way, and `finish()`
    hashes whatever no read reached. Reading a wheel thus reads its bytes about once.
    """

    def __init__(self, file: BinaryIO) -> None:
        super().__init__()
        self._file = file
        self._digest = hashlib.sha256()
        self._hashed = 0
        """Bytes [0, _hashed) are in the digest."""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        # Not wrapped: zipfile expects the OSError of a seek before the start of a short file.
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        start = self.tell()
        if 0 < start - self._hashed <= _MAX_HASH_GAP:
            self._file.seek(self._hashed)
            self._hash_at(self._hashed, self._call(lambda: self._file.read(start - self._hashed)))
            self._file.seek(start)
        data = self._call(lambda: self._file.read(-1 if size is None else size))
        self._hash_at(start, data)
        return data

    def _hash_at(self, start: int, data: bytes) -> None:
        end = start + len(data)
        if start <= self._hashed < end:
            self._digest.update(memoryview(data)[self._hashed - start :])
            self._hashed = end

    def finish(self) -> tuple[str, int]:
        """The sha256 hex digest and size of the whole file."""
        self.seek(self._hashed)
        while self.read(_CHUNK):
            pass
        return self._digest.hexdigest(), self._hashed

    def _call(self, operation: Callable[[], _T]) -> _T:
        try:
            return operation()
        except OSError as e:
            raise _Unreadable(e) from e


def _read_zip(
    reader: _DigestingReader,
    metadata_names: Callable[[Iterable[str]], list[str]],
    what: str,
    max_metadata_size: int,
) -> bytes:
    """Check every member of a zip archive, in file order; return the core metadata member."""
    with zipfile.ZipFile(_as_file(reader)) as archive:
        members = sorted(archive.infolist(), key=lambda info: info.header_offset)
        seen: set[str] = set()
        for info in members:
            if info.filename in seen:
                raise _Refused(f"archive has two members named {info.filename!r}")
            seen.add(info.filename)
        wanted = _single(metadata_names(seen), what)
        metadata = b""
        data_end = 0
        for info in members:
            _check_member_path(info.filename)
            if info.header_offset < data_end:
                raise _Refused(f"corrupt archive: member {info.filename!r} overlaps another")
            if info.flag_bits & 0x1:
                raise _Refused(f"archive member {info.filename!r} is encrypted")
            if info.compress_type not in ZIP_COMPRESSIONS:
                method = _ZIP_METHOD_NAMES.get(info.compress_type, "unknown")
                raise _Refused(
                    f"archive member {info.filename!r} uses compression method "
                    f"{info.compress_type} ({method}), which pip cannot read"
                )
            is_metadata = info.filename == wanted
            if is_metadata and info.file_size > max_metadata_size:
                raise _too_large(what, info.file_size, max_metadata_size)
            with archive.open(info) as member:
                data = _drain(member, what, max_metadata_size if is_metadata else None)
            if data.size != info.file_size:
                raise _Refused(
                    f"corrupt archive: member {info.filename!r} holds {data.size} bytes, "
                    f"its header says {info.file_size}"
                )
            if is_metadata:
                metadata = data.kept
            data_end = reader.tell()
        return metadata


@dataclass
class _Drained:
    size: int = 0
    kept: bytes = b""


def _drain(member: _Readable, what: str, keep_up_to: int | None) -> _Drained:
    """Read a member to its end in chunks (which makes zipfile check its CRC); keep its bytes
    only when `keep_up_to` is given, and refuse it past that many."""
    drained = _Drained()
    kept = bytearray()
    while chunk := member.read(_CHUNK):
        drained.size += len(chunk)
        if keep_up_to is not None:
            if drained.size > keep_up_to:
                raise _too_large(what, drained.size, keep_up_to)
            kept += chunk
    drained.kept = bytes(kept)
    return drained


def _too_large(what: str, size: int, limit: int) -> _Refused:
    return _TooLarge(f"{what} is larger than {limit} bytes ({size} bytes or more)")


_DECOMPRESSORS: dict[str, Callable[[BinaryIO], _Readable]] = {
    # Each reads the whole compressed stream and checks its trailer (CRC, length) at the end.
    "gz": lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"),
    "bz2": bz2.BZ2File,
    "xz": lzma.LZMAFile,
}


def _read_tar(decompressed: _Readable, max_metadata_size: int) -> bytes:
    """Check a tar stream to its true end; return its PKG-INFO.

    tarfile stops quietly at a damaged or missing header once past the first one, so the
    end it reports is checked here: one zero block at least (the end-of-archive marker), then
    nothing but zeros to the end of the decompressed stream, which is read to its end.
    """
    stream = _ForwardReader(decompressed)
    found: list[bytes] = []
    with tarfile.open(fileobj=_as_file(stream), mode="r:") as archive:
        while (member := archive.next()) is not None:
            _forget_members(archive)
            _check_tar_member(member)
            if member.isfile() and _is_sdist_metadata(member.name):
                if found:
                    raise _Refused(f"archive has several PKG-INFO files: {member.name!r} ...")
                if member.size > max_metadata_size:
                    raise _too_large("PKG-INFO", member.size, max_metadata_size)
                extracted = archive.extractfile(member)
                if extracted is not None:
                    found.append(_drain(extracted, "PKG-INFO", max_metadata_size).kept)
        end = archive.offset
    _check_tar_end(stream, end)
    if not found:
        raise _Refused("archive has no PKG-INFO")
    return found[0]


def _check_tar_end(stream: _ForwardReader, end: int) -> None:
    stream.seek(end)
    marker = stream.read(_TAR_BLOCK)
    if len(marker) < _TAR_BLOCK:
        raise _Refused(f"corrupt archive: the tar archive is cut short at byte {end}")
    if marker.count(0) != _TAR_BLOCK:
        raise _Refused(f"corrupt archive: damaged tar header at byte {end}")
    while chunk := stream.read(_CHUNK):
        if chunk.count(0) != len(chunk):
            raise _Refused("corrupt archive: data after the end of the tar archive")


class _ForwardReader(io.RawIOBase):
    """A decompressed stream as tarfile wants a file: seeking forward reads on (decompressing),
    seeking back reaches only the last few blocks read (to look at a header again), and no
    single read may ask for more than `_MAX_TAR_READ` bytes."""

    _KEEP = 2 * _TAR_BLOCK

    def __init__(self, stream: _Readable) -> None:
        super().__init__()
        self._stream = stream
        self._pos = 0
        self._stream_pos = 0
        """How many bytes were read from the stream."""
        self._window = b""
        """The last bytes read from the stream, which end at `_stream_pos`."""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._pos
        elif whence != io.SEEK_SET:
            raise _Refused("corrupt archive: the tar reader asked for the end of the stream")
        if offset < self._stream_pos - len(self._window):
            raise _Refused(f"corrupt archive: the tar reader went back to byte {offset}")
        self._pos = offset
        while self._stream_pos < self._pos and self._fill(
            min(self._pos - self._stream_pos, _CHUNK)
        ):
            pass
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > _MAX_TAR_READ:
            raise _Refused(f"corrupt archive: a tar header claims {size} bytes")
        data = b""
        if self._pos < self._stream_pos:
            start = self._pos - (self._stream_pos - len(self._window))
            data = self._window[start : start + size]
        while len(data) < size and self._pos + len(data) == self._stream_pos:
            fresh = self._fill(size - len(data))
            if not fresh:
                break
            data += fresh
        self._pos += len(data)
        return data

    def _fill(self, size: int) -> bytes:
        """Read up to `size` more bytes from the stream (b"" at its end)."""
        fresh = self._stream.read(size)
        self._stream_pos += len(fresh)
        if len(fresh) >= self._KEEP:
            self._window = fresh
        else:
            self._window = (self._window + fresh)[-self._KEEP :]
        return fresh


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _as_file(reader: io.RawIOBase) -> BinaryIO:
    """Our readers, typed as the binary files the archive libraries take (they are, for them)."""
    return cast(BinaryIO, reader)


def _forget_members(archive: tarfile.TarFile) -> None:
    """Drop the members tarfile keeps: nothing is looked up, and any count takes no memory."""
    members = getattr(archive, "members", None)
    if isinstance(members, list):
        members.clear()


def _check_member_path(name: str) -> None:
    """Refuse member paths that would land outside the directory an installer unpacks into."""
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":"):
        raise _Refused(f"archive member {name!r} has an unsafe path")


def _check_tar_member(member: tarfile.TarInfo) -> None:
    """A path inside the archive, links that stay inside it, and no devices or pipes (what
    pip's extraction refuses)."""
    _check_member_path(member.name)
    if member.isdev():
        raise _Refused(f"archive member {member.name!r} is a device or a pipe")
    if member.issym() or member.islnk():
        # A symlink is relative to its directory; a hard link names a member of the archive.
        base = posixpath.dirname(member.name) if member.issym() else ""
        target = posixpath.normpath(posixpath.join(base, member.linkname))
        if member.linkname.startswith("/") or target == ".." or target.startswith("../"):
            raise _Refused(
                f"archive member {member.name!r} links outside the archive ({member.linkname!r})"
            )


def _wheel_metadata_names(names: Iterable[str]) -> list[str]:
    return sorted(
        n
        for n in names
        if n.count("/") == 1 and n.endswith("/METADATA") and n.split("/")[0].endswith(".dist-info")
    )


def _is_sdist_metadata(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and parts[1] == "PKG-INFO" and parts[0] not in ("", ".", "..")


def _sdist_metadata_names(names: Iterable[str]) -> list[str]:
    return sorted(n for n in names if _is_sdist_metadata(n))


def _single(names: list[str], what: str) -> str:
    if not names:
        raise _Refused(f"archive has no {what}")
    if len(names) > 1:
        raise _Refused(f"archive has several {what} files: {', '.join(names)}")
    return names[0]
