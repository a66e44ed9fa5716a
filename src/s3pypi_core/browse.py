"""The index for people: static objects that a browser is shown instead of the simple API.

What a publish writes besides the simple API, all derived from the pages, all static (so the
bucket behind CloudFront serves them with no server):

- `[P/]NAME/VERSION/json` (PyPI's `/pypi/NAME/VERSION/json`), once per release, before the
  page names the release: the release's core metadata as PyPI's JSON `info`, with the README
  rendered (`_readme`); then rewritten when its files change (another wheel, a yank);
- `[P/]NAME/json` (PyPI's `/pypi/NAME/json`), after the page: the latest release's `info` and
  every release's files;
- `[P/]NAME/browse.html`, a small page that loads the view's script and style
  (`[P/]browse.HASH.js`, named by their content, written once per s3pypi version), and
  `[P/]browse.html` for the root.

Everything stays inside the project's directory or beside the root page: s3pypi 2.x, which
may share the bucket during a migration, takes every top-level directory for a project.

`routing` sends a browser asking for `/[P/]NAME/` to `browse.html`; the script reads the JSON
documents and renders the project. The documents are derived from the project page and carry
its serial (`last_serial`): a writer replaces a document only with one derived from a newer
page, by compare-and-swap, so concurrent publishers leave the one of the newest page. A
publish costs a fixed number of small requests, whatever the size of the index.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import html
import importlib.resources
import logging
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from s3pypi_core import __prog__
from s3pypi_core._pages import backoff
from s3pypi_core._readme import render_readme
from s3pypi_core.distribution import Distribution
from s3pypi_core.exceptions import S3PyPIError, WriteConflict
from s3pypi_core.index import Index, IndexFile
from s3pypi_core.layout import (
    FILE_CACHE_CONTROL,
    PAGE_CACHE_CONTROL,
    IndexLayout,
    content_type_for,
)
from s3pypi_core.pypi_json import (
    Document,
    decode,
    encode,
    latest_version,
    minimal_info,
    project_document,
    release_document,
    release_info,
    versions_of,
)
from s3pypi_core.storage import Storage

log = logging.getLogger(__prog__)

MAX_DOCUMENT_ATTEMPTS = 30
_ASSETS = ("browse.css", "browse.js")


@functools.cache
def assets() -> dict[str, bytes]:
    """The view's files by their stored names (`browse.<hash>.js`): a new version of the view
    gets new names, so they can be cached for ever and a page never mixes two versions."""
    found = {}
    for name in _ASSETS:
        body = (importlib.resources.files("s3pypi_core") / "view" / name).read_bytes()
        stem, _, extension = name.rpartition(".")
        found[f"{stem}.{hashlib.sha256(body).hexdigest()[:12]}.{extension}"] = body
    return found


def browse_page(project: str | None) -> bytes:
    """The page a browser gets for `/[P/]NAME/` (or `/[P/]` without a project): it loads the
    view, which reads the JSON documents next to it. Content-Security-Policy: its own script,
    style and documents only, so nothing in a README can run or call out."""
    up = "../" if project else ""
    names = sorted(assets())
    css = next(n for n in names if n.endswith(".css"))
    js = next(n for n in names if n.endswith(".js"))
    title = f"{project} · Python package index" if project else "Python package index"
    attributes = f' data-project="{html.escape(project)}"' if project else ""
    policy = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'"
    )
    # A one-colour square as favicon, so that the browser does not ask for /favicon.ico.
    icon = (
        "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E"
        "%3Crect width='16' height='16' rx='3' fill='%232563eb'/%3E%3C/svg%3E"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="color-scheme" content="light dark">\n'
        f"<title>{html.escape(title)}</title>\n"
        f'<link rel="icon" href="{icon}">\n'
        f'<link rel="stylesheet" href="{up}{css}">\n'
        f'<script src="{up}{js}" defer></script>\n'
        "</head>\n"
        f'<body data-view="{"project" if project else "index"}"{attributes}>\n'
        '<noscript><p class="noscript">This page needs JavaScript. The simple index is at '
        '<a href="index.json">index.json</a>.</p></noscript>\n'
        "</body>\n"
        "</html>\n"
    ).encode()


class ReleaseInfos:
    """The `info` of each release among the distributions being published, rendered (README
    included) only when asked for."""

    def __init__(self, dists: Iterable[Distribution] = ()) -> None:
        self._dists: dict[str, list[Distribution]] = {}
        for dist in dists:
            self._dists.setdefault(str(dist.version), []).append(dist)
        self._rendered: dict[str, Document] = {}

    def get(self, version: str) -> Document | None:
        if version not in self._rendered:
            dists = self._dists.get(version)
            if not dists:
                return None
            # Wheels first: their metadata is never dynamic.
            dist = sorted(dists, key=lambda d: (not d.is_wheel, d.filename))[0]
            self._rendered[version] = info_from_metadata(dist.metadata)
        return self._rendered[version]


def info_from_metadata(metadata: bytes) -> Document:
    from packaging.metadata import parse_email

    raw, _unparsed = parse_email(metadata)
    readme = render_readme(raw.get("description"), raw.get("description_content_type"))
    return release_info(metadata, readme)


@dataclass
class _Written:
    """What this run wrote or derived, so a later step need not read it back."""

    infos: dict[str, Document] = field(default_factory=dict)
    early: dict[str, Document] = field(default_factory=dict)
    """Release documents written before the page (version -> document)."""


class BrowseView:
    """Writes and updates the objects of the human view of one index."""

    def __init__(self, storage: Storage, layout: IndexLayout) -> None:
        self.storage = storage
        self.layout = layout

    def url_base(self, project: str) -> str:
        """The path of a project's files on the index's host (`/[P/]NAME/`)."""
        return "/" + urllib.parse.quote(self.layout.project_dir(project))

    # Publishing

    def before_page(
        self,
        project: str,
        before: Index,
        records: list[IndexFile],
        infos: ReleaseInfos,
        force: bool,
    ) -> _Written:
        """The release documents of releases new to the page (or replaced, with `force`),
        written before the page names their files."""
        written = _Written()
        ours = {r.filename: r for r in records}
        preview = Index(files={**before.files, **ours}, name=before.name, serial=before.serial)
        new = versions_of(Index(files=ours))
        if not force:
            new -= versions_of(before)  # their documents exist (or are mended after the page)
        for version in sorted(new):
            info = infos.get(version)
            if info is None:
                continue
            # The serial the page will have if its first write goes through, as it nearly
            # always does; otherwise the document is derived again from the page written.
            document = release_document(
                info, preview, version, self.url_base(project), before.serial + 1
            )
            key = self.layout.pypi_release(project, version)
            try:
                self.storage.put(
                    key,
                    encode(document),
                    content_type=content_type_for(key),
                    cache_control=PAGE_CACHE_CONTROL,
                    if_none_match=not force,
                )
            except WriteConflict:
                continue  # published meanwhile by another publisher of this release
            written.infos[version] = info
            written.early[version] = document
        return written

    def after_page(
        self,
        project: str,
        page: Index,
        versions: set[str],
        infos: ReleaseInfos,
        written: _Written | None = None,
    ) -> None:
        """Bring the documents of `versions` and of the project up to `page`, then the view."""
        self.after_change(project, page, versions, infos, written)
        self.ensure_view()
        key = self.layout.browse_page(project)
        self._put_page(key, browse_page(project))

    def after_change(
        self,
        project: str,
        page: Index,
        versions: set[str],
        infos: ReleaseInfos | None = None,
        written: _Written | None = None,
    ) -> None:
        """Bring the documents of `versions` (files added or yanked) and of the project up to
        `page`."""
        infos = infos or ReleaseInfos()
        written = written or _Written()
        for version in sorted(versions & versions_of(page)):
            self._update_release(project, page, version, infos, written)
        self._update_project(project, page, infos, written)

    def after_removal(self, project: str, page: Index | None, removed: set[str]) -> None:
        """After files were deleted: their releases' documents go, the project's follows."""
        for version in sorted(removed - (versions_of(page) if page else set())):
            self.storage.delete(self.layout.pypi_release(project, version))
        if page is None or not page.files:
            self.storage.delete(self.layout.pypi_project(project))
            self.storage.delete(self.layout.browse_page(project))
            return
        self._update_project(project, page, ReleaseInfos(), _Written())

    def ensure_view(self) -> bool:
        """The view's files and the root's page, unless this version already wrote them."""
        root_key = self.layout.browse_page()
        wanted = browse_page(None)
        current = self.storage.get(root_key)
        if current is not None and current.body == wanted:
            return False
        for name, body in assets().items():
            key = self.layout.view_asset(name)
            with contextlib.suppress(WriteConflict):  # already there: named by its content
                self.storage.put(
                    key,
                    body,
                    content_type=content_type_for(key),
                    cache_control=FILE_CACHE_CONTROL,
                    if_none_match=True,
                )
        self._put_page(root_key, wanted)
        return True

    # Rebuilding (reindex)

    def rebuild(
        self, project: str, page: Index | None, metadata_of: Callable[[str], bytes | None]
    ) -> list[str]:
        """Make the project's documents and page exactly what `page` derives; what is
        missing (a bucket published before the view existed) is written, a release's metadata
        read through `metadata_of(version)`. Returns what changed."""
        changes: list[str] = []
        stored_releases = self._stored_releases(project)
        live = versions_of(page) if page is not None and page.files else set()
        for version in sorted(stored_releases - live):
            self.storage.delete(self.layout.pypi_release(project, version))
            changes.append(f"removed {version}/json")
        if page is None or not live:
            for key in (self.layout.pypi_project(project), self.layout.browse_page(project)):
                if self.storage.head(key) is not None:
                    self.storage.delete(key)
                    changes.append(f"removed {key.rsplit('/', 1)[-1]}")
            return changes
        written = _Written()
        for version in sorted(live):
            key = self.layout.pypi_release(project, version)
            stored = self._read(key)
            info = stored[0].get("info") if stored and stored[0] else None
            if not isinstance(info, dict):
                metadata = metadata_of(version)
                info = info_from_metadata(metadata) if metadata else minimal_info(page, version)
            written.infos[version] = info
            document = release_document(info, page, version, self.url_base(project), page.serial)
            if stored and stored[0] and _same_but_serial(stored[0], document):
                continue  # the page changed, not this release
            if self._replace(key, document, stored, same_serial=True):
                changes.append(f"wrote {version}/json")
        if self._update_project(project, page, ReleaseInfos(), written, same_serial=True):
            changes.append("wrote json")
        if self._put_page(self.layout.browse_page(project), browse_page(project), unless_same=True):
            changes.append("wrote browse.html")
        return changes

    # The documents

    def _update_release(
        self, project: str, page: Index, version: str, infos: ReleaseInfos, written: _Written
    ) -> None:
        key = self.layout.pypi_release(project, version)
        early = written.early.get(version)
        derived_early = (
            release_document(early["info"], page, version, self.url_base(project), page.serial)
            if early
            else None
        )
        if early is not None and early == derived_early:
            return  # what was written before the page is what the page says
        for _attempt in backoff(MAX_DOCUMENT_ATTEMPTS):
            stored = self._read(key)
            info = stored[0].get("info") if stored and stored[0] else None
            if not isinstance(info, dict):
                info = written.infos.get(version) or infos.get(version)
                info = info or minimal_info(page, version)
            written.infos[version] = info
            document = release_document(info, page, version, self.url_base(project), page.serial)
            try:
                self._replace(key, document, stored)
                return
            except WriteConflict:
                continue
        raise S3PyPIError(f"gave up updating {self.storage.url(key)}: it kept changing")

    def _update_project(
        self,
        project: str,
        page: Index,
        infos: ReleaseInfos,
        written: _Written,
        *,
        same_serial: bool = False,
    ) -> bool:
        key = self.layout.pypi_project(project)
        latest = latest_version(page)
        for _attempt in backoff(MAX_DOCUMENT_ATTEMPTS):
            stored = self._read(key)
            if stored and stored[0] and _newer(stored[0], page.serial, same_serial):
                return False
            info = None
            if latest is not None:
                info = written.infos.get(latest) or self._release_info(project, latest)
                info = info or infos.get(latest)
            document = project_document(info, page, self.url_base(project), page.serial)
            try:
                return self._replace(key, document, stored, same_serial=same_serial)
            except WriteConflict:
                continue
        raise S3PyPIError(f"gave up updating {self.storage.url(key)}: it kept changing")

    def _release_info(self, project: str, version: str) -> Document | None:
        stored = self._read(self.layout.pypi_release(project, version))
        info = stored[0].get("info") if stored and stored[0] else None
        return info if isinstance(info, dict) else None

    def _read(self, key: str) -> tuple[Document | None, str] | None:
        """A stored document (None when damaged) and its ETag; None when there is none."""
        blob = self.storage.get(key)
        return (decode(blob.body), blob.etag) if blob is not None else None

    def _replace(
        self,
        key: str,
        document: Document,
        stored: tuple[Document | None, str] | None,
        *,
        same_serial: bool = False,
    ) -> bool:
        """Write `document` in place of `stored` unless that was derived from a newer page
        (or is the same); raises `WriteConflict` when the object changed since it was read."""
        if stored and stored[0] and _newer(stored[0], document["last_serial"], same_serial):
            return False
        if stored and stored[0] == document:
            return False
        self.storage.put(
            key,
            encode(document),
            content_type=content_type_for(key),
            cache_control=PAGE_CACHE_CONTROL,
            if_match=stored[1] if stored else None,
            if_none_match=stored is None,
        )
        return True

    def _put_page(self, key: str, body: bytes, *, unless_same: bool = False) -> bool:
        if unless_same:
            current = self.storage.get(key)
            if current is not None and current.body == body:
                return False
        self.storage.put(
            key, body, content_type=content_type_for(key), cache_control=PAGE_CACHE_CONTROL
        )
        return True

    def _stored_releases(self, project: str) -> set[str]:
        """The versions whose release documents are stored (`[P/]NAME/VERSION/json`)."""
        directory = self.layout.project_dir(project)
        found = set()
        for obj in self.storage.list(directory):
            version, slash, name = obj.key[len(directory) :].partition("/")
            if slash and name == "json":
                found.add(version)
        return found


def _newer(stored: Document, serial: int, same_serial: bool) -> bool:
    """Whether a stored document was derived from a newer page than `serial` (or the same
    one, unless a rebuild rewrites documents of the same page that differ)."""
    stored_serial = stored.get("last_serial", -1)
    return bool(stored_serial > serial or (stored_serial == serial and not same_serial))


def _same_but_serial(a: Document, b: Document) -> bool:
    return {**a, "last_serial": 0} == {**b, "last_serial": 0}
