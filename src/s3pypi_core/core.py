"""The Python API: configure an index once, then upload, delete and yank.

from s3pypi_core.core import Config, upload_packages
from s3pypi_core.storage import S3Config

upload_packages(Config(s3=S3Config(bucket="my-pypi-bucket")), [Path("dist/x-1.0.tar.gz")])
"""

from __future__ import annotations

import glob
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import InvalidVersion, Version

from s3pypi_core import __prog__
from s3pypi_core.distribution import (
    EXTENSIONS,
    Distribution,
    DistributionId,
    normalize_package_name,
    parse_distribution_id,
    parse_filename,
)
from s3pypi_core.exceptions import ExistingFiles, InvalidDistribution, S3PyPIError
from s3pypi_core.index import IndexLayout
from s3pypi_core.locking import DEFAULT_TIMEOUT, no_lock, open_locker
from s3pypi_core.locking import force_unlock as _force_unlock
from s3pypi_core.maintenance import Change, Problem
from s3pypi_core.maintenance import reindex as _reindex
from s3pypi_core.maintenance import verify as _verify
from s3pypi_core.publishing import PageStore, Publisher, UploadObserver, UploadResult
from s3pypi_core.storage import (
    DryRunStorage,
    S3Config,
    Storage,
    aws_session,
    open_storage,
    parse_repository_url,
)

__all__ = [
    "Change",
    "Config",
    "DistributionId",
    "Problem",
    "S3Config",
    "S3PyPIError",
    "UploadResult",
    "delete_package",
    "existing_files",
    "find_distributions",
    "force_unlock",
    "normalize_package_name",
    "parse_distribution_id",
    "reindex",
    "unyank_package",
    "upload_packages",
    "verify_index",
    "yank_package",
]

log = logging.getLogger(__prog__)


@dataclass
class Config:
    """Which index to change, and how.

    `s3` names a bucket; `directory` a local directory index instead (what a `file://`
    repository URL means). `dry_run` reports every write instead of making it.
    """

    s3: S3Config | None = None
    directory: Path | None = None
    lock_timeout: float = DEFAULT_TIMEOUT
    dry_run: bool = False
    report: Callable[[str], None] = field(default=print, repr=False)
    """Where dry-run reports go."""

    @classmethod
    def from_repository_url(cls, url: str, **s3_options: object) -> Config:
        """`s3://BUCKET[/PREFIX]` or `file:///PATH`; `s3_options` are other S3Config fields."""
        s3, directory = parse_repository_url(url)
        if s3 is not None:
            for name, value in s3_options.items():
                setattr(s3, name, value)
        return cls(s3=s3, directory=directory)

    @property
    def layout(self) -> IndexLayout:
        if self.s3 is None:
            return IndexLayout()
        return IndexLayout(prefix=self.s3.prefix or "", index_html=self.s3.index_html)

    def open_storage(self) -> Storage:
        storage = open_storage(self.s3, self.directory)
        return DryRunStorage(storage, self.report) if self.dry_run else storage

    def publisher(self) -> Publisher:
        storage = self.open_storage()
        locker = no_lock
        s3 = self.s3
        # The default table is looked for only next to AWS S3: an unsigned client (a public
        # bucket) has no identity to look with, and a custom S3 endpoint (MinIO, ...) is not
        # AWS. A table named with --locks-table is always used.
        discover = not s3.no_sign_request and not s3.endpoint_url if s3 else False
        if s3 is not None and not self.dry_run and (s3.locks_table or discover):
            locker = open_locker(
                storage.boto_session, s3.locks_table, s3.bucket, timeout=self.lock_timeout
            )
        if locker is no_lock and not self.dry_run:
            storage.check_conditional_writes()
        return Publisher(storage, self.layout, locker)


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


