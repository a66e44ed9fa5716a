"""`reindex`: rebuild the pages of an index from its objects.

It trusts the objects: every distribution in a project's directory is listed, entries whose
file is gone are dropped, and what the pages already know (hashes, upload times, yanks) is
kept. It changes pages only through the same compare-and-swap as publishing, so it can run
while others publish; that is also how a bucket written by s3pypi 2.x is upgraded in place.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from packaging.version import Version

from s3pypi_core import __prog__
from s3pypi_core._inventory import (
    Inventory,
    ProjectObjects,
    other_layout,
    read_remote_distribution,
    selected,
    take_inventory,
    where,
)
from s3pypi_core._pages import PageVersion
from s3pypi_core.distribution import parse_filename, sha256_hex
from s3pypi_core.exceptions import InvalidDistribution, WriteConflict
from s3pypi_core.index import Hash, Index, IndexFile, RootIndex
from s3pypi_core.layout import FILE_CACHE_CONTROL, IndexLayout, content_type_for
from s3pypi_core.publishing import UPLOAD_THREADS, Publisher
from s3pypi_core.storage import Storage, StoredObject

log = logging.getLogger(__prog__)

CLOCK_SKEW = timedelta(minutes=1)
"""How far a publisher's clock (upload-time) may be behind the store's (LastModified)."""


@dataclass(frozen=True)
class Change:
    """One thing reindex changed (or, with dry-run, would change)."""

    project: str
    message: str

    def __str__(self) -> str:
        return f"{self.project}: {self.message}"


@dataclass
class _Plan:
    """The records one project's page should hold, worked out before changing it."""

    records: dict[str, IndexFile] = field(default_factory=dict)
    based_on: dict[str, IndexFile] = field(default_factory=dict)
    """The page's records the plan started from (to notice concurrent changes)."""
    gone: set[str] = field(default_factory=set)
    metadata: dict[str, bytes] = field(default_factory=dict)
    """The `.metadata` files to write (key -> content) before the page names them."""
    changes: list[str] = field(default_factory=list)


def reindex(
    publisher: Publisher,
    names: Iterable[str] = (),
    *,
    rehash: bool = False,
    put_root_index: bool = False,
) -> list[Change]:
    """Rebuild the pages of the named projects (all when none) from the objects in the store.

    With `rehash`, every distribution is downloaded and read again, also those whose record on
    the page is complete (to repair what `verify` found with its hashes).

    When the index keeps its pages only in the other layout (`NAME/index.html` instead of
    `NAME/`, or the reverse), they are rebuilt in the one asked for, using what the old pages
    knew; the old pages are left as they were (they may still be served).
    """
    storage, layout = publisher.storage, publisher.layout
    inventory = take_inventory(storage, layout)
    moving_from = other_layout(inventory, layout)
    projects = selected(inventory, names, storage)
    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        found = list(
            pool.map(
                lambda p: _reindex_project(publisher, inventory.project(p), rehash, moving_from),
                projects,
            )
        )
    changes = [change for project_changes in found for change in project_changes]
    changes += _reindex_root(publisher, inventory, projects if names else None, put_root_index)
    if publisher.browse.ensure_view():
        changes.append(Change("(root)", "wrote the browse page and the view's files"))
    return changes


def _reindex_project(
    publisher: Publisher, objects: ProjectObjects, rehash: bool, moving_from: IndexLayout | None
) -> list[Change]:
    project = objects.name
    old = publisher.storage.get(moving_from.project_html(project)) if moving_from else None
    old_page = Index.parse(old.body.decode("utf-8", "replace")) if old else None
    layout = publisher.layout
    with publisher.locker(project):
        current = publisher.pages.read_project(project)
        _rewrite_unless_exact(
            publisher.storage, layout.project_html(project), layout.project_json(project), current
        )
        plan = _plan(publisher.storage, layout, objects, current.page, rehash, old_page)
        # Files before the pages that name them.
        wrote = [
            f"wrote {key.rsplit('/', 1)[-1]}"
            for key, metadata in plan.metadata.items()
            if _put_metadata(publisher.storage, key, metadata)
        ]
        page = publisher.pages.update_project(
            project,
            lambda index: _apply(index, plan),
            create=bool(plan.records),
            delete_if_empty=True,
            first=current,
        )
        # What the human view needs (PyPI's JSON with the READMEs, the browse page), after the
        # page: it is derived from it.
        view_changes = publisher.browse.rebuild(
            project,
            page.page if page.exists else None,
            lambda version: _release_metadata(publisher.storage, layout, objects, version, plan),
        )
    changes = wrote + plan.changes
    if moving_from is not None and page.exists:
        changes.append(
            f"pages rebuilt at {where(layout)} (those at {where(moving_from)} are left as "
            "they were)"
        )
    elif not current.json_current or not current.html_current:
        changes.append("pages rewritten (HTML and JSON)" if page.exists else "pages removed")
    return [Change(project, message) for message in changes + view_changes]


