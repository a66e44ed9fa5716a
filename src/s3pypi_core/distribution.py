"""Distribution files: what a file is called, what it says about itself, and its checksum.

Everything here is read-only and local: a `Distribution` is read in full (every archive member
decompressed and checked, the file hashed in the same pass) and, for publishing, its metadata
validated, before any byte of it reaches the index; so a bad file is refused before anything is
written. Every refusal is an `InvalidDistribution` with a one-line message.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import hashlib
import io
import lzma
import os
import posixpath
import re
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal, Protocol, TypeVar, cast

from packaging.metadata import Metadata, RawMetadata, parse_email
from packaging.tags import Tag
from packaging.utils import (
    BuildTag,
    InvalidName,
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from s3pypi_core.exceptions import InvalidDistribution

try:
    from packaging.errors import ExceptionGroup
except ImportError:  # packaging < 26 has it in packaging.metadata only
    from packaging.metadata import ExceptionGroup  # type: ignore[no-redef,unused-ignore]

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
class DistributionId:
    """The project and version a distribution filename names."""

    name: str
    version: str


@dataclass(frozen=True)
class DistributionIdentity:
    """What makes two files the same distribution, however their names are spelled.

    `Hello-1.0.0-py3-none-any.whl` and `hello-1.0-py3-none-any.whl` are one distribution: the
    same project (normalized), version (PEP 440) and, for a wheel, build tag and tags. A release
    has one sdist, whatever its archive format.
    """

    project: NormalizedName
    version: Version
    kind: Literal["sdist", "wheel"]
    build: BuildTag = ()
    tags: frozenset[Tag] = field(default_factory=frozenset)


def normalize_package_name(name: str) -> NormalizedName:
    """The PEP 503 normalized form of a project name: `My.Package_Name` -> `my-package-name`."""
    return canonicalize_name(name)


def distribution_identity(filename: str) -> DistributionIdentity:
    """The identity of a distribution filename; `InvalidDistribution` when it names none.

    >>> a = distribution_identity("Hello-1.0.0-py3-none-any.whl")
    >>> a == distribution_identity("hello-1.0-py3-none-any.whl")
    True
    """
    _check_plain_name(filename)
    try:
        if filename.endswith(WHEEL_EXTENSION):
            name, version, build, tags = parse_wheel_filename(filename)
            identity = DistributionIdentity(name, version, "wheel", build, tags)
        elif filename.endswith(SDIST_EXTENSIONS):
            # Legacy sdist archives (.tar.bz2, .tar.xz) are named like .tar.gz ones.
            as_tar_gz = filename.removesuffix(".tar.bz2").removesuffix(".tar.xz")
            if as_tar_gz != filename:
                as_tar_gz += ".tar.gz"
            name, version = parse_sdist_filename(as_tar_gz)
            identity = DistributionIdentity(name, version, "sdist")
        else:
            raise InvalidDistribution(
                f"{filename}: unknown file type (expected one of {', '.join(EXTENSIONS)})"
            )
        canonicalize_name(name, validate=True)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidName, InvalidVersion) as e:
        raise InvalidDistribution(f"{filename}: not a valid distribution filename ({e})") from e
    return identity


def parse_filename(filename: str) -> tuple[NormalizedName, Version]:
    """The project and version of a wheel or sdist filename, as packaging reads them.

    Raises `InvalidDistribution` for anything that is not a distribution filename.
    """
    identity = distribution_identity(filename)
    return identity.project, identity.version


def parse_distribution_id(filename: str) -> DistributionId:
    """Name and version of a distribution filename, in the form used in wheel filenames.

    >>> parse_distribution_id("my-package-2.3.4.tar.gz")
    DistributionId(name='my_package', version='2.3.4')
    """
    name, version = parse_filename(filename)
    return DistributionId(name.replace("-", "_"), str(version))


def _check_plain_name(filename: str) -> None:
    if "/" in filename or "\\" in filename or filename.startswith("."):
        raise InvalidDistribution(f"{filename}: not a plain file name")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_of(path: Path) -> tuple[str, int]:
    """The sha256 hex digest and size of a file, read once in chunks (never whole into memory)."""
    return file_digest(path, "sha256")


def file_digest(path: Path, algorithm: str) -> tuple[str, int]:
    """The hex digest (by any hashlib algorithm) and size of a file, read once in chunks."""
    digest = hashlib.new(algorithm)
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


@dataclass(frozen=True)
class Distribution:
    """A distribution file on the local disk, read in full, with its core metadata."""

    path: Path
    project: NormalizedName
    version: Version
    metadata: bytes
    """The core metadata (wheel `METADATA`, sdist `PKG-INFO`), byte for byte."""
    metadata_is_static: bool
    """Whether installers may trust `metadata` (PEP 658): always for wheels; for sdists only
    when Metadata-Version >= 2.2 and no field is `Dynamic` (PEP 643)."""
    requires_python: str | None
    sha256: str
    size: int

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(WHEEL_EXTENSION)

    @property
    def identity(self) -> DistributionIdentity:
        return distribution_identity(self.filename)

    @classmethod
    def read(cls, path: Path, *, max_metadata_size: int = MAX_METADATA_SIZE) -> Distribution:
        """Read `path` in full; raise `InvalidDistribution` saying what is wrong with it.

        The archive must be intact (see `read_archive`) and its metadata must name the project
        and version of its filename. The metadata is not validated further: that is
        `validate()`, for publishing, so that files already in an index stay readable.
        """
        filename = path.name
        project, version = parse_filename(filename)
        contents = read_archive(path, max_metadata_size=max_metadata_size)
        raw, _unparsed = parse_email(contents.metadata)
        meta_name, meta_version = raw.get("name"), raw.get("version")
        if not meta_name or not meta_version:
            raise InvalidDistribution(f"{path}: core metadata has no Name or Version")
        try:
            meta_project = canonicalize_name(meta_name, validate=True)
            parsed_version = Version(meta_version)
        except (InvalidName, InvalidVersion) as e:
            raise InvalidDistribution(f"{path}: invalid core metadata ({_one_line(e)})") from e
        if meta_project != project or parsed_version != version:
            raise InvalidDistribution(
                f"{path}: filename says {project} {version} but its metadata says "
                f"{_one_line(meta_name)} {_one_line(meta_version)}"
            )

        is_static = filename.endswith(WHEEL_EXTENSION) or (
            _metadata_version(raw) >= Version("2.2") and not raw.get("dynamic")
        )
        return cls(
            path=path,
            project=project,
            version=version,
            metadata=contents.metadata,
            metadata_is_static=is_static,
            requires_python=raw.get("requires_python"),
            sha256=contents.sha256,
            size=contents.size,
        )

    def validate(self) -> None:
        """Raise `InvalidDistribution` when the metadata is not fit to publish (see
        `metadata_problems`): the one check `s3pypi upload`, `s3pypi-twine` and the Hatch
        publisher share, so that they accept and refuse the same files for the same reason."""
        problems = metadata_problems(self.metadata)
        if problems:
            raise InvalidDistribution(f"{self.path}: invalid metadata: {'; '.join(problems)}")


def read_for_upload(path: Path, *, max_metadata_size: int = MAX_METADATA_SIZE) -> Distribution:
    """Read a file to publish: `Distribution.read`, then `Distribution.validate`."""
    dist = Distribution.read(path, max_metadata_size=max_metadata_size)
    dist.validate()
    return dist


def _metadata_version(raw: RawMetadata) -> Version:
    try:
        return Version(raw.get("metadata_version") or "1.0")
    except InvalidVersion:
        return Version("1.0")


# Metadata validation


def metadata_problems(metadata: bytes) -> list[str]:
    """What is wrong with core metadata for publishing, one short sentence each; [] when nothing.

    The rules are those `twine check` and `twine upload` apply (and PyPI): every field known
    and well-formed for its Metadata-Version (packaging's validation: Requires-Python,
    Requires-Dist, Name, Version, Summary on one line ...), and a reStructuredText long
    description that renders (when readme_renderer, which twine brings, is installed).
    """
    raw, unparsed = parse_email(metadata)
    if _metadata_version(raw) < Version("2.4"):
        # setuptools writes License-File under Metadata-Version 2.1; twine lets it through
        # (dropping it), and so do we.
        raw.pop("license_files", None)
        unparsed.pop("license-file", None)
    problems = [f"field {_one_line(key)!r} is unknown or malformed" for key in sorted(unparsed)]
    try:
        Metadata.from_raw(raw)
    except ExceptionGroup as group:
        problems += sorted(_one_line(e) for e in group.exceptions)
    if (rendering := _description_problem(raw)) is not None:
        problems.append(rendering)
    return problems


_DOCUTILS_REPORT = re.compile(r"<string>:(\d*): \((\w+)/\d\) ")
_MAX_DETAILS = 300
"""Characters of docutils' report kept in the message: the first errors say enough."""