def upload_packages(
    cfg: Config,
    dist: Iterable[Path | str],
    put_root_index: bool = False,
    strict: bool = False,
    force: bool = False,
    *,
    observer: UploadObserver | None = None,
) -> UploadResult:
    """Publish distributions; an existing file is skipped with a warning unless `force`.

    Every file is validated before anything is written. With `strict`, raise `ExistingFiles`
    (after publishing the others) when any file already existed.
    """
    if strict and force:
        raise S3PyPIError("--strict and --force exclude each other")
    dists = [Distribution.read(path) for path in find_distributions(dist)]
    if not dists:
        raise InvalidDistribution("no distributions given")
    result = cfg.publisher().upload(
        dists, force=force, put_root_index=put_root_index, observer=observer
    )
    if strict and result.skipped:
        names = ", ".join(d.filename for d in result.skipped)
        raise ExistingFiles(f"{len(result.skipped)} file(s) already existed: {names}")
    return result


def existing_files(cfg: Config, dist: Iterable[Path | str]) -> list[Path]:
    """The files among `dist` that the index already lists; reads pages, writes nothing.

    These are what `upload_packages` would skip (or overwrite with `force`). A front end that
    must refuse existing files before writing anything (twine's rule) asks this first.
    """
    by_project: dict[str, list[Path]] = defaultdict(list)
    for path in find_distributions(dist):
        project, _version = parse_filename(path.name)
        by_project[project].append(path)
    pages = PageStore(cfg.open_storage(), cfg.layout)
    existing: list[Path] = []
    for name, paths in by_project.items():
        listed = pages.read_project(name).page.files
        existing += [path for path in paths if path.name in listed]
    return existing


def delete_package(cfg: Config, name: str, version: str) -> list[str]:
    """Remove every file of one version (compared as PEP 440 versions: 1.0 is 1.0.0)."""
    return cfg.publisher().delete(normalize_package_name(name), _valid_version(version))


def yank_package(cfg: Config, name: str, version: str, reason: str = "") -> list[str]:
    """Mark one version as yanked (PEP 592): installers skip it unless pinned with `==`."""
    return cfg.publisher().yank(normalize_package_name(name), _valid_version(version), reason)


def unyank_package(cfg: Config, name: str, version: str) -> list[str]:
    return cfg.publisher().yank(normalize_package_name(name), _valid_version(version), None)


def force_unlock(cfg: Config, table: str, lock_id: str) -> None:
    """Release a DynamoDB lock left by a publisher that was killed."""
    s3 = cfg.s3 or S3Config(bucket="")
    _force_unlock(aws_session(s3.profile, s3.region), table, lock_id)
    log.info("Released lock %s", lock_id)


def verify_index(cfg: Config, names: Iterable[str] = (), *, hashes: bool = True) -> list[Problem]:
    """What is wrong with the index (or the named projects); an empty list when nothing is.

    Pages are checked against the objects: entries without files, files on no page, sizes,
    `.metadata` files, HTML and JSON pages that disagree, the root page. With `hashes` (the
    default) every listed distribution is also downloaded, streamed, to check its sha256.
    """
    return _verify(cfg.open_storage(), cfg.layout, names, hashes=hashes)


def reindex(cfg: Config, names: Iterable[str] = (), *, rehash: bool = False) -> list[Change]:
    """Rebuild the pages of the index (or of the named projects) from the objects in it.

    Every distribution is listed, entries whose file is gone are dropped, missing `.metadata`
    files are written, and what the pages know (hashes, upload times, yanks) is kept. This also
    upgrades a bucket written by s3pypi 2.x in place. A file whose record is complete is not
    downloaded, unless `rehash` (after `verify` found a hash mismatch). With `cfg.dry_run`,
    nothing is written and the changes returned are the ones it would make.
    """
    return _reindex(cfg.publisher(), names, rehash=rehash)


def _valid_version(version: str) -> str:
    try:
        Version(version)
    except InvalidVersion:
        raise S3PyPIError(f"not a valid version: {version!r}") from None
    return version