def _release_metadata(
    storage: Storage, layout: IndexLayout, objects: ProjectObjects, version: str, plan: _Plan
) -> bytes | None:
    """The core metadata of one release: from a `.metadata` file (just written or stored),
    else read from one of its distributions."""
    wanted = Version(version)
    filenames = sorted(
        (name for name in objects.dists if parse_filename(name)[1] == wanted),
        key=lambda name: (not name.endswith(".whl"), name),
    )
    for filename in filenames:
        key = layout.metadata(objects.name, filename)
        if key in plan.metadata:
            return plan.metadata[key]
        if filename in objects.metadata and (blob := storage.get(key)) is not None:
            return blob.body
    for filename in filenames:
        try:
            dist = read_remote_distribution(storage, objects.dists[filename].key, filename)
        except InvalidDistribution:
            continue
        if dist is not None:
            return dist.metadata
    return None


def _rewrite_unless_exact(
    storage: Storage,
    html_key: str,
    json_key: str,
    version: PageVersion[Index] | PageVersion[RootIndex],
) -> None:
    """Have pages rewritten that are not exactly what their record renders.

    Publishing trusts an HTML page with the JSON page's serial; a rebuild does not: it also
    mends pages changed by hand, and brings pages written by older versions to today's form.
    """
    if not version.exists:
        return
    html, data = storage.get(html_key), storage.get(json_key)
    if (
        html is None
        or html.etag != version.html_etag
        or html.body != version.page.to_html().encode()
    ):
        version.html_current = False
    if (
        data is None
        or data.etag != version.json_etag
        or data.body != version.page.to_json().encode()
    ):
        version.json_current = False


def _plan(
    storage: Storage,
    layout: IndexLayout,
    objects: ProjectObjects,
    page: Index,
    rehash: bool,
    old_page: Index | None = None,
) -> _Plan:
    """`old_page`: the page in the other layout, for what it knows that `page` does not."""
    plan = _Plan(based_on=dict(page.files))
    project = objects.name
    for filename, obj in sorted(objects.dists.items()):
        known = page.files.get(filename) or (old_page.files.get(filename) if old_page else None)
        why = (
            "--rehash"
            if rehash
            else _why_read(known, obj, filename in objects.metadata, page.mirrored_from is None)
        )
        if why is None and known is not None:
            record = known
        else:
            log.info("Reading %s (%s)", storage.url(obj.key), why)
            record_or_none = _record_from_object(storage, layout, objects, obj, known, plan)
            if record_or_none is None:
                continue
            record = record_or_none
        plan.records[filename] = record
        if known is None:
            plan.changes.append(f"listed {filename}")
        elif record != known:
            plan.changes.append(f"updated {filename} ({_what_changed(known, record)})")
    for filename in sorted(set(page.files) - set(objects.dists)):
        # Not in the listing: gone, or published since it was taken (files come before pages).
        if storage.head(layout.file(project, filename)) is None:
            plan.gone.add(filename)
            plan.changes.append(f"dropped {filename} (no such object)")
    return plan


def _why_read(
    known: IndexFile | None, obj: StoredObject, has_metadata: bool, uploaded_here: bool = True
) -> str | None:
    """Why a distribution must be downloaded again, or None when its record is complete.

    Downloading is skipped whenever the page already has what a download would give: a record
    written by this tool (it always has size and upload-time, and then its hash, requires-python
    and core-metadata were read from the file itself) for an object of that size that was not
    replaced after it was listed, whose `.metadata` file is still there. A mirrored file's
    upload time is the upstream's (`uploaded_here` False), older than its object here: it says
    nothing about replacement.
    """
    if known is None:
        return "not on the page"
    if known.hash is None or known.size is None or known.upload_time is None:
        return "listed without size or upload time, e.g. by s3pypi 2.x"
    if known.size != obj.size:
        return f"{obj.size} bytes, the page says {known.size}"
    if uploaded_here and obj.last_modified and obj.last_modified > known.upload_time + CLOCK_SKEW:
        return "replaced after it was listed"
    if known.core_metadata is not None and not has_metadata:
        return "its .metadata file is missing"
    return None


