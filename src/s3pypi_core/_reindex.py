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
    LEFTOVER_AGE,
    Inventory,
    ProjectObjects,
    check_index_is_there,
    other_layout,
    project_of,
    read_remote_distribution,
    selected,
    take_inventory,
    where,
)
from s3pypi_core._pages import PageVersion
from s3pypi_core.distribution import MAX_METADATA_SIZE, parse_filename, sha256_hex
from s3pypi_core.exceptions import (
    DamagedPage,
    InvalidDistribution,
    MetadataTooLarge,
    S3PyPIError,
    WriteConflict,
)
from s3pypi_core.index import Hash, Index, IndexFile, RootIndex
from s3pypi_core.layout import FILE_CACHE_CONTROL, IndexLayout, content_type_for
from s3pypi_core.publishing import UPLOAD_THREADS, Publisher, same_distribution
from s3pypi_core.storage import Storage, StoredObject

log = logging.getLogger(__prog__)

CLOCK_SKEW = timedelta(minutes=1)
"""How far a publisher's clock (upload-time) may be behind the store's (LastModified)."""


@dataclass(frozen=True)
class Change:
    """One thing reindex changed (or, with dry-run, would change)."""

    project: str
    message: str
    failed: bool = False
    """Something reindex could not do (the rest was done); the command exits 1."""

    def __str__(self) -> str:
        return f"{self.project}: {self.message}"


@dataclass
class _Plan:
    """The records one project's page should hold, worked out before changing it."""

    records: dict[str, IndexFile] = field(default_factory=dict)
    based_on: dict[str, IndexFile] = field(default_factory=dict)
    """The page's records the plan started from (to notice concurrent changes)."""
    gone: set[str] = field(default_factory=set)
    unsound: set[str] = field(default_factory=set)
    """Listed files that are no sound distribution: taken off the page unless replaced since."""
    metadata: dict[str, bytes] = field(default_factory=dict)
    """The `.metadata` files to write (distribution filename -> content) before the page
    names them."""
    changes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def reindex(
    publisher: Publisher,
    names: Iterable[str] = (),
    *,
    rehash: bool = False,
    put_root_index: bool = False,
    max_metadata_size: int = MAX_METADATA_SIZE,
    inventory: Inventory | None = None,
) -> list[Change]:
    """Rebuild the pages of the named projects (all when none) from the objects in the store.

    With `rehash`, every distribution is downloaded and read again, also those whose record on
    the page is complete (to repair what `verify` found with its hashes).

    When the index keeps its pages only in the other layout (`NAME/index.html` instead of
    `NAME/`, or the reverse), they are rebuilt in the one asked for, using what the old pages
    knew; the old pages are left as they were (they may still be served).

    One project that cannot be rebuilt (a page that cannot be written) is a failed `Change`;
    the others are rebuilt all the same. `inventory`: the objects, when listed already.
    """
    names = list(names)
    storage, layout = publisher.storage, publisher.layout
    inventory = inventory or take_inventory(storage, layout)
    check_index_is_there(inventory, storage, layout)
    moving_from = other_layout(inventory, layout)
    projects = selected(inventory, names, storage)

    def rebuild(project: str) -> list[Change]:
        try:
            return _reindex_project(
                publisher, inventory.project(project), rehash, moving_from, max_metadata_size
            )
        except S3PyPIError as e:
            return [Change(project, f"not rebuilt: {e}", failed=True)]

    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        found = list(pool.map(rebuild, projects))
    changes = [change for project_changes in found for change in project_changes]
    try:
        changes += _reindex_root(publisher, inventory, projects if names else None, put_root_index)
        if publisher.browse.ensure_view():
            changes.append(Change("(root)", "wrote the browse page and the view's files"))
    except S3PyPIError as e:
        changes.append(Change("(root)", f"not rebuilt: {e}", failed=True))
    changes += _remove_leftovers(storage, layout, projects if names else None)
    return changes


