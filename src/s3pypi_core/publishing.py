"""Publishing: upload, delete and yank, keeping every page true under concurrency.

The rules that make it safe:
- files are written before the pages that name them, and pages stop naming files before the
  files are deleted, so a publisher killed at any moment never leaves a page pointing at a
  missing object;
- a distribution is created with If-None-Match, so of two publishers of one filename exactly
  one wins;
- pages are changed by compare-and-swap (`_pages`): read with their ETags, apply an idempotent
  change, write with If-Match (or If-None-Match when new), and on a lost race read again.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from s3pypi_core import __prog__
from s3pypi_core._pages import PageStore, PageVersion, backoff
from s3pypi_core.browse import BrowseView, ReleaseInfos
from s3pypi_core.distribution import (
    Distribution,
    DistributionIdentity,
    distribution_identity,
    find_distributions,
    normalize_package_name,
    parse_filename,
    read_for_upload,
    sha256_hex,
)
from s3pypi_core.exceptions import (
    ExistingFiles,
    InvalidDistribution,
    MirrorRefused,
    NotFound,
    S3PyPIError,
    StorageError,
    WriteConflict,
)
from s3pypi_core.index import Hash, Index, IndexFile, RootIndex
from s3pypi_core.layout import FILE_CACHE_CONTROL, IndexLayout, content_type_for
from s3pypi_core.locking import Locker, no_lock
from s3pypi_core.storage import ProgressCallback, Storage, StoredObject

if TYPE_CHECKING:
    from s3pypi_core.config import Config

log = logging.getLogger(__prog__)

UPLOAD_THREADS = 16
MAX_CREATE_ATTEMPTS = 30


class UploadObserver:
    """Hooks for front ends to show progress; the default only logs."""

    def starting(self, dist: Distribution) -> None:
        log.info("Uploading %s", dist.path)

    def progress(self, dist: Distribution, nbytes: int) -> None:
        pass

    def finished(self, dist: Distribution) -> None:
        pass

    def skipped(self, dist: Distribution, reason: str) -> None:
        log.warning("%s", reason)


@dataclass(frozen=True)
class UpstreamRecord:
    """What the index a file is copied from says about it, beyond the file itself."""

    yanked: str | None = None
    upload_time: datetime | None = None


@dataclass(frozen=True)
class MirrorSource:
    """Where mirrored files come from (`s3pypi mirror`), and what it says about each of them.

    Given to `Publisher.upload`, it marks the projects' pages as mirrored from `url`, carries
    the upstream's yanked state and upload time into the records, and refuses (before writing
    anything) a project that is published here as one of ours.
    """

    url: str
    files: Mapping[str, UpstreamRecord] = field(default_factory=dict)
    """By filename."""


@dataclass
class UploadResult:
    uploaded: list[Distribution] = field(default_factory=list)
    skipped: list[Distribution] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    """URLs of the project pages that were written."""


# The API


def upload_packages(
    cfg: Config,
    dist: Iterable[Path | str | Distribution],
    put_root_index: bool = False,
    strict: bool = False,
    force: bool = False,
    *,
    observer: UploadObserver | None = None,
) -> UploadResult:
    """Publish distributions; an existing file is skipped with a warning unless `force`.

    Every file is read in full and validated before anything is written (`read_distributions`;
    a `Distribution` given was read already). With `strict`, raise `ExistingFiles` (after
    publishing the others) when any file already existed.
    """
    if strict and force:
        raise S3PyPIError("--strict and --force exclude each other")
    dists = read_distributions(cfg, dist)
    if not dists:
        raise InvalidDistribution("no distributions given")
    result = cfg.publisher().upload(
        dists, force=force, put_root_index=put_root_index, observer=observer
    )
    if strict and result.skipped:
        names = ", ".join(d.filename for d in result.skipped)
        raise ExistingFiles(f"{len(result.skipped)} file(s) already existed: {names}")
    return result


def read_distributions(
    cfg: Config, dist: Iterable[Path | str | Distribution]
) -> list[Distribution]:
    """The distributions to upload, each read in full and validated (`read_for_upload`).

    The one check every front end runs, so that `s3pypi upload`, `s3pypi-twine upload` and
    `hatch publish -p s3pypi` accept and refuse the same files, for the same reasons.
    """
    given = list(dist)
    read = {d.path: d for d in given if isinstance(d, Distribution)}
    paths = find_distributions(d.path if isinstance(d, Distribution) else d for d in given)
    return [
        read.get(path) or read_for_upload(path, max_metadata_size=cfg.max_metadata_size)
        for path in paths
    ]


def existing_files(cfg: Config, dist: Iterable[Path | str]) -> list[Path]:
    """The files among `dist` that the index already lists, under their name or another name
    of the same distribution (`same_distribution`); reads pages, writes nothing.

    These are what `upload_packages` would skip (or replace with `force`). A front end that
    must refuse existing files before writing anything (twine's rule) asks this first.
    """
    by_project: dict[str, list[Path]] = defaultdict(list)
    for path in find_distributions(dist):
        project, _version = parse_filename(path.name)
        by_project[project].append(path)
    pages = PageStore(cfg.open_storage(), cfg.layout)
    existing: list[Path] = []
    for name, paths in by_project.items():
        page = pages.read_project(name).page
        existing += [path for path in paths if same_distribution(page, path.name)]
    return existing


def same_distribution(page: Index, filename: str) -> list[str]:
    """The files on `page` that are the distribution `filename` names: that file, and files
    whose names parse to the same project, version, build and tags (`distribution_identity`:
    `Hello-1.0.0-py3-none-any.whl` is `hello-1.0-py3-none-any.whl`)."""
    try:
        identity: DistributionIdentity | None = distribution_identity(filename)
    except InvalidDistribution:
        identity = None
    found = []
    for listed in page.files:
        if listed == filename or (identity is not None and _identity_of(listed) == identity):
            found.append(listed)
    return sorted(found, key=lambda name: name != filename)


def _identity_of(filename: str) -> DistributionIdentity | None:
    try:
        return distribution_identity(filename)
    except InvalidDistribution:
        return None


def delete_package(cfg: Config, name: str, version: str) -> list[str]:
    """Remove every file of one version (compared as PEP 440 versions: 1.0 is 1.0.0)."""
    version = _valid_version(version)
    return cfg.publisher().delete(normalize_package_name(name), version)


def yank_package(cfg: Config, name: str, version: str, reason: str = "") -> list[str]:
    """Mark one version as yanked (PEP 592): installers skip it unless pinned with `==`."""
    version = _valid_version(version)
    return cfg.publisher().yank(normalize_package_name(name), version, reason)


def unyank_package(cfg: Config, name: str, version: str) -> list[str]:
    """Undo `yank_package`."""
    version = _valid_version(version)
    return cfg.publisher().yank(normalize_package_name(name), version, None)


def _valid_version(version: str) -> str:
    try:
        Version(version)
    except InvalidVersion:
        raise S3PyPIError(f"not a valid version: {version!r}") from None
    return version


# The operations on one index


class Publisher:
    """The operations on one index: upload, delete, yank."""

    def __init__(self, storage: Storage, layout: IndexLayout, locker: Locker = no_lock) -> None:
        self.storage = storage
        self.layout = layout
        self.locker = locker
        self.pages = PageStore(storage, layout)
        self.browse = BrowseView(storage, layout)

    # Upload

    def upload(
        self,
        dists: Iterable[Distribution],
        *,
        force: bool = False,
        put_root_index: bool = False,
        observer: UploadObserver | None = None,
        source: MirrorSource | None = None,
    ) -> UploadResult:
        """Publish `dists`. A distribution the index lists already, under its name or another
        of the same distribution, is skipped; with `force` it is replaced: the new file is
        written, the page names it instead of the old one, and then the old file (if it had
        another name) is deleted.

        Refused before anything is written: a name the store cannot hold, and a damaged page
        (`DamagedPage`, mended by `reindex`)."""
        observer = observer or UploadObserver()
        by_project: dict[str, list[Distribution]] = defaultdict(list)
        for dist in dists:
            self._check_keys(dist)
            by_project[dist.project].append(dist)
        root: PageVersion[RootIndex] | None = None

        def check_root(listed: dict[str, PageVersion[Index]]) -> None:
            """Before the first write: when the root page will be updated, read it, so that a
            damaged one is refused now, not after the files (and the read is the first try of
            the update). An upload to existing projects costs no root page request."""
            nonlocal root
            if put_root_index and any(_may_lack_root(page) for page in listed.values()):
                root = self.pages.read_root()

        # Like s3pypi 2.x, hold the project locks (if any) from before the first write to
        # after the last page write; always taken in the same order, so publishers of several
        # projects cannot deadlock.
        with contextlib.ExitStack() as locks:
            for project in sorted(by_project):
                locks.enter_context(self.locker(project))
            result, new_projects = self._upload_locked(
                by_project, force, observer, source, check_root
            )
        if put_root_index and new_projects:
            with self.locker("/"):
                self.pages.update_root(lambda page: _add_projects(page, new_projects), first=root)
        return result

    def _check_keys(self, dist: Distribution) -> None:
        """Refuse a distribution whose objects the store cannot name (a file name longer than
        the file system allows, a key longer than S3's), before anything is written."""
        keys = [self.layout.file(dist.project, dist.filename)]
        if dist.metadata_is_static:
            keys.append(self.layout.metadata(dist.project, dist.filename))
        keys += [self.layout.project_html(dist.project), self.layout.project_json(dist.project)]
        for key in keys:
            if problem := self.storage.key_problem(key):
                raise StorageError(
                    f"{dist.path}: cannot be published to {self.storage.url()}: {problem}"
                )

    def _upload_locked(
        self,
        by_project: dict[str, list[Distribution]],
        force: bool,
        observer: UploadObserver,
        source: MirrorSource | None = None,
        before_writing: Callable[[dict[str, PageVersion[Index]]], None] = lambda listed: None,
    ) -> tuple[UploadResult, list[str]]:
        """Files, then metadata files, then project pages.

        Also returns the projects the root page may lack: new ones, and those whose pages a
        killed publisher left apart (it died before the root page too). A growing project costs
        no root page request; a root entry missed by a publisher killed between its project
        pages and the root page is reported by `verify` and added by `reindex`.
        """
        result = UploadResult()
        # The pages read here decide what to skip, and are the first try of the page updates.
        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            listed = dict(
                zip(by_project, pool.map(self.pages.read_project, by_project), strict=True)
            )
        if source is not None:
            for project in sorted(by_project):
                refuse_if_ours(project, listed[project].page, source.url, self.storage.url())
        before_writing(listed)
        todo = []
        for project, project_dists in by_project.items():
            for dist in project_dists:
                same = same_distribution(listed[project].page, dist.filename)
                if same and not force:
                    result.skipped.append(dist)
                    observer.skipped(dist, existing_message(dist.filename, same[0]))
                else:
                    todo.append(dist)
        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            outcomes = list(
                pool.map(lambda d: self._put_distribution(d, force, observer, source), todo)
            )
        records: dict[str, list[IndexFile]] = defaultdict(list)
        for dist, record in zip(todo, outcomes, strict=True):
            if record is None:
                result.skipped.append(dist)
            else:
                result.uploaded.append(dist)
                records[dist.project].append(record)
        infos = {p: ReleaseInfos(d for d in result.uploaded if d.project == p) for p in by_project}

        # Every project, even one whose files were all there already: a publisher killed
        # between writing a JSON page and its HTML page left them apart, and this mends them
        # (at no cost when the pages read above were current).
        projects = sorted(by_project)
        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            is_new = list(
                pool.map(
                    lambda p: self._publish_page(p, listed[p], records[p], infos[p], force, source),
                    projects,
                )
            )
        result.pages = [
            self.storage.url(self.layout.project_dir(p)) for p in projects if records[p]
        ]
        return result, [p for p, new in zip(projects, is_new, strict=True) if new]

    def _publish_page(
        self,
        project: str,
        before: PageVersion[Index],
        records: list[IndexFile],
        infos: ReleaseInfos,
        force: bool,
        source: MirrorSource | None = None,
    ) -> bool:
        """Put the new records on the project's pages (and the human view's documents around
        them); whether the root page may lack the project.

        With `force`, a record takes the place of the files of the same distribution listed
        under other names, whose objects are deleted once the page no longer names them."""
        was_new = _may_lack_root(before)
        seen_empty = False
        replaced: dict[str, str] = {}
        """Files taken off the page -> the file that took their place."""
        # Release documents before the page that names their files (as it will be: without
        # the files the records replace under other names).
        shown = before.page
        if force:
            shown = Index(
                dict(before.page.files),
                name=shown.name,
                serial=shown.serial,
                mirrored_from=shown.mirrored_from,
            )
            _replace_same(shown, records)
        early = self.browse.before_page(project, shown, records, infos, force)

        def add(index: Index) -> bool:
            nonlocal seen_empty
            seen_empty = seen_empty or not index.files
            unlisted = _replace_same(index, records) if force else {}
            replaced.update(unlisted)
            changed = _put_records(index, records) or bool(unlisted)
            if source is not None and index.mirrored_from != source.url:
                index.mirrored_from = source.url
                changed = True
            return changed

        page = self.pages.update_project(project, add, create=bool(records), first=before)
        for old, new in sorted(replaced.items()):
            if old not in page.page.files:
                self._delete_replaced(project, old, new)
        if records and page.exists:
            versions = {str(v) for r in records if (v := r.version) is not None}
            self.browse.after_page(project, page.page, versions, infos, early)
        return (was_new or seen_empty) and page.exists

    def _delete_replaced(self, project: str, old: str, new: str) -> None:
        """Delete the objects of a file replaced under another name (`--force`), unless the
        store holds both names in one object (a case-insensitive file system). Not allowed to
        delete (a publisher role without s3:DeleteObject), the old file stays, on no page."""
        for old_key, new_key in [
            (self.layout.file(project, old), self.layout.file(project, new)),
            (self.layout.metadata(project, old), self.layout.metadata(project, new)),
        ]:
            if self.storage.same_object(old_key, new_key):
                continue
            try:
                self.storage.delete(old_key)
            except S3PyPIError as e:
                log.warning("%s is on no page now, but could not be deleted: %s", old, e)
                return
        log.info("Replaced %s by %s", old, new)

    def _put_distribution(
        self,
        dist: Distribution,
        force: bool,
        observer: UploadObserver,
        source: MirrorSource | None = None,
    ) -> IndexFile | None:
        key = self.layout.file(dist.project, dist.filename)
        observer.starting(dist)
        on_progress: ProgressCallback = lambda n: observer.progress(dist, n)  # noqa: E731
        for _attempt in backoff(MAX_CREATE_ATTEMPTS):
            try:
                self.storage.put_file(
                    key,
                    dist.path,
                    content_type=content_type_for(key),
                    cache_control=FILE_CACHE_CONTROL,
                    overwrite=force,
                    on_progress=on_progress,
                )
                break
            except WriteConflict:
                existing = self.storage.head(key)
                if existing is None:
                    # Refused, yet not there: S3's 409 ConditionalRequestConflict (another
                    # write of this key was in flight), or deleted meanwhile. Try again.
                    continue
                if not self._is_same_file(existing, dist):
                    observer.skipped(
                        dist,
                        f"{dist.filename} already exists in {self.storage.url(key)} with other "
                        "content (use --force to overwrite)",
                    )
                    return None
                # The same bytes, not yet on the page: left by an interrupted upload, or being
                # published by another process right now. Either way, naming it is correct.
                break
        else:
            raise S3PyPIError(f"gave up creating {self.storage.url(key)}: it kept conflicting")
        metadata_hash = None
        if dist.metadata_is_static:
            # Written unconditionally: whoever created the distribution file above owns it.
            self.storage.put(
                self.layout.metadata(dist.project, dist.filename),
                dist.metadata,
                content_type=content_type_for(".metadata"),
                cache_control=FILE_CACHE_CONTROL,
            )
            metadata_hash = Hash("sha256", sha256_hex(dist.metadata))
        observer.finished(dist)
        upstream = source.files.get(dist.filename) if source else None
        return IndexFile(
            filename=dist.filename,
            hash=Hash("sha256", dist.sha256),
            requires_python=dist.requires_python,
            core_metadata=metadata_hash,
            yanked=upstream.yanked if upstream else None,
            size=dist.size,
            upload_time=(upstream and upstream.upload_time) or datetime.now(timezone.utc),
        )

    def _is_same_file(self, info: StoredObject, dist: Distribution) -> bool:
        if info.size != dist.size:
            return False
        stream = self.storage.stream(info.key)
        if stream is None:
            return False
        digest = hashlib.sha256()
        for chunk in stream.body:
            digest.update(chunk)
        return digest.hexdigest() == dist.sha256

    # Delete, yank

    def delete(self, project: str, version: str) -> list[str]:
        """Remove every file of one version; returns the filenames removed."""
        wanted = Version(version)
        # Grows over retries: after a retry the files removed by an earlier attempt whose page
        # write went through are gone from the page, but they still have to be deleted.
        removed: set[str] = set()

        def remove(index: Index) -> bool:
            found = [f.filename for f in index.files.values() if f.version == wanted]
            for filename in found:
                del index.files[filename]
            removed.update(found)
            return bool(found)

        with self.locker(project):
            page = self.pages.update_project(project, remove, create=False, delete_if_empty=True)
        if not removed:
            raise NotFound(f"no files of {project} {version} in {self.storage.url()}")
        for filename in sorted(removed):
            log.info("Deleting %s", filename)
            self.storage.delete(self.layout.metadata(project, filename))
            self.storage.delete(self.layout.file(project, filename))
        versions = {str(parse_filename(filename)[1]) for filename in removed}
        self.browse.after_removal(project, page.page if page.exists else None, versions)
        if not page.exists:
            with self.locker("/"):
                self.pages.update_root(lambda root: _remove_project(root, project), create=False)
        return sorted(removed)

    def yank(self, project: str, version: str, reason: str | None) -> list[str]:
        """Mark (reason is a string) or unmark (None) every file of one version as yanked."""
        wanted = Version(version)
        touched: set[str] = set()

        def mark(index: Index) -> bool:
            found = [f for f in index.files.values() if f.version == wanted]
            touched.update(f.filename for f in found)
            for record in found:
                index.files[record.filename] = replace(record, yanked=reason)
            return any(record.yanked != reason for record in found)

        with self.locker(project):
            page = self.pages.update_project(project, mark, create=False)
            if touched and page.exists:
                versions = {str(parse_filename(filename)[1]) for filename in touched}
                self.browse.after_change(project, page.page, versions)
        if not touched:
            raise NotFound(f"no files of {project} {version} in {self.storage.url()}")
        return sorted(touched)


def existing_message(filename: str, listed_as: str | None = None) -> str:
    """The warning for a file that is already in the index (s3pypi 2.x's words, which CI
    scripts look for), perhaps under another name of the same distribution."""
    if listed_as is not None and listed_as != filename:
        return f"{filename} already exists! (listed as {listed_as}; use --force to replace it)"
    return f"{filename} already exists! (use --force to overwrite)"


def _replace_same(index: Index, records: list[IndexFile]) -> dict[str, str]:
    """Take the files of the same distributions as `records`, listed under other names, off
    the page; which file each gives its place to."""
    removed = {}
    for record in records:
        for other in same_distribution(index, record.filename):
            if other != record.filename:
                del index.files[other]
                removed[other] = record.filename
    return removed


def _may_lack_root(page: PageVersion[Index]) -> bool:
    """A project the root page may lack: new, or its pages left apart by a killed publisher
    (which died before the root page too)."""
    return not page.exists or not (page.json_current and page.html_current)


def refuse_if_ours(project: str, page: Index, upstream: str, location: str) -> None:
    """Raise `MirrorRefused` when `project` has files here that were not mirrored: copying a
    public project of that name over it is dependency confusion arriving through the mirror."""
    if page.files and page.mirrored_from is None:
        raise MirrorRefused(
            f"{project} is published in {location} as a project of its own (not mirrored): "
            f"refusing to mirror {project} from {upstream}"
        )


def _put_records(index: Index, records: list[IndexFile]) -> bool:
    changed = False
    for record in records:
        if index.files.get(record.filename) != record:
            index.files[record.filename] = record
            changed = True
    return changed


def _add_projects(root: RootIndex, projects: Iterable[str]) -> bool:
    missing = set(projects) - root.projects
    root.projects |= missing
    return bool(missing)


def _remove_project(root: RootIndex, project: str) -> bool:
    if project not in root.projects:
        return False
    root.projects.discard(project)
    return True