def _record_from_object(
    storage: Storage,
    layout: IndexLayout,
    objects: ProjectObjects,
    obj: StoredObject,
    known: IndexFile | None,
    plan: _Plan,
) -> IndexFile | None:
    filename = obj.key.rsplit("/", 1)[-1]
    try:
        dist = read_remote_distribution(storage, obj.key, filename)
    except InvalidDistribution as e:
        plan.changes.append(f"skipped {filename}: not a valid distribution ({e})")
        return known
    if dist is None:
        return None
    core_metadata = None
    if dist.metadata_is_static:
        core_metadata = Hash("sha256", sha256_hex(dist.metadata))
        plan.metadata[layout.metadata(objects.name, filename)] = dist.metadata
    same_bytes = known is not None and known.hash == Hash("sha256", dist.sha256)
    # Keep what the page knows (upload time, yank) unless the file was replaced.
    upload_time = known.upload_time if known and same_bytes else None
    return IndexFile(
        filename=filename,
        hash=Hash("sha256", dist.sha256),
        requires_python=dist.requires_python,
        core_metadata=core_metadata,
        yanked=known.yanked if known else None,
        size=dist.size,
        upload_time=upload_time or obj.last_modified or datetime.now(timezone.utc),
    )


def _put_metadata(storage: Storage, key: str, metadata: bytes) -> bool:
    """Write a distribution's `.metadata` file unless it is already right; whether it wrote."""
    existing = storage.get(key)
    if existing is not None and existing.body == metadata:
        return False
    try:
        storage.put(
            key,
            metadata,
            content_type=content_type_for(key),
            cache_control=FILE_CACHE_CONTROL,
            if_none_match=existing is None,
            if_match=existing.etag if existing else None,
        )
    except WriteConflict:
        return False  # written by a publisher of the same file meanwhile
    return True


def _what_changed(old: IndexFile, new: IndexFile) -> str:
    fields = ("hash", "requires_python", "core_metadata", "size", "upload_time")
    names = {
        "requires_python": "requires-python",
        "core_metadata": "core-metadata",
        "upload_time": "upload-time",
    }
    changed = [names.get(f, f) for f in fields if getattr(old, f) != getattr(new, f)]
    return ", ".join(changed)


def _apply(index: Index, plan: _Plan) -> bool:
    """Put the planned records on a page as read now (idempotent, for compare-and-swap)."""
    changed = False
    for filename, record in plan.records.items():
        now, before = index.files.get(filename), plan.based_on.get(filename)
        if now is not None and (before is None or now.hash != before.hash):
            continue  # listed or replaced by a publisher since the plan was made: theirs stands
        if now is not None:
            record = replace(record, yanked=now.yanked)  # a yank made meanwhile stands
        if now != record:
            index.files[filename] = record
            changed = True
    for filename in plan.gone:
        if index.files.pop(filename, None) is not None:
            changed = True
    return changed


def _reindex_root(
    publisher: Publisher, inventory: Inventory, only: list[str] | None, create: bool = False
) -> list[Change]:
    """Make an existing root page (or, with `create`, a new one) list exactly the projects
    that have files."""
    if not inventory.root_pages and not create:
        return []
    storage, layout = publisher.storage, publisher.layout
    with_files = {
        name
        for name, objects in inventory.projects.items()
        if objects.dists and (only is None or name in only)
    }
    changes: list[Change] = []

    def rebuild(root: RootIndex) -> bool:
        missing = with_files - root.projects
        # A project without files in the listing is kept while it has a page: it was
        # published after the listing was taken.
        stale = {
            name
            for name in root.projects - with_files
            if (only is None or name in only)
            and storage.head(layout.project_json(name)) is None
            and storage.head(layout.project_html(name)) is None
        }
        root.projects = (root.projects | missing) - stale
        changes[:] = [Change(name, "added to the root page") for name in sorted(missing)]
        changes.extend(Change(name, "removed from the root page") for name in sorted(stale))
        return bool(missing or stale)

    with publisher.locker("/"):
        current = publisher.pages.read_root()
        _rewrite_unless_exact(storage, layout.root_html(), layout.root_json(), current)
        publisher.pages.update_root(rebuild)  # the root page exists (in one layout or other)
    if not current.json_current or not current.html_current:
        changes.append(Change("(root)", "pages rewritten (HTML and JSON)"))
    return changes
