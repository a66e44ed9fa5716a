"""PyPI's JSON API (`/pypi/NAME/json`, `/pypi/NAME/VERSION/json`), as static documents.

The fields that the tools around an index read: Renovate and Dependabot (`releases` with
`upload_time`, `yanked` and `requires_python`; `info.home_page` and `info.project_urls`),
pypi-browser (`releases`, file `url`s), and the human view, which also reads
`info.description_html`: the README rendered at publish time (`s3pypi_core._readme`), an
addition of ours. Digests are sha256 only (the index never computes MD5 or BLAKE2).

A release document holds what the release's core metadata says (`info`, written once, when
the release is first published) and its files; the project document holds the `info` of the
latest release and every release's files. Both carry the serial of the project page they were
derived from (`last_serial`), so that of two writers the one that saw the newer page wins.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterable
from typing import Any

from packaging.metadata import parse_email
from packaging.version import Version

from s3pypi_core.index import Index, IndexFile, format_upload_time

Document = dict[str, Any]

_NO_DOWNLOADS = {"last_day": -1, "last_month": -1, "last_week": -1}


def release_info(metadata: bytes, description_html: str) -> Document:
    """The `info` of a release, from its core metadata (a wheel's METADATA, an sdist's
    PKG-INFO), with the README already rendered."""
    raw, _unparsed = parse_email(metadata)
    project_urls = dict(raw.get("project_urls") or {})
    home_page = raw.get("home_page") or ""
    download_url = raw.get("download_url") or ""
    # As PyPI does: the legacy Home-page and Download-URL fields are project URLs too.
    if home_page and "Homepage" not in project_urls:
        project_urls["Homepage"] = home_page
    if download_url and "Download" not in project_urls:
        project_urls["Download"] = download_url
    platforms = raw.get("platforms") or []
    return {
        "author": raw.get("author"),
        "author_email": raw.get("author_email"),
        "bugtrack_url": None,
        "classifiers": list(raw.get("classifiers") or []),
        "description": raw.get("description") or "",
        "description_content_type": raw.get("description_content_type"),
        "description_html": description_html,
        "docs_url": None,
        "download_url": download_url,
        "downloads": dict(_NO_DOWNLOADS),
        "dynamic": list(raw.get("dynamic") or []) or None,
        # Renovate reads `home_page` and `project_urls` as strings only (null fails its schema).
        "home_page": home_page,
        "keywords": ",".join(raw.get("keywords") or []),
        "license": raw.get("license"),
        "license_expression": raw.get("license_expression"),
        "license_files": list(raw.get("license_files") or []) or None,
        "maintainer": raw.get("maintainer"),
        "maintainer_email": raw.get("maintainer_email"),
        "name": raw.get("name") or "",
        "platform": ", ".join(platforms) or None,
        "project_urls": project_urls,
        "provides_extra": list(raw.get("provides_extra") or []) or None,
        "requires_dist": list(raw.get("requires_dist") or []) or None,
        "requires_python": raw.get("requires_python"),
        "summary": raw.get("summary") or "",
        "version": raw.get("version") or "",
        "yanked": False,
        "yanked_reason": None,
    }


def minimal_info(page: Index, version: str) -> Document:
    """The `info` of a release whose metadata is unknown (published by another tool and not
    reindexed yet): what the project page says."""
    files = _files_of(page, version)
    requires_python = next((f.requires_python for f in files if f.requires_python), None)
    return {
        "author": None,
        "author_email": None,
        "bugtrack_url": None,
        "classifiers": [],
        "description": "",
        "description_content_type": None,
        "description_html": "",
        "docs_url": None,
        "download_url": "",
        "downloads": dict(_NO_DOWNLOADS),
        "dynamic": None,
        "home_page": "",
        "keywords": "",
        "license": None,
        "license_expression": None,
        "license_files": None,
        "maintainer": None,
        "maintainer_email": None,
        "name": page.name,
        "platform": None,
        "project_urls": {},
        "provides_extra": None,
        "requires_dist": None,
        "requires_python": requires_python,
        "summary": "",
        "version": version,
        "yanked": False,
        "yanked_reason": None,
    }


def latest_version(page: Index) -> str | None:
    """The release PyPI would show: the newest final release that is not yanked, else the
    newest pre-release that is not yanked, else the newest release."""
    versions = sorted({v for f in page.files.values() if (v := f.version) is not None})
    if not versions:
        return None
    live = [v for v in versions if not _is_yanked(_files_of(page, str(v)))]
    finals = [v for v in live if not v.is_prerelease]
    return str((finals or live or versions)[-1])


def release_document(
    info: Document, page: Index, version: str, url_base: str, serial: int
) -> Document:
    """`/pypi/NAME/VERSION/json`: the release's `info` (yanked as the page says now) and files."""
    files = _files_of(page, version)
    return {
        "info": _with_yank(info, files),
        "last_serial": serial,
        "urls": [file_entry(f, url_base) for f in files],
        "vulnerabilities": [],
    }


