"""Channels: promote a release from one index to another, and prune old versions.

Teams run indexes side by side (dev, stage, prod: often prefixes of one bucket). A release is
built once, published to the first, and promoted, byte for byte, to the next when it passes;
old versions are pruned by a retention policy. Both keep the rules of publishing:

- promote writes the files (create-only, server-side in S3) before the destination's page names
  them, and changes that page by compare-and-swap; a file already at the destination with other
  content stops it before it writes anything. Run twice, the second run writes nothing.
- prune takes the versions off the page first (compare-and-swap, removing only the records it
  selected, so a version published meanwhile stays), then deletes their files; the newest
  release is never selected.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from s3pypi_core import __prog__
from s3pypi_core._inventory import take_inventory
from s3pypi_core._pages import PageStore, backoff
from s3pypi_core.config import OPTION_NAMES, Config, parse_repository_url
from s3pypi_core.distribution import normalize_package_name, parse_filename, sha256_hex
from s3pypi_core.exceptions import (
    InvalidDistribution,
    NotFound,
    OptionError,
    S3PyPIError,
    WriteConflict,
)
from s3pypi_core.index import Hash, Index, IndexFile, RootIndex
from s3pypi_core.layout import FILE_CACHE_CONTROL, IndexLayout, content_type_for
from s3pypi_core.publishing import MAX_CREATE_ATTEMPTS, UPLOAD_THREADS, Publisher
from s3pypi_core.storage import DryRunStorage, Storage, StoredObject

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

__all__ = [
    "Promotion",
    "Removal",
    "RetentionPolicy",
    "VersionInfo",
    "promote_release",
    "promotion_configs",
    "prune",
    "select_versions",
]

log = logging.getLogger(__prog__)

PROJECT_THREADS = 8
"""Projects pruned at once."""


# Promote


@dataclass
class Promotion:
    """What `promote_release` did (or, in a dry run, would do)."""

    project: str
    version: str
    source: str
    destination: str
    copied: list[str] = field(default_factory=list)
    """Distribution files copied to the destination."""
    listed: list[str] = field(default_factory=list)
    """Files added to the destination's project page."""
    root_page: bool = False
    """Whether the project was added to the destination's root page."""

    @property
    def changed(self) -> bool:
        return bool(self.copied or self.listed or self.root_page)


@dataclass
class _Planned:
    record: IndexFile
    """The source's record, completed (sha256 and size always known)."""
    copy: bool
    """The destination does not have the file yet."""
    copy_metadata: bool
    listed: bool
    """The destination's page already lists the file, with the same hash."""


def promotion_configs(to: str, *, dry_run: bool = False, **options: Any) -> tuple[Config, Config]:
    """The source (`options`, as for `Config.from_options`) and the destination (`to`, a
    repository URL) of a promotion.

    The S3 options apply to each side that is in S3: the AWS ones (profile, region, endpoint)
    and `index_html` to both; `no_sign_request` to the source only (the destination is
    written); the write options (`put_args`, `locks_table`, `lock_timeout`) to the destination
    only. An option that applies to neither side is an error, as for one index.
    """
    source_url = options.get("repository_url")
    source_is_s3 = parse_repository_url(source_url)[0] is not None if source_url else True
    names = {**OPTION_NAMES, "repository_url": "--to"}
    destination_is_s3 = parse_repository_url(to)[0] is not None
    shared = {
        name: options.pop(name)
        for name in ("profile", "region", "endpoint_url", "index_html")
        if name in options
    }
    writing = {
        name: options.pop(name)
        for name in ("put_args", "locks_table", "lock_timeout")
        if name in options
    }
    source = Config.from_options(
        **options, **(shared if source_is_s3 or not destination_is_s3 else {}), dry_run=dry_run
    )
    destination = Config.from_options(
        repository_url=to,
        **writing,
        **(shared if destination_is_s3 else {}),
        dry_run=dry_run,
        names=names,
    )
    _check_apart(source, destination)
    return source, destination