def _reindex_project(
    publisher: Publisher,
    objects: ProjectObjects,
    rehash: bool,
    moving_from: IndexLayout | None,
    max_metadata_size: int,
) -> list[Change]:
    project = objects.name
    storage, layout = publisher.storage, publisher.layout
    notes: list[str] = []
    old_page = None
    if moving_from is not None and (old := storage.get(moving_from.project_html(project))):
        try:
            old_page = Index.from_html(old.body)
        except DamagedPage as e:
            notes.append(f"ignored {storage.url(moving_from.project_html(project))}: {e}")
    with publisher.locker(project):
        current = publisher.pages.read_project(project, salvage=True)
        notes += [f"rebuilt the damaged page {url} ({why})" for url, why in current.damaged.items()]
        _rewrite_unless_exact(
            storage, layout.project_html(project), layout.project_json(project), current
        )
        plan = _plan(storage, layout, objects, current.page, rehash, old_page, max_metadata_size)
        # Files before the pages that name them.
        for filename, metadata in plan.metadata.items():
            key = layout.metadata(project, filename)
            try:
                if _put_metadata(storage, key, metadata, max_metadata_size):
                    notes.append(f"wrote {key.rsplit('/', 1)[-1]}")
            except S3PyPIError as e:
                # The page must not name a .metadata file that is not there.
                plan.records[filename] = replace(plan.records[filename], core_metadata=None)
                plan.failures.append(f"listed {filename} without a .metadata file: {e}")
        page = publisher.pages.update_project(
            project,
            lambda index: _apply(index, plan),
            create=bool(plan.records),
            delete_if_empty=True,
            first=current,
            salvage=True,
        )
        # What the human view needs (PyPI's JSON with the READMEs, the browse page), after the
        # page: it is derived from it.
        view_changes = publisher.browse.rebuild(
            project,
            page.page if page.exists else None,
            lambda version: _release_metadata(
                publisher.storage, layout, objects, version, plan, max_metadata_size
            ),
        )
    changes = notes + plan.changes
    if moving_from is not None and page.exists:
        changes.append(
            f"pages rebuilt at {where(layout)} (those at {where(moving_from)} are left as "
            "they were)"
        )
    elif not current.json_current or not current.html_current:
        changes.append("pages rewritten (HTML and JSON)" if page.exists else "pages removed")
    return [Change(project, message) for message in changes + view_changes] + [
        Change(project, message, failed=True) for message in plan.failures
    ]


def _release_metadata(
    storage: Storage,
    layout: IndexLayout,
    objects: ProjectObjects,
    version: str,
    plan: _Plan,
    max_metadata_size: int = MAX_METADATA_SIZE,
) -> bytes | None:
    """The core metadata of one release: from a `.metadata` file (just written or stored,
    within the metadata bound), else read from one of its sound distributions."""
    wanted = Version(version)
    filenames = sorted(
        (
            name
            for name in objects.dists
            if parse_filename(name)[1] == wanted and name not in plan.unsound
        ),
        key=lambda name: (not name.endswith(".whl"), name),
    )
    for filename in filenames:
        key = layout.metadata(objects.name, filename)
        if filename in plan.metadata:
            return plan.metadata[filename]
        stored = objects.metadata.get(filename)
        if stored and stored.size <= max_metadata_size and (blob := storage.get(key)):
            return blob.body
    for filename in filenames:
        try:
            dist = read_remote_distribution(
                storage,
                objects.dists[filename].key,
                filename,
                max_metadata_size=max_metadata_size,
            )
        except S3PyPIError:  # not sound, too large, unreadable: another file may tell
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
    max_metadata_size: int = MAX_METADATA_SIZE,
) -> _Plan:
    """`old_page`: the page in the other layout, for what it knows that `page` does not."""
    plan = _Plan(based_on=dict(page.files))
    project = objects.name
    for filename, obj in sorted(objects.dists.items()):
        known = page.files.get(filename) or (old_page.files.get(filename) if old_page else None)
        if known is None and (same := same_distribution(page, filename)):
            plan.changes.append(
                f"skipped {filename}: the page lists the same distribution as {same[0]} (delete "
                f"{filename}, or upload it with --force to replace {same[0]})"
            )
            continue
        why = (
            "--rehash"
            if rehash
            else _why_read(known, obj, filename in objects.metadata, page.mirrored_from is None)
        )
        if why is None and known is not None:
            record = known
        else:
            log.info("Reading %s (%s)", storage.url(obj.key), why)
            record_or_none = _record_from_object(
                storage, layout, objects, obj, known, plan, max_metadata_size
            )
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
    max_metadata_size: int = MAX_METADATA_SIZE,
) -> IndexFile | None:
    """The record of a distribution read from the store; None to leave it off the page.

    A file that is no sound distribution is left off (taken off when listed: pip cannot install
    it) but kept in the store; one whose metadata is beyond the bound stays as the page had it.
    """
    filename = obj.key.rsplit("/", 1)[-1]
    try:
        dist = read_remote_distribution(
            storage, obj.key, filename, max_metadata_size=max_metadata_size
        )
    except MetadataTooLarge as e:
        what = "kept" if known else "skipped"
        plan.changes.append(f"{what} {filename} as it is: not read ({e})")
        return known
    except InvalidDistribution as e:
        if known is None:
            plan.changes.append(f"skipped {filename}: not a valid distribution ({e})")
        else:
            plan.unsound.add(filename)
            plan.changes.append(
                f"took {filename} off the page: not a valid distribution, pip cannot install "
                f"it ({e}); the file is kept"
            )
        return None
    except S3PyPIError as e:
        plan.failures.append(f"could not read {filename}, left as it was: {e}")
        return known
    if dist is None:
        return None
    core_metadata = None
    if dist.metadata_is_static:
        metadata_key = layout.metadata(objects.name, filename)
        if cannot := storage.key_problem(metadata_key):
            plan.changes.append(f"{filename} is listed without a .metadata file: {cannot}")
        else:
            core_metadata = Hash("sha256", sha256_hex(dist.metadata))
            plan.metadata[filename] = dist.metadata
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


