"""The simple repository API as an independent client reads it (`pypi-simple`, over HTTP from
`s3pypi serve`), and the JSON pages checked against PEP 691/700 field by field: every
attribute the index promises (PEP 503/592/629/658/691/700/714), in HTML and JSON alike."""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from packaging.version import Version
from pypi_simple import ACCEPT_HTML_ONLY, ACCEPT_JSON_ONLY, DistributionPackage, PyPISimple

from s3pypi_core.distribution import Distribution
from s3pypi_core.index import Index, html_serial
from s3pypi_core.layout import (
    FILE_CACHE_CONTROL,
    HTML_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    PAGE_CACHE_CONTROL,
)
from tests.conftest import Bucket
from tests.distributions import SampleProject
from tests.serving import serving

Run = Callable[..., Result]

YANK_REASON = """<b>"broken" & 'worse'</b>"""
FILE_KEYS = {
    "filename",
    "url",
    "hashes",
    "requires-python",
    "core-metadata",
    "dist-info-metadata",
    "yanked",
    "size",
    "upload-time",
}
UPLOAD_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")


@pytest.fixture
def sample(tmp_path: Path, projects: Callable[..., SampleProject]) -> list[Path]:
    """Every kind of file: wheels with and without Requires-Python (one that needs escaping),
    sdists with static metadata (.metadata file), old metadata and dynamic fields (none)."""
    hello = projects("hello-world")
    return [
        hello.wheel("1.0.0", requires_python=">=3.8,<4"),
        hello.sdist("1.0.0", requires_python=">=3.8,<4"),
        hello.wheel("1.1"),
        hello.sdist("1.1", metadata_version="2.1"),
        hello.sdist("1.2", extension=".zip", dynamic=["Requires-Dist"]),
        projects("Other_Project").wheel("0.1", requires=["hello-world>=1.0"]),
    ]


@pytest.fixture
def published(bucket: Bucket, run: Run, sample: list[Path]) -> Bucket:
    result = run("upload", *sample, "--bucket", bucket.name, "--put-root-index")
    assert result.exit_code == 0, result.output
    result = run("yank", "hello-world", "1.1", "--reason", YANK_REASON, "--bucket", bucket.name)
    assert result.exit_code == 0, result.output
    return bucket


def _expected(path: Path, base_url: str) -> dict[str, Any]:
    """What a client must read about one of `sample`'s files."""
    dist = Distribution.read(path)
    yanked = dist.project == "hello-world" and str(dist.version) == "1.1"
    return {
        "filename": path.name,
        "url": f"{base_url}{dist.project}/{urllib.parse.quote(path.name)}",
        "version": str(dist.version),
        "package_type": "wheel" if dist.is_wheel else "sdist",
        "digests": {"sha256": dist.sha256},
        "requires_python": dist.requires_python,
        "is_yanked": yanked,
        "yanked_reason": YANK_REASON if yanked else None,
        "has_metadata": dist.metadata_is_static,
        "metadata_digests": (
            {"sha256": hashlib.sha256(dist.metadata).hexdigest()}
            if dist.metadata_is_static
            else None
        ),
        "size": dist.size,
    }


def _read(pkg: DistributionPackage) -> dict[str, Any]:
    return {
        "filename": pkg.filename,
        "url": pkg.url,
        "version": pkg.version,
        "package_type": pkg.package_type,
        "digests": pkg.digests,
        "requires_python": pkg.requires_python,
        "is_yanked": pkg.is_yanked,
        "yanked_reason": pkg.yanked_reason,
        "has_metadata": bool(pkg.has_metadata),
        "metadata_digests": pkg.metadata_digests or None,
        "size": pkg.size,
    }