def _check_apart(source: Config, destination: Config) -> None:
    """Refuse indexes that are one, or one inside the other (their keys would collide: the
    root page of `s3://B/dev/prod` is the page of a project `prod` in `s3://B/dev`)."""
    if source.s3 and destination.s3:
        if (source.s3.bucket, source.s3.endpoint_url) != (
            destination.s3.bucket,
            destination.s3.endpoint_url,
        ):
            return
        inner = [source.layout.files_prefix(), destination.layout.files_prefix()]
    elif source.directory and destination.directory:
        inner = [
            source.directory.resolve().as_posix().rstrip("/") + "/",
            destination.directory.resolve().as_posix().rstrip("/") + "/",
        ]
    else:
        return
    shorter, longer = sorted(inner, key=len)
    if longer.startswith(shorter):
        what = "is" if shorter == longer else "overlaps"
        raise OptionError(
            f"the destination {destination.location} {what} the source {source.location}: "
            "promote between separate indexes (e.g. s3://BUCKET/dev and s3://BUCKET/prod)"
        )


def promote_release(
    cfg: Config, name: str, version: str, *, to: Config, put_root_index: bool = False
) -> Promotion:
    """Copy every file of one version (with its `.metadata` file) from the index `cfg` to the
    index `to`, then list them on the destination's project page.

    The records keep the source's hashes, sizes, Requires-Python, metadata hashes and yanked
    state; their upload time is the time of the promotion (PEP 700: when the file reached this
    index). Copies are server-side when both indexes are in S3 at one endpoint, streamed
    otherwise, and checked against the source's sha256 either way. A file the destination
    already has with the same bytes is not copied again; one with other content stops the
    promotion before anything is written. The project is added to the destination's root
    page when it has one, or with `put_root_index`. With `to.dry_run`, the writes are reported
    instead.
    """
    project = normalize_package_name(name)
    wanted = _valid_version(version)
    _check_apart(cfg, to)
    source = cfg.open_storage()
    found = PageStore(source, cfg.layout).read_project(project).page
    records = [
        record for record in found.files.values() if _parsed(record.filename) == (project, wanted)
    ]
    if not records:
        raise NotFound(f"no files of {project} {version} in {cfg.location}")
    destination = to.publisher()
    promotion = Promotion(project, str(wanted), cfg.location, to.location)
    with destination.locker(project):
        before = destination.pages.read_project(project)
        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            plan = list(
                pool.map(
                    lambda r: _plan_file(source, cfg.layout, destination, project, r, before.page),
                    records,
                )
            )
        # Files before the pages that name them.
        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            list(
                pool.map(
                    lambda p: _copy_file(source, cfg.layout, destination, project, p),
                    [p for p in plan if p.copy or p.copy_metadata],
                )
            )
        promotion.copied = sorted(p.record.filename for p in plan if p.copy)
        now = datetime.now(timezone.utc)
        new = {p.record.filename: replace(p.record, upload_time=now) for p in plan if not p.listed}
        added: list[str] = []

        def add(index: Index) -> bool:
            added[:] = [filename for filename in new if filename not in index.files]
            for filename in added:
                index.files[filename] = new[filename]
            return bool(added)

        if new:
            page = destination.pages.update_project(project, add, first=before)
            _update_view(destination, project, page.page, [p.record for p in plan])
        promotion.listed = sorted(added)
    root = destination.pages.read_root()
    if (put_root_index or root.exists) and project not in root.page.projects:
        with destination.locker("/"):
            destination.pages.update_root(lambda page: _add_project(page, project))
        promotion.root_page = True
    return promotion


def _update_view(
    destination: Publisher, project: str, page: Index, records: list[IndexFile]
) -> None:
    """The human view's documents of the promoted release (its README rendered from the
    metadata file just copied), of the project, and the view itself, as a publish writes them."""

    def metadata_of(version: str) -> bytes | None:
        for record in records:
            if record.core_metadata is not None and str(record.version) == version:
                key = destination.layout.metadata(project, record.filename)
                if (blob := destination.storage.get(key)) is not None:
                    return blob.body
        return None

    destination.browse.rebuild(project, page, metadata_of)
    destination.browse.ensure_view()