def _description_problem(raw: RawMetadata) -> str | None:
    """Why the long description would not render on PyPI, as `twine check` tells; None if it
    would. Only reStructuredText can fail (it is the default when no content type is given)."""
    description = raw.get("description")
    if not description or description.rstrip() == "UNKNOWN":
        return None
    content_type = (raw.get("description_content_type") or "text/x-rst").split(";")[0]
    if content_type.strip().lower() != "text/x-rst":
        return None
    try:  # docutils: imported only for a description to render
        import readme_renderer.rst
    except ImportError:
        # A lean install (no s3pypi[twine], which brings twine and so readme_renderer): PyPI's
        # rendering is not checked. Where s3pypi-twine runs, every front end checks it.
        return None

    report = io.StringIO()
    if readme_renderer.rst.render(description, stream=report) is not None:
        return None
    details = _DOCUTILS_REPORT.sub(
        lambda m: f"line {m[1]}: {m[2].lower()}: " if m[1] else f"{m[2].lower()}: ",
        report.getvalue(),
    )
    details = _one_line(details, "; ")
    if len(details) > _MAX_DETAILS:
        details = details[:_MAX_DETAILS].rstrip() + " ..."
    return f"the long description has reStructuredText errors and would not render ({details})"


def _one_line(text: object, sep: str = " ") -> str:
    return sep.join(line.strip() for line in str(text).splitlines() if line.strip())


