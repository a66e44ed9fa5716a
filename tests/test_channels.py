"""`s3pypi promote` and `s3pypi prune` on moto buckets and directories, through the real CLI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
from click.testing import Result

from s3pypi_core._pages import PageStore
from s3pypi_core.config import Config
from s3pypi_core.index import Hash, Index, RootIndex
from s3pypi_core.layout import FILE_CACHE_CONTROL
from s3pypi_core.locking import lock_id, open_locker
from tests.conftest import BIN, REGION, Bucket
from tests.distributions import SampleProject
from tests.fault_proxy import Fault, FaultProxy
from tests.serving import make_venv, pip, serving

Run = Callable[..., Result]

WHEEL = "hello_world-1.0.0-py3-none-any.whl"
SDIST = "hello_world-1.0.0.tar.gz"


@pytest.fixture
def other_bucket(moto_endpoint: str) -> Bucket:
    name = f"pypi-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION).create_bucket(Bucket=name)
    return Bucket(name, moto_endpoint)


@pytest.fixture
def hello(projects: Callable[..., SampleProject]) -> SampleProject:
    """hello-world 1.0.0 (a wheel needing Python >= 3.8, an sdist) and 1.1 (a wheel)."""
    project = projects()
    project.wheel("1.0.0", requires_python=">=3.8")
    project.sdist("1.0.0")
    project.wheel("1.1")
    return project


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def error_line(result: Result) -> str:
    """The one line a user error prints (after any log lines)."""
    assert result.exit_code != 0, result.output
    return result.stderr.strip().splitlines()[-1]


def json_page(read: Callable[[str], bytes], prefix: str, project: str = "hello-world") -> Index:
    return Index.from_json(read(f"{prefix}{project}/index.json"))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def writes(proxy: FaultProxy, since: int = 0) -> list[str]:
    """The writes that went through the proxy and were not refused."""
    return [
        f"{e.method} {e.path} {e.status}"
        for e in proxy.log[since:]
        if e.method in ("PUT", "POST", "DELETE") and e.status != 412
    ]


# Promote


def test_promote_between_prefixes_copies_in_s3_then_lists_with_the_source_records(
    run: Run, bucket: Bucket, hello: SampleProject, fault_proxy: FaultProxy
) -> None:
    ok(run("upload", hello.root / "*", "--bucket", bucket.name, "--prefix", "dev"))
    started = datetime.now(timezone.utc)
    promote = (
        "promote", "hello-world", "1.0", "--bucket", bucket.name, "--prefix", "dev",
        "--to", f"s3://{bucket.name}/prod", "--s3-endpoint-url", fault_proxy.url,
    )  # fmt: skip

    result = ok(run(*promote))

    assert result.stdout == (
        f"Promoted hello-world 1.0 from s3://{bucket.name}/dev/ to s3://{bucket.name}/prod/: "
        "2 file(s) copied, 2 listed\n"
    )
    # What a publish writes: files, metadata files, pages, and the human view's documents.
    assert [k for k in bucket.keys() if k.startswith("prod/hello-world/")] == sorted(
        [
            "prod/hello-world/",
            "prod/hello-world/index.json",
            "prod/hello-world/browse.html",
            "prod/hello-world/json",
            "prod/hello-world/1.0.0/json",
            *(
                f"prod/hello-world/{name}{ext}"
                for name in (WHEEL, SDIST)
                for ext in ("", ".metadata")
            ),
        ]
    )
    assert "prod/browse.html" in bucket.keys()
    release = json.loads(bucket.read("prod/hello-world/1.0.0/json"))
    assert release["info"] == json.loads(bucket.read("dev/hello-world/1.0.0/json"))["info"]
    assert sorted(u["filename"] for u in release["urls"]) == sorted([WHEEL, SDIST])
    source, promoted = json_page(bucket.read, "dev/"), json_page(bucket.read, "prod/")
    assert sorted(promoted.files) == [WHEEL, SDIST]
    for name, record in promoted.files.items():
        for ext in ("", ".metadata"):
            assert bucket.read(f"prod/hello-world/{name}{ext}") == bucket.read(
                f"dev/hello-world/{name}{ext}"
            )
        assert record.hash is not None
        assert sha256(bucket.read(f"prod/hello-world/{name}")) == record.hash.value
        # Everything the source said, but the upload time: when it reached this index.
        assert replace(record, upload_time=None) == replace(source.files[name], upload_time=None)
        assert record.upload_time is not None
        assert record.upload_time >= started
        head = bucket.head(f"prod/hello-world/{name}")
        assert head["CacheControl"] == FILE_CACHE_CONTROL
    assert promoted.files[WHEEL].requires_python == ">=3.8"
    assert bucket.head(f"prod/hello-world/{WHEEL}")["ContentType"] == "application/zip"
    # Copied inside S3: no distribution passed through s3pypi.
    assert not fault_proxy.requests("GET", r"\.(whl|tar\.gz)(\?|$)")
    assert ok(run("verify", "--bucket", bucket.name, "--prefix", "prod"))

    # Again: nothing to do, and nothing written.
    snapshot, mark = bucket.snapshot(), len(fault_proxy.log)
    again = ok(run(*promote))

    assert (
        again.stdout == f"hello-world 1.0 is already in s3://{bucket.name}/prod/: nothing to do\n"
    )
    assert bucket.snapshot() == snapshot
    assert writes(fault_proxy, mark) == []


@pytest.mark.slow
def test_promote_between_buckets_and_pip_installs_from_the_destination(
    run: Run, bucket: Bucket, other_bucket: Bucket, hello: SampleProject, tmp_path: Path
) -> None:
    ok(run("upload", hello.root / "*", "--bucket", bucket.name, "--put-root-index"))
    ok(run("yank", "hello-world", "1.1", "--reason", "broken", "--bucket", bucket.name))
    promote = ("--bucket", bucket.name, "--to", f"s3://{other_bucket.name}/prod")

    ok(run("promote", "hello-world", "1.0.0", *promote))
    ok(run("promote", "hello-world", "1.1", *promote))

    page = json_page(other_bucket.read, "prod/")
    for name in (WHEEL, SDIST, "hello_world-1.1-py3-none-any.whl"):
        data = other_bucket.read(f"prod/hello-world/{name}")
        assert data == bucket.read(f"hello-world/{name}")
        assert page.files[name].hash == Hash("sha256", sha256(data))
    assert page.files["hello_world-1.1-py3-none-any.whl"].yanked == "broken"
    # The destination had no root page, and none was asked for.
    assert "prod/index.json" not in other_bucket.keys()
    assert ok(run("verify", "--bucket", other_bucket.name, "--prefix", "prod"))
    with serving("--bucket", other_bucket.name, "--prefix", "prod", log_dir=tmp_path) as server:
        python = make_venv(tmp_path / "venv")
        installed = pip("--python", python, "install", "hello-world", index_url=server.url)
    assert installed.returncode == 0, installed.stderr
    assert "Successfully installed hello-world-1.0.0" in installed.stdout  # 1.1 is yanked


@pytest.mark.parametrize(
    ("source_kind", "destination_kind"), [("dir", "dir"), ("s3", "dir"), ("dir", "s3")]
)
def test_promote_between_a_directory_and_a_bucket(
    run: Run,
    bucket: Bucket,
    hello: SampleProject,
    tmp_path: Path,
    source_kind: str,
    destination_kind: str,
) -> None:
    def index(kind: str, name: str) -> tuple[str, Callable[[str], bytes]]:
        if kind == "s3":
            return f"s3://{bucket.name}/{name}", lambda key: bucket.read(f"{name}/{key}")
        return (tmp_path / name).as_uri(), lambda key: (tmp_path / name / key).read_bytes()

    source, read_source = index(source_kind, "dev")
    destination, read_destination = index(destination_kind, "prod")
    ok(run("upload", hello.root / "*", "--repository-url", source))

    ok(run("promote", "hello-world", "1.0.0", "--repository-url", source, "--to", destination))

    page = Index.from_json(read_destination("hello-world/index.json"))
    assert sorted(page.files) == [WHEEL, SDIST]
    for name, record in page.files.items():
        data = read_destination(f"hello-world/{name}")
        assert data == read_source(f"hello-world/{name}")
        assert record.hash is not None
        assert sha256(data) == record.hash.value
    assert ok(run("verify", "--repository-url", destination))
    again = ok(
        run("promote", "hello-world", "1.0.0", "--repository-url", source, "--to", destination)
    )
    assert "nothing to do" in again.stdout


@pytest.mark.slow
def test_pip_installs_a_release_promoted_to_a_directory(
    run: Run, hello: SampleProject, tmp_path: Path
) -> None:
    dev, prod = (tmp_path / "dev").as_uri(), (tmp_path / "prod").as_uri()
    ok(run("upload", hello.root / "*", "--repository-url", dev))
    ok(run("promote", "hello-world", "1.0.0", "--repository-url", dev, "--to", prod))

    python = make_venv(tmp_path / "venv")
    installed = pip("--python", python, "install", "hello-world", index_url=prod + "/")

    assert installed.returncode == 0, installed.stderr
    assert "Successfully installed hello-world-1.0.0" in installed.stdout


def test_promote_refuses_a_destination_file_with_other_content_and_writes_nothing(
    run: Run, bucket: Bucket, hello: SampleProject, projects: Callable[..., SampleProject]
) -> None:
    ok(run("upload", hello.root / "*", "--bucket", bucket.name, "--prefix", "dev"))
    rebuilt = SampleProject("hello-world", hello.root.parent / "rebuilt")
    ok(
        run(
            "upload", rebuilt.wheel("1.0.0", payload=b"# rebuilt\n"),
            "--bucket", bucket.name, "--prefix", "prod",
        )
    )  # fmt: skip
    snapshot = bucket.snapshot()

    result = run(
        "promote", "hello-world", "1.0.0", "--bucket", bucket.name, "--prefix", "dev",
        "--to", f"s3://{bucket.name}/prod",
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stderr == (
        f"s3pypi: error: {WHEEL} already exists in s3://{bucket.name}/prod/hello-world/{WHEEL} "
        "with other content: nothing was promoted\n"
    )
    assert bucket.snapshot() == snapshot  # not even the sdist


def test_promote_refuses_an_unlisted_file_with_other_content_too(
    run: Run, bucket: Bucket, hello: SampleProject
) -> None:
    ok(run("upload", hello.root / "*", "--bucket", bucket.name, "--prefix", "dev"))
    bucket.client.put_object(Bucket=bucket.name, Key=f"prod/hello-world/{SDIST}", Body=b"other")
    snapshot = bucket.snapshot()

    result = run(
        "promote", "hello-world", "1.0.0", "--bucket", bucket.name, "--prefix", "dev",
        "--to", f"s3://{bucket.name}/prod",
    )  # fmt: skip

    assert error_line(result).startswith(f"s3pypi: error: {SDIST} already exists in")
    assert bucket.snapshot() == snapshot


def test_promote_finishes_an_interrupted_promotion_without_copying_again(
    run: Run, bucket: Bucket, hello: SampleProject, fault_proxy: FaultProxy
) -> None:
    ok(run("upload", hello.root / "*", "--bucket", bucket.name, "--prefix", "dev"))
    # Killed after copying the wheel: the file is there, on no page.
    bucket.client.copy_object(
        Bucket=bucket.name,
        Key=f"prod/hello-world/{WHEEL}",
        CopySource={"Bucket": bucket.name, "Key": f"dev/hello-world/{WHEEL}"},
    )

    result = ok(
        run(
            "promote", "hello-world", "1.0.0", "--bucket", bucket.name, "--prefix", "dev",
            "--to", f"s3://{bucket.name}/prod", "--s3-endpoint-url", fault_proxy.url,
        )
    )  # fmt: skip

    assert "1 file(s) copied, 2 listed" in result.stdout
    assert not fault_proxy.requests("PUT", f"/prod/hello-world/{WHEEL}$")
    assert sorted(json_page(bucket.read, "prod/").files) == [WHEEL, SDIST]
    assert ok(run("verify", "--bucket", bucket.name, "--prefix", "prod"))


@pytest.mark.parametrize("destination", ["s3", "dir"])
def test_a_damaged_source_file_is_not_promoted(
    run: Run, bucket: Bucket, hello: SampleProject, tmp_path: Path, destination: str
) -> None:
    """A bit flipped in the source (same size): the copy is checked against the page's sha256,
    by S3 as it copies, or while streaming; no page names it."""
    wheel = hello.wheel("1.0.0")
    ok(run("upload", wheel, "--bucket", bucket.name, "--prefix", "dev"))
    damaged = bytearray(wheel.read_bytes())
    damaged[len(damaged) // 2] ^= 1
    bucket.client.put_object(
        Bucket=bucket.name, Key=f"dev/hello-world/{WHEEL}", Body=bytes(damaged)
    )
    to = f"s3://{bucket.name}/prod" if destination == "s3" else (tmp_path / "prod").as_uri()

    result = run(
        "promote", "hello-world", "1.0.0", "--repository-url", f"s3://{bucket.name}/dev", "--to", to
    )

    expected = sha256(wheel.read_bytes())
    assert error_line(result) == (
        f"s3pypi: error: s3://{bucket.name}/dev/hello-world/{WHEEL} does not have the sha256 it "
        f"should have ({expected}, "
        + (
            f"its copy s3://{bucket.name}/prod/hello-world/{WHEEL} has {sha256(bytes(damaged))}"
            if destination == "s3"
            else f"it has {sha256(bytes(damaged))}"
        )
        + "): run s3pypi verify"
    )
    if destination == "s3":
        assert not [k for k in bucket.keys() if k.startswith("prod/") and "index" in k]
    else:
        assert not (tmp_path / "prod" / "hello-world" / "index.json").exists()
        assert not (tmp_path / "prod" / "hello-world" / WHEEL).exists()


def test_a_copy_never_overwrites_a_file_created_meanwhile(
    run: Run, bucket: Bucket, hello: SampleProject, fault_proxy: FaultProxy
) -> None:
    """The plan saw no file; another writer creates it before the copy lands: S3 refuses the
    create-only copy, and promote stops without listing anything."""
    ok(run("upload", hello.wheel("1.0.0"), "--bucket", bucket.name, "--prefix", "dev"))
    key = f"prod/hello-world/{WHEEL}"
    release = threading.Event()
    fault_proxy.add("PUT", f"/{bucket.name}/{key}$", Fault(hold=release))
    promote = subprocess.Popen(
        [
            BIN / "s3pypi", "promote", "hello-world", "1.0.0", "--bucket", bucket.name,
            "--prefix", "dev", "--to", f"s3://{bucket.name}/prod",
            "--s3-endpoint-url", fault_proxy.url,
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ,
    )  # fmt: skip
    try:
        fault_proxy.wait_until_holding()
        bucket.client.put_object(Bucket=bucket.name, Key=key, Body=b"created meanwhile")
    finally:
        release.set()
        _out, err = promote.communicate(timeout=120)

    assert promote.returncode == 1
    assert err.strip().splitlines()[-1] == (
        f"s3pypi: error: s3://{bucket.name}/{key} was created with other content while promoting"
    )
    assert bucket.read(key) == b"created meanwhile"
    assert not [k for k in bucket.keys() if k.startswith("prod/") and k != key]


def test_a_failed_copy_lists_nothing(
    run: Run, bucket: Bucket, hello: SampleProject, fault_proxy: FaultProxy
) -> None:
    """Files before pages: when a copy fails, no page names anything."""
    ok(run("upload", hello.root / "*", "--bucket", bucket.name, "--prefix", "dev"))
    denied = Fault(status=403, code="AccessDenied")
    fault_proxy.add("PUT", f"/{bucket.name}/prod/hello-world/{SDIST}$", denied, times=None)

    result = run(
        "promote", "hello-world", "1.0.0", "--bucket", bucket.name, "--prefix", "dev",
        "--to", f"s3://{bucket.name}/prod", "--s3-endpoint-url", fault_proxy.url,
    )  # fmt: skip

    assert "AccessDenied" in error_line(result)
    assert fault_proxy.fired(denied)
    assert not [k for k in bucket.keys() if k.startswith("prod/") and "/index" in k]
    assert not [k for k in bucket.keys() if k == "prod/hello-world/"]


def test_the_test_server_refuses_a_create_only_copy_onto_an_existing_key(bucket: Bucket) -> None:
    bucket.client.put_object(Bucket=bucket.name, Key="a", Body=b"a")
    bucket.client.put_object(Bucket=bucket.name, Key="b", Body=b"b")
    bucket.client.meta.events.register(
        "before-call.s3.CopyObject",
        lambda params, **_: params["headers"].__setitem__("If-None-Match", "*"),
    )
    source = {"Bucket": bucket.name, "Key": "a"}

    with pytest.raises(botocore.exceptions.ClientError, match="PreconditionFailed"):
        bucket.client.copy_object(Bucket=bucket.name, Key="b", CopySource=source)
    bucket.client.copy_object(Bucket=bucket.name, Key="c", CopySource=source)

    assert (bucket.read("b"), bucket.read("c")) == (b"b", b"a")


def test_promote_lists_a_new_project_on_the_destination_root_page(
    run: Run, bucket: Bucket, hello: SampleProject, projects: Callable[..., SampleProject]
) -> None:
    ok(run("upload", hello.root / "*", "--repository-url", f"s3://{bucket.name}/dev"))
    to = ("--repository-url", f"s3://{bucket.name}/dev")

    # No root page at the destination: none is made, unless asked for.
    ok(run("promote", "hello-world", "1.0.0", *to, "--to", f"s3://{bucket.name}/stage"))
    assert "stage/index.json" not in bucket.keys()
    ok(
        run(
            "promote",
            "hello-world",
            "1.0.0",
            *to,
            "--to",
            f"s3://{bucket.name}/prod",
            "--put-root-index",
        )
    )
    assert RootIndex.from_json(bucket.read("prod/index.json")).projects == {"hello-world"}

    # A destination with a root page keeps it true.
    other = projects("other-project").wheel("1.0")
    ok(run("upload", other, "--repository-url", f"s3://{bucket.name}/qa", "--put-root-index"))
    ok(run("promote", "hello-world", "1.1", *to, "--to", f"s3://{bucket.name}/qa"))
    assert RootIndex.parse(bucket.text("qa/")).projects == {"hello-world", "other-project"}
    for prefix in ("stage", "prod", "qa"):
        assert ok(run("verify", "--repository-url", f"s3://{bucket.name}/{prefix}"))


def test_promote_dry_run_prints_the_copies_and_writes_nothing(
    run: Run, bucket: Bucket, hello: SampleProject
) -> None:
    ok(run("upload", hello.root / "*", "--bucket", bucket.name, "--prefix", "dev"))
    snapshot = bucket.snapshot()

    result = ok(
        run(
            "promote", "hello-world", "1.0.0", "--bucket", bucket.name, "--prefix", "dev",
            "--to", f"s3://{bucket.name}/prod", "--dry-run",
        )
    )  # fmt: skip

    lines = result.stdout.splitlines()
    for name in (WHEEL, SDIST):
        assert any(
            line.startswith(
                f"would copy s3://{bucket.name}/dev/hello-world/{name} to "
                f"s3://{bucket.name}/prod/hello-world/{name} ("
            )
            for line in lines
        ), lines
    assert lines[-1].startswith("Would promote hello-world 1.0.0")
    assert bucket.snapshot() == snapshot


def test_promote_waits_for_the_destination_lock(
    run: Run, bucket: Bucket, other_bucket: Bucket, hello: SampleProject
) -> None:
    ok(run("upload", hello.root / "*", "--bucket", bucket.name))
    table = other_bucket.create_locks_table()  # the destination's, found by its name
    holder = open_locker(boto3.Session(region_name=REGION), table, other_bucket.name)
    to = ("--bucket", bucket.name, "--to", f"s3://{other_bucket.name}")

    with holder("hello-world"):
        result = run("promote", "hello-world", "1.0.0", *to, "--lock-timeout", "0.2")
        assert result.exit_code == 1
        assert f"waiting for lock {lock_id('hello-world')}" in error_line(result)
        assert other_bucket.keys() == []
    ok(run("promote", "hello-world", "1.0.0", *to))
    assert sorted(json_page(other_bucket.read, "").files) == [WHEEL, SDIST]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("hello-world", "9.9"), "s3pypi: error: no files of hello-world 9.9 in s3://{b}/dev/"),
        (("nope", "1.0"), "s3pypi: error: no files of nope 1.0 in s3://{b}/dev/"),
        (("hello-world", "one"), "s3pypi: error: not a valid version: 'one'"),
        (
            ("hello-world", "1.0", "--to", "s3://{b}/dev"),
            "Error: the destination s3://{b}/dev/ is the source s3://{b}/dev/: promote between "
            "separate indexes (e.g. s3://BUCKET/dev and s3://BUCKET/prod)",
        ),
        (
            ("hello-world", "1.0", "--to", "s3://{b}/dev/prod"),
            "Error: the destination s3://{b}/dev/prod/ overlaps the source s3://{b}/dev/: "
            "promote between separate indexes (e.g. s3://BUCKET/dev and s3://BUCKET/prod)",
        ),
        (
            ("hello-world", "1.0", "--to", "https://example.com/simple"),
            "Error: unsupported repository URL 'https://example.com/simple': use "
            "s3://BUCKET[/PREFIX] or file:///PATH",
        ),
        (
            ("hello-world", "1.0", "--to", "file:///tmp/prod", "--locks-table", "locks"),
            "Error: --locks-table applies to S3 repositories only, not to the directory "
            "file:///tmp/prod",
        ),
    ],
)
def test_promote_bad_input_is_one_line_and_writes_nothing(
    run: Run, bucket: Bucket, hello: SampleProject, args: tuple[str, ...], message: str
) -> None:
    ok(run("upload", hello.root / "*", "--bucket", bucket.name, "--prefix", "dev"))
    snapshot = bucket.snapshot()
    args = tuple(a.format(b=bucket.name) for a in args)
    if "--to" not in args:
        args += ("--to", f"s3://{bucket.name}/prod")

    result = run("promote", *args, "--bucket", bucket.name, "--prefix", "dev")

    assert error_line(result) == message.format(b=bucket.name)
    assert bucket.snapshot() == snapshot


def test_aws_options_apply_to_the_side_in_s3(run: Run, tmp_path: Path, bucket: Bucket) -> None:
    dev, prod = (tmp_path / "dev").as_uri(), (tmp_path / "prod").as_uri()

    both_directories = run(
        "promote", "hello-world", "1.0", "--repository-url", dev, "--to", prod, "--profile", "x"
    )
    to_a_bucket = run(
        "promote", "hello-world", "1.0", "--repository-url", dev,
        "--to", f"s3://{bucket.name}/prod", "--profile", "production",
    )  # fmt: skip

    assert error_line(both_directories) == (
        f"Error: --profile applies to S3 repositories only, not to the directory {dev}"
    )
    # The profile was taken for the bucket: the error is the missing source release.
    assert error_line(to_a_bucket) == f"s3pypi: error: no files of hello-world 1.0 in {dev}/"


# Prune


def versions_of(
    read: Callable[[str], bytes], prefix: str = "", project: str = "hello-world"
) -> list[str]:
    return json_page(read, prefix, project).versions()


def sizes(bucket: Bucket, prefix: str = "") -> dict[str, int]:
    pages = bucket.client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket.name, Prefix=prefix
    )
    return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}


@pytest.fixture
def many(projects: Callable[..., SampleProject]) -> SampleProject:
    """hello-world 0.9, 1.0 (a wheel and an sdist spelled 1.0.0), 1.1, 2.0.dev1, 2.0rc1."""
    project = projects()
    project.wheel("0.9")
    project.wheel("1.0")
    project.sdist("1.0.0")
    project.wheel("1.1")
    project.wheel("2.0.dev1")
    project.wheel("2.0rc1")
    return project


def bytes_of(before: dict[str, int], *filenames: str, prefix: str = "") -> int:
    """The bytes of distribution files and their metadata files, as listed in `before`."""
    keys = {f"{prefix}hello-world/{name}" for name in filenames}
    return sum(size for key, size in before.items() if key.removesuffix(".metadata") in keys)


def test_prune_keeps_the_newest_n_and_the_newest_release(
    run: Run, bucket: Bucket, many: SampleProject
) -> None:
    ok(run("upload", many.root / "*", "--bucket", bucket.name, "--put-root-index"))
    before = sizes(bucket)
    old = bytes_of(before, "hello_world-0.9-py3-none-any.whl")
    one = bytes_of(before, "hello_world-1.0-py3-none-any.whl", "hello_world-1.0.0.tar.gz")

    result = ok(run("prune", "hello-world", "--keep", "2", "--bucket", bucket.name))

    # PEP 440 order: 2.0rc1 and 2.0.dev1 are the two newest; 1.1 is the newest release.
    assert versions_of(bucket.read) == ["1.1", "2.0.dev1", "2.0rc1"]
    assert [line.split()[:4] for line in result.stdout.splitlines()] == [
        ["PROJECT", "VERSION", "FILES", "BYTES"],
        ["hello-world", "1.0", "2", f"{one:,}"],
        ["hello-world", "0.9", "1", f"{old:,}"],
        ["Removed", "2", "version(s),", "3"],
    ]
    assert f"{old + one:,} bytes" in result.stdout
    # Their files and metadata files are gone, and so are their releases' PyPI JSON documents.
    gone = ("-0.9-", "-1.0-", "-1.0.0.", "hello-world/0.9/", "hello-world/1.0/", "/1.0.0/")
    assert sorted(sizes(bucket)) == sorted(k for k in before if not any(g in k for g in gone))
    assert RootIndex.from_json(bucket.read("index.json")).projects == {"hello-world"}
    assert ok(run("verify", "--bucket", bucket.name))

    again = ok(run("prune", "hello-world", "--keep", "2", "--bucket", bucket.name))
    assert again.stdout == f"Nothing to remove in s3://{bucket.name}/\n"


def backdate(cfg: Config, ages: dict[str, int], project: str = "hello-world") -> None:
    """Set the upload time of versions (by their string) to that many days ago."""
    now = datetime.now(timezone.utc)

    def change(index: Index) -> bool:
        for record in list(index.files.values()):
            if str(record.version) in ages:
                uploaded = now - timedelta(days=ages[str(record.version)])
                index.files[record.filename] = replace(record, upload_time=uploaded)
        return True

    PageStore(cfg.open_storage(), cfg.layout).update_project(project, change)


def test_prune_older_than_removes_only_versions_uploaded_before(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject]
) -> None:
    project = projects()
    for version in ("1.0", "1.1", "1.2", "2.0"):
        project.wheel(version)
    ok(run("upload", project.root / "*", "--bucket", bucket.name))
    backdate(Config.from_options(bucket=bucket.name), {"1.0": 60, "1.1": 45, "1.2": 10})

    result = ok(
        run("prune", "hello-world", "--keep", "1", "--older-than", "30", "--bucket", bucket.name)
    )

    assert versions_of(bucket.read) == ["1.2", "2.0"]
    rows = [line.split()[:2] for line in result.stdout.splitlines()[1:-1]]
    assert rows == [["hello-world", "1.1"], ["hello-world", "1.0"]]
    day = (datetime.now(timezone.utc) - timedelta(days=60)).strftime("%Y-%m-%d")
    assert day in result.stdout.splitlines()[2]
    assert ok(run("verify", "--bucket", bucket.name))


def test_prune_older_than_falls_back_on_the_file_time_where_the_page_has_none(
    run: Run, projects: Callable[..., SampleProject], tmp_path: Path
) -> None:
    """Pages written by s3pypi 2.x give no upload time: the object's own time counts."""
    project = projects()
    for version in ("1.0", "1.1", "2.0"):
        project.wheel(version)
    index = tmp_path / "index"
    ok(run("upload", project.root / "*", "--repository-url", index.as_uri()))

    def forget_times(page: Index) -> bool:
        page.files = {n: replace(f, upload_time=None) for n, f in page.files.items()}
        return True

    cfg = Config.from_options(repository_url=index.as_uri())
    PageStore(cfg.open_storage(), cfg.layout).update_project("hello-world", forget_times)
    old = (datetime.now(timezone.utc) - timedelta(days=60)).timestamp()
    os.utime(index / "hello-world/hello_world-1.0-py3-none-any.whl", (old, old))

    result = ok(
        run(
            "prune",
            "hello-world",
            "--keep",
            "1",
            "--older-than",
            "30",
            "--repository-url",
            index.as_uri(),
        )
    )

    assert [line.split()[1] for line in result.stdout.splitlines()[1:-1]] == ["1.0"]
    assert versions_of(lambda key: (index / key).read_bytes()) == ["1.1", "2.0"]