def _put_metadata(storage: Storage, key: str, metadata: bytes, max_metadata_size: int) -> bool:
    """Write a distribution's `.metadata` file unless it is already right; whether it wrote.

    An existing object is read only up to the metadata bound: a larger one is wrong anyway (the
    metadata written here is within it) and is replaced without being read.
    """
    info = storage.head(key)
    if info is not None and info.size > max(max_metadata_size, len(metadata)):
        _put_metadata_object(storage, key, metadata)
        return True
    existing = storage.get(key) if info is not None else None
    if existing is not None and existing.body == metadata:
        return False
    try:
        _put_metadata_object(
            storage,
            key,
            metadata,
            if_none_match=existing is None,
            if_match=existing.etag if existing else None,
        )
    except WriteConflict:
        return False  # written by a publisher of the same file meanwhile
    return True


def _put_metadata_object(
    storage: Storage,
    key: str,
    metadata: bytes,
    *,
    if_none_match: bool = False,
    if_match: str | None = None,
) -> None:
    storage.put(
        key,
        metadata,
        content_type=content_type_for(key),
        cache_control=FILE_CACHE_CONTROL,
        if_none_match=if_none_match,
        if_match=if_match,
    )


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
    for filename in plan.unsound:
        now, before = index.files.get(filename), plan.based_on.get(filename)
        if now is not None and (before is None or now.hash == before.hash):
            del index.files[filename]  # not replaced by a publisher since the plan was made
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
        current = publisher.pages.read_root(salvage=True)
        _rewrite_unless_exact(storage, layout.root_html(), layout.root_json(), current)
        # the root page exists (in one layout or other)
        publisher.pages.update_root(rebuild, salvage=True)
    damaged = [
        Change("(root)", f"rebuilt the damaged page {url} ({why})")
        for url, why in current.damaged.items()
    ]
    if not current.json_current or not current.html_current:
        changes.append(Change("(root)", "pages rewritten (HTML and JSON)"))
    return damaged + changes


def _remove_leftovers(
    storage: Storage, layout: IndexLayout, only: list[str] | None
) -> list[Change]:
    """Remove the temporary files of killed publishers (a local directory)."""
    changes = []
    for obj in storage.leftovers(layout.files_prefix(), LEFTOVER_AGE):
        project = project_of(obj.key, layout)
        if only is not None and project not in only:
            continue
        try:
            storage.delete(obj.key)
        except S3PyPIError as e:
            changes.append(Change(project or "(index)", f"could not remove {obj.key}: {e}", True))
            continue
        changes.append(
            Change(
                project or "(index)",
                f"removed {obj.key.rsplit('/', 1)[-1]} ({obj.size} bytes), a temporary file "
                "left by a publisher that was stopped",
            )
        )
    return changes
