"""Publishing: upload, delete and yank, keeping every page true under concurrency.

The rules that make it safe:
- files are written before the pages that name them, and pages stop naming files before the
  files are deleted, so a publisher killed at any moment never leaves a page pointing at a
  missing object;
- a distribution is created with If-None-Match, so of two publishers of one filename exactly
  one wins;
- pages are changed by compare-and-swap: read with their ETags, apply an idempotent change,
  write with If-Match (or If-None-Match when new), and on a lost race read again and retry.

The JSON page is the record of a project; the HTML page is rendered from it and carries the
same serial, so a page rewritten by another tool (s3pypi 2.x during a migration) is noticed
and merged instead of overwritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Generic, TypeVar

from packaging.version import Version

from s3pypi_core import __prog__
from s3pypi_core.distribution import Distribution
from s3pypi_core.exceptions import NotFound, S3PyPIError, WriteConflict
from s3pypi_core.index import (
    HTML_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    Hash,
    Index,
    IndexFile,
    IndexLayout,
    RootIndex,
    html_serial,
)
from s3pypi_core.locking import Locker, no_lock
from s3pypi_core.storage import Blob, ProgressCallback, Storage, StoredObject

log = logging.getLogger(__prog__)

PAGE_CACHE_CONTROL = "public, max-age=0, must-revalidate"
FILE_CACHE_CONTROL = "public, max-age=31536000, immutable"

MAX_PAGE_ATTEMPTS = 30
UPLOAD_THREADS = 16

_CONTENT_TYPES = {
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".tar.gz": "application/gzip",
    ".tar.bz2": "application/x-bzip2",
    ".tar.xz": "application/x-xz",
    ".metadata": "text/plain; charset=utf-8",
    ".json": JSON_CONTENT_TYPE,
    ".html": HTML_CONTENT_TYPE,
}


def content_type_for(key: str) -> str:
    """The Content-Type an index object is served with (pages are keys ending in `/`)."""
    if key.endswith("/") or not key:
        return HTML_CONTENT_TYPE
    for extension, content_type in _CONTENT_TYPES.items():
        if key.endswith(extension):
            return content_type
    return "application/octet-stream"


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


@dataclass
class UploadResult:
    uploaded: list[Distribution] = field(default_factory=list)
    skipped: list[Distribution] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    """URLs of the project pages that were written."""


P = TypeVar("P", Index, RootIndex)


@dataclass
class PageVersion(Generic[P]):
    """A page as read from storage, with what it takes to write it back conditionally."""

    page: P
    json_etag: str | None
    html_etag: str | None
    html_current: bool
    """The HTML page exists and renders exactly this serial."""
    json_current: bool
    """The JSON page exists and holds everything known (no foreign HTML to merge)."""

    @property
    def exists(self) -> bool:
        return self.json_etag is not None or self.html_etag is not None


class PageStore:
    """Reads and conditionally rewrites the HTML and JSON pages of an index."""

    def __init__(self, storage: Storage, layout: IndexLayout) -> None:
        self.storage = storage
        self.layout = layout

    def read_project(self, project: str) -> PageVersion[Index]:
        html = self.storage.get(self.layout.project_html(project))
        data = self.storage.get(self.layout.project_json(project))
        version = _reconcile(html, data, Index.parse, Index.from_json, _merge_files)
        version.page.name = version.page.name or project
        return version

    def read_root(self) -> PageVersion[RootIndex]:
        html = self.storage.get(self.layout.root_html())
        data = self.storage.get(self.layout.root_json())
        return _reconcile(html, data, RootIndex.parse, RootIndex.from_json, _merge_projects)

    def update_project(
        self,
        project: str,
        change: Callable[[Index], bool],
        *,
        create: bool = True,
        delete_if_empty: bool = False,
        first: PageVersion[Index] | None = None,
    ) -> PageVersion[Index]:
        return self._update(
            lambda: self.read_project(project),
            self.layout.project_html(project),
            self.layout.project_json(project),
            change,
            create=create,
            delete_if_empty=delete_if_empty,
            first=first,
        )

    def update_root(
        self, change: Callable[[RootIndex], bool], *, create: bool = True
    ) -> PageVersion[RootIndex]:
        return self._update(
            self.read_root,
            self.layout.root_html(),
            self.layout.root_json(),
            change,
            create=create,
        )

    def _update(
        self,
        read: Callable[[], PageVersion[P]],
        html_key: str,
        json_key: str,
        change: Callable[[P], bool],
        *,
        create: bool = True,
        delete_if_empty: bool = False,
        first: PageVersion[P] | None = None,
    ) -> PageVersion[P]:
        """Apply `change` (idempotent; returns whether it changed anything) until it sticks.

        `first` is a version read earlier, tried before reading again.
        """
        for attempt in _backoff(MAX_PAGE_ATTEMPTS):
            current, first = first or read(), None
            if not current.exists and not create:
                return current
            page = current.page
            changed = change(page)
            try:
                json_etag = current.json_etag
                if changed or not current.json_current:
                    page.serial += 1
                    json_etag = self.storage.put(
                        json_key,
                        page.to_json().encode(),
                        content_type=JSON_CONTENT_TYPE,
                        cache_control=PAGE_CACHE_CONTROL,
                        if_match=current.json_etag,
                        if_none_match=current.json_etag is None,
                    )
                html_etag = current.html_etag
                if changed or not current.json_current or not current.html_current:
                    html_etag = self.storage.put(
                        html_key,
                        page.to_html().encode(),
                        content_type=HTML_CONTENT_TYPE,
                        cache_control=PAGE_CACHE_CONTROL,
                        if_match=current.html_etag,
                        if_none_match=current.html_etag is None,
                    )
                if delete_if_empty and changed and _is_empty(page):
                    # Only the empty page we just wrote is deleted; if another publisher has
                    # written since, its page stays.
                    self.storage.delete(html_key, if_match=html_etag)
                    self.storage.delete(json_key, if_match=json_etag)
                    return PageVersion(page, None, None, False, False)
            except WriteConflict as e:
                log.debug("Retrying %s (attempt %d): %s", json_key, attempt, e)
                continue
            return PageVersion(page, json_etag, html_etag, True, True)
        raise S3PyPIError(
            f"gave up updating {self.storage.url(json_key)} after {MAX_PAGE_ATTEMPTS} attempts: "
            "other publishers kept changing it"
        )


def _is_empty(page: Index | RootIndex) -> bool:
    return not (page.files if isinstance(page, Index) else page.projects)


def _reconcile(
    html: Blob | None,
    data: Blob | None,
    parse_html: Callable[[str], P],
    parse_json: Callable[[bytes], P],
    merge: Callable[[P, P], P],
) -> PageVersion[P]:
    """One page from its two stored forms.

    JSON is the record. The HTML page is ours when it carries a serial: then it is either
    current or behind (a publisher stopped between the two writes) and is simply rewritten. An
    HTML page without a serial was written by another tool, s3pypi 2.x during a migration: its
    list of files is the truth, and what JSON knows about those files is kept.
    """
    html_text = html.body.decode("utf-8", "replace") if html else None
    serial = html_serial(html_text) if html_text is not None else None
    json_etag = data.etag if data else None
    html_etag = html.etag if html else None
    if data is None:
        if html_text is None:
            return PageVersion(parse_json(b"{}"), None, None, False, False)
        page = parse_html(html_text)
        return PageVersion(page, None, html_etag, False, False)
    page = parse_json(data.body)
    if html_text is not None and serial is None:
        foreign = parse_html(html_text)
        merged = merge(page, foreign)
        merged.serial = page.serial
        return PageVersion(merged, json_etag, html_etag, False, False)
    return PageVersion(page, json_etag, html_etag, serial == page.serial, True)


def _merge_files(ours: Index, foreign: Index) -> Index:
    files = {}
    for name, theirs in foreign.files.items():
        known = ours.files.get(name)
        # 2.x keeps our hashes when it rewrites the page; a different hash means it replaced
        # the file (--force), and then nothing else we knew about it holds either.
        if known and (theirs.hash is None or theirs.hash == known.hash):
            files[name] = known
        else:
            files[name] = theirs
    return Index(files=files, name=ours.name or foreign.name, serial=ours.serial)


def _merge_projects(ours: RootIndex, foreign: RootIndex) -> RootIndex:
    return RootIndex(projects=set(foreign.projects), serial=ours.serial)


def _backoff(attempts: int) -> Iterator[int]:
    """Attempt numbers, sleeping a jittered, exponentially growing delay between them."""
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            time.sleep(min(2.0, 0.02 * 2**attempt) * random.uniform(0.5, 1.0))
        yield attempt


class Publisher:
    """The operations on one index: upload, delete, yank."""

    def __init__(self, storage: Storage, layout: IndexLayout, locker: Locker = no_lock) -> None:
        self.storage = storage
        self.layout = layout
        self.locker = locker
        self.pages = PageStore(storage, layout)

    # Upload

    def upload(
        self,
        dists: Iterable[Distribution],
        *,
        force: bool = False,
        put_root_index: bool = False,
        observer: UploadObserver | None = None,
    ) -> UploadResult:
        observer = observer or UploadObserver()
        result = UploadResult()
        by_project: dict[str, list[Distribution]] = defaultdict(list)
        for dist in dists:
            by_project[dist.project].append(dist)

        # Like s3pypi 2.x, hold the project locks (if any) from before the first write to
        # after the last page write; always taken in the same order, so publishers of several
        # projects cannot deadlock.
        with contextlib.ExitStack() as locks:
            for project in sorted(by_project):
                locks.enter_context(self.locker(project))
            new_projects = self._upload_locked(by_project, force, observer, result)
        if put_root_index and new_projects:
            with self.locker("/"):
                self.pages.update_root(lambda root: _add_projects(root, new_projects))
        return result

    def _upload_locked(
        self,
        by_project: dict[str, list[Distribution]],
        force: bool,
        observer: UploadObserver,
        result: UploadResult,
    ) -> list[str]:
        """Files, then metadata files, then project pages.

        Returns the projects the root page may lack: new ones, and those whose pages a killed
        publisher left apart (it died before the root page too). A growing project costs no
        root page request; a root entry missed by a publisher killed between its project pages
        and the root page is reported by `verify` and added by `reindex`.
        """
        # The pages read here decide what to skip, and are the first try of the page updates.
        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            listed = dict(
                zip(by_project, pool.map(self.pages.read_project, by_project), strict=True)
            )
        todo = []
        for project, project_dists in by_project.items():
            for dist in project_dists:
                if dist.filename in listed[project].page.files and not force:
                    result.skipped.append(dist)
                    observer.skipped(
                        dist, f"{dist.filename} already exists (use --force to overwrite)"
                    )
                else:
                    todo.append(dist)
        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            outcomes = list(pool.map(lambda d: self._put_distribution(d, force, observer), todo))
        records: dict[str, list[IndexFile]] = defaultdict(list)
        for dist, record in zip(todo, outcomes, strict=True):
            if record is None:
                result.skipped.append(dist)
            else:
                result.uploaded.append(dist)
                records[dist.project].append(record)

        new_projects: list[str] = []

        def publish_page(project: str) -> None:
            before = listed[project]
            was_new = not before.exists or not (before.json_current and before.html_current)

            def add(index: Index) -> bool:
                nonlocal was_new
                was_new = was_new or not index.files
                return _put_records(index, records[project])

            page = self.pages.update_project(
                project, add, create=bool(records[project]), first=before
            )
            if records[project]:
                result.pages.append(self.storage.url(self.layout.project_dir(project)))
            if was_new and page.exists:
                new_projects.append(project)

        # Every project, even one whose files were all there already: a publisher killed
        # between writing a JSON page and its HTML page left them apart, and this mends them
        # (at no cost when the pages read above were current).
        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            list(pool.map(publish_page, sorted(by_project)))
        return new_projects

    def _put_distribution(
        self, dist: Distribution, force: bool, observer: UploadObserver
    ) -> IndexFile | None:
        key = self.layout.file(dist.project, dist.filename)
        observer.starting(dist)
        on_progress: ProgressCallback = lambda n: observer.progress(dist, n)  # noqa: E731
        for _attempt in _backoff(MAX_PAGE_ATTEMPTS):
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
            metadata_hash = Hash("sha256", _sha256(dist.metadata))
        observer.finished(dist)
        return IndexFile(
            filename=dist.filename,
            hash=Hash("sha256", dist.sha256),
            requires_python=dist.requires_python,
            core_metadata=metadata_hash,
            size=dist.size,
            upload_time=datetime.now(timezone.utc),
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
            self.pages.update_project(project, mark, create=False)
        if not touched:
            raise NotFound(f"no files of {project} {version} in {self.storage.url()}")
        return sorted(touched)


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


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_distributions(paths: Iterable[Path]) -> list[Distribution]:
    """Validate every file before anything is written."""
    return [Distribution.read(path) for path in paths]
