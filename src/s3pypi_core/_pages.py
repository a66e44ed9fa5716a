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
from dataclasses import dataclass
from typing import Generic, TypeVar

from s3pypi_core import __prog__
from s3pypi_core.exceptions import S3PyPIError, WriteConflict
from s3pypi_core.index import Index, RootIndex, html_serial
from s3pypi_core.layout import (
    HTML_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    PAGE_CACHE_CONTROL,
    IndexLayout,
)
from s3pypi_core.storage import Blob, Storage

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
