"""`mirror`: copy the dependency closure of some requirements from another index into this one.

The steps, each finished before the next begins, so that an error leaves nothing written:
1. resolve the requirements against the upstream, once per target environment (uv);
2. read this index's pages: a project published here as one of ours is never mirrored;
3. read the upstream's pages of those projects (yanked state, Requires-Python, metadata hashes,
   upload times);
4. download the files this index lacks, checking the upstream's hashes, and their PEP 658
   metadata files where the upstream has them; validate each file as `upload` does;
5. publish them through `Publisher.upload`, marking the pages as mirrored; carry yanks made
   upstream since the last run over to the files already here.
A second run finds every file present and writes nothing.
"""

from __future__ import annotations

import logging
import re
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from s3pypi_core import __prog__
from s3pypi_core._logging import format_size
from s3pypi_core._pages import PageStore
from s3pypi_core._upstream import (
    PYPI,
    Target,
    Upstream,
    UpstreamFile,
    find_uv,
    load_toml,
    parse_python_version,
    redact,
    uv_platform,
)
from s3pypi_core.distribution import Distribution
from s3pypi_core.exceptions import InvalidDistribution, OptionError, S3PyPIError, UpstreamError
from s3pypi_core.index import Index, IndexFile
from s3pypi_core.publishing import (
    MirrorSource,
    Publisher,
    UploadObserver,
    UpstreamRecord,
    refuse_if_ours,
)

if TYPE_CHECKING:
    from s3pypi_core.config import Config

__all__ = ["PYPI", "MirrorObserver", "MirrorResult", "MirroredFile", "Target", "mirror_packages"]

log = logging.getLogger(__prog__)

THREADS = 8
"""Concurrent reads of this index."""
UPSTREAM_THREADS = 4
"""Concurrent requests to the upstream: small servers (`http.server`, pypiserver on wsgiref)
listen with a backlog of 5, and a burst of more new connections waits a second for a SYN to
be sent again; against a CDN, 4 streams already fill the line."""


@dataclass(frozen=True)
class MirroredFile:
    """A file of the closure, with what the upstream's page says about it."""

    upstream: UpstreamFile
    size: int | None
    yanked: str | None = None
    requires_python: str | None = None
    metadata: IndexFile | None = None
    """The upstream's record when it serves a PEP 658 metadata file with a hash."""

    @property
    def project(self) -> str:
        return self.upstream.project

    @property
    def version(self) -> str:
        return self.upstream.version

    @property
    def filename(self) -> str:
        return self.upstream.filename


@dataclass
class MirrorResult:
    upstream: str
    """The upstream's URL, without credentials."""
    location: str
    """This index."""
    targets: list[Target]
    files: list[MirroredFile] = field(default_factory=list)
    """Every file of the closure, for all targets."""
    copied: list[MirroredFile] = field(default_factory=list)
    """The files this index lacked: copied (with dry-run: to be copied)."""
    yanked: list[str] = field(default_factory=list)
    """Files already here that the upstream has yanked since: marked yanked here too."""
    unbuildable: dict[str, list[str]] = field(default_factory=dict)
    """Copied sdists whose build requirements this index lacks: filename -> requirements.
    pip and uv build an sdist in an environment of its build requirements, taken from the
    same index, so those need mirroring too."""
    dry_run: bool = False

    @property
    def projects(self) -> list[str]:
        return sorted({f.project for f in self.files})

    @property
    def copied_bytes(self) -> int:
        return sum(f.size or 0 for f in self.copied)


class MirrorObserver:
    """Hooks for front ends to show downloads; the default logs one line per file."""

    def starting(self, file: MirroredFile) -> None:
        size = f" ({format_size(file.size)})" if file.size is not None else ""
        log.info("Downloading %s%s", file.filename, size)

    def progress(self, file: MirroredFile, nbytes: int) -> None:
        pass

    def finished(self, file: MirroredFile) -> None:
        pass

    def close(self) -> None:
        pass


class _Publishing(UploadObserver):
    def starting(self, dist: Distribution) -> None:
        log.debug("Publishing %s", dist.filename)


