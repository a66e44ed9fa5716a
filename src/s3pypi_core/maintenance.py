"""Maintenance: `verify` finds what is wrong with an index, `reindex` rebuilds its pages.

Both start from an inventory of the objects in the bucket (one listing) and compare it with the
pages. `reindex` trusts the objects: every distribution in a project's directory is listed,
entries whose file is gone are dropped, and what the pages already know (hashes, upload times,
yanks) is kept. It changes pages only through the same compare-and-swap as publishing, so it can
run while others publish; that is also how a bucket written by s3pypi 2.x is upgraded in place.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from packaging.utils import canonicalize_name

from s3pypi_core import __prog__
from s3pypi_core.distribution import Distribution, parse_filename
from s3pypi_core.exceptions import InvalidDistribution, NotFound, S3PyPIError, WriteConflict
from s3pypi_core.index import Hash, Index, IndexFile, IndexLayout, RootIndex, html_serial
from s3pypi_core.publishing import (
    FILE_CACHE_CONTROL,
    UPLOAD_THREADS,
    PageVersion,
    Publisher,
    content_type_for,
)
from s3pypi_core.storage import Storage, StoredObject

log = logging.getLogger(__prog__)

CLOCK_SKEW = timedelta(minutes=1)
"""How far a publisher's clock (upload-time) may be behind the store's (LastModified)."""


# The objects in a bucket


@dataclass
class ProjectObjects:
    """What one project's directory holds."""

    name: str
    dists: dict[str, StoredObject] = field(default_factory=dict)
    metadata: dict[str, StoredObject] = field(default_factory=dict)
    """Distribution filename -> its `.metadata` object."""
    pages: set[str] = field(default_factory=set)
    """Which pages exist: "html" (`NAME/`), "index.html" (`NAME/index.html`), "json"."""
    misplaced: list[str] = field(default_factory=list)
    """Distribution files of another project found in this directory."""


@dataclass
class Inventory:
    projects: dict[str, ProjectObjects] = field(default_factory=dict)
    root_pages: set[str] = field(default_factory=set)
    """"html" and/or "json" when the root page exists."""

    def project(self, name: str) -> ProjectObjects:
        return self.projects.setdefault(name, ProjectObjects(name))


def take_inventory(storage: Storage, layout: IndexLayout) -> Inventory:
    """Every object of the index, sorted by project, from one listing."""
    inventory = Inventory()
    base = layout.files_prefix()
    for obj in storage.list(base):
        relative = obj.key[len(base) :]
        directory, slash, rest = relative.partition("/")
        if not slash:
            if relative in ("", "index.html"):
                inventory.root_pages.add("html")
            elif relative == "index.json":
                inventory.root_pages.add("json")
            continue
        if "/" in rest or directory != canonicalize_name(directory):
            continue  # not a project directory of ours
        project = inventory.project(directory)
        if rest == "":
            project.pages.add("html")
        elif rest == "index.html":
            project.pages.add("index.html")
        elif rest == "index.json":
            project.pages.add("json")
        elif rest.endswith(".metadata"):
            project.metadata[rest.removesuffix(".metadata")] = obj
        else:
            try:
                name, _version = parse_filename(rest)
            except InvalidDistribution:
                continue  # not a distribution (e.g. a probe or a stray upload)
            if name == directory:
                project.dists[rest] = obj
            else:
                project.misplaced.append(rest)
    return inventory


def _other_layout(inventory: Inventory, layout: IndexLayout) -> IndexLayout | None:
    """The other HTML layout (`NAME/` or `NAME/index.html`) when the index has pages only there."""
    ours = "index.html" if layout.index_html else "html"
    other = "html" if layout.index_html else "index.html"
    pages = [p.pages for p in inventory.projects.values() if p.pages - {"json"}]
    if pages and not any(ours in p for p in pages) and any(other in p for p in pages):
        return replace(layout, index_html=not layout.index_html)
    return None


def _where(layout: IndexLayout) -> str:
    return "NAME/index.html" if layout.index_html else "NAME/"


