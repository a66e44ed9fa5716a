"""The root page costs O(1) requests: it is read and written once when a project is new, not
touched when one grows, and a project leaves it with its last file. S3 calls are counted by
operation with a botocore event handler on the publisher's own client (observed, not mocked)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from s3pypi_core.distribution import Distribution
from s3pypi_core.index import RootIndex
from s3pypi_core.layout import IndexLayout
from s3pypi_core.publishing import Publisher
from s3pypi_core.storage import S3Config, S3Storage
from tests.conftest import Bucket
from tests.distributions import SampleProject

Run = Callable[..., Result]

LAYOUTS = {
    "plain": IndexLayout(),
    "prefix": IndexLayout(prefix="team"),
    "index.html": IndexLayout(prefix="team", index_html=True),
}


class S3Calls:
    """Every S3 API call a client makes, as (operation, key)."""

    def __init__(self, storage: S3Storage) -> None:
        self.calls: list[tuple[str, str]] = []
        storage.client.meta.events.register("provide-client-params.s3", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, params.get("Key", params.get("Prefix", ""))))

    def on(self, *keys: str) -> Counter[tuple[str, str]]:
        return Counter(call for call in self.calls if call[1] in keys)

    def listings(self) -> list[tuple[str, str]]:
        return [call for call in self.calls if call[0].startswith("List")]

    def reset(self) -> None:
        self.calls.clear()


@pytest.fixture(params=list(LAYOUTS))
def layout(request: pytest.FixtureRequest) -> IndexLayout:
    return LAYOUTS[request.param]


@pytest.fixture
def storage(bucket: Bucket) -> S3Storage:
    return S3Storage(S3Config(bucket=bucket.name))


@pytest.fixture
def calls(storage: S3Storage) -> S3Calls:
    return S3Calls(storage)


def _dists(project: SampleProject, *versions: str) -> list[Distribution]:
    return [Distribution.read(project.wheel(v)) for v in versions]


def _root_projects(bucket: Bucket, layout: IndexLayout) -> tuple[set[str], set[str]]:
    html = RootIndex.parse(bucket.text(layout.root_html())).projects
    data = {p["name"] for p in json.loads(bucket.read(layout.root_json()))["projects"]}
    return html, data


def test_a_new_project_reads_and_writes_the_root_page_once(
    bucket: Bucket,
    storage: S3Storage,
    calls: S3Calls,
    layout: IndexLayout,
    projects: Callable[..., SampleProject],
) -> None:
    publisher = Publisher(storage, layout)
    many = [d for i in range(20) for d in _dists(projects(f"project-{i}"), "1.0")]
    publisher.upload(many, put_root_index=True)
    calls.reset()

    publisher.upload(_dists(projects("newcomer"), "1.0"), put_root_index=True)

    root = (layout.root_html(), layout.root_json())
    assert calls.on(*root) == Counter(
        {("GetObject", key): 1 for key in root} | {("PutObject", key): 1 for key in root}
    )
    assert calls.listings() == []
    expected = {f"project-{i}" for i in range(20)} | {"newcomer"}
    assert _root_projects(bucket, layout) == (expected, expected)


def test_adding_a_file_to_an_existing_project_does_not_touch_the_root_page(
    bucket: Bucket,
    storage: S3Storage,
    calls: S3Calls,
    layout: IndexLayout,
    projects: Callable[..., SampleProject],
) -> None:
    publisher = Publisher(storage, layout)
    hello = projects("hello-world")
    publisher.upload(_dists(hello, "1.0"), put_root_index=True)
    before = {key: bucket.head(key)["ETag"] for key in (layout.root_html(), layout.root_json())}
    calls.reset()

    publisher.upload(_dists(hello, "1.1", "1.2"), put_root_index=True)

    assert calls.on(layout.root_html(), layout.root_json()) == Counter()
    assert calls.listings() == []
    assert {key: bucket.head(key)["ETag"] for key in before} == before
    assert calls.on(layout.file("hello-world", "hello_world-1.1-py3-none-any.whl"))


def test_without_put_root_index_the_root_page_is_left_alone(
    bucket: Bucket, storage: S3Storage, calls: S3Calls, projects: Callable[..., SampleProject]
) -> None:
    layout = IndexLayout()
    Publisher(storage, layout).upload(_dists(projects("hello-world"), "1.0"))
    assert calls.on(layout.root_html(), layout.root_json()) == Counter()
    assert calls.listings() == []
    stored = bucket.keys()
    assert "index.html" not in stored


def test_deleting_a_projects_last_file_removes_it_from_both_root_pages(
    bucket: Bucket,
    storage: S3Storage,
    calls: S3Calls,
    layout: IndexLayout,
    projects: Callable[..., SampleProject],
) -> None:
    publisher = Publisher(storage, layout)
    publisher.upload(_dists(projects("leaving"), "1.0", "2.0"), put_root_index=True)
    publisher.upload(_dists(projects("staying"), "1.0"), put_root_index=True)
    root = (layout.root_html(), layout.root_json())
    calls.reset()

    publisher.delete("leaving", "1.0")  # not its last file: the root page is not touched
    assert calls.on(*root) == Counter()
    assert _root_projects(bucket, layout) == ({"leaving", "staying"}, {"leaving", "staying"})

    publisher.delete("leaving", "2.0")
    assert calls.on(*root) == Counter(
        {("GetObject", key): 1 for key in root} | {("PutObject", key): 1 for key in root}
    )
    assert calls.listings() == []
    assert _root_projects(bucket, layout) == ({"staying"}, {"staying"})
    stored = bucket.keys()
    assert [k for k in stored if "/leaving/" in f"/{k}"] == []


def test_delete_with_the_cli_updates_both_root_pages(
    bucket: Bucket, run: Run, projects: Callable[..., SampleProject], tmp_path: Path
) -> None:
    for name in ("alpha", "beta"):
        projects(name).wheel("1.0")
    result = run("upload", tmp_path / "dist" / "*", "--bucket", bucket.name, "--put-root-index")
    assert result.exit_code == 0, result.output
    assert _root_projects(bucket, IndexLayout()) == ({"alpha", "beta"}, {"alpha", "beta"})

    result = run("delete", "Alpha", "1.0.0", "--bucket", bucket.name)
    assert result.exit_code == 0, result.output
    assert _root_projects(bucket, IndexLayout()) == ({"beta"}, {"beta"})
    stored = bucket.keys()
    assert [k for k in stored if k.startswith("alpha/")] == []
