"""`s3pypi verify`: every kind of problem an index can have is found, and told plainly."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from s3pypi_core.core import Config, Problem, verify_index
from s3pypi_core.index import Index, RootIndex
from s3pypi_core.storage import S3Config
from tests.conftest import Bucket
from tests.distributions import SampleProject

Run = Callable[..., Result]


def publish(run: Run, bucket: Bucket, projects: Callable[..., SampleProject]) -> None:
    files = [
        projects().wheel("1.0", requires_python=">=3.8"),
        projects().sdist("1.0"),
        projects().wheel("1.1"),
        projects("other").wheel("0.1"),
    ]
    result = run("upload", *files, "--bucket", bucket.name, "--put-root-index")
    assert result.exit_code == 0, result.output


def put(bucket: Bucket, key: str, body: bytes | str) -> None:
    bucket.client.put_object(
        Bucket=bucket.name, Key=key, Body=body.encode() if isinstance(body, str) else body
    )


def break_everything(bucket: Bucket, tmp_path: Path) -> set[tuple[str, str]]:
    """Damage a published index in every way verify knows; the (kind, key) it must report."""
    elsewhere = SampleProject("hello-world", tmp_path / "elsewhere")
    client, name = bucket.client, bucket.name
    client.delete_object(Bucket=name, Key="hello-world/hello_world-1.1-py3-none-any.whl")
    put(bucket, "hello-world/hello_world-2.0-py3-none-any.whl", elsewhere.wheel("2.0").read_bytes())
    sdist = elsewhere.sdist("1.0", requires_python=">=3.12").read_bytes()
    put(bucket, "hello-world/hello_world-1.0.tar.gz", sdist)
    put(bucket, "hello-world/hello_world-1.0-py3-none-any.whl.metadata", "Name: tampered\n")
    client.delete_object(Bucket=name, Key="other/other-0.1-py3-none-any.whl.metadata")
    put(bucket, "other/hello_world-3.0-py3-none-any.whl", elsewhere.wheel("3.0").read_bytes())
    # The HTML page of "other" claims a requirement its JSON page does not.
    page = Index.from_json(bucket.read("other/index.json"))
    record = page.files["other-0.1-py3-none-any.whl"]
    page.files[record.filename] = record.__class__(**{**record.__dict__, "requires_python": "<3"})
    put(bucket, "other/", page.to_html())
    # The root pages lose "other" and gain a project that does not exist.
    root = RootIndex(projects={"hello-world", "ghost"}, serial=9)
    put(bucket, "index.html", root.to_html())
    put(bucket, "index.json", root.to_json())
    url = f"s3://{name}/"
    return {
        ("missing-file", url + "hello-world/hello_world-1.1-py3-none-any.whl"),
        ("unlisted-file", url + "hello-world/hello_world-2.0-py3-none-any.whl"),
        ("size-mismatch", url + "hello-world/hello_world-1.0.tar.gz"),
        ("hash-mismatch", url + "hello-world/hello_world-1.0.tar.gz"),
        ("metadata-mismatch", url + "hello-world/hello_world-1.0-py3-none-any.whl.metadata"),
        ("missing-metadata", url + "other/other-0.1-py3-none-any.whl.metadata"),
        ("misplaced-file", url + "other/hello_world-3.0-py3-none-any.whl"),
        ("pages-disagree", url + "other/"),
        ("missing-root-entry", url + "other/"),
        ("stale-root-entry", url + "ghost/"),
    }


def test_a_published_index_has_no_problems(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject]
) -> None:
    publish(run, bucket, projects)

    result = run("verify", "--bucket", bucket.name)

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == f"No problems in s3://{bucket.name}/\n"
    assert run("verify", "--bucket", bucket.name, "--json").stdout == "[]\n"


def test_every_kind_of_damage_is_reported_and_exits_1(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject], tmp_path: Path
) -> None:
    publish(run, bucket, projects)
    expected = break_everything(bucket, tmp_path)

    problems = verify_index(Config(s3=S3Config(bucket=bucket.name)))
    assert {(p.kind, p.key) for p in problems} == expected
    assert len(problems) == len(expected)

    result = run("verify", "--bucket", bucket.name)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [str(p) for p in problems]
    assert result.stderr == f"{len(problems)} problem(s) in s3://{bucket.name}/\n"
    missing = next(p for p in problems if p.kind == "missing-file")
    assert str(missing) == (
        f"missing-file: s3://{bucket.name}/hello-world/hello_world-1.1-py3-none-any.whl: "
        "listed on the page, but there is no such object"
    )

    as_json = run("verify", "--bucket", bucket.name, "--json")
    assert as_json.exit_code == 1
    assert [Problem(**item) for item in json.loads(as_json.stdout)] == problems

    # --quick reads no distribution, so the same size would hide other bytes.
    quick = run("verify", "--bucket", bucket.name, "--quick", "--json")
    kinds = {item["kind"] for item in json.loads(quick.stdout)}
    assert kinds == {kind for kind, _ in expected} - {"hash-mismatch"}


def test_reindex_repairs_what_verify_found(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject], tmp_path: Path
) -> None:
    publish(run, bucket, projects)
    break_everything(bucket, tmp_path)

    result = run("reindex", "--bucket", bucket.name)

    assert result.exit_code == 0, result.output
    # A tampered .metadata file beside a complete record takes reading the files again.
    left = verify_index(Config(s3=S3Config(bucket=bucket.name)))
    assert [(p.kind, p.project) for p in left] == [
        ("metadata-mismatch", "hello-world"),
        ("misplaced-file", "other"),
    ]
    assert run("reindex", "--bucket", bucket.name, "--rehash").exit_code == 0
    left = verify_index(Config(s3=S3Config(bucket=bucket.name)))
    assert [(p.kind, p.project) for p in left] == [("misplaced-file", "other")]


def test_only_the_named_projects_are_verified(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject], tmp_path: Path
) -> None:
    publish(run, bucket, projects)
    break_everything(bucket, tmp_path)

    problems = verify_index(Config(s3=S3Config(bucket=bucket.name)), ["Other"])

    assert {p.project for p in problems} == {"other"}
    result = run("verify", "nothing-here", "--bucket", bucket.name)
    assert result.exit_code == 1
    assert result.stderr == f"s3pypi: error: no project nothing-here in s3://{bucket.name}/\n"


def test_pages_in_the_other_layout_are_named_not_reported_as_missing(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject]
) -> None:
    wheel = projects().wheel("1.0")
    assert run("upload", wheel, "--bucket", bucket.name, "--index.html").exit_code == 0

    result = run("verify", "--bucket", bucket.name)

    assert result.exit_code == 1
    assert result.stderr == (
        f"s3pypi: error: the project pages of s3://{bucket.name}/ are at NAME/index.html: "
        "add --index.html\n"
    )
    assert run("verify", "--bucket", bucket.name, "--index.html").exit_code == 0


@pytest.mark.parametrize("prefix", [None, "packages"])
def test_a_local_directory_index_and_a_prefix_verify_the_same_way(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject], tmp_path: Path, prefix: str
) -> None:
    wheel = projects().wheel("1.0")
    local = (tmp_path / "index").as_uri()
    remote = f"s3://{bucket.name}/{prefix or ''}"
    for url in (local, remote):
        assert run("upload", wheel, "--repository-url", url, "--put-root-index").exit_code == 0
        assert run("verify", "--repository-url", url).exit_code == 0

    (tmp_path / "index" / "hello-world" / wheel.name).unlink()
    result = run("verify", "--repository-url", local, "--json")
    assert result.exit_code == 1
    assert [p["kind"] for p in json.loads(result.stdout)] == ["missing-file"]


def test_a_listed_file_that_is_no_longer_a_distribution_is_invalid(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject]
) -> None:
    publish(run, bucket, projects)
    name = "hello_world-1.1-py3-none-any.whl"
    size = Index.from_json(bucket.read("hello-world/index.json")).files[name].size
    put(bucket, f"hello-world/{name}", b"not a zip archive")
    cfg = Config(s3=S3Config(bucket=bucket.name))

    # By default, its hash tells that it changed; --deep reads it and tells what it is.
    assert [p.kind for p in verify_index(cfg)] == ["hash-mismatch", "size-mismatch"]
    assert [(p.kind, p.message) for p in verify_index(cfg, deep=True)] == [
        (
            "invalid-file",
            "corrupt archive: File is not a zip file: pip cannot install it: run reindex "
            "--rehash to take it off the page",
        ),
        ("size-mismatch", f"the page says {size} bytes, it has 17"),
    ]


# Where the index is


def test_the_summary_names_the_prefix(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject]
) -> None:
    wheel = projects().wheel("1.0")
    assert run("upload", wheel, "--bucket", bucket.name, "--prefix", "simple").exit_code == 0

    result = run("verify", "--bucket", bucket.name, "--prefix", "simple")

    assert result.exit_code == 0, result.output
    assert result.stderr == f"No problems in s3://{bucket.name}/simple/\n"


def test_a_forgotten_prefix_is_named_in_one_line(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject], tmp_path: Path
) -> None:
    wheel = projects().wheel("1.0")
    args = ("--bucket", bucket.name)
    assert run("upload", wheel, *args, "--prefix", "simple", "--put-root-index").exit_code == 0
    before = bucket.snapshot()

    for command in ("verify", "reindex"):
        result = run(command, *args)
        assert result.exit_code == 1
        assert result.stdout == ""
        assert result.stderr == (
            f"s3pypi: error: no index at s3://{bucket.name}/; the index seems to be under "
            "simple/: add --prefix simple\n"
        )
    assert bucket.snapshot() == before

    local = tmp_path / "site"
    assert run("upload", wheel, "--repository-url", (local / "simple").as_uri()).exit_code == 0
    result = run("verify", "--repository-url", local.as_uri())
    assert result.stderr == (
        f"s3pypi: error: no index at {local.as_uri()}/; the index seems to be under simple/: "
        f"use --repository-url {local.as_uri()}/simple/\n"
    )


def test_an_empty_or_missing_index_says_so(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject], tmp_path: Path
) -> None:
    assert run("upload", projects().wheel("1.0"), "--bucket", bucket.name).exit_code == 0
    before = bucket.snapshot()

    for command in ("verify", "reindex"):
        result = run(command, "--bucket", bucket.name, "--prefix", "nonexistent")
        assert result.exit_code == 1
        assert result.stderr == (
            f"s3pypi: error: no index at s3://{bucket.name}/nonexistent/: no distributions or "
            "pages there\n"
        )
    assert bucket.snapshot() == before
    missing = (tmp_path / "missing").as_uri()
    assert run("verify", "--repository-url", missing).stderr == (
        f"s3pypi: error: no index at {missing}/: no distributions or pages there\n"
    )