def _plan_file(
    source: Storage,
    layout: IndexLayout,
    destination: Publisher,
    project: str,
    record: IndexFile,
    page: Index,
) -> _Planned:
    """What to do for one file; raises when the destination has other content under its name
    (before anything is written)."""
    filename = record.filename
    key = layout.file(project, filename)
    info = source.head(key)
    if info is None:
        raise NotFound(
            f"{source.url(key)} is on its project page but does not exist: run s3pypi verify"
        )
    if record.size is not None and record.size != info.size:
        raise S3PyPIError(
            f"{source.url(key)} has {info.size} bytes, its page says {record.size}: "
            "run s3pypi verify"
        )
    if record.hash is None or record.hash.name != "sha256":
        # A page written by s3pypi 2.x may lack hashes: the promoted record will have one.
        digest = _sha256(source, key)
        if digest is None:
            raise NotFound(f"{source.url(key)} disappeared while promoting")
        record = replace(record, hash=Hash("sha256", digest))
    record = replace(record, size=info.size)
    if record.core_metadata and source.head(layout.metadata(project, filename)) is None:
        raise NotFound(
            f"{source.url(layout.metadata(project, filename))} is named by its project page "
            "but does not exist: run s3pypi reindex"
        )
    assert record.hash is not None
    target = destination.layout.file(project, filename)
    there = destination.storage.head(target)
    listed = page.files.get(filename)
    same = (
        there is not None
        and there.size == record.size
        and _sha256(destination.storage, target) == record.hash.value
    )
    if (listed is not None and listed.hash != record.hash) or (there is not None and not same):
        raise S3PyPIError(
            f"{filename} already exists in {destination.storage.url(target)} with other "
            "content: nothing was promoted"
        )
    metadata_there = (
        not record.core_metadata
        or destination.storage.head(destination.layout.metadata(project, filename)) is not None
    )
    return _Planned(
        record,
        copy=there is None,
        copy_metadata=there is None or not metadata_there,
        listed=listed is not None and there is not None,
    )


def _copy_file(
    source: Storage, layout: IndexLayout, destination: Publisher, project: str, plan: _Planned
) -> None:
    record = plan.record
    assert record.hash is not None
    assert record.size is not None
    key = layout.file(project, record.filename)
    target = destination.layout.file(project, record.filename)
    storage = destination.storage
    if plan.copy:
        if not isinstance(storage, DryRunStorage):  # which reports the copy itself
            log.info("Copying %s to %s", source.url(key), storage.url(target))
        for _attempt in backoff(MAX_CREATE_ATTEMPTS):
            try:
                if not storage.copy_from(
                    source,
                    key,
                    target,
                    size=record.size,
                    sha256=record.hash.value,
                    content_type=content_type_for(target),
                    cache_control=FILE_CACHE_CONTROL,
                ):
                    _stream_copy(source, key, storage, target, record.hash)
                break
            except WriteConflict:
                if storage.head(target) is None:
                    continue  # S3's 409: another write of the key was in flight
                if _sha256(storage, target) == record.hash.value:
                    break  # the same bytes, written by someone else meanwhile
                raise S3PyPIError(
                    f"{storage.url(target)} was created with other content while promoting"
                ) from None
        else:
            raise S3PyPIError(f"gave up copying to {storage.url(target)}: it kept conflicting")
    if record.core_metadata and plan.copy_metadata:
        metadata_key = layout.metadata(project, record.filename)
        blob = source.get(metadata_key)
        if blob is None or sha256_hex(blob.body) != record.core_metadata.value:
            raise S3PyPIError(
                f"{source.url(metadata_key)} does not match the hash on its page: run s3pypi verify"
            )
        # Written unconditionally, as upload does: the file it describes is this one.
        storage.put(
            destination.layout.metadata(project, record.filename),
            blob.body,
            content_type=content_type_for(".metadata"),
            cache_control=FILE_CACHE_CONTROL,
        )


def _stream_copy(source: Storage, key: str, storage: Storage, target: str, expected: Hash) -> None:
    """Through a temporary file (never whole in memory), checked against the source's hash."""
    with tempfile.TemporaryDirectory(prefix="s3pypi-") as tmp:
        path = Path(tmp, "file")
        digest = hashlib.sha256()
        stream = source.stream(key)
        if stream is None:
            raise NotFound(f"{source.url(key)} disappeared while promoting")
        with open(path, "wb") as f:
            for chunk in stream.body:
                digest.update(chunk)
                f.write(chunk)
        if digest.hexdigest() != expected.value:
            raise S3PyPIError(
                f"{source.url(key)} does not have the sha256 it should have ({expected.value}, "
                f"it has {digest.hexdigest()}): run s3pypi verify"
            )
        storage.put_file(
            target,
            path,
            content_type=content_type_for(target),
            cache_control=FILE_CACHE_CONTROL,
            overwrite=False,
        )


