"""`verify`: what is wrong with an index, found by comparing its pages with its objects."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TypeVar

from s3pypi_core._inventory import (
    LEFTOVER_AGE,
    Inventory,
    ProjectObjects,
    check_index_is_there,
    check_layout,
    project_of,
    read_remote_distribution,
    remote_sha256,
    selected,
    take_inventory,
)
from s3pypi_core.distribution import MAX_METADATA_SIZE
from s3pypi_core.exceptions import DamagedPage, InvalidDistribution, MetadataTooLarge
from s3pypi_core.index import Index, IndexFile, RootIndex, html_serial
from s3pypi_core.layout import IndexLayout
from s3pypi_core.publishing import UPLOAD_THREADS, same_distribution
from s3pypi_core.storage import Storage

P = TypeVar("P", Index, RootIndex)

KINDS = (
    "missing-file",
    "unlisted-file",
    "size-mismatch",
    "hash-mismatch",
    "invalid-file",
    "misplaced-file",
    "missing-metadata",
    "metadata-mismatch",
    "missing-page",
    "damaged-page",
    "pages-disagree",
    "missing-root-entry",
    "stale-root-entry",
    "leftover",
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an index."""

    kind: str
    """One of `KINDS`: missing-file, unlisted-file, size-mismatch, hash-mismatch, invalid-file,
    misplaced-file, missing-metadata, metadata-mismatch, missing-page, damaged-page,
    pages-disagree, missing-root-entry, stale-root-entry, leftover."""
    key: str
    """The object or page concerned, as a URL (`s3://bucket/key`, `file:///...`)."""
    message: str
    project: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.kind}: {self.key}: {self.message}"


@dataclass(frozen=True)
class _Checks:
    """How far `verify` looks into each file."""

    hashes: bool
    """Download every listed file and compare its sha256 with the page's."""
    deep: bool
    """Read every file in full, as publishing does (implies hashes)."""
    max_metadata_size: int


def verify(
    storage: Storage,
    layout: IndexLayout,
    names: Iterable[str] = (),
    *,
    hashes: bool = True,
    deep: bool = False,
    max_metadata_size: int = MAX_METADATA_SIZE,
) -> list[Problem]:
    """Check pages against objects; with `hashes`, download every listed file to check its
    sha256; with `deep`, read every file in full (a damaged archive is `invalid-file`)."""
    names = list(names)
    checks = _Checks(hashes or deep, deep, max_metadata_size)
    inventory = take_inventory(storage, layout)
    check_index_is_there(inventory, storage, layout)
    check_layout(inventory, storage, layout)
    projects = selected(inventory, names, storage)
    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        found = list(
            pool.map(
                lambda p: _verify_project(storage, layout, inventory.project(p), checks), projects
            )
        )
    problems = [problem for project_problems in found for problem in project_problems]
    if not names or inventory.root_pages:
        problems += _verify_root(storage, layout, inventory, projects if names else None)
    problems += _leftovers(storage, layout, projects if names else None)
    return sorted(problems, key=lambda p: (p.project or "", p.key, p.kind))


ProblemSink = Callable[[str, str, str], None]


def _read_page(
    storage: Storage, key: str, parse: Callable[[bytes], P], problem: ProblemSink
) -> tuple[P | None, bytes | None]:
    """A stored page and its bytes; a damaged page is reported and counts as unreadable."""
    blob = storage.get(key)
    if blob is None:
        return None, None
    try:
        return parse(blob.body), blob.body
    except DamagedPage as e:
        problem("damaged-page", key, f"{e}: run reindex")
        return None, blob.body


def _verify_project(
    storage: Storage, layout: IndexLayout, objects: ProjectObjects, checks: _Checks
) -> list[Problem]:
    project = objects.name
    problems: list[Problem] = []

    def problem(kind: str, key: str, message: str) -> None:
        problems.append(Problem(kind, storage.url(key), message, project))

    html, html_body = _read_page(storage, layout.project_html(project), Index.from_html, problem)
    data, json_body = _read_page(storage, layout.project_json(project), Index.from_json, problem)
    # s3pypi 2.x wrote it
    foreign = html is not None and html_serial(html_body.decode() if html_body else "") is None
    # A project with files but neither page is reported file by file (unlisted-file) below.
    if html_body is None and data is not None:
        problem("missing-page", layout.project_html(project), "no HTML page: run reindex")
    if json_body is None and html is not None:
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
        _verify_metadata(storage, layout, objects, record, checks, problem)
    for filename in sorted(set(objects.dists) - set(listed)):
        key = layout.file(project, filename)
        if same := same_distribution(Index(dict(listed)), filename):
            problem(
                "unlisted-file",
                key,
                f"on no page, which lists the same distribution as {same[0]}: delete it, or "
                f"upload it with --force to replace {same[0]}",
            )
            continue
        _verify_unlisted(storage, key, filename, checks, problem)
    for filename in objects.misplaced:
        problem(
            "misplaced-file",
            layout.files_prefix() + f"{project}/{filename}",
            f"a file of another project in {project}/",
        )
    if checks.hashes:
        for filename, record in sorted(listed.items()):
            if filename in objects.dists:
                _verify_content(storage, layout, objects, record, checks, problem)
    return problems