def test_prune_only_prereleases_leaves_every_release(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject], tmp_path: Path
) -> None:
    project = projects()
    for version in ("1.0", "1.1", "2.0.dev1", "2.0.dev2", "2.0a1", "2.0rc1", "0.1b1"):
        project.wheel(version)
    index = (tmp_path / "index").as_uri()
    ok(run("upload", project.root / "*", "--repository-url", index))

    result = ok(
        run("prune", "hello-world", "--keep", "1", "--only-prereleases", "--repository-url", index)
    )

    read = lambda key: (tmp_path / "index" / key).read_bytes()  # noqa: E731
    assert versions_of(read) == ["1.0", "1.1", "2.0rc1"]
    assert [line.split()[1] for line in result.stdout.splitlines()[1:-1]] == [
        "2.0a1", "2.0.dev2", "2.0.dev1", "0.1b1",
    ]  # fmt: skip
    directory = tmp_path / "index/hello-world"
    files = [p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()]
    assert sorted(files) == sorted(
        [
            f"hello_world-{v}-py3-none-any.whl{ext}"
            for v in ("1.0", "1.1", "2.0rc1")
            for ext in ("", ".metadata")
        ]
        # The pages, the human view's page, PyPI's JSON of the project and of each release kept.
        + ["index.html", "index.json", "browse.html", "json", "1.0/json", "1.1/json"]
        + ["2.0rc1/json"]
    )
    assert ok(run("verify", "--repository-url", index))


