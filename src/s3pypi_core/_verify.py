"""`verify`: what is wrong with an index, found by comparing its pages with its objects."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from s3pypi_core._inventory import (
    Inventory,
    ProjectObjects,
    check_layout,
    read_remote_distribution,
    selected,
    take_inventory,
)
from s3pypi_core.distribution import sha256_hex
from s3pypi_core.exceptions import InvalidDistribution
from s3pypi_core.index import Index, IndexFile, RootIndex, html_serial
from s3pypi_core.layout import IndexLayout
from s3pypi_core.publishing import UPLOAD_THREADS
from s3pypi_core.storage import Storage


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
    check_layout(inventory, storage, layout)
    projects = selected(inventory, names, storage)
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
    elif sha256_hex(blob.body) != record.core_metadata.value:
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
        dist = read_remote_distribution(storage, key, record.filename)
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
