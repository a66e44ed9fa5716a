"""Damaged pages: `upload` refuses to build on them (one line, nothing written), `verify` reports
them (`damaged-page`), `reindex` rebuilds them from the other form of the page and the objects,
and then `verify` is clean."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from s3pypi_core.index import Index, RootIndex
from tests.conftest import Bucket
from tests.distributions import SampleProject

Run = Callable[..., Result]

PROJECT_JSON = "hello-world/index.json"
PROJECT_HTML = "hello-world/"
ROOT_JSON = "index.json"
ROOT_HTML = "index.html"


def page_json(bucket: Bucket) -> dict[str, object]:
    data: dict[str, object] = json.loads(bucket.read(PROJECT_JSON))
    return data


def with_first_file(bucket: Bucket, **fields: object) -> bytes:
    """The project's JSON page with fields of its first file changed."""
    data = page_json(bucket)
    files = data["files"]
    assert isinstance(files, list)
    files[0].update(fields)
    return json.dumps(data).encode()


def without_first_filename(bucket: Bucket) -> bytes:
    data = page_json(bucket)
    files = data["files"]
    assert isinstance(files, list)
    del files[0]["filename"]
    return json.dumps(data).encode()


def cut(bucket: Bucket, key: str) -> bytes:
    body = bucket.read(key)
    return body[: len(body) // 2]


def bad_html_hash(bucket: Bucket) -> bytes:
    text = bucket.text(PROJECT_HTML)
    start = text.index("#sha256=") + len("#sha256=")
    return (text[:start] + "not-hex" + text[start + 64 :]).encode()


DAMAGES: dict[str, tuple[str, Callable[[Bucket], bytes], str]] = {
    # name: (key, damaged body, what the message says)
    "json cut short": (PROJECT_JSON, lambda b: b'{"files": [', "not JSON"),
    "json a list": (PROJECT_JSON, lambda b: b"[]", "the page is a list, not an object"),
    "json files not a list": (
        PROJECT_JSON,
        lambda b: b'{"name": "hello-world", "files": {}}',
        "'files' is an object, not a list",
    ),
    "json file without filename": (PROJECT_JSON, without_first_filename, "no 'filename'"),
    "json bad upload-time": (
        PROJECT_JSON,
        lambda b: with_first_file(b, **{"upload-time": "yesterday"}),
        "'upload-time' 'yesterday' is not a time",
    ),
    "json bad hash": (
        PROJECT_JSON,
        lambda b: with_first_file(b, hashes={"sha256": "abc"}),
        "sha256 digest 'abc' is not 64 hex digits",
    ),
    "json not utf-8": (PROJECT_JSON, lambda b: b'{"files": "\xff"}', "not JSON"),
    "html cut short": (PROJECT_HTML, lambda b: cut(b, PROJECT_HTML), "cut short: no </html>"),
    "html not utf-8": (PROJECT_HTML, lambda b: b"<html>\xff</html>", "not UTF-8"),
    "html bad hash": (PROJECT_HTML, bad_html_hash, "is not 64 hex digits"),
}
ROOT_DAMAGES: dict[str, tuple[str, Callable[[Bucket], bytes], str]] = {
    "root json cut short": (ROOT_JSON, lambda b: b'{"projects": [', "not JSON"),
    "root json a bad name": (
        ROOT_JSON,
        lambda b: b'{"projects": [{"name": "../../etc"}]}',
        "'../../etc' is not a project name",
    ),
    "root json wrong shape": (ROOT_JSON, lambda b: b'{"projects": [1]}', "a project entry"),
    "root html cut short": (ROOT_HTML, lambda b: cut(b, ROOT_HTML), "cut short: no </html>"),
}


@pytest.fixture
def index(run: Run, bucket: Bucket, projects: Callable[..., SampleProject]) -> Bucket:
    """hello-world 1.0 (yanked, Requires-Python) and 1.1, other 0.1, with a root page."""
    files = [
        projects().wheel("1.0", requires_python=">=3.8"),
        projects().wheel("1.1"),
        projects("other").wheel("0.1"),
    ]
    assert run("upload", *files, "--bucket", bucket.name, "--put-root-index").exit_code == 0
    assert run("yank", "hello-world", "1.0", "--reason", "broken", "--bucket", bucket.name)
    return bucket


def damage(bucket: Bucket, key: str, make: Callable[[Bucket], bytes]) -> None:
    bucket.client.put_object(Bucket=bucket.name, Key=key, Body=make(bucket))


@pytest.mark.parametrize("name", DAMAGES)
def test_upload_refuses_a_damaged_project_page_and_writes_nothing(
    run: Run, index: Bucket, projects: Callable[..., SampleProject], name: str
) -> None:
    key, make, says = DAMAGES[name]
    damage(index, key, make)
    before = index.snapshot()
    wheel = projects().wheel("2.0")

    result = run("upload", wheel, "--bucket", index.name)

    assert result.exit_code == 1
    assert result.stderr.startswith(f"s3pypi: error: s3://{index.name}/{key} is damaged (")
    assert result.stderr.endswith("): run s3pypi reindex hello-world\n")
    assert says in result.stderr
    assert result.stderr.count("\n") == 1
    assert index.snapshot() == before


@pytest.mark.parametrize("name", ROOT_DAMAGES)
def test_upload_refuses_a_damaged_root_page_before_writing(
    run: Run, index: Bucket, projects: Callable[..., SampleProject], name: str
) -> None:
    key, make, says = ROOT_DAMAGES[name]
    damage(index, key, make)
    before = index.snapshot()

    result = run("upload", projects("new").wheel("1.0"), "--bucket", index.name, "--put-root-index")

    assert result.exit_code == 1
    assert result.stderr.startswith(f"s3pypi: error: s3://{index.name}/{key} is damaged (")
    assert says in result.stderr
    assert result.stderr.endswith("): run s3pypi reindex\n")
    assert index.snapshot() == before


def test_delete_and_yank_refuse_a_damaged_page(run: Run, index: Bucket) -> None:
    damage(index, PROJECT_JSON, lambda b: b'{"files": [')
    before = index.snapshot()

    for args in (["delete", "hello-world", "1.1"], ["yank", "hello-world", "1.1"]):
        result = run(*args, "--bucket", index.name)
        assert result.exit_code == 1
        assert result.stderr.startswith(f"s3pypi: error: s3://{index.name}/{PROJECT_JSON} is")
        assert result.stderr.count("\n") == 1
    assert index.snapshot() == before


@pytest.mark.parametrize("name", [*DAMAGES, *ROOT_DAMAGES])
def test_verify_reports_reindex_rebuilds_verify_is_clean(
    run: Run, index: Bucket, name: str
) -> None:
    key, make, says = {**DAMAGES, **ROOT_DAMAGES}[name]
    damage(index, key, make)

    found = run("verify", "--bucket", index.name, "--json")
    assert found.exit_code == 1
    problems = json.loads(found.stdout)
    damaged = [p for p in problems if p["kind"] == "damaged-page"]
    assert [p["key"] for p in damaged] == [f"s3://{index.name}/{key}"]
    assert says in damaged[0]["message"]
    assert damaged[0]["message"].endswith(": run reindex")

    rebuilt = run("reindex", "--bucket", index.name)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert f"rebuilt the damaged page s3://{index.name}/{key} (" in rebuilt.stdout

    after = run("verify", "--bucket", index.name)
    assert after.exit_code == 0, after.output
    # What the healthy form of the page knew is kept: the yank and Requires-Python of 1.0.
    page = Index.from_json(index.read(PROJECT_JSON))
    assert page.files["hello_world-1.0-py3-none-any.whl"].yanked == "broken"
    assert page.files["hello_world-1.0-py3-none-any.whl"].requires_python == ">=3.8"
    assert Index.from_html(index.read(PROJECT_HTML)).files.keys() == page.files.keys()
    assert RootIndex.from_json(index.read(ROOT_JSON)).projects == {"hello-world", "other"}


def test_both_forms_damaged_are_rebuilt_from_the_objects(run: Run, index: Bucket) -> None:
    damage(index, PROJECT_JSON, lambda b: b"[]")
    damage(index, PROJECT_HTML, lambda b: cut(b, PROJECT_HTML))

    problems = json.loads(run("verify", "--bucket", index.name, "--json").stdout)
    assert {(p["kind"], p["key"].rsplit("/", 2)[-2:][-1]) for p in problems} >= {
        ("damaged-page", "index.json"),
        ("damaged-page", ""),
    }
    rebuilt = run("reindex", "--bucket", index.name)

    assert rebuilt.exit_code == 0, rebuilt.output
    assert rebuilt.stdout.count("rebuilt the damaged page") == 2
    assert run("verify", "--bucket", index.name).exit_code == 0
    page = Index.from_json(index.read(PROJECT_JSON))
    assert sorted(page.files) == [
        "hello_world-1.0-py3-none-any.whl",
        "hello_world-1.1-py3-none-any.whl",
    ]
    # Nothing is left that knew of the yank; Requires-Python is read from the file again.
    assert page.files["hello_world-1.0-py3-none-any.whl"].requires_python == ">=3.8"


def test_a_damaged_page_in_a_local_directory(
    run: Run, projects: Callable[..., SampleProject], tmp_path: Path
) -> None:
    url = (tmp_path / "index").as_uri()
    assert run("upload", projects().wheel("1.0"), "--repository-url", url).exit_code == 0
    page = tmp_path / "index" / "hello-world" / "index.json"
    page.write_bytes(b'{"files": [')

    refused = run("upload", projects().wheel("2.0"), "--repository-url", url)
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"s3pypi: error: {url}/hello-world/index.json is damaged (not JSON (Expecting value: "
        "line 1 column 12 (char 11))): run s3pypi reindex hello-world\n"
    )
    assert run("verify", "--repository-url", url).exit_code == 1
    assert run("reindex", "--repository-url", url).exit_code == 0
    assert run("verify", "--repository-url", url).exit_code == 0