def test_prune_dry_run_prints_the_table_and_writes_nothing(
    run: Run, bucket: Bucket, many: SampleProject, fault_proxy: FaultProxy
) -> None:
    ok(run("upload", many.root / "*", "--bucket", bucket.name))
    snapshot = bucket.snapshot()

    result = ok(
        run(
            "prune", "--all", "--keep", "1", "--dry-run",
            "--bucket", bucket.name, "--s3-endpoint-url", fault_proxy.url,
        )
    )  # fmt: skip

    assert [line.split()[1] for line in result.stdout.splitlines()[1:-1]] == [
        "2.0.dev1", "1.0", "0.9",
    ]  # fmt: skip
    assert result.stdout.splitlines()[-1].startswith("Would remove 3 version(s), 4 file(s), ")
    assert bucket.snapshot() == snapshot
    assert writes(fault_proxy) == []


@dataclass
class Held:
    """A `s3pypi prune` process stopped at its first write of the project's JSON page."""

    process: subprocess.Popen[str]
    release: threading.Event
    stdout: str = ""
    stderr: str = ""


@contextmanager
def pruning(proxy: FaultProxy, bucket: Bucket, *args: str) -> Iterator[Held]:
    """Run `s3pypi prune ARGS` through the proxy; inside the block, its page write is held
    (it has read the page and chosen what to remove); after it, the prune has finished."""
    release = threading.Event()
    proxy.add("PUT", f"/{bucket.name}/hello-world/index\\.json$", Fault(hold=release))
    process = subprocess.Popen(
        [BIN / "s3pypi", "prune", *args, "--bucket", bucket.name, "--s3-endpoint-url", proxy.url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ,
    )  # fmt: skip
    held = Held(process, release)
    try:
        proxy.wait_until_holding()
        yield held
    finally:
        release.set()
        held.stdout, held.stderr = process.communicate(timeout=120)


def test_a_version_published_while_pruning_is_kept(
    run: Run, bucket: Bucket, many: SampleProject, fault_proxy: FaultProxy
) -> None:
    ok(run("upload", many.root / "*", "--bucket", bucket.name))
    newer = many.wheel("3.0")

    with pruning(fault_proxy, bucket, "hello-world", "--keep", "2") as prune:
        ok(run("upload", newer, "--bucket", bucket.name))

    assert prune.process.returncode == 0, prune.stderr
    # Chosen before 3.0 came: 1.0 and 0.9. The page update removed those records only.
    assert [line.split()[1] for line in prune.stdout.splitlines()[1:-1]] == ["1.0", "0.9"]
    assert versions_of(bucket.read) == ["1.1", "2.0.dev1", "2.0rc1", "3.0"]
    assert bucket.read(f"hello-world/{newer.name}") == newer.read_bytes()
    assert ok(run("verify", "--bucket", bucket.name))


def test_a_project_emptied_by_a_concurrent_delete_leaves_the_root_page(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject], fault_proxy: FaultProxy
) -> None:
    hello, other = projects(), projects("other-project")
    hello.wheel("1.0")
    hello.wheel("2.0")
    other.wheel("1.0")
    ok(run("upload", hello.root / "*", "--bucket", bucket.name, "--put-root-index"))

    with pruning(fault_proxy, bucket, "hello-world", "--keep", "1") as prune:
        ok(run("delete", "hello-world", "2.0", "--bucket", bucket.name))

    assert prune.process.returncode == 0, prune.stderr
    assert [k for k in bucket.keys() if k.startswith("hello-world/")] == []
    for page in (
        RootIndex.parse(bucket.text("index.html")),
        RootIndex.from_json(bucket.read("index.json")),
    ):
        assert page.projects == {"other-project"}
    assert ok(run("verify", "--bucket", bucket.name))


