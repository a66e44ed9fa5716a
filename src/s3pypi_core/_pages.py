"""Pages updated by compare-and-swap, so that concurrent publishers lose nothing.

A page is read with its ETags, changed by an idempotent function, and written back with
If-Match (or If-None-Match when new); on a lost race it is read again and the change applied
again. The JSON page is the record of a project; the HTML page is rendered from it and carries
the same serial, so a page rewritten by another tool (s3pypi 2.x during a migration) is noticed
and merged instead of overwritten.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from s3pypi_core import __prog__
from s3pypi_core.exceptions import DamagedPage, S3PyPIError, WriteConflict
from s3pypi_core.index import Index, RootIndex, html_serial
from s3pypi_core.layout import (
    HTML_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    PAGE_CACHE_CONTROL,
    IndexLayout,
)
from s3pypi_core.storage import Storage

log = logging.getLogger(__prog__)

MAX_PAGE_ATTEMPTS = 30


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
    damaged: dict[str, str] = field(default_factory=dict)
    """Forms that could not be read (URL -> why), when read with `salvage`: the page is what
    the other form says, and both are rewritten."""

    @property
    def exists(self) -> bool:
        return self.json_etag is not None or self.html_etag is not None


class PageStore:
    """Reads and conditionally rewrites the HTML and JSON pages of an index."""

    def __init__(self, storage: Storage, layout: IndexLayout) -> None:
        self.storage = storage
        self.layout = layout

    def read_project(self, project: str, *, salvage: bool = False) -> PageVersion[Index]:
        """The project's page. A damaged form raises `DamagedPage` (saying to run reindex),
        unless `salvage`: then what the other form says is the page (see `_reconcile`)."""
        html_key, json_key = self.layout.project_html(project), self.layout.project_json(project)
        version = _reconcile(
            self._read_form(html_key, Index.from_html, salvage, project),
            self._read_form(json_key, Index.from_json, salvage, project),
            Index,
            _merge_files,
        )
        version.page.name = version.page.name or project
        return version

    def read_root(self, *, salvage: bool = False) -> PageVersion[RootIndex]:
        return _reconcile(
            self._read_form(self.layout.root_html(), RootIndex.from_html, salvage, ""),
            self._read_form(self.layout.root_json(), RootIndex.from_json, salvage, ""),
            RootIndex,
            _merge_projects,
        )

    def _read_form(
        self, key: str, parse: Callable[[bytes], P], salvage: bool, project: str
    ) -> _Form[P] | None:
        blob = self.storage.get(key)
        if blob is None:
            return None
        try:
            return _Form(parse(blob.body), blob.body, blob.etag)
        except DamagedPage as e:
            if not salvage:
                what = f"{__prog__} reindex {project}".strip()
                raise DamagedPage(f"{self.storage.url(key)} is damaged ({e}): run {what}") from e
            return _Form(None, blob.body, blob.etag, (self.storage.url(key), str(e)))

    def update_project(
        self,
        project: str,
        change: Callable[[Index], bool],
        *,
        create: bool = True,
        delete_if_empty: bool = False,
        first: PageVersion[Index] | None = None,
        salvage: bool = False,
    ) -> PageVersion[Index]:
        return self._update(
            lambda: self.read_project(project, salvage=salvage),
            self.layout.project_html(project),
            self.layout.project_json(project),
            change,
            create=create,
            delete_if_empty=delete_if_empty,
            first=first,
        )

    def update_root(
        self,
        change: Callable[[RootIndex], bool],
        *,
        create: bool = True,
        salvage: bool = False,
        first: PageVersion[RootIndex] | None = None,
    ) -> PageVersion[RootIndex]:
        return self._update(
            lambda: self.read_root(salvage=salvage),
            self.layout.root_html(),
            self.layout.root_json(),
            change,
            create=create,
            first=first,
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
        for attempt in backoff(MAX_PAGE_ATTEMPTS):
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


@dataclass
class _Form(Generic[P]):
    """One stored form of a page (HTML or JSON): what it says, or why it says nothing."""

    page: P | None
    body: bytes
    etag: str
    damage: tuple[str, str] | None = None
    """(URL, why) when the form could not be read."""


def _reconcile(
    html: _Form[P] | None,
    data: _Form[P] | None,
    empty: Callable[[], P],
    merge: Callable[[P, P], P],
) -> PageVersion[P]:
    """One page from its two stored forms.

    JSON is the record. The HTML page is ours when it carries a serial: then it is either
    current or behind (a publisher stopped between the two writes) and is simply rewritten. An
    HTML page without a serial was written by another tool, s3pypi 2.x during a migration: its
    list of files is the truth, and what JSON knows about those files is kept. A damaged form
    (read with `salvage`) counts as missing, but its ETag is kept so that it is overwritten.
    """
    damaged = dict(f.damage for f in (html, data) if f is not None and f.damage is not None)
    json_etag = data.etag if data else None
    html_etag = html.etag if html else None
    html_page = html.page if html else None
    json_page = data.page if data else None
    if json_page is None:
        page = html_page if html_page is not None else empty()
        return PageVersion(page, json_etag, html_etag, False, False, damaged)
    if html_page is not None and html is not None and html_serial(_text(html.body)) is None:
        merged = merge(json_page, html_page)
        merged.serial = json_page.serial
        return PageVersion(merged, json_etag, html_etag, False, False, damaged)
    html_current = html_page is not None and html_page.serial == json_page.serial
    return PageVersion(json_page, json_etag, html_etag, html_current, True, damaged)


def _text(body: bytes) -> str:
    return body.decode("utf-8", "replace")


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
    return Index(
        files=files,
        name=ours.name or foreign.name,
        serial=ours.serial,
        mirrored_from=ours.mirrored_from or foreign.mirrored_from,
    )


def _merge_projects(ours: RootIndex, foreign: RootIndex) -> RootIndex:
    return RootIndex(projects=set(foreign.projects), serial=ours.serial)


def backoff(attempts: int) -> Iterator[int]:
    """Attempt numbers, sleeping a jittered, exponentially growing delay between them."""
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            time.sleep(min(2.0, 0.02 * 2**attempt) * random.uniform(0.5, 1.0))
        yield attempt
