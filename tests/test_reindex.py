"""`s3pypi reindex`: pages rebuilt from the objects, keeping what they knew, beside others."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from s3pypi_core.core import Config, verify_index
from s3pypi_core.storage import S3Config
from tests.conftest import Bucket
from tests.distributions import SampleProject
from tests.fault_proxy import FaultProxy
from tests.publishers import (
    Publishers,
    assert_project_lists,
    assert_root_lists,
    hashes,
    read_pages,
)

Run = Callable[..., Result]


def publish(run: Run, bucket: Bucket, *paths: Path) -> None:
    result = run("upload", *paths, "--bucket", bucket.name, "--put-root-index")
    assert result.exit_code == 0, result.output


def put_file(bucket: Bucket, key: str, path: Path) -> None:
    bucket.client.put_object(Bucket=bucket.name, Key=key, Body=path.read_bytes())


def test_a_complete_index_is_left_alone_and_no_file_is_downloaded(
    run: Run, bucket: Bucket, fault_proxy: FaultProxy, projects: Callable[..., SampleProject]
) -> None:
    publish(run, bucket, projects().wheel("1.0"), projects().sdist("1.0"))
    before = bucket.snapshot()

    result = run("reindex", "--bucket", bucket.name, "--s3-endpoint-url", fault_proxy.url)

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == f"Nothing to change in s3://{bucket.name}/\n"
    assert bucket.snapshot() == before
    assert fault_proxy.requests("GET", r"\.(whl|tar\.gz)$") == []
    assert fault_proxy.requests("PUT") == fault_proxy.requests("PUT", "conditional-writes")


def test_what_the_pages_knew_is_kept_and_what_they_lacked_is_added(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject]
) -> None:
    wheel, sdist = projects().wheel("1.0", requires_python=">=3.9"), projects().sdist("1.0")
    publish(run, bucket, wheel, sdist)
    yank = run("yank", "hello-world", "1.0", "--reason", "broken", "--bucket", bucket.name)
    assert yank.exit_code == 0, yank.output
    _html, before = read_pages(bucket, "hello-world")
    # A metadata file is lost, and a file appears that no page names.
    bucket.client.delete_object(Bucket=bucket.name, Key=f"hello-world/{wheel.name}.metadata")
    late = projects().wheel("1.1", requires_python=">=3.10")
    put_file(bucket, f"hello-world/{late.name}", late)

    result = run("reindex", "--bucket", bucket.name)

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"hello-world: wrote {wheel.name}.metadata",
        f"hello-world: wrote {late.name}.metadata",
        f"hello-world: listed {late.name}",
        # PyPI's JSON: the new release's document, and the project's with it.
        "hello-world: wrote 1.1/json",
        "hello-world: wrote json",
    ]
    assert_project_lists(bucket, "hello-world", hashes([wheel, sdist, late]))
    _html, after = read_pages(bucket, "hello-world")
    for name in (wheel.name, sdist.name):
        assert after.files[name] == before.files[name]  # hash, upload time, yank, metadata
    assert after.files[wheel.name].yanked == "broken"
    added = after.files[late.name]
    assert added.requires_python == ">=3.10"
    assert added.upload_time == bucket.head(f"hello-world/{late.name}")["LastModified"]
    assert verify_index(Config(s3=S3Config(bucket=bucket.name))) == []


def test_dry_run_tells_what_would_change_and_writes_nothing(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject]
) -> None:
    wheel = projects().wheel("1.0")
    publish(run, bucket, wheel)
    late = projects().wheel("1.1")
    put_file(bucket, f"hello-world/{late.name}", late)
    before = bucket.snapshot()

    result = run("reindex", "--bucket", bucket.name, "--dry-run")

    assert result.exit_code == 0, result.output
    assert bucket.snapshot() == before
    url = f"s3://{bucket.name}/hello-world/"
    lines = result.stdout.splitlines()
    assert f"(dry run) hello-world: wrote {late.name}.metadata" in lines
    assert f"(dry run) hello-world: listed {late.name}" in lines
    would = sorted(line.split(" (")[0] for line in lines if line.startswith("would "))
    assert would == [
        f"would write {url}",
        f"would write {url}1.1/json",
        f"would write {url}{late.name}.metadata",
        f"would write {url}index.json",
        f"would write {url}json",
    ]


def test_only_the_named_projects_are_rebuilt(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject]
) -> None:
    publish(run, bucket, projects().wheel("1.0"), projects("other").wheel("1.0"))
    late, other_late = projects().wheel("1.1"), projects("other").wheel("1.1")
    put_file(bucket, f"hello-world/{late.name}", late)
    put_file(bucket, f"other/{other_late.name}", other_late)

    assert run("reindex", "Hello_World", "--bucket", bucket.name).exit_code == 0

    problems = verify_index(Config(s3=S3Config(bucket=bucket.name)))
    assert [(p.kind, p.project) for p in problems] == [("unlisted-file", "other")]
    result = run("reindex", "nothing-here", "--bucket", bucket.name)
    assert result.exit_code == 1
    assert result.stderr == f"s3pypi: error: no project nothing-here in s3://{bucket.name}/\n"


def test_a_project_whose_files_are_all_gone_loses_its_pages_and_root_entry(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject]
) -> None:
    wheel = projects("gone").wheel("1.0")
    publish(run, bucket, projects().wheel("1.0"), wheel)
    for key in (f"gone/{wheel.name}", f"gone/{wheel.name}.metadata"):
        bucket.client.delete_object(Bucket=bucket.name, Key=key)

    result = run("reindex", "--bucket", bucket.name)

    assert result.exit_code == 0, result.output
    assert [key for key in bucket.keys() if key.startswith("gone/")] == []
    assert_root_lists(bucket, {"hello-world"})
    assert verify_index(Config(s3=S3Config(bucket=bucket.name))) == []


def test_reindex_while_others_publish_loses_nothing(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject], tmp_path: Path
) -> None:
    first = projects().wheel("1.0")
    publish(run, bucket, first)
    wheels = [projects().wheel(f"2.{i}") for i in range(6)]

    publishers = Publishers(tmp_path / "publishers")
    for wheel in wheels:
        publishers.add("upload", wheel, "--bucket", bucket.name, "--put-root-index")
    for _ in range(2):
        publishers.add("reindex", "--bucket", bucket.name)
    publishers.release()
    finished = publishers.wait()

    assert [p.returncode for p in finished] == [0] * len(finished), [p.stderr for p in finished]
    assert_project_lists(bucket, "hello-world", hashes([first, *wheels]))
    assert verify_index(Config(s3=S3Config(bucket=bucket.name))) == []


def test_an_object_that_is_not_a_distribution_is_reported_not_listed(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject]
) -> None:
    publish(run, bucket, projects().wheel("1.0"))
    key = "hello-world/hello_world-2.0-py3-none-any.whl"
    bucket.client.put_object(Bucket=bucket.name, Key=key, Body=b"not a zip archive")

    result = run("reindex", "--bucket", bucket.name)

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "hello-world: skipped hello_world-2.0-py3-none-any.whl: not a valid distribution "
        f"(s3://{bucket.name}/{key}: corrupt archive: File is not a zip file)\n"
    )
    assert "hello_world-2.0-py3-none-any.whl" not in read_pages(bucket, "hello-world")[1].files