def _sha256(storage: Storage, key: str) -> str | None:
    stream = storage.stream(key)
    if stream is None:
        return None
    digest = hashlib.sha256()
    for chunk in stream.body:
        digest.update(chunk)
    return digest.hexdigest()


def _add_project(root: RootIndex, project: str) -> bool:
    if project in root.projects:
        return False
    root.projects.add(project)
    return True


def _remove_project(root: RootIndex, project: str) -> bool:
    if project not in root.projects:
        return False
    root.projects.discard(project)
    return True


# Prune


@dataclass(frozen=True)
class RetentionPolicy:
    """Which old versions `prune` removes.

    A version is removed when all of these hold: it is not among the `keep` newest versions
    (PEP 440 order; with `only_prereleases`, the `keep` newest pre-releases, final releases
    never being removed); it was uploaded more than `older_than` ago (when given); and it is
    none of the versions an installer would pick: the newest version, the newest final
    release, and the newest of each that is not yanked. `projects` holds per-project
    policies, by normalized name.
    """

    keep: int
    older_than: timedelta | None = None
    only_prereleases: bool = False
    projects: Mapping[str, RetentionPolicy] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.keep, bool) or not isinstance(self.keep, int) or self.keep < 1:
            raise OptionError(f"keep must be a whole number of at least 1, not {self.keep!r}")
        if self.older_than is not None and self.older_than < timedelta(0):
            raise OptionError("older-than must not be negative")
        normalized = {normalize_package_name(k): v for k, v in self.projects.items()}
        object.__setattr__(self, "projects", normalized)

    def for_project(self, project: str) -> RetentionPolicy:
        return self.projects.get(normalize_package_name(project), self)

    @classmethod
    def from_file(cls, path: Path | str) -> RetentionPolicy:
        """The `[tool.s3pypi.retention]` table of a TOML file (`pyproject.toml` or any other):

        [tool.s3pypi.retention]
        keep = 10               # versions
        older-than = 30         # days
        only-prereleases = true

        [tool.s3pypi.retention.projects.acme-core]   # overrides for one project
        keep = 50
        """
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as e:
            raise OptionError(f"cannot read {path}: {e.strerror or e}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise OptionError(f"{path} is not valid TOML: {e}") from None
        table: Any = data
        for part in ("tool", "s3pypi", "retention"):
            table = table.get(part) if isinstance(table, dict) else None
        if not isinstance(table, dict):
            raise OptionError(f"{path} has no [tool.s3pypi.retention] table")
        where = f"{path} [tool.s3pypi.retention]"
        overrides = table.get("projects", {})
        if not isinstance(overrides, dict):
            raise OptionError(f"{where}: projects must be a table of tables")
        base = _policy_from_table({k: v for k, v in table.items() if k != "projects"}, where)
        projects = {}
        for name, override in overrides.items():
            if not isinstance(override, dict):
                raise OptionError(f"{where}: projects.{name} must be a table")
            projects[name] = _policy_from_table(override, f"{where} projects.{name}", base)
        return replace(base, projects=projects)


_POLICY_KEYS = ("keep", "older-than", "only-prereleases")


def _policy_from_table(
    table: dict[str, Any], where: str, defaults: RetentionPolicy | None = None
) -> RetentionPolicy:
    if unknown := sorted(set(table) - set(_POLICY_KEYS)):
        raise OptionError(
            f"{where}: unknown key {unknown[0]!r} (the keys are {', '.join(_POLICY_KEYS)})"
        )
    keep = table.get("keep", defaults.keep if defaults else None)
    if keep is None:
        raise OptionError(f"{where}: keep is required (how many versions to keep)")
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise OptionError(f"{where}: keep must be a whole number of at least 1, not {keep!r}")
    older_than = defaults.older_than if defaults else None
    if "older-than" in table:
        days = table["older-than"]
        if isinstance(days, bool) or not isinstance(days, (int, float)) or not days >= 0:
            raise OptionError(f"{where}: older-than must be a number of days, not {days!r}")
        older_than = timedelta(days=days)
    only_prereleases = table.get(
        "only-prereleases", defaults.only_prereleases if defaults else False
    )
    if not isinstance(only_prereleases, bool):
        raise OptionError(f"{where}: only-prereleases must be true or false")
    return RetentionPolicy(keep, older_than, only_prereleases)


@dataclass(frozen=True)
class VersionInfo:
    """One version of a project, as far as retention is concerned."""

    version: Version
    uploaded: datetime | None
    """When its newest file was uploaded; None when unknown (never old enough to remove)."""
    yanked: bool = False
    """All its files are yanked."""


def select_versions(
    versions: Iterable[VersionInfo], policy: RetentionPolicy, now: datetime
) -> list[Version]:
    """The versions `policy` removes, newest first (see `RetentionPolicy`)."""
    newest_first = sorted(versions, key=lambda v: v.version, reverse=True)
    protected = _protected(newest_first)
    candidates = [v for v in newest_first if v.version.is_prerelease or not policy.only_prereleases]
    cutoff = now - policy.older_than if policy.older_than is not None else None
    return [
        v.version
        for v in candidates[policy.keep :]
        if v.version not in protected
        and (cutoff is None or (v.uploaded is not None and v.uploaded < cutoff))
    ]


def _protected(newest_first: Sequence[VersionInfo]) -> set[Version]:
    """What `pip install NAME` and `pip install --pre NAME` pick, and the newest version and
    newest final release whatever their state."""
    kinds = [
        newest_first,
        [v for v in newest_first if not v.version.is_prerelease],
        [v for v in newest_first if not v.yanked],
        [v for v in newest_first if not v.yanked and not v.version.is_prerelease],
    ]
    return {kind[0].version for kind in kinds if kind}


@dataclass(frozen=True)
class Removal:
    """One version `prune` removed (or, in a dry run, would remove)."""

    project: str
    version: str
    files: tuple[str, ...]
    size: int
    """Bytes freed: the files and their `.metadata` files."""
    uploaded: datetime | None


@dataclass
class _PrunePlan:
    project: str
    removals: list[Removal]
    records: dict[str, IndexFile]
    """The records to take off the page, as read."""
    sizes: dict[str, int] = field(default_factory=dict)
    """Filename -> bytes of the file and its `.metadata` file."""


def prune(
    cfg: Config,
    names: Iterable[str] | None,
    policy: RetentionPolicy,
    *,
    now: datetime | None = None,
) -> list[Removal]:
    """Remove the versions `policy` selects from the named projects (every project when
    `names` is None); return what was removed (with `cfg.dry_run`, what would be).

    Pages first: each project's page loses exactly the records selected (compare-and-swap, so a
    version published meanwhile stays), then their files and `.metadata` files are deleted; a
    project left empty (by a concurrent delete: prune keeps the newest release) leaves the root
    page. The project lock, when there is a lock table, is held from the page to the last file.
    """
    now = now or datetime.now(timezone.utc)
    publisher = cfg.publisher()
    storage, layout = publisher.storage, publisher.layout
    objects: dict[str, dict[str, StoredObject]] = {}
    if names is None:
        inventory = take_inventory(storage, layout)
        for name, found in inventory.projects.items():
            if found.pages:
                objects[name] = {
                    **found.dists,
                    **{f"{f}.metadata": obj for f, obj in found.metadata.items()},
                }
        projects = sorted(objects)
    else:
        projects = sorted({normalize_package_name(n) for n in names})
        if not projects:
            raise OptionError("no projects to prune: name them, or prune all")
    with ThreadPoolExecutor(PROJECT_THREADS) as pool:
        plans = list(
            pool.map(
                lambda p: _plan_prune(
                    publisher,
                    p,
                    policy.for_project(p),
                    now,
                    objects.get(p),
                    named=names is not None,
                ),
                projects,
            )
        )
    if cfg.dry_run:
        return [removal for plan in plans for removal in plan.removals]
    with ThreadPoolExecutor(PROJECT_THREADS) as pool:
        done = list(pool.map(lambda plan: _prune_project(publisher, plan), plans))
    return [removal for removals in done for removal in removals]


def _plan_prune(
    publisher: Publisher,
    project: str,
    policy: RetentionPolicy,
    now: datetime,
    objects: dict[str, StoredObject] | None,
    *,
    named: bool,
) -> _PrunePlan:
    current = publisher.pages.read_project(project)
    if not current.exists:
        if named:
            raise NotFound(f"no project {project} in {publisher.storage.url()}")
        return _PrunePlan(project, [], {})
    if objects is None:
        prefix = publisher.layout.project_dir(project)
        objects = {
            obj.key[len(prefix) :]: obj
            for obj in publisher.storage.list(prefix)
            if "/" not in obj.key[len(prefix) :]
        }
    by_version: dict[Version, list[IndexFile]] = defaultdict(list)
    for record in current.page.files.values():
        parsed = _parsed(record.filename)
        if parsed is not None and parsed[0] == project:
            by_version[parsed[1]].append(record)

    def uploaded(record: IndexFile) -> datetime | None:
        stored = objects.get(record.filename)
        return record.upload_time or (stored.last_modified if stored else None)

    infos = {}
    for version, records in by_version.items():
        times = [uploaded(r) for r in records]
        infos[version] = VersionInfo(
            version,
            None if None in times else max(t for t in times if t is not None),
            yanked=all(r.yanked is not None for r in records),
        )
    plan = _PrunePlan(project, [], {})
    for version in select_versions(infos.values(), policy, now):
        records = sorted(by_version[version], key=lambda r: r.filename)
        for r in records:
            stored, metadata = objects.get(r.filename), objects.get(f"{r.filename}.metadata")
            plan.sizes[r.filename] = (stored.size if stored else r.size or 0) + (
                metadata.size if metadata else 0
            )
            plan.records[r.filename] = r
        files = tuple(r.filename for r in records)
        plan.removals.append(
            Removal(
                project,
                str(version),
                files,
                sum(plan.sizes[f] for f in files),
                infos[version].uploaded,
            )
        )
    return plan


def _prune_project(publisher: Publisher, plan: _PrunePlan) -> list[Removal]:
    if not plan.records:
        return []
    project, storage, layout = plan.project, publisher.storage, publisher.layout

    def remove(index: Index) -> bool:
        changed = False
        for filename, record in plan.records.items():
            current = index.files.get(filename)
            # Only the file selected: one replaced meanwhile (upload --force) is not it.
            if current is not None and current.hash == record.hash:
                del index.files[filename]
                changed = True
        return changed

    with publisher.locker(project):
        page = publisher.pages.update_project(project, remove, create=False, delete_if_empty=True)
        gone = {filename for filename in plan.records if filename not in page.page.files}

        # Pages first, then the files they no longer name.
        def delete(filename: str) -> None:
            log.info("Deleting %s", storage.url(layout.file(project, filename)))
            storage.delete(layout.metadata(project, filename))
            storage.delete(layout.file(project, filename))

        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            list(pool.map(delete, sorted(gone)))
        # The human view's documents of the removed releases, as delete removes them.
        versions = {str(parsed[1]) for f in gone if (parsed := _parsed(f))}
        publisher.browse.after_removal(project, page.page if page.exists else None, versions)
    if not page.exists:
        with publisher.locker("/"):
            publisher.pages.update_root(lambda root: _remove_project(root, project), create=False)
    removed = []
    for removal in plan.removals:
        files = tuple(f for f in removal.files if f in gone)
        if files != removal.files:
            kept = sorted(set(removal.files) - set(files))
            log.warning("Kept %s: changed on the page while pruning", ", ".join(kept))
        if files:
            removed.append(replace(removal, files=files, size=sum(plan.sizes[f] for f in files)))
    return removed


def _parsed(filename: str) -> tuple[str, Version] | None:
    try:
        return parse_filename(filename)
    except InvalidDistribution:
        return None


def _valid_version(version: str) -> Version:
    try:
        return Version(version)
    except InvalidVersion:
        raise S3PyPIError(f"not a valid version: {version!r}") from None