def project_document(
    latest_info: Document | None, page: Index, url_base: str, serial: int
) -> Document:
    """`/pypi/NAME/json`: the latest release's `info`, and the files of every release."""
    latest = latest_version(page)
    releases: dict[str, list[Document]] = {}
    for version in sorted({v for f in page.files.values() if (v := f.version) is not None}):
        releases[str(version)] = [file_entry(f, url_base) for f in _files_of(page, str(version))]
    info = None
    if latest is not None:
        info = _with_yank(latest_info or minimal_info(page, latest), _files_of(page, latest))
    return {
        "info": info,
        "last_serial": serial,
        "releases": releases,
        "urls": releases.get(latest, []) if latest is not None else [],
        "vulnerabilities": [],
    }


def file_entry(f: IndexFile, url_base: str) -> Document:
    """One file as PyPI's JSON describes it; `url` is the file's path on the index's host."""
    entry: Document = {
        "comment_text": "",
        "digests": {f.hash.name: f.hash.value} if f.hash else {},
        "downloads": -1,
        "filename": f.filename,
        "has_sig": False,
        "packagetype": "bdist_wheel" if f.filename.endswith(".whl") else "sdist",
        "python_version": _python_version(f.filename),
        "requires_python": f.requires_python,
        "size": f.size,
        "url": url_base + urllib.parse.quote(f.filename),
        "yanked": f.yanked is not None,
        "yanked_reason": f.yanked or None,
    }
    if f.upload_time is not None:
        # Renovate reads `upload_time` as a string when present; it is left out when unknown.
        iso = format_upload_time(f.upload_time)
        entry["upload_time"] = iso[:19]
        entry["upload_time_iso_8601"] = iso
    return entry


def encode(document: Document) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def decode(body: bytes) -> Document | None:
    """A stored document, or None when it is damaged (then it is rewritten)."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict) or not isinstance(document.get("last_serial"), int):
        return None
    if not isinstance(document.get("info"), (dict, type(None))):
        return None
    return document


def versions_of(page: Index) -> set[str]:
    return {str(v) for f in page.files.values() if (v := f.version) is not None}


def _files_of(page: Index, version: str) -> list[IndexFile]:
    wanted = Version(version)
    return sorted((f for f in page.files.values() if f.version == wanted), key=IndexFile._sort_key)


def _is_yanked(files: Iterable[IndexFile]) -> bool:
    files = list(files)
    return bool(files) and all(f.yanked is not None for f in files)


def _with_yank(info: Document, files: list[IndexFile]) -> Document:
    yanked = _is_yanked(files)
    reasons = [f.yanked for f in files if f.yanked]
    return {**info, "yanked": yanked, "yanked_reason": (reasons[0] if yanked and reasons else None)}


def _python_version(filename: str) -> str:
    if filename.endswith(".whl"):
        parts = filename.removesuffix(".whl").split("-")
        return parts[-3] if len(parts) >= 5 else ""
    return "source"
