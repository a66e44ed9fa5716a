"""The objects of an index, sorted by project, from one listing: what `verify` checks the
pages against and what `reindex` rebuilds them from."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from packaging.utils import canonicalize_name

from s3pypi_core.distribution import MAX_METADATA_SIZE, Distribution, parse_filename
from s3pypi_core.exceptions import InvalidDistribution, NotFound, S3PyPIError
from s3pypi_core.layout import IndexLayout
from s3pypi_core.storage import Storage, StoredObject

LEFTOVER_AGE = timedelta(minutes=15)
"""How old a temporary file of a local directory must be to count as left by a killed
publisher. A live publisher writes its temporary file continuously (in 1 MiB chunks) and renames
it as soon as it is complete, so a quarter of an hour without a write means nobody will rename
it; the margin also covers clocks of machines sharing a network file system."""


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
    nested: set[str] = field(default_factory=set)
    """Prefixes below this one that hold distributions in `NAME/FILE` (an index there)."""

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
        if "/" in rest:
            if nested := _nested_index(relative):
                inventory.nested.add(nested)
            continue  # not a project directory of ours
        if directory != canonicalize_name(directory):
            continue
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


def _nested_index(relative: str) -> str | None:
    """`P/NAME/FILE` -> `P` when FILE is a distribution of NAME: an index under `P/`."""
    nested, _, rest = relative.rpartition("/")
    nested, _, name = nested.rpartition("/")
    try:
        project, _version = parse_filename(rest)
    except InvalidDistribution:
        return None
    return nested if project == name else None


def check_index_is_there(inventory: Inventory, storage: Storage, layout: IndexLayout) -> None:
    """Refuse to work on a location that holds no index: nothing there (a wrong --prefix), or
    the index one level down (a forgotten --prefix)."""
    if any(p.dists for p in inventory.projects.values()):
        return
    here = storage.url(layout.files_prefix())
    if inventory.nested:
        below = sorted(inventory.nested, key=lambda p: (p.count("/"), p))
        prefix = "/".join(p for p in (layout.prefix, below[0]) if p)
        hint = (
            f"add --prefix {prefix}"
            if here.startswith("s3:")
            else f"use --repository-url {storage.url(prefix + '/')}"
        )
        places = ", ".join(f"{p}/" for p in below[:3]) + (", ..." if len(below) > 3 else "")
        seems = "seems to be" if len(below) == 1 else "seem to be"
        what = "the index" if len(below) == 1 else "indexes"
        raise NotFound(f"no index at {here}; {what} {seems} under {places}: {hint}")
    if not inventory.root_pages and not any(p.pages for p in inventory.projects.values()):
        raise NotFound(f"no index at {here}: no distributions or pages there")


def other_layout(inventory: Inventory, layout: IndexLayout) -> IndexLayout | None:
    """The other HTML layout (`NAME/` or `NAME/index.html`) when the index has pages only there."""
    ours = "index.html" if layout.index_html else "html"
    other = "html" if layout.index_html else "index.html"
    pages = [p.pages for p in inventory.projects.values() if p.pages - {"json"}]
    if pages and not any(ours in p for p in pages) and any(other in p for p in pages):
        return replace(layout, index_html=not layout.index_html)
    return None


def where(layout: IndexLayout) -> str:
    return "NAME/index.html" if layout.index_html else "NAME/"


def check_layout(inventory: Inventory, storage: Storage, layout: IndexLayout) -> None:
    """Refuse to check `NAME/` pages when the index keeps them at `NAME/index.html`."""
    other = other_layout(inventory, layout)
    if other is not None:
        hint = "leave out --index.html" if layout.index_html else "add --index.html"
        raise S3PyPIError(f"the project pages of {storage.url()} are at {where(other)}: {hint}")


def selected(inventory: Inventory, names: Iterable[str], storage: Storage) -> list[str]:
    """The projects named (all when none), each of which must have objects or pages."""
    wanted = {canonicalize_name(n) for n in names}
    if unknown := sorted(wanted - set(inventory.projects)):
        raise NotFound(f"no project {unknown[0]} in {storage.url()}")
    return sorted(wanted or inventory.projects)


def stream_to(storage: Storage, key: str, target: Path) -> bool:
    """Copy an object into a local file in chunks (never whole into memory)."""
    stream = storage.stream(key)
    if stream is None:
        return False
    with open(target, "wb") as f:
        for chunk in stream.body:
            f.write(chunk)
    return True


def read_remote_distribution(
    storage: Storage, key: str, filename: str, *, max_metadata_size: int = MAX_METADATA_SIZE
) -> Distribution | None:
    """Download a distribution into a temporary file and read it in full (`Distribution.read`);
    None when it vanished.

    Raises `InvalidDistribution` (or its `MetadataTooLarge`) naming the object, not the
    temporary file, when it is none.
    """
    with tempfile.TemporaryDirectory(prefix="s3pypi-") as tmp:
        path = Path(tmp, filename)  # Distribution.read needs the real filename
        if not stream_to(storage, key, path):
            return None
        try:
            return Distribution.read(path, max_metadata_size=max_metadata_size)
        except InvalidDistribution as e:
            raise type(e)(str(e).replace(str(path), storage.url(key))) from e


def remote_sha256(storage: Storage, key: str) -> tuple[str, int] | None:
    """The sha256 and size of an object, streamed (never whole in memory); None when gone."""
    stream = storage.stream(key)
    if stream is None:
        return None
    digest, size = hashlib.sha256(), 0
    for chunk in stream.body:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def project_of(key: str, layout: IndexLayout) -> str | None:
    """The project directory a key is in, if any."""
    directory, slash, _ = key.removeprefix(layout.files_prefix()).partition("/")
    return directory if slash else None