def mirror_packages(
    cfg: Config,
    requirements: Iterable[str] = (),
    *,
    requirement_files: Iterable[Path | str] = (),
    upstream: str = PYPI,
    python_versions: Iterable[str] = (),
    platforms: Iterable[str] = (),
    min_age: float | None = None,
    observer: MirrorObserver | None = None,
) -> MirrorResult:
    """Copy the closure of `requirements` (and of the requirements files) from `upstream`.

    Resolved for every combination of `python_versions` (`3.12`) and `platforms` (wheel
    platform tags such as `manylinux_2_17_x86_64`, or uv's platform names); by default for the
    running Python and platform. `min_age` (days) leaves out files uploaded more recently.
    With `cfg.dry_run`, works out and returns what would be copied, and writes nothing.
    """
    requirements = list(requirements)
    files = [Path(f) for f in requirement_files]
    _check_requirements(requirements, files)
    targets = _targets(python_versions, platforms)
    if min_age is not None and min_age < 0:
        raise OptionError("--min-age must not be negative")
    source = Upstream(upstream)
    find_uv()  # before anything else: without a resolver there is nothing to do
    observer = observer or MirrorObserver()
    storage = cfg.open_storage()
    result = MirrorResult(source.display, cfg.location, targets, dry_run=cfg.dry_run)

    # 1. Resolve, for every target.
    source.check_reachable()
    exclude_newer = (
        datetime.now(timezone.utc) - timedelta(days=min_age) if min_age is not None else None
    )
    pages = PageStore(storage, cfg.layout)
    try:
        closure = _resolve(source, requirements, files, targets, exclude_newer)
    except UpstreamError as e:
        hint = _hint_for_ours(str(e), pages, cfg.location)
        if exclude_newer and "--min-age" not in str(e):
            cutoff = f"{exclude_newer:%Y-%m-%d %H:%M} UTC"
            hint += f" (--min-age {min_age:g} leaves out what was uploaded after {cutoff})"
        raise UpstreamError(str(e) + hint) from None
    projects: list[str] = sorted({f.project for f in closure.values()})

    # 2. This index: refuse projects of ours; find what is missing.
    with ThreadPoolExecutor(THREADS) as pool:
        ours = dict(
            zip(projects, pool.map(lambda p: pages.read_project(p).page, projects), strict=True)
        )
    for project in projects:
        refuse_if_ours(project, ours[project], source.display, cfg.location)

    # 3. The upstream's pages.
    with ThreadPoolExecutor(UPSTREAM_THREADS) as pool:
        theirs = dict(zip(projects, pool.map(source.project_page, projects), strict=True))
    result.files = [_describe(file, theirs[file.project]) for file in closure.values()]
    result.files.sort(key=lambda f: (f.project, f.filename))
    result.copied = [f for f in result.files if f.filename not in ours[f.project].files]
    newly_yanked = _newly_yanked(ours, theirs)
    result.yanked = sorted(filename for _project, filename, _reason in newly_yanked)

    if cfg.dry_run:
        with ThreadPoolExecutor(UPSTREAM_THREADS) as pool:
            result.copied = list(pool.map(lambda f: _with_size(source, f), result.copied))
        return result

    # 4. Download and validate everything before the first write.
    with tempfile.TemporaryDirectory(prefix="s3pypi-mirror-") as tmp:
        try:
            with ThreadPoolExecutor(UPSTREAM_THREADS) as pool:
                dists = list(
                    pool.map(
                        lambda f: _fetch(source, f, Path(tmp), observer, cfg.max_metadata_size),
                        result.copied,
                    )
                )
        finally:
            observer.close()
        result.copied = [replace(f, size=d.size) for f, d in zip(result.copied, dists, strict=True)]
        build_requirements = {d.filename: _build_requirements(d) for d in dists if not d.is_wheel}

        # 5. Publish.
        publisher: Publisher | None = None
        if dists or newly_yanked:
            publisher = cfg.publisher()
        if dists and publisher is not None:
            records = {
                f.filename: UpstreamRecord(yanked=f.yanked, upload_time=f.upstream.upload_time)
                for f in result.copied
            }
            publisher.upload(
                dists,
                put_root_index=True,
                observer=_Publishing(),
                source=MirrorSource(source.display, records),
            )
    if newly_yanked and publisher is not None:
        _carry_yanks(publisher, newly_yanked)
    result.unbuildable = _missing_build_requirements(build_requirements, pages)
    for filename, missing in result.unbuildable.items():
        log.warning(
            "%s is an sdist: installing it from %s builds it with %s, so mirror %s too",
            filename,
            cfg.location,
            ", ".join(missing),
            "it" if len(missing) == 1 else "them",
        )
    return result