def _verify_unlisted(
    storage: Storage, key: str, filename: str, checks: _Checks, problem: ProblemSink
) -> None:
    """A file on no page: reindex lists it, unless it is no distribution (then it stays
    unlisted, and the one who can tell what it should be must delete or replace it)."""
    if checks.hashes:
        try:
            read_remote_distribution(
                storage, key, filename, max_metadata_size=checks.max_metadata_size
            )
        except MetadataTooLarge as e:
            message = _without_url(storage, key, e)
            problem("unlisted-file", key, f"on no page, and not read ({message}): {_LARGER}")
            return
        except InvalidDistribution as e:
            problem("invalid-file", key, f"on no page: {_without_url(storage, key, e)}: {_BAD}")
            return
    problem("unlisted-file", key, "on no page: run reindex")


_BAD = "pip cannot install it: delete it, or upload a sound file of that name with --force"
_LARGER = "reindex and verify read it with a larger --max-metadata-size, or delete it"


def _without_url(storage: Storage, key: str, error: Exception) -> str:
    return str(error).removeprefix(f"{storage.url(key)}: ")


def _verify_metadata(
    storage: Storage,
    layout: IndexLayout,
    objects: ProjectObjects,
    record: IndexFile,
    checks: _Checks,
    problem: ProblemSink,
) -> None:
    key = layout.metadata(objects.name, record.filename)
    if record.core_metadata is None:
        if record.filename.endswith(".whl"):
            problem("missing-metadata", key, _no_metadata(storage, key))
        return
    info = objects.metadata.get(record.filename) or storage.head(key)
    if info is None:
        problem("missing-metadata", key, "the page names a .metadata file that does not exist")
        return
    if info.size > checks.max_metadata_size:
        # Not downloaded: installers do, whole, and so would this check.
        problem(
            "invalid-file",
            key,
            f"{info.size} bytes, larger than the {checks.max_metadata_size} bytes of metadata "
            f"read: {_LARGER}",
        )
        return
    found = remote_sha256(storage, key)
    if found is not None and found[0] != record.core_metadata.value:
        problem(
            "metadata-mismatch", key, "its sha256 is not the one on the page: run reindex --rehash"
        )


def _no_metadata(storage: Storage, key: str) -> str:
    if cannot := storage.key_problem(key):
        return f"no .metadata file (PEP 658), and there cannot be one: {cannot}"
    return "no .metadata file (PEP 658): run reindex"


def _verify_content(
    storage: Storage,
    layout: IndexLayout,
    objects: ProjectObjects,
    record: IndexFile,
    checks: _Checks,
    problem: ProblemSink,
) -> None:
    key = layout.file(objects.name, record.filename)
    if not checks.deep:
        found = remote_sha256(storage, key)
        if found is not None:
            _compare_hash(record, found[0], key, problem)
        return
    try:
        dist = read_remote_distribution(
            storage, key, record.filename, max_metadata_size=checks.max_metadata_size
        )
    except MetadataTooLarge as e:
        problem("invalid-file", key, f"not read ({_without_url(storage, key, e)}): {_LARGER}")
        return
    except InvalidDistribution as e:
        problem("invalid-file", key, f"{_without_url(storage, key, e)}: {_BAD_LISTED}")
        return
    if dist is None:
        return  # deleted meanwhile; the next run tells
    _compare_hash(record, dist.sha256, key, problem)
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


_BAD_LISTED = "pip cannot install it: run reindex --rehash to take it off the page"


def _compare_hash(record: IndexFile, sha256: str, key: str, problem: ProblemSink) -> None:
    if record.hash is None:
        problem("hash-mismatch", key, "the page gives no sha256")
    elif record.hash.name == "sha256" and record.hash.value != sha256:
        problem(
            "hash-mismatch",
            key,
            f"its sha256 is {sha256}, the page says {record.hash.value}: run reindex --rehash",
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

    def problem(kind: str, key: str, message: str) -> None:
        problems.append(Problem(kind, storage.url(key), message))

    html, html_body = _read_page(storage, layout.root_html(), RootIndex.from_html, problem)
    data, json_body = _read_page(storage, layout.root_json(), RootIndex.from_json, problem)
    if html_body is None:
        problem("missing-page", layout.root_html(), "no root HTML page: run reindex")
    if json_body is None:
        problem("missing-page", layout.root_json(), "no root JSON page: run reindex")
    if html is not None and data is not None and html.projects != data.projects:
        problem(
            "pages-disagree",
            layout.root_html(),
            "the root HTML and JSON pages list different projects",
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


def _leftovers(storage: Storage, layout: IndexLayout, only: list[str] | None) -> list[Problem]:
    """Temporary files of killed publishers (a local directory)."""
    problems = []
    minutes = int(LEFTOVER_AGE.total_seconds() // 60)
    for obj in storage.leftovers(layout.files_prefix(), LEFTOVER_AGE):
        project = project_of(obj.key, layout)
        if only is not None and project not in only:
            continue
        problems.append(
            Problem(
                "leftover",
                storage.url(obj.key),
                f"a temporary file ({obj.size} bytes) not written for over {minutes} minutes, "
                "left by a publisher that was stopped: reindex removes it",
                project,
            )
        )
    return problems