# Reading archives


@dataclass(frozen=True)
class ArchiveContents:
    """What reading a whole archive gives: its core metadata and the file's checksum."""

    metadata: bytes
    sha256: str
    size: int


class _Refused(Exception):
    """An archive is unfit (our check, not a library error); the message says why."""


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
    except _Refused as e:
        raise InvalidDistribution(f"{path}: {_one_line(e)}") from e
    except _LIBRARY_ERRORS as e:
        raise InvalidDistribution(f"{path}: corrupt archive: {_describe(e)}") from e
    return ArchiveContents(metadata=metadata, sha256=sha256, size=size)


def _describe(error: Exception) -> str:
    if isinstance(error, EOFError) and not str(error):
        return "unexpected end of data"
    return _one_line(error) or type(error).__name__


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
    return _Refused(f"{what} is larger than {limit} bytes ({size} bytes or more)")


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


def find_distributions(paths: Iterable[Path | str]) -> list[Path]:
    """Expand the arguments of `upload`: files as given, and glob patterns (`'dist/*'`).

    A pattern keeps only the files that look like distributions; a file named explicitly must
    be one (it is validated later). Duplicates are dropped; two files of one distribution
    (`Hello-1.0-py3-none-any.whl` and `hello-1.0-py3-none-any.whl`) are refused.
    """
    found: dict[Path, None] = {}
    for arg in paths:
        path = Path(arg)
        if path.exists() or not glob.has_magic(str(arg)):
            found[path] = None
            continue
        matches = sorted(
            Path(p) for p in glob.glob(str(arg)) if Path(p).is_file() and p.endswith(EXTENSIONS)
        )
        if not matches:
            raise InvalidDistribution(f"no distributions match {arg}")
        found.update(dict.fromkeys(matches))
    names: dict[str, Path] = {}
    for path in found:
        if path.name in names and names[path.name].resolve() != path.resolve():
            raise InvalidDistribution(f"two files named {path.name}: {names[path.name]} and {path}")
        names[path.name] = path
    distributions: dict[DistributionIdentity, Path] = {}
    for path in names.values():
        try:
            identity = distribution_identity(path.name)
        except InvalidDistribution:
            continue  # refused, with its reason, when it is read
        if identity in distributions:
            raise InvalidDistribution(
                f"two files for the same distribution: {distributions[identity]} and {path}"
            )
        distributions[identity] = path
    return list(names.values())