def _targets(python_versions: Iterable[str], platforms: Iterable[str]) -> list[Target]:
    """Every combination of the Python versions and platforms asked for (None: this one's)."""
    versions: list[str | None] = [parse_python_version(v) for v in python_versions]
    given = list(platforms)
    for tag in given:
        uv_platform(tag)  # a bad tag is refused before anything runs
    tags: list[str | None] = list(given)
    return [
        Target(version, tag)
        for version in dict.fromkeys(versions or [None])
        for tag in dict.fromkeys(tags or [None])
    ]


def _resolve(
    source: Upstream,
    requirements: list[str],
    files: list[Path],
    targets: list[Target],
    exclude_newer: datetime | None,
) -> dict[str, UpstreamFile]:
    """The files of the closure for all targets, by filename."""
    closure: dict[str, UpstreamFile] = {}
    with tempfile.TemporaryDirectory(prefix="s3pypi-mirror-") as tmp:
        inputs = list(files)
        if requirements:
            listed = Path(tmp) / "requirements.in"
            listed.write_text("".join(f"{r}\n" for r in requirements))
            inputs.insert(0, listed)
        for target in targets:
            for file in source.resolve(inputs, target, exclude_newer=exclude_newer):
                closure.setdefault(file.filename, file)
    return closure


def _hint_for_ours(message: str, pages: PageStore, location: str) -> str:
    """When the upstream lacks a project that is one of ours (a lock file names the private
    packages too), say how to leave it out."""
    for name in re.findall(r"Because (\S+) was not found in the package registry", message):
        project = canonicalize_name(name)
        page = pages.read_project(project).page
        if page.files and page.mirrored_from is None:
            return (
                f" ({project} is published in {location}, not mirrored: leave it out of what "
                f"you mirror, e.g. uv export --no-emit-package {project})"
            )
    return ""


def _check_requirements(requirements: list[str], files: list[Path]) -> None:
    if not requirements and not files:
        raise OptionError("nothing to mirror: give requirements, or -r FILE")
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as e:
            raise OptionError(f"not a valid requirement: {text!r} ({e})") from None
        if requirement.url:
            raise OptionError(
                f"{text}: a direct URL, not a package of the upstream index: cannot be mirrored"
            )
    for path in files:
        if not path.is_file():
            raise OptionError(f"-r {path}: no such file")


def _describe(file: UpstreamFile, page: Index) -> MirroredFile:
    """A chosen file, with what the upstream's page says about it (the page must list it, with
    the hash the resolver saw)."""
    record = page.files.get(file.filename)
    if record is None:
        raise UpstreamError(f"the upstream's page of {file.project} does not list {file.filename}")
    if record.hash and record.hash.name == file.hash.name and record.hash != file.hash:
        raise UpstreamError(
            f"the upstream's page of {file.project} changed while mirroring: {file.filename} "
            f"has {record.hash} there, {file.hash} when resolved"
        )
    return MirroredFile(
        upstream=replace(file, upload_time=record.upload_time or file.upload_time),
        size=file.size if file.size is not None else record.size,
        yanked=record.yanked,
        requires_python=record.requires_python,
        metadata=record if record.core_metadata else None,
    )


def _newly_yanked(ours: dict[str, Index], theirs: dict[str, Index]) -> list[tuple[str, str, str]]:
    """(project, filename, reason) of files here that the upstream has yanked since.

    Only yanks travel: a file yanked here and not upstream stays yanked (a team may yank a
    public release it cannot use), and un-yanking is left to `s3pypi unyank`.
    """
    found = []
    for project, page in ours.items():
        if page.mirrored_from is None:
            continue
        for filename, record in page.files.items():
            upstream = theirs[project].files.get(filename)
            if upstream and upstream.yanked is not None and record.yanked is None:
                found.append((project, filename, upstream.yanked))
    return found


def _with_size(source: Upstream, file: MirroredFile) -> MirroredFile:
    return file if file.size is not None else replace(file, size=source.size_of(file.upstream))