def test_a_failed_page_update_deletes_no_file(
    run: Run, bucket: Bucket, many: SampleProject, fault_proxy: FaultProxy
) -> None:
    """Pages before files: when the page cannot be written, every file stays."""
    ok(run("upload", many.root / "*", "--bucket", bucket.name))
    snapshot = bucket.snapshot()
    denied = Fault(status=403, code="AccessDenied")
    fault_proxy.add("PUT", f"/{bucket.name}/hello-world/", denied, times=None)

    result = run(
        "prune", "hello-world", "--keep", "1",
        "--bucket", bucket.name, "--s3-endpoint-url", fault_proxy.url,
    )  # fmt: skip

    assert "AccessDenied" in error_line(result)
    assert fault_proxy.fired(denied)
    assert bucket.snapshot() == snapshot


def test_prune_waits_for_the_lock(run: Run, bucket: Bucket, many: SampleProject) -> None:
    ok(run("upload", many.root / "*", "--bucket", bucket.name))
    table = bucket.create_locks_table()
    holder = open_locker(boto3.Session(region_name=REGION), table, bucket.name)
    snapshot = bucket.snapshot()

    with holder("hello-world"):
        result = run(
            "prune", "hello-world", "--keep", "1", "--bucket", bucket.name, "--lock-timeout", "0.2"
        )
        assert result.exit_code == 1
        assert f"waiting for lock {lock_id('hello-world')}" in error_line(result)
        assert bucket.snapshot() == snapshot
    ok(run("prune", "hello-world", "--keep", "1", "--bucket", bucket.name))
    assert versions_of(bucket.read) == ["1.1", "2.0rc1"]


