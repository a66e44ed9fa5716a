"""The human view in a real browser (headless chromium), through `s3pypi serve` and through
the CloudFront distribution's routing (the module's JavaScript function, its CSP), and what
pip and uv receive from the same index: the same bytes as without the view."""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.browser import browser, require_chromium, screenshot
from tests.conftest import Bucket
from tests.distributions import SampleProject
from tests.edge import Edge, cloudfront_function, edge, python_routing
from tests.serving import make_venv, pip, serving, uv

Run = Callable[..., Result]

README = """\
# Acme App

The application of the **Acme** suite.

## Usage

```python
from acme_app import run
run(port=8000)
```

| Setting | Default |
|---------|---------|
| port    | 8000    |

![build status](https://ci.example.com/badge.svg)
"""

EVIL_README = """\
# Harmless

<script>window.pwned = "script"</script>
<img src="x" onerror="window.pwned = 'onerror'">
<a href="javascript:window.pwned='link'">click me</a>
<iframe src="javascript:parent.pwned='iframe'"></iframe>
<svg><script>window.pwned = "svg"</script></svg>
<form action="https://evil.example/"><input name="q"></form>
<div style="background:url(https://evil.example/track.png)">styled</div>
<object data="https://evil.example/x.swf"></object>
"""


@pytest.fixture
def bucket_factory(moto_endpoint: str) -> Callable[[], Bucket]:
    """More buckets on the test's moto server."""

    def make() -> Bucket:
        bucket = Bucket(f"pypi-{uuid.uuid4().hex[:12]}", moto_endpoint)
        bucket.client.create_bucket(Bucket=bucket.name)
        return bucket

    return make


YANK_REASON = "corrupts the <frobnicator> cache"


def metadata(name: str, version: str, description: str, *extra: str) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: {name} does useful things",
        "Requires-Python: >=3.9",
        *extra,
        "Description-Content-Type: text/markdown",
    ]
    return "\n".join(lines) + "\n\n" + description


@pytest.fixture
def showcase(bucket: Bucket, run: Run, projects: Callable[..., SampleProject]) -> Bucket:
    """acme-app (a README, dependencies, two releases), acme-lib (2.0 yanked), evil (a README
    that tries everything), and 40 more projects to search among."""
    app, lib, evil = projects("acme-app"), projects("acme-lib"), projects("evil")
    for version in ("1.0", "1.1"):
        app.wheel(
            version,
            metadata=metadata(
                "acme-app",
                version,
                README,
                "Requires-Dist: acme-lib>=1.0",
                "Requires-Dist: requests>=2.31",
                "Requires-Dist: acme-util; extra == 'cli'",
                "Provides-Extra: cli",
                "Project-URL: Source, https://git.example.com/acme/app",
            ),
        )
    app.sdist("1.1", requires_python=">=3.9")
    for version in ("1.0", "2.0"):
        lib.wheel(version, requires_python=">=3.9")
    evil.wheel("6.6.6", metadata=metadata("evil", "6.6.6", EVIL_README))
    for i in range(40):
        projects(f"filler-{i:02d}").wheel("0.1")
    result = run("upload", app.root / "*", "--bucket", bucket.name, "--put-root-index")
    assert result.exit_code == 0, result.output
    yank = run("yank", "acme-lib", "2.0", "--reason", YANK_REASON, "--bucket", bucket.name)
    assert yank.exit_code == 0, yank.output
    return bucket


ALL_PROJECTS = sorted(["acme-app", "acme-lib", "evil", *(f"filler-{i:02d}" for i in range(40))])