def _fetch(
    source: Upstream,
    file: MirroredFile,
    directory: Path,
    observer: MirrorObserver,
    max_metadata_size: int,
) -> Distribution:
    """Download a file and read it in full as `upload` does (an intact archive whose metadata
    names its project and version). Not the publishing gate's metadata checks: they judge
    what you publish, and a public release the upstream serves is what it is."""

    def starting(size: int | None) -> None:
        nonlocal file
        file = replace(file, size=size)
        observer.starting(file)

    path = source.download(
        file.upstream, directory, lambda n: observer.progress(file, n), on_start=starting
    )
    observer.finished(file)
    try:
        dist = Distribution.read(path, max_metadata_size=max_metadata_size)
    except InvalidDistribution as e:
        # Named by where it came from: the temporary file is gone by the time anyone reads this.
        where = f"{file.filename} from {redact(file.upstream.url)}"
        raise InvalidDistribution(str(e).replace(str(path), where)) from None
    if dist.version != Version(file.version):
        raise UpstreamError(f"{file.filename}: the resolver chose it as version {file.version}")
    requires_python = file.requires_python or dist.requires_python
    if file.metadata is not None and file.metadata.core_metadata is not None:
        metadata = source.metadata(
            file.upstream, file.metadata.core_metadata, max_size=max_metadata_size
        )
        _check_metadata(file, metadata)
        return replace(
            dist, metadata=metadata, metadata_is_static=True, requires_python=requires_python
        )
    return replace(dist, requires_python=requires_python)


def _check_metadata(file: MirroredFile, metadata: bytes) -> None:
    raw, _unparsed = parse_email(metadata)
    name, version = raw.get("name"), raw.get("version")
    if not name or not version or canonicalize_name(name) != file.project:
        raise InvalidDistribution(
            f"{file.filename}.metadata from the upstream names {name} {version}, "
            f"not {file.project} {file.version}"
        )


PYPROJECT_LIMIT = 1024 * 1024
"""A larger pyproject.toml in an sdist is not read (its build requirements go unchecked)."""


def _build_requirements(dist: Distribution) -> list[str]:
    """What building an sdist installs first: its `[build-system] requires` (PEP 518), or
    setuptools when it says nothing."""
    text = _sdist_member(dist.path, "pyproject.toml")
    legacy = ["setuptools>=40.8.0"]
    if text is None:
        return legacy
    try:
        data = load_toml(text)
    except (ValueError, S3PyPIError):
        return legacy
    build_system = data.get("build-system")
    requires = build_system.get("requires") if isinstance(build_system, dict) else None
    if not isinstance(requires, list):
        return legacy
    return [r for r in requires if isinstance(r, str)]


def _sdist_member(path: Path, name: str) -> str | None:
    """A top-level file of an sdist (`PROJECT-VERSION/NAME`), read only if it is small."""
    try:
        if path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    if _is_top_level(info.filename, name) and info.file_size <= PYPROJECT_LIMIT:
                        return archive.read(info).decode("utf-8", "replace")
            return None
        with tarfile.open(path) as archive:
            for member in archive:
                if _is_top_level(member.name, name) and member.isfile():
                    if member.size > PYPROJECT_LIMIT:
                        return None
                    extracted = archive.extractfile(member)
                    return extracted.read().decode("utf-8", "replace") if extracted else None
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError):
        return None
    return None


def _is_top_level(member: str, name: str) -> bool:
    parts = member.split("/")
    return len(parts) == 2 and parts[1] == name and parts[0] not in ("", ".", "..")


def _missing_build_requirements(
    build_requirements: dict[str, list[str]], pages: PageStore
) -> dict[str, list[str]]:
    """The build requirements of each sdist whose projects this index does not have."""
    names = {
        canonicalize_name(Requirement(r).name)
        for requires in build_requirements.values()
        for r in requires
        if _is_requirement(r)
    }
    present = {name for name in names if pages.read_project(name).page.files}
    missing = {}
    for filename, requires in sorted(build_requirements.items()):
        lacking = [
            r
            for r in requires
            if _is_requirement(r) and canonicalize_name(Requirement(r).name) not in present
        ]
        if lacking:
            missing[filename] = lacking
    return missing


def _is_requirement(text: str) -> bool:
    try:
        Requirement(text)
    except InvalidRequirement:
        return False
    return True


def _carry_yanks(publisher: Publisher, yanks: list[tuple[str, str, str]]) -> None:
    by_project: dict[str, dict[str, str]] = {}
    for project, filename, reason in yanks:
        by_project.setdefault(project, {})[filename] = reason
    for project, reasons in by_project.items():

        def mark(index: Index, reasons: dict[str, str] = reasons) -> bool:
            changed = False
            for filename, reason in reasons.items():
                record = index.files.get(filename)
                if record is not None and record.yanked is None:
                    index.files[filename] = replace(record, yanked=reason)
                    changed = True
            return changed

        with publisher.locker(project):
            publisher.pages.update_project(project, mark, create=False)
        for filename in sorted(reasons):
            log.info("Yanked %s (yanked upstream: %s)", filename, reasons[filename] or "no reason")