def test_pypi_simple_reads_every_attribute_from_html_and_json(
    published: Bucket, sample: list[Path], tmp_path: Path
) -> None:
    started = datetime.now(timezone.utc) - timedelta(minutes=1)
    with serving("--bucket", published.name, log_dir=tmp_path) as server:
        html_client = PyPISimple(server.url, accept=ACCEPT_HTML_ONLY)
        json_client = PyPISimple(server.url, accept=ACCEPT_JSON_ONLY)
        html_page = html_client.get_project_page("Hello_World")
        json_page = json_client.get_project_page("hello-world")
        other_html = html_client.get_project_page("other-project")
        other_json = json_client.get_project_page("other-project")
        assert sorted(html_client.get_index_page().projects) == ["hello-world", "other-project"]
        assert sorted(json_client.get_index_page().projects) == ["hello-world", "other-project"]

        # The digests on the page are those of the objects served (checked by pypi-simple).
        for pkg in json_page.packages + other_json.packages:
            pkg_path = tmp_path / "downloads" / pkg.filename
            json_client.download_package(pkg, pkg_path, verify=True)
            source = next(p for p in sample if p.name == pkg.filename)
            assert pkg_path.read_bytes() == source.read_bytes()
            if pkg.has_metadata:
                metadata = json_client.get_package_metadata(pkg, verify=True)
                assert metadata == Distribution.read(source).metadata.decode()

    for page in (html_page, json_page, other_html, other_json):
        assert page.repository_version == "1.1"  # PEP 629 meta tag / PEP 691 meta
    # PEP 700: versions and sizes, in JSON only.
    assert json_page.versions == ["1.0.0", "1.1", "1.2"]
    assert other_json.versions == ["0.1"]
    assert json_page.last_serial == str(html_serial(published.text("hello-world/")))

    expected = {p.name: _expected(p, server.url) for p in sample if p.name.startswith("hello")}
    assert {p.filename: _read(p) for p in json_page.packages} == expected
    html_expected = {name: {**e, "size": None} for name, e in expected.items()}
    # HTML has no reason-less yank distinct from an empty reason; here every yank has one.
    assert {p.filename: _read(p) for p in html_page.packages} == html_expected
    for pkg in json_page.packages:
        assert pkg.upload_time is not None
        assert started <= pkg.upload_time <= datetime.now(timezone.utc)
    assert _read(other_json.packages[0]) == _expected(sample[-1], server.url)


def test_json_pages_follow_pep_691_and_700_field_by_field(
    published: Bucket, sample: list[Path]
) -> None:
    page = json.loads(published.read("hello-world/index.json"))
    assert set(page) == {"meta", "name", "versions", "files"}
    assert page["meta"] == {"api-version": "1.1", "_last-serial": page["meta"]["_last-serial"]}
    assert isinstance(page["meta"]["_last-serial"], int)
    assert page["name"] == "hello-world"
    assert page["versions"] == ["1.0.0", "1.1", "1.2"]
    files = {f["filename"]: f for f in page["files"]}
    hello = {p.name: Distribution.read(p) for p in sample if p.name.startswith("hello")}
    assert set(files) == set(hello)
    for name, item in files.items():
        dist = hello[name]
        assert set(item) == FILE_KEYS
        assert item["url"] == urllib.parse.quote(name)  # relative to the page
        assert item["hashes"] == {"sha256": dist.sha256}
        assert item["requires-python"] == dist.requires_python
        metadata = (
            {"sha256": hashlib.sha256(dist.metadata).hexdigest()}
            if dist.metadata_is_static
            else False
        )
        assert item["core-metadata"] == metadata  # PEP 691 as amended by PEP 714
        assert item["dist-info-metadata"] == metadata  # for clients from before PEP 714
        assert item["yanked"] == (YANK_REASON if str(dist.version) == "1.1" else False)
        assert item["size"] == dist.size
        assert type(item["size"]) is int
        assert UPLOAD_TIME.fullmatch(item["upload-time"])
        assert str(dist.version) in page["versions"]
    assert [Version(v) for v in page["versions"]] == sorted({d.version for d in hello.values()})

    root = json.loads(published.read("index.json"))
    assert set(root) == {"meta", "projects"}
    assert root["meta"]["api-version"] == "1.1"
    assert root["projects"] == [{"name": "hello-world"}, {"name": "other-project"}]


def test_yanked_without_reason(bucket: Bucket, run: Run, sample: list[Path]) -> None:
    assert run("upload", *sample, "--bucket", bucket.name).exit_code == 0
    assert run("yank", "hello-world", "1.0.0", "--bucket", bucket.name).exit_code == 0
    items = json.loads(bucket.read("hello-world/index.json"))["files"]
    assert {f["filename"]: f["yanked"] for f in items} == {
        "hello_world-1.0.0-py3-none-any.whl": True,
        "hello_world-1.0.0.tar.gz": True,
        "hello_world-1.1-py3-none-any.whl": False,
        "hello_world-1.1.tar.gz": False,
        "hello_world-1.2.zip": False,
    }
    html_page = bucket.text("hello-world/")
    assert html_page.count('data-yanked=""') == 2
    assert html_page.count("data-yanked") == 2