def test_prune_config_file_with_a_per_project_override(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject], tmp_path: Path
) -> None:
    for name in ("acme-app", "acme-core"):
        for version in ("1.0", "1.1", "1.2", "1.3"):
            projects(name).wheel(version)
    ok(run("upload", tmp_path / "dist/*", "--bucket", bucket.name))
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "acme"\n\n[tool.s3pypi.retention]\nkeep = 1\n\n'
        "[tool.s3pypi.retention.projects.acme-core]\nkeep = 3\n"
    )

    result = ok(run("prune", "--config", pyproject, "--bucket", bucket.name))

    assert versions_of(bucket.read, project="acme-app") == ["1.3"]
    assert versions_of(bucket.read, project="acme-core") == ["1.1", "1.2", "1.3"]
    assert "Removed 4 version(s)" in result.stdout
    assert ok(run("verify", "--bucket", bucket.name))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope", "--keep", "1"), "s3pypi: error: no project nope in s3://{b}/"),
        (("hello-world", "--all", "--keep", "1"), "Error: give project names or --all, not both"),
        (("hello-world",), "Error: missing --keep N (or --config FILE)"),
        (("--keep", "1"), "Error: name the projects to prune, or use --all"),
        (
            ("hello-world", "--keep", "0"),
            "Error: Invalid value for '--keep': 0 is not in the range x>=1.",
        ),
        (
            ("--config", "{config}", "--keep", "1"),
            "Error: --config gives the policy: leave out --keep, --older-than and "
            "--only-prereleases",
        ),
        (
            ("--config", "{bad_config}"),
            "Error: {bad_config} [tool.s3pypi.retention]: unknown key 'keeep' (the keys are "
            "keep, older-than, only-prereleases)",
        ),
    ],
)
def test_prune_bad_input_is_one_line_and_writes_nothing(
    run: Run,
    bucket: Bucket,
    many: SampleProject,
    tmp_path: Path,
    args: tuple[str, ...],
    message: str,
) -> None:
    ok(run("upload", many.root / "*", "--bucket", bucket.name))
    (tmp_path / "config.toml").write_text("[tool.s3pypi.retention]\nkeep = 1\n")
    (tmp_path / "bad.toml").write_text("[tool.s3pypi.retention]\nkeeep = 1\n")
    names = {
        "b": bucket.name,
        "config": tmp_path / "config.toml",
        "bad_config": tmp_path / "bad.toml",
    }
    snapshot = bucket.snapshot()

    result = run("prune", *(a.format(**names) for a in args), "--bucket", bucket.name)

    assert error_line(result) == message.format(**names)
    assert bucket.snapshot() == snapshot
