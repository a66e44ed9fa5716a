"""Distribution files: what a file is called, what it says about itself, and its checksum.

Everything here is read-only and local: a `Distribution` is read in full (every archive member
decompressed and checked, the file hashed in the same pass) and, for publishing, its metadata
validated, before any byte of it reaches the index; so a bad file is refused before anything is
written. Every refusal is an `InvalidDistribution` with a one-line message.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

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

from s3pypi_core._archive import (
    EXTENSIONS,
    MAX_METADATA_SIZE,
    SDIST_EXTENSIONS,
    WHEEL_EXTENSION,
    read_archive,
)
from s3pypi_core.exceptions import InvalidDistribution, one_line

try:
    from packaging.errors import ExceptionGroup
except ImportError:  # packaging < 26 has it in packaging.metadata only
    from packaging.metadata import ExceptionGroup  # type: ignore[no-redef,unused-ignore]

__all__ = [
    "EXTENSIONS",
    "MAX_METADATA_SIZE",
    "SDIST_EXTENSIONS",
    "WHEEL_EXTENSION",
    "Distribution",
    "DistributionId",
    "DistributionIdentity",
    "distribution_identity",
    "file_digest",
    "find_distributions",
    "metadata_problems",
    "normalize_package_name",
    "parse_distribution_id",
    "parse_filename",
    "read_archive",
    "read_for_upload",
    "sha256_hex",
    "sha256_of",
]

_CHUNK = 1024 * 1024


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


@functools.lru_cache(maxsize=16384)
def distribution_identity(filename: str) -> DistributionIdentity:
    """The identity of a distribution filename; `InvalidDistribution` when it names none.

    >>> a = distribution_identity("Hello-1.0.0-py3-none-any.whl")
    >>> a == distribution_identity("hello-1.0-py3-none-any.whl")
    True

    Cached: pages ask for the versions of their files over and over (a release's documents
    are drawn from a page of all the project's files), and the answer depends on the name
    alone.
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
            raise InvalidDistribution(f"{path}: invalid core metadata ({one_line(e)})") from e
        if meta_project != project or parsed_version != version:
            raise InvalidDistribution(
                f"{path}: filename says {project} {version} but its metadata says "
                f"{one_line(meta_name)} {one_line(meta_version)}"
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
    problems = [f"field {one_line(key)!r} is unknown or malformed" for key in sorted(unparsed)]
    try:
        Metadata.from_raw(raw)
    except ExceptionGroup as group:
        problems += sorted(one_line(e) for e in group.exceptions)
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
    details = one_line(details, "; ")
    if len(details) > _MAX_DETAILS:
        details = details[:_MAX_DETAILS].rstrip() + " ..."
    return f"the long description has reStructuredText errors and would not render ({details})"


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
