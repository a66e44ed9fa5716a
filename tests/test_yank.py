"""PEP 592: `s3pypi yank` / `unyank` and `yank_package` / `unyank_package` mark every file of a
version in both pages; the reason is HTML-escaped in HTML and a plain string in JSON."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from s3pypi_core.core import Config, unyank_package, yank_package
from s3pypi_core.index import Index, html_serial
from s3pypi_core.storage import S3Config
from tests.conftest import Bucket, run_console_script

Run = Callable[..., Result]

REASON = """Use 1.1: <script>alert("x")</script> & 'friends'"""
V100 = ("hello_world-1.0.0-py3-none-any.whl", "hello_world-1.0.0.tar.gz")
V11 = "hello_world-1.1-py3-none-any.whl"


@pytest.fixture
def published(bucket: Bucket, run: Run, dist_dir: Path) -> Bucket:
    result = run("upload", dist_dir / "*", "--bucket", bucket.name)
    assert result.exit_code == 0, result.output
    return bucket


def _yanked(bucket: Bucket) -> tuple[dict[str, str | None], dict[str, object]]:
    """Each file's yank state as the HTML page says it and as the JSON page says it."""
    html_page = Index.parse(bucket.text("hello-world/"))
    json_page = json.loads(bucket.read("hello-world/index.json"))
    assert html_serial(bucket.text("hello-world/")) == json_page["meta"]["_last-serial"]
    return (
        {name: f.yanked for name, f in html_page.files.items()},
        {f["filename"]: f["yanked"] for f in json_page["files"]},
    )


def test_yank_with_a_reason_then_unyank(published: Bucket) -> None:
    args = ("--bucket", published.name)
    # Versions compare as PEP 440 does: 1.0 is 1.0.0.
    yank = run_console_script("s3pypi", "yank", "Hello_World", "1.0", "--reason", REASON, *args)
    assert yank.returncode == 0, yank.stderr
    assert yank.stderr.splitlines() == [f"Yanked {name}" for name in sorted(V100)]

    page = published.text("hello-world/")
    assert page.count(f'data-yanked="{html.escape(REASON)}"') == 2
    assert "<script>" not in page
    assert _yanked(published) == (
        {V100[0]: REASON, V100[1]: REASON, V11: None},
        {V100[0]: REASON, V100[1]: REASON, V11: False},
    )

    unyank = run_console_script("s3pypi", "unyank", "hello-world", "1.0.0", *args)
    assert unyank.returncode == 0, unyank.stderr
    assert unyank.stderr.splitlines() == [f"Unyanked {name}" for name in sorted(V100)]
    assert "data-yanked" not in published.text("hello-world/")
    assert _yanked(published) == (
        {V100[0]: None, V100[1]: None, V11: None},
        {V100[0]: False, V100[1]: False, V11: False},
    )


def test_yank_without_a_reason(published: Bucket, run: Run) -> None:
    result = run("yank", "hello-world", "1.1", "--bucket", published.name)
    assert result.exit_code == 0, result.output
    assert 'data-yanked=""' in published.text("hello-world/")
    assert _yanked(published) == (
        {V100[0]: None, V100[1]: None, V11: ""},
        {V100[0]: False, V100[1]: False, V11: True},
    )


def test_python_api(published: Bucket) -> None:
    cfg = Config(s3=S3Config(bucket=published.name))
    assert yank_package(cfg, "hello.world", "1.1", reason="bad build") == [V11]
    serial = json.loads(published.read("hello-world/index.json"))["meta"]["_last-serial"]
    # The same yank again changes nothing, so nothing is written.
    assert yank_package(cfg, "hello-world", "1.1", reason="bad build") == [V11]
    assert json.loads(published.read("hello-world/index.json"))["meta"]["_last-serial"] == serial
    assert _yanked(published)[1][V11] == "bad build"
    # A new reason replaces the old one.
    yank_package(cfg, "hello-world", "1.1", reason="worse build")
    assert _yanked(published)[1][V11] == "worse build"
    assert unyank_package(cfg, "hello-world", "1.1") == [V11]
    assert _yanked(published)[1][V11] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["yank", "hello-world", "9.9"], "no files of hello-world 9.9 in s3://{bucket}/"),
        (["unyank", "hello-world", "9.9"], "no files of hello-world 9.9 in s3://{bucket}/"),
        (["yank", "no-such-project", "1.0"], "no files of no-such-project 1.0 in s3://{bucket}/"),
        (["yank", "hello-world", "not a version"], "not a valid version: 'not a version'"),
    ],
)
def test_nothing_to_yank_is_one_line_and_writes_nothing(
    published: Bucket, run: Run, args: list[str], message: str
) -> None:
    before = published.snapshot()
    result = run(*args, "--bucket", published.name)
    assert result.exit_code == 1
    assert result.stderr == f"s3pypi: error: {message.format(bucket=published.name)}\n"
    assert published.snapshot() == before