def test_metadata_hash_on_the_page_is_the_hash_of_the_stored_metadata_file(
    published: Bucket, sample: list[Path]
) -> None:
    """PEP 658: a client checks the `.metadata` file against the page; they never disagree,
    and the file is the distribution's own metadata, byte for byte."""
    stored_keys = set(published.keys())
    for project in ("hello-world", "other-project"):
        for page in (
            Index.parse(published.text(f"{project}/")),
            Index.from_json(published.read(f"{project}/index.json")),
        ):
            assert page.files
            for record in page.files.values():
                key = f"{project}/{record.filename}"
                assert record.hash is not None
                assert record.hash.value == hashlib.sha256(published.read(key)).hexdigest()
                source = next(p for p in sample if p.name == record.filename)
                dist = Distribution.read(source)
                if record.core_metadata is None:
                    assert not dist.metadata_is_static
                    assert key + ".metadata" not in stored_keys
                    continue
                stored = published.read(key + ".metadata")
                assert record.core_metadata.name == "sha256"
                assert record.core_metadata.value == hashlib.sha256(stored).hexdigest()
                assert stored == dist.metadata


def test_content_type_and_cache_control_of_every_object(published: Bucket) -> None:
    def kind(key: str) -> tuple[str, str]:
        if key.endswith("/") or key.endswith(("index.html", "browse.html")):
            return HTML_CONTENT_TYPE, PAGE_CACHE_CONTROL
        if key.endswith("index.json"):
            return JSON_CONTENT_TYPE, PAGE_CACHE_CONTROL
        if key.endswith(".metadata"):
            return "text/plain; charset=utf-8", FILE_CACHE_CONTROL
        if key.endswith((".whl", ".zip")):
            return "application/zip", FILE_CACHE_CONTROL
        if key.endswith(".tar.gz"):
            return "application/gzip", FILE_CACHE_CONTROL
        # The human view: PyPI's JSON (rewritten in place), its script and style (by content).
        if key.endswith("/json"):
            return "application/json", PAGE_CACHE_CONTROL
        if key.endswith(".js"):
            return "text/javascript; charset=utf-8", FILE_CACHE_CONTROL
        if key.endswith(".css"):
            return "text/css; charset=utf-8", FILE_CACHE_CONTROL
        raise AssertionError(f"unexpected object {key}")

    keys = published.keys()
    suffixes = {k.rsplit("/", 1)[-1].rpartition(".")[2] or "/" for k in keys}
    assert suffixes == {"/", "html", "json", "metadata", "whl", "gz", "zip", "js", "css"}
    for key in keys:
        head = published.head(key)
        assert (head["ContentType"], head["CacheControl"]) == kind(key), key
    # Pages: at most a minute, and revalidated; files: cached forever.
    max_age = int(re.search(r"max-age=(\d+)", PAGE_CACHE_CONTROL).group(1))  # type: ignore[union-attr]
    assert max_age <= 60
    assert "must-revalidate" in PAGE_CACHE_CONTROL
    assert FILE_CACHE_CONTROL == "public, max-age=31536000, immutable"


def test_a_page_with_1000_files(
    run: Run, projects: Callable[..., SampleProject], tmp_path: Path
) -> None:
    big = projects("big-project")
    for i in range(500):
        big.wheel(f"1.{i}", requires_python=">=3.8" if i % 2 else None)
        big.sdist(f"1.{i}")
    index = tmp_path / "index"
    result = run("upload", big.root / "*", "--repository-url", index.as_uri())
    assert result.exit_code == 0, result.output
    for version in ("1.7", "1.300"):
        assert (
            run("yank", "big-project", version, "--repository-url", index.as_uri()).exit_code == 0
        )
    dists = {p.name: Distribution.read(p) for p in big.root.iterdir()}
    assert len(dists) == 1000

    with serving("--repository-url", index.as_uri(), log_dir=tmp_path) as server:
        html_page = PyPISimple(server.url, accept=ACCEPT_HTML_ONLY).get_project_page("big-project")
        json_page = PyPISimple(server.url, accept=ACCEPT_JSON_ONLY).get_project_page("big-project")
    assert json_page.versions == [f"1.{i}" for i in range(500)]
    for page in (html_page, json_page):
        assert len(page.packages) == 1000
        assert {p.filename for p in page.packages} == set(dists)
        for pkg in page.packages:
            dist = dists[pkg.filename]
            assert pkg.digests == {"sha256": dist.sha256}
            assert pkg.requires_python == dist.requires_python
            assert pkg.metadata_digests == {"sha256": hashlib.sha256(dist.metadata).hexdigest()}
            assert pkg.is_yanked == (pkg.version in ("1.7", "1.300"))
        # Sorted by version, as a reader of the page expects.
        versions = [Version(p.version or "0") for p in page.packages]
        assert versions == sorted(versions)
    # And our own parsers read both forms back to the same records.
    stored_html = Index.parse((index / "big-project" / "index.html").read_text())
    stored_json = Index.from_json((index / "big-project" / "index.json").read_bytes())
    assert stored_html.files == {
        name: replace(record, size=None, upload_time=None)
        for name, record in stored_json.files.items()
    }