def _check_layout(inventory: Inventory, storage: Storage, layout: IndexLayout) -> None:
    """Refuse to check `NAME/` pages when the index keeps them at `NAME/index.html`."""
    other = _other_layout(inventory, layout)
    if other is not None:
        hint = "leave out --index.html" if layout.index_html else "add --index.html"
        raise S3PyPIError(f"the project pages of {storage.url()} are at {_where(other)}: {hint}")


def _selected(inventory: Inventory, names: Iterable[str], storage: Storage) -> list[str]:
    """The projects named (all when none), each of which must have objects or pages."""
    wanted = {canonicalize_name(n) for n in names}
    if unknown := sorted(wanted - set(inventory.projects)):
        raise NotFound(f"no project {unknown[0]} in {storage.url()}")
    return sorted(wanted or inventory.projects)


def _stream_to(storage: Storage, key: str, target: Path) -> bool:
    """Copy an object into a local file in chunks (never whole into memory)."""
    stream = storage.stream(key)
    if stream is None:
        return False
    with open(target, "wb") as f:
        for chunk in stream.body:
            f.write(chunk)
    return True


def _read_remote_distribution(storage: Storage, key: str, filename: str) -> Distribution | None:
    """Download a distribution into a temporary file and read it; None when it vanished.

    Raises `InvalidDistribution` naming the object (not the temporary file) when it is none.
    """
    with tempfile.TemporaryDirectory(prefix="s3pypi-") as tmp:
        path = Path(tmp, filename)  # Distribution.read needs the real filename
        if not _stream_to(storage, key, path):
            return None
        try:
            return Distribution.read(path)
        except InvalidDistribution as e:
            raise InvalidDistribution(str(e).replace(str(path), storage.url(key))) from e


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# verify


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an index."""

    kind: str
    """missing-file, unlisted-file, size-mismatch, hash-mismatch, invalid-file, misplaced-file,
    missing-metadata, metadata-mismatch, missing-page, pages-disagree, missing-root-entry,
    stale-root-entry."""
    key: str
    """The object or page concerned, as a URL (`s3://bucket/key`, `file:///...`)."""
    message: str
    project: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.kind}: {self.key}: {self.message}"


def verify(
    storage: Storage, layout: IndexLayout, names: Iterable[str] = (), *, hashes: bool = True
) -> list[Problem]:
    """Check pages against objects; with `hashes`, download every listed file to check it."""
    inventory = take_inventory(storage, layout)
    _check_layout(inventory, storage, layout)
    projects = _selected(inventory, names, storage)
    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        found = list(
            pool.map(
                lambda p: _verify_project(storage, layout, inventory.project(p), hashes), projects
            )
        )
    problems = [problem for project_problems in found for problem in project_problems]
    if not names or inventory.root_pages:
        problems += _verify_root(storage, layout, inventory, projects if names else None)
    return sorted(problems, key=lambda p: (p.project or "", p.key, p.kind))


def _verify_project(
    storage: Storage, layout: IndexLayout, objects: ProjectObjects, hashes: bool
) -> list[Problem]:
    project = objects.name
    problems: list[Problem] = []

    def problem(kind: str, key: str, message: str) -> None:
        problems.append(Problem(kind, storage.url(key), message, project))

    html_blob = storage.get(layout.project_html(project))
    json_blob = storage.get(layout.project_json(project))
    html_text = html_blob.body.decode("utf-8", "replace") if html_blob else None
    html = Index.parse(html_text) if html_text is not None else None
    data = Index.from_json(json_blob.body) if json_blob else None
    foreign = html_text is not None and html_serial(html_text) is None  # s3pypi 2.x wrote it
    # A project with files but neither page is reported file by file (unlisted-file) below.
    if html is None and data is not None:
        problem("missing-page", layout.project_html(project), "no HTML page: run reindex")
    if data is None and html is not None:
        by = " (the HTML page was written by another tool, s3pypi 2.x?)" if foreign else ""
        problem("missing-page", layout.project_json(project), f"no JSON page{by}: run reindex")
    if html is not None and data is not None:
        if foreign:
            problem(
                "pages-disagree",
                layout.project_html(project),
                "the HTML page was rewritten by another tool (s3pypi 2.x?): run reindex",
            )
        else:
            for message in _disagreements(html, data):
                problem("pages-disagree", layout.project_html(project), message)

    # Every entry on either page, as the JSON page knows it when it lists it.
    listed: dict[str, IndexFile] = {**(html.files if html else {}), **(data.files if data else {})}
    for filename, record in sorted(listed.items()):
        key = layout.file(project, filename)
        obj = objects.dists.get(filename) or storage.head(key)  # may be newer than the listing
        if obj is None:
            problem("missing-file", key, "listed on the page, but there is no such object")
            continue
        if record.size is not None and record.size != obj.size:
            problem("size-mismatch", key, f"the page says {record.size} bytes, it has {obj.size}")
        _verify_metadata(storage, layout, objects, record, problem)
    for filename in sorted(set(objects.dists) - set(listed)):
        problem("unlisted-file", layout.file(project, filename), "on no page: run reindex")
    for filename in objects.misplaced:
        problem(
            "misplaced-file",
            layout.files_prefix() + f"{project}/{filename}",
            f"a file of another project in {project}/",
        )
    if hashes:
        for filename, record in sorted(listed.items()):
            if filename in objects.dists:
                _verify_content(storage, layout, objects, record, problem)
    return problems


ProblemSink = Callable[[str, str, str], None]


def _verify_metadata(
    storage: Storage,
    layout: IndexLayout,
    objects: ProjectObjects,
    record: IndexFile,
    problem: ProblemSink,
) -> None:
    key = layout.metadata(objects.name, record.filename)
    if record.core_metadata is None:
        if record.filename.endswith(".whl"):
            problem("missing-metadata", key, "no .metadata file (PEP 658): run reindex")
        return
    blob = storage.get(key)
    if blob is None:
        problem("missing-metadata", key, "the page names a .metadata file that does not exist")
    elif _sha256(blob.body) != record.core_metadata.value:
        problem(
            "metadata-mismatch", key, "its sha256 is not the one on the page: run reindex --rehash"
        )


def _verify_content(
    storage: Storage,
    layout: IndexLayout,
    objects: ProjectObjects,
    record: IndexFile,
    problem: ProblemSink,
) -> None:
    key = layout.file(objects.name, record.filename)
    try:
        dist = _read_remote_distribution(storage, key, record.filename)
    except InvalidDistribution as e:
        problem("invalid-file", key, str(e).removeprefix(f"{storage.url(key)}: "))
        return
    if dist is None:
        return  # deleted meanwhile; the next run tells
    if record.hash is None:
        problem("hash-mismatch", key, "the page gives no sha256")
    elif record.hash.name == "sha256" and record.hash.value != dist.sha256:
        problem(
            "hash-mismatch",
            key,
            f"its sha256 is {dist.sha256}, the page says {record.hash.value}: run reindex --rehash",
        )
    if (
        record.core_metadata is None
        and dist.metadata_is_static
        and not record.filename.endswith(".whl")  # reported above already
    ):
        problem(
            "missing-metadata",
            layout.metadata(objects.name, record.filename),
            "no .metadata file (PEP 658): run reindex",
        )


def _disagreements(html: Index, data: Index) -> list[str]:
    def listing(index: Index) -> dict[str, tuple[object, ...]]:
        return {
            f.filename: (f.hash, f.requires_python, f.core_metadata, f.yanked)
            for f in index.files.values()
        }

    found = []
    ours, theirs = listing(html), listing(data)
    if only := sorted(set(ours) - set(theirs)):
        found.append(f"only the HTML page lists {', '.join(only)}")
    if only := sorted(set(theirs) - set(ours)):
        found.append(f"only the JSON page lists {', '.join(only)}")
    if differ := sorted(f for f in set(ours) & set(theirs) if ours[f] != theirs[f]):
        found.append(f"the pages say different things about {', '.join(differ)}")
    if not found and html.serial != data.serial:
        found.append(f"the HTML page is at serial {html.serial}, the JSON page at {data.serial}")
    return found


def _verify_root(
    storage: Storage, layout: IndexLayout, inventory: Inventory, only: list[str] | None
) -> list[Problem]:
    if not inventory.root_pages:
        return []  # no root page (upload --put-root-index writes one)
    problems: list[Problem] = []
    html_blob = storage.get(layout.root_html())
    json_blob = storage.get(layout.root_json())
    html = RootIndex.parse(html_blob.body.decode("utf-8", "replace")) if html_blob else None
    data = RootIndex.from_json(json_blob.body) if json_blob else None
    if html is None:
        problems.append(
            Problem(
                "missing-page", storage.url(layout.root_html()), "no root HTML page: run reindex"
            )
        )
    if data is None:
        problems.append(
            Problem(
                "missing-page", storage.url(layout.root_json()), "no root JSON page: run reindex"
            )
        )
    if html is not None and data is not None and html.projects != data.projects:
        problems.append(
            Problem(
                "pages-disagree",
                storage.url(layout.root_html()),
                "the root HTML and JSON pages list different projects",
            )
        )
    listed = (html.projects if html else set()) | (data.projects if data else set())
    with_files = {name for name, p in inventory.projects.items() if p.dists}
    for name in sorted(with_files - listed):
        if only is None or name in only:
            problems.append(
                Problem(
                    "missing-root-entry",
                    storage.url(layout.project_dir(name)),
                    "not on the root page",
                    name,
                )
            )
    for name in sorted(listed - with_files):
        if (only is None or name in only) and storage.head(layout.project_json(name)) is None:
            problems.append(
                Problem(
                    "stale-root-entry",
                    storage.url(layout.project_dir(name)),
                    "on the root page, but the project has no files",
                    name,
                )
            )
    return problems


# reindex


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
    changes: list[str] = field(default_factory=list)


def reindex(
    publisher: Publisher, names: Iterable[str] = (), *, rehash: bool = False
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
    moving_from = _other_layout(inventory, layout)
    projects = _selected(inventory, names, storage)
    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        found = list(
            pool.map(
                lambda p: _reindex_project(publisher, inventory.project(p), rehash, moving_from),
                projects,
            )
        )
    changes = [change for project_changes in found for change in project_changes]
    changes += _reindex_root(publisher, inventory, projects if names else None)
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
        page = publisher.pages.update_project(
            project,
            lambda index: _apply(index, plan),
            create=bool(plan.records),
            delete_if_empty=True,
            first=current,
        )
    changes = plan.changes
    if moving_from is not None and page.exists:
        changes.append(
            f"pages rebuilt at {_where(layout)} (those at {_where(moving_from)} are left as "
            "they were)"
        )
    elif not current.json_current or not current.html_current:
        changes.append("pages rewritten (HTML and JSON)" if page.exists else "pages removed")
    return [Change(project, message) for message in changes]


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
        why = "--rehash" if rehash else _why_read(known, obj, filename in objects.metadata)
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


def _why_read(known: IndexFile | None, obj: StoredObject, has_metadata: bool) -> str | None:
    """Why a distribution must be downloaded again, or None when its record is complete.

    Downloading is skipped whenever the page already has what a download would give: a record
    written by this tool (it always has size and upload-time, and then its hash, requires-python
    and core-metadata were read from the file itself) for an object of that size that was not
    replaced after it was listed, whose `.metadata` file is still there.
    """
    if known is None:
        return "not on the page"
    if known.hash is None or known.size is None or known.upload_time is None:
        return "listed without size or upload time, e.g. by s3pypi 2.x"
    if known.size != obj.size:
        return f"{obj.size} bytes, the page says {known.size}"
    if obj.last_modified and obj.last_modified > known.upload_time + CLOCK_SKEW:
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
        dist = _read_remote_distribution(storage, obj.key, filename)
    except InvalidDistribution as e:
        plan.changes.append(f"skipped {filename}: not a valid distribution ({e})")
        return known
    if dist is None:
        return None
    core_metadata = None
    if dist.metadata_is_static:
        core_metadata = Hash("sha256", _sha256(dist.metadata))
        if _put_metadata(storage, layout.metadata(objects.name, filename), dist.metadata):
            plan.changes.append(f"wrote {filename}.metadata")
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
    publisher: Publisher, inventory: Inventory, only: list[str] | None
) -> list[Change]:
    """Make an existing root page list exactly the projects that have files."""
    if not inventory.root_pages:
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
