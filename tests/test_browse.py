"""What a publish writes for the human view and the tools around the index (PyPI's JSON API),
kept true by yank, delete, concurrent publishers and reindex."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from s3pypi_core import Config, S3Config, upload_packages
from s3pypi_core._readme import MAX_RENDERED_CHARS, render_readme
from s3pypi_core.index import Index
from tests.browsing import view_keys
from tests.conftest import Bucket
from tests.distributions import SampleProject
from tests.serving import serving

Run = Callable[..., Result]

README = "# Hello\n\n<script>alert(1)</script>\n\n[docs](javascript:alert(1)) *fine*\n"


def metadata(version: str, *extra: str) -> str:
    return (
        "\n".join(
            [
                "Metadata-Version: 2.1",
                "Name: hello-world",
                f"Version: {version}",
                "Summary: Says hello",
                "Requires-Python: >=3.9",
                "Requires-Dist: requests>=2",
                "Project-URL: Source, https://git.example.com/hello",
                *extra,
                "Description-Content-Type: text/markdown",
            ]
        )
        + "\n\n"
        + README
    )


def document(bucket: Bucket, key: str) -> dict[str, Any]:
    head = bucket.head(key)
    assert head["ContentType"] == "application/json"
    assert head["CacheControl"] == "public, max-age=0, must-revalidate"
    data: dict[str, Any] = json.loads(bucket.read(key))
    return data


@pytest.fixture
def published(bucket: Bucket, run: Run, projects: Callable[..., SampleProject]) -> Bucket:
    hello = projects()
    hello.wheel("1.0", metadata=metadata("1.0"))
    hello.sdist("1.0")
    hello.wheel("1.1", metadata=metadata("1.1", "Home-page: https://hello.example.com"))
    result = run("upload", hello.root / "*", "--bucket", bucket.name, "--put-root-index")
    assert result.exit_code == 0, result.output
    return bucket


def test_a_publish_writes_pypi_json_as_renovate_and_dependabot_read_it(published: Bucket) -> None:
    page = Index.from_json(published.read("hello-world/index.json"))
    project = document(published, "hello-world/json")

    assert project["last_serial"] == page.serial
    info = project["info"]
    assert (info["name"], info["version"], info["summary"]) == ("hello-world", "1.1", "Says hello")
    assert info["requires_python"] == ">=3.9"
    assert info["requires_dist"] == ["requests>=2"]
    assert info["home_page"] == "https://hello.example.com"
    assert info["project_urls"] == {
        "Source": "https://git.example.com/hello",
        "Homepage": "https://hello.example.com",
    }
    # The README, rendered and sanitised at publish time.
    assert '<h1 id="user-content-hello">Hello' in info["description_html"]
    assert "<script" not in info["description_html"]
    assert "javascript:" not in info["description_html"]
    assert info["description"] == README

    assert list(project["releases"]) == ["1.0", "1.1"]
    for version, files in project["releases"].items():
        for entry in files:
            record = page.files[entry["filename"]]
            assert entry["digests"] == {"sha256": record.hash.value if record.hash else None}
            assert entry["size"] == record.size
            assert isinstance(entry["upload_time"], str)  # Renovate's schema: a string
            assert entry["upload_time_iso_8601"].endswith("Z")
            assert entry["yanked"] is False
            assert entry["url"] == f"/hello-world/{entry['filename']}"
            assert entry["requires_python"] == record.requires_python
            assert str(record.version) == version
    assert project["urls"] == project["releases"]["1.1"]

    release = document(published, "hello-world/1.0/json")
    assert release["info"]["version"] == "1.0"
    assert release["info"]["home_page"] == ""  # a string, never null (Renovate's schema)
    assert [f["filename"] for f in release["urls"]] == [
        "hello_world-1.0-py3-none-any.whl",
        "hello_world-1.0.tar.gz",
    ]


def test_the_json_api_is_served_where_tools_look(published: Bucket, tmp_path: Path) -> None:
    """`/pypi/NAME/json` (PyPI's path, pypi-browser) and `/NAME/json` (the index URL +
    `NAME/json`: Renovate and Dependabot) are the same document."""
    body = published.read("hello-world/json")
    with serving("--bucket", published.name, log_dir=tmp_path) as server:
        for path in ("/pypi/hello-world/json", "/hello-world/json"):
            response = server.get(path, accept="application/json")
            assert response.status == 200
            assert response.body == body
            assert response.headers["content-type"] == "application/json"
        release = server.get("/pypi/hello-world/1.0/json")
        assert release.body == published.read("hello-world/1.0/json")


def test_yank_and_delete_keep_the_documents_true(published: Bucket, run: Run) -> None:
    # Versions compare as PEP 440 versions: 1.1.0 is the release 1.1.
    yank = run("yank", "hello-world", "1.1.0", "--reason", "broken", "--bucket", published.name)
    assert yank.exit_code == 0, yank.output

    project = document(published, "hello-world/json")
    assert [f["yanked_reason"] for f in project["releases"]["1.1"]] == ["broken"]
    assert project["info"]["version"] == "1.0"  # the newest release that is not yanked
    release = document(published, "hello-world/1.1/json")
    assert (release["info"]["yanked"], release["info"]["yanked_reason"]) == (True, "broken")

    assert run("delete", "hello-world", "1.0.0", "--bucket", published.name).exit_code == 0
    project = document(published, "hello-world/json")
    assert list(project["releases"]) == ["1.1"]
    assert "hello-world/1.0/json" not in published.keys()

    assert run("delete", "hello-world", "1.1", "--bucket", published.name).exit_code == 0
    assert not [k for k in published.keys() if k.startswith("hello-world/")]


def test_concurrent_publishers_leave_the_document_of_the_newest_page(
    bucket: Bucket, projects: Callable[..., SampleProject]
) -> None:
    hello = projects()
    wheels = [hello.wheel(f"1.{i}") for i in range(8)]
    cfg = Config(s3=S3Config(bucket=bucket.name))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda wheel: upload_packages(cfg, [wheel]), wheels))

    page = Index.from_json(bucket.read("hello-world/index.json"))
    project = document(bucket, "hello-world/json")
    assert project["last_serial"] == page.serial
    assert list(project["releases"]) == [f"1.{i}" for i in range(8)]
    assert project["info"]["version"] == "1.7"
    assert sorted(bucket.keys()) == sorted(
        [
            "hello-world/",
            "hello-world/index.json",
            *(f"hello-world/{w.name}" for w in wheels),
            *(f"hello-world/{w.name}.metadata" for w in wheels),
            *view_keys(hello_world=[f"1.{i}" for i in range(8)]),
        ]
    )


def test_reindex_writes_what_an_older_bucket_lacks(published: Bucket, run: Run) -> None:
    """A bucket published before the view existed: the same objects as a publish writes."""
    written = published.snapshot()
    view = [k for k in written if k in view_keys(hello_world=["1.0", "1.1"])]
    for key in view:
        published.client.delete_object(Bucket=published.name, Key=key)

    result = run("reindex", "--bucket", published.name)

    assert result.exit_code == 0, result.output
    assert "hello-world: wrote 1.0/json" in result.stdout.splitlines()
    assert "(root): wrote the browse page and the view's files" in result.stdout.splitlines()
    assert published.snapshot() == written
    again = run("reindex", "--bucket", published.name)
    assert again.stdout == ""


def test_reindex_put_root_index_gives_the_view_its_project_list(
    bucket: Bucket, run: Run, dist_dir: Path
) -> None:
    assert run("upload", dist_dir / "*", "--bucket", bucket.name).exit_code == 0
    assert "index.json" not in bucket.keys()

    result = run("reindex", "--put-root-index", "--bucket", bucket.name)

    assert result.exit_code == 0, result.output
    assert json.loads(bucket.read("index.json"))["projects"] == [{"name": "hello-world"}]


@pytest.mark.parametrize(
    ("description", "content_type", "expected"),
    [
        ("Title\n=====\n\nSome *text*.", None, "<em>text</em>"),  # PyPI's default: rST
        ("Title\n=====\n\nSome *text*.", "text/x-rst", "<em>text</em>"),
        ("# Title\n\n~~gone~~", "text/markdown", "<del>gone</del>"),
        ("# Title", "text/markdown; variant=CommonMark", "<h1>Title</h1>"),
        ("a <b>\nline", "text/plain", "a &lt;b&gt;<br>line"),
        # Not what it says it is: shown as plain text, as PyPI does.
        (".. raw:: html\n\n   <script>x()</script>", "text/x-rst", "&lt;script&gt;"),
        ("# Title", "text/markdown; variant=Unknown", "# Title"),
        ("", "text/markdown", ""),
    ],
)
def test_readmes_render_as_pypi_renders_them(
    description: str, content_type: str | None, expected: str
) -> None:
    rendered = render_readme(description, content_type)
    assert expected in rendered
    assert "<script" not in rendered


def test_a_huge_readme_is_plain_text() -> None:
    rendered = render_readme("*x* " * (MAX_RENDERED_CHARS // 4 + 1), "text/markdown")
    assert rendered.startswith("*x* *x*")
