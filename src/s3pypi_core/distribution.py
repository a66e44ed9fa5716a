"""Distribution files: what a file is called, what it says about itself, and its checksum.

Everything here is read-only and local: a `Distribution` is fully validated before any byte of
it reaches the index, so a bad file is refused before anything is written.
"""

from __future__ import annotations

import glob
import hashlib
import os
import tarfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from packaging.metadata import parse_email
from packaging.utils import (
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

WHEEL_EXTENSION = ".whl"
SDIST_EXTENSIONS = (".tar.gz", ".zip", ".tar.bz2", ".tar.xz")
EXTENSIONS = (WHEEL_EXTENSION, *SDIST_EXTENSIONS)

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class DistributionId:
    """The project and version a distribution filename names."""

    name: str
    version: str


def normalize_package_name(name: str) -> NormalizedName:
    """The PEP 503 normalized form of a project name: `My.Package_Name` -> `my-package-name`."""
    return canonicalize_name(name)


def parse_filename(filename: str) -> tuple[NormalizedName, Version]:
    """The project and version of a wheel or sdist filename, as packaging reads them.

    Legacy sdist archives (`.tar.bz2`, `.tar.xz`) are named like `.tar.gz` ones, so they are read
    as such. Raises `InvalidDistribution` for anything that is not a distribution filename.
    """
    if "/" in filename or "\\" in filename or filename.startswith("."):
        raise InvalidDistribution(f"{filename}: not a plain file name")
    try:
        if filename.endswith(WHEEL_EXTENSION):
            name, version, _build, _tags = parse_wheel_filename(filename)
        elif filename.endswith(SDIST_EXTENSIONS):
            as_tar_gz = filename.removesuffix(".tar.bz2").removesuffix(".tar.xz")
            if as_tar_gz != filename:
                as_tar_gz += ".tar.gz"
            name, version = parse_sdist_filename(as_tar_gz)
        else:
            raise InvalidDistribution(
                f"{filename}: unknown file type (expected one of {', '.join(EXTENSIONS)})"
            )
        canonicalize_name(name, validate=True)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidName, InvalidVersion) as e:
        raise InvalidDistribution(f"{filename}: not a valid distribution filename ({e})") from e
    return name, version


def parse_distribution_id(filename: str) -> DistributionId:
    """Name and version of a distribution filename, in the form used in wheel filenames.

    >>> parse_distribution_id("my-package-2.3.4.tar.gz")
    DistributionId(name='my_package', version='2.3.4')
    """
    name, version = parse_filename(filename)
    return DistributionId(name.replace("-", "_"), str(version))


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
    """A validated distribution file on the local disk, with its core metadata."""

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

    @classmethod
    def read(cls, path: Path) -> Distribution:
        """Validate `path` as a distribution; raise `InvalidDistribution` saying what is wrong."""
        filename = path.name
        if not path.exists():
            raise InvalidDistribution(f"{path}: no such file")
        if not path.is_file():
            raise InvalidDistribution(f"{path}: not a file")
        project, version = parse_filename(filename)
        try:
            if os.path.getsize(path) == 0:
                raise InvalidDistribution(f"{path}: file is empty")
            metadata = _read_core_metadata(path)
        except OSError as e:
            raise InvalidDistribution(f"{path}: cannot read file ({e.strerror or e})") from e
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, ValueError) as e:
            raise InvalidDistribution(f"{path}: corrupt archive ({e})") from e

        raw, _unparsed = parse_email(metadata)
        meta_name, meta_version = raw.get("name"), raw.get("version")
        if not meta_name or not meta_version:
            raise InvalidDistribution(f"{path}: core metadata has no Name or Version")
        try:
            meta_project = canonicalize_name(meta_name, validate=True)
            parsed_version = Version(meta_version)
        except (InvalidName, InvalidVersion) as e:
            raise InvalidDistribution(f"{path}: invalid core metadata ({e})") from e
        if meta_project != project or parsed_version != version:
            raise InvalidDistribution(
                f"{path}: filename says {project} {version} but its metadata says "
                f"{meta_name} {meta_version}"
            )

        is_static = filename.endswith(WHEEL_EXTENSION) or (
            _metadata_version(raw.get("metadata_version")) >= Version("2.2")
            and not raw.get("dynamic")
        )
        sha256, size = sha256_of(path)
        return cls(
            path=path,
            project=project,
            version=version,
            metadata=metadata,
            metadata_is_static=is_static,
            requires_python=raw.get("requires_python"),
            sha256=sha256,
            size=size,
        )


def _metadata_version(value: str | None) -> Version:
    try:
        return Version(value or "1.0")
    except InvalidVersion:
        return Version("1.0")


def _read_core_metadata(path: Path) -> bytes:
    """The raw METADATA of a wheel or PKG-INFO of an sdist, without extracting the archive."""
    filename = path.name
    if filename.endswith((WHEEL_EXTENSION, ".zip")):
        with zipfile.ZipFile(path) as archive:
            if filename.endswith(WHEEL_EXTENSION):
                wanted = _single(path, _wheel_metadata_names(archive.namelist()), "METADATA")
            else:
                wanted = _single(path, _sdist_metadata_names(archive.namelist()), "PKG-INFO")
            return archive.read(wanted)
    # The compression named by the extension, so a corrupt file gets one clear error.
    with tarfile.open(path, mode=_TAR_MODES[filename.rpartition(".tar.")[2]]) as archive:
        # Scan member by member: PKG-INFO sits near the start of an sdist, so a large
        # archive is rarely decompressed to its end.
        for member in _iter_tar(archive):
            if member.isfile() and _is_sdist_metadata(member.name):
                extracted = archive.extractfile(member)
                if extracted is not None:
                    return extracted.read()
    raise InvalidDistribution(f"{path}: archive has no PKG-INFO")


_TAR_MODES: dict[str, Literal["r:gz", "r:bz2", "r:xz"]] = {
    "gz": "r:gz",
    "bz2": "r:bz2",
    "xz": "r:xz",
}


def _iter_tar(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while (member := archive.next()) is not None:
        yield member


def _wheel_metadata_names(names: Iterable[str]) -> list[str]:
    return [
        n
        for n in names
        if n.count("/") == 1 and n.endswith("/METADATA") and n.split("/")[0].endswith(".dist-info")
    ]


def _is_sdist_metadata(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and parts[1] == "PKG-INFO" and parts[0] not in ("", ".", "..")


def _sdist_metadata_names(names: Iterable[str]) -> list[str]:
    return [n for n in names if _is_sdist_metadata(n)]


def _single(path: Path, names: list[str], what: str) -> str:
    if not names:
        raise InvalidDistribution(f"{path}: archive has no {what}")
    if len(names) > 1:
        raise InvalidDistribution(f"{path}: archive has several {what} files: {', '.join(names)}")
    return names[0]


def find_distributions(paths: Iterable[Path | str]) -> list[Path]:
    """Expand the arguments of `upload`: files as given, and glob patterns (`'dist/*'`).

    A pattern keeps only the files that look like distributions; a file named explicitly must
    be one (it is validated later). Duplicates are dropped.
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
    return list(names.values())