@contextmanager
def page_at(url: str, **options: Any) -> Iterator[tuple[Any, list[str]]]:
    """A page of a fresh browser at `url`; the list collects what must not happen: requests
    to other origins, dialogs, CSP violations, script errors."""
    origin = re.match(r"https?://[^/]+", url)
    assert origin
    with browser(**options) as context:
        page = context.new_page()
        problems: list[str] = []

        def on_dialog(dialog: Any) -> None:
            problems.append(f"dialog: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
        page.on(
            "console",
            lambda m: (
                problems.append(f"console: {m.text}")
                if m.type == "error" and "Content Security Policy" in m.text
                else None
            ),
        )
        page.on(
            "request",
            lambda r: (
                None
                if r.url.startswith((origin.group(0), "data:"))
                else problems.append(f"request: {r.url}")
            ),
        )
        page.goto(url)
        yield page, problems


def check_index_page(page: Any) -> None:
    """Every project listed; typing filters; Enter opens the first match."""
    page.wait_for_selector("#projects a")
    assert page.locator("#projects a").all_inner_texts() == ALL_PROJECTS
    assert page.get_by_label("Search projects").is_visible()
    page.get_by_label("Search projects").press_sequentially("lib")
    page.wait_for_function("document.querySelectorAll('#projects a').length === 1")
    assert page.locator("#projects a").all_inner_texts() == ["acme-lib"]
    assert "1 project matching" in page.locator("#count").inner_text()
    page.get_by_label("Search projects").fill("filler-1")
    page.wait_for_function("document.querySelectorAll('#projects a').length === 10")
    page.get_by_label("Search projects").fill("acme")
    page.wait_for_function("document.querySelectorAll('#projects a').length === 2")
    page.get_by_label("Search projects").press("Enter")
    page.wait_for_selector("h1 .version")
    assert page.locator(".hero h1").inner_text().startswith("acme-app")


def check_project_page(page: Any, index_url: str, bucket: Bucket) -> None:
    page.wait_for_selector("h1 .version")
    assert page.locator(".hero h1").inner_text().split() == ["acme-app", "1.1"]
    assert page.locator(".summary").inner_text() == "acme-app does useful things"
    readme = page.locator(".readme")
    assert readme.locator("h1").inner_text() == "Acme App"
    assert readme.locator("h2").inner_text() == "Usage"
    assert readme.locator("pre span.kn").first.inner_text() == "from"  # highlighted
    assert readme.locator("table td").first.inner_text() == "port"
    # An image from elsewhere is a link, never loaded.
    assert readme.locator("img").count() == 0
    assert readme.locator("a.external-image").inner_text() == "build status"
    commands = page.locator(".command code").all_inner_texts()
    assert commands == [
        f"pip install --index-url {index_url} acme-app",
        f"uv pip install --index-url {index_url} acme-app",
    ]
    details = page.locator(".meta").inner_text()
    assert "Requires-Python" in details
    assert ">=3.9" in details
    # Dependencies: the ones in this index are links, with the extra's apart.
    assert page.locator(".deps a.dep-name").all_inner_texts() == ["acme-lib"]
    page.wait_for_selector(".deps a[href='../acme-lib/']")
    assert "requests" in page.locator(".deps").first.inner_text()
    assert page.locator(".sidebar h3").all_inner_texts() == ["Extra: cli"]
    # Releases newest first; files with size and sha256.
    assert page.locator(".versions li > a").all_inner_texts() == ["1.1", "1.0"]
    files = page.locator(".file")
    assert sorted(files.locator(".filename").all_inner_texts()) == [
        "acme_app-1.1-py3-none-any.whl",
        "acme_app-1.1.tar.gz",
    ]
    for i in range(files.count()):
        name = files.nth(i).locator(".filename").inner_text()
        body = bucket.read(f"acme-app/{name}")
        assert files.nth(i).locator(".hash code").inner_text() == hashlib.sha256(body).hexdigest()
        size = files.nth(i).locator(".file-meta").inner_text()
        assert re.match(r"[\d.]+ (bytes|kB)", size), size
    assert page.locator(".links a").get_attribute("href") == "https://git.example.com/acme/app"


def check_yanked(page: Any, base: str) -> None:
    page.goto(base + "acme-lib/")
    page.wait_for_selector(".versions li")
    yanked = page.locator(".versions li").first
    assert yanked.locator("a").inner_text() == "2.0"
    assert yanked.locator(".badge.yanked").inner_text() == "yanked"
    assert yanked.locator(".reason").inner_text() == YANK_REASON
    # The latest release is the newest that is not yanked.
    assert page.locator(".hero h1").inner_text().split() == ["acme-lib", "1.0"]
    page.goto(base + "acme-lib/?version=2.0")
    page.wait_for_selector(".notice.yanked")
    assert YANK_REASON in page.locator(".notice.yanked").inner_text()
    assert "acme-lib==2.0" in page.locator(".command code").first.inner_text()


def check_evil(page: Any, base: str) -> None:
    page.goto(base + "evil/")
    page.wait_for_selector(".readme h1")
    assert page.locator(".readme h1").inner_text() == "Harmless"
    assert page.evaluate("window.pwned") is None
    forbidden = "script, iframe, object, embed, form, input, svg, [style], [onerror], [onclick]"
    assert page.locator(".readme").locator(forbidden).count() == 0
    hrefs = page.locator(".readme a").evaluate_all("links => links.map(a => a.href)")
    assert not any(h.startswith("javascript:") for h in hrefs), hrefs


def test_the_view_through_s3pypi_serve(showcase: Bucket, tmp_path: Path) -> None:
    with (
        serving("--bucket", showcase.name, log_dir=tmp_path) as server,
        page_at(server.url) as (page, problems),
    ):
        check_index_page(page)
        check_project_page(page, server.url, showcase)
        check_yanked(page, server.url)
        check_evil(page, server.url)
    assert problems == []


def test_the_view_through_the_cloudfront_function_and_its_csp(
    showcase: Bucket, tmp_path: Path
) -> None:
    require_chromium()
    with (
        cloudfront_function(tmp_path) as route,
        edge(showcase, route) as cdn,
        page_at(cdn.url) as (page, problems),
    ):
        check_index_page(page)
        check_project_page(page, cdn.url, showcase)
        screenshot(page, "browse-project")
        check_yanked(page, cdn.url)
        check_evil(page, cdn.url)
        page.goto(cdn.url)
        page.wait_for_selector("#projects a")
        screenshot(page, "browse-index")
    assert problems == []
    # The browser got the view; the JSON it read came from the documents, not the pages.
    keys = {e.key for e in cdn.exchanges}
    assert {"browse.html", "acme-app/browse.html", "acme-app/json", "index.json"} <= keys


def test_dark_mode_and_a_phone(showcase: Bucket, tmp_path: Path) -> None:
    require_chromium()
    phone = {"viewport": {"width": 390, "height": 844}, "color_scheme": "dark"}
    with (
        cloudfront_function(tmp_path) as route,
        edge(showcase, route) as cdn,
        page_at(cdn.url + "acme-app/", **phone) as (page, problems),
    ):
        page.wait_for_selector(".readme h1")
        colours = page.evaluate(
            "[getComputedStyle(document.body).backgroundColor,"
            " getComputedStyle(document.body).color]"
        )
        assert colours == ["rgb(13, 17, 23)", "rgb(230, 237, 243)"]  # dark, light text
        # Nothing wider than the phone: no sideways scrolling.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "browse-project-phone-dark")
    assert problems == []


def test_keyboard_only(showcase: Bucket, tmp_path: Path) -> None:
    with (
        serving("--bucket", showcase.name, log_dir=tmp_path) as server,
        page_at(server.url) as (page, problems),
    ):
        page.wait_for_selector("#projects a")
        page.keyboard.press("/")
        assert page.evaluate("document.activeElement.id") == "search"
        page.keyboard.type("acme")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        assert page.evaluate("document.activeElement.textContent") == "acme-lib"
        page.keyboard.press("Enter")
        page.wait_for_selector("h1 .version")
        assert page.locator(".hero h1").inner_text().startswith("acme-lib")
    assert problems == []


@pytest.mark.slow
def test_pip_and_uv_receive_the_same_bytes_with_and_without_the_view(
    showcase: Bucket, bucket_factory: Callable[[], Bucket], tmp_path: Path
) -> None:
    """The same index without the view's objects (as an older s3pypi left it) and with them,
    behind the same routing: pip and uv ask for the same things and get the same bytes."""
    without = bucket_factory()
    for key in showcase.keys():
        if not _is_view_object(key):
            without.client.put_object(
                Bucket=without.name,
                Key=key,
                Body=showcase.read(key),
                ContentType=showcase.head(key)["ContentType"],
            )
    received = []
    for index in (without, showcase):
        with edge(index, python_routing) as cdn:
            _install(cdn, tmp_path / index.name)
            received.append(cdn.exchanges)
    before, after = (Counter((e.method, e.path, e.status, e.sha256) for e in r) for r in received)
    assert before == after
    assert not any(_is_view_object(e.key) for e in received[1])
    assert {e.key for e in received[1]} >= {"acme-app/index.json", "acme-lib/index.json"}


def _install(cdn: Edge, workdir: Path) -> None:
    python = make_venv(workdir / "venv")
    done = pip("--python", python, "install", "acme-lib==2.0", "evil", index_url=cdn.url)
    assert done.returncode == 0, done.stderr
    # acme-app needs a project this index lacks: downloaded only.
    downloaded = pip("download", "--no-deps", "-d", workdir / "d", "acme-app", index_url=cdn.url)
    assert downloaded.returncode == 0, downloaded.stderr
    compiled = uv(
        "pip", "compile", "-", "--python", sys.executable, "--no-header",
        index_url=cdn.url, input="acme-lib\nevil\n",
    )  # fmt: skip
    assert compiled.returncode == 0, compiled.stderr
    shutil.rmtree(workdir)


def _is_view_object(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return (
        name in ("browse.html", "json") or re.fullmatch(r"browse\.\w+\.(js|css)", name) is not None
    )
