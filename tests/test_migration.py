"""Upgrading a bucket written by the real s3pypi 2.x in place, and sharing it with 2.x clients.

s3pypi 2.0.1 is installed from PyPI into a virtual environment of its own (once per run) and
driven through its console script, against the same moto server as our tool.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import Result
from filelock import FileLock

from s3pypi_core.core import Config, verify_index
from s3pypi_core.index import Index, RootIndex
from s3pypi_core.layout import IndexLayout
from s3pypi_core.locking import DynamoDBLocker, lock_id, open_locker
from s3pypi_core.storage import S3Config
from tests.conftest import BIN, REGION, Bucket
from tests.distributions import SampleProject
from tests.fault_proxy import Fault, FaultProxy
from tests.publishers import assert_project_lists, assert_root_lists, hashes, read_pages
from tests.serving import make_venv, pip, serving

Run = Callable[..., Result]
S3PyPI2 = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def s3pypi2_script(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The console script of s3pypi 2.0.1, installed from PyPI (once for all test workers)."""
    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent  # shared by the workers of this run
    venv = root / "s3pypi-2.0.1"
    with FileLock(str(root / "s3pypi-2.0.1.lock")):
        if not (venv / "bin" / "s3pypi").exists():
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
            subprocess.run(
                [BIN / "uv", "pip", "install", "--python", venv / "bin" / "python",
                 "--no-cache", "--quiet", "s3pypi==2.0.1"],
                env={**os.environ, "UV_NO_CONFIG": "1"},
                check=True,
            )  # fmt: skip
    return venv / "bin" / "s3pypi"


@pytest.fixture
def s3pypi2(s3pypi2_script: Path) -> S3PyPI2:
    """Run s3pypi 2.x; moto's endpoint and the test's credentials reach it through the env."""

    def run2(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [s3pypi2_script, *map(str, args)], capture_output=True, text=True, timeout=120
        )

    assert run2("--version").stdout.strip() == "2.0.1"
    return run2


def published_by_2x(
    s3pypi2: S3PyPI2, bucket: Bucket, projects: Callable[..., SampleProject], *flags: str
) -> list[Path]:
    files = [projects().wheel("1.0", requires_python=">=3.8"), projects().sdist("1.0")]
    other = projects("other").wheel("0.1")
    for batch in (files, [other]):
        done = s3pypi2("upload", *batch, "--bucket", bucket.name, "--put-root-index", *flags)
        assert done.returncode == 0, done.stderr
    return [*files, other]


@pytest.mark.parametrize(
    "layout", [IndexLayout(), IndexLayout(index_html=True)], ids=["NAME/", "NAME/index.html"]
)
def test_reindex_upgrades_a_2x_bucket_in_place(
    run: Run,
    bucket: Bucket,
    s3pypi2: S3PyPI2,
    projects: Callable[..., SampleProject],
    layout: IndexLayout,
) -> None:
    flags = ["--index.html"] if layout.index_html else []
    wheel, sdist, other = published_by_2x(s3pypi2, bucket, projects, *flags)
    assert "hello-world/index.json" not in bucket.keys()
    by_2x = Index.parse(bucket.text(layout.project_html("hello-world")))
    cfg = Config(s3=S3Config(bucket=bucket.name, index_html=layout.index_html))
    assert {p.kind for p in verify_index(cfg)} == {"missing-page", "missing-metadata"}

    before = bucket.snapshot()
    dry = run("reindex", "--bucket", bucket.name, "--dry-run", *flags)
    assert dry.exit_code == 0, dry.output
    assert bucket.snapshot() == before
    assert f"(dry run) hello-world: wrote {wheel.name}.metadata" in dry.stdout.splitlines()

    result = run("reindex", "--bucket", bucket.name, *flags)

    assert result.exit_code == 0, result.output
    assert verify_index(cfg) == []
    assert_project_lists(bucket, "hello-world", hashes([wheel, sdist]), layout)
    assert_project_lists(bucket, "other", hashes([other]), layout)
    assert_root_lists(bucket, {"hello-world", "other"}, layout)
    _html, page = read_pages(bucket, "hello-world", layout)
    for name, record in page.files.items():
        assert record.hash == by_2x.files[name].hash  # the hashes 2.x wrote are kept
        assert record.core_metadata is not None  # a wheel, and an sdist with static metadata
        assert record.upload_time == bucket.head(layout.file("hello-world", name))["LastModified"]
    assert page.files[wheel.name].requires_python == ">=3.8"
    assert bucket.read(layout.metadata("hello-world", wheel.name)).startswith(b"Metadata-Version")


def test_reindex_moves_2x_index_html_pages_to_the_default_layout(
    run: Run, bucket: Bucket, s3pypi2: S3PyPI2, projects: Callable[..., SampleProject]
) -> None:
    wheel, sdist, other = published_by_2x(s3pypi2, bucket, projects, "--index.html")
    yanked = run("yank", "hello-world", "1.0", "--bucket", bucket.name, "--index.html")
    assert yanked.exit_code == 0, yanked.output
    old_pages = {key: bucket.read(key) for key in bucket.keys() if key.endswith("/index.html")}

    result = run("reindex", "--bucket", bucket.name)

    assert result.exit_code == 0, result.output
    assert (
        "hello-world: pages rebuilt at NAME/ (those at NAME/index.html are left as they were)"
        in result.stdout.splitlines()
    )
    assert verify_index(Config(s3=S3Config(bucket=bucket.name))) == []
    assert_project_lists(bucket, "hello-world", hashes([wheel, sdist]))
    assert_project_lists(bucket, "other", hashes([other]))
    assert_root_lists(bucket, {"hello-world", "other"})
    _html, page = read_pages(bucket, "hello-world")
    assert {f.yanked for f in page.files.values()} == {""}  # known from the old pages
    assert {key: bucket.read(key) for key in old_pages} == old_pages


def test_after_the_upgrade_we_publish_and_pip_installs(
    run: Run,
    bucket: Bucket,
    s3pypi2: S3PyPI2,
    projects: Callable[..., SampleProject],
    tmp_path: Path,
) -> None:
    wheel, sdist, _other = published_by_2x(s3pypi2, bucket, projects)
    assert run("reindex", "--bucket", bucket.name).exit_code == 0
    newer = projects().wheel("1.1", requires_python=">=3.8")

    result = run("upload", newer, "--bucket", bucket.name, "--put-root-index")

    assert result.exit_code == 0, result.output
    assert_project_lists(bucket, "hello-world", hashes([wheel, sdist, newer]))
    assert verify_index(Config(s3=S3Config(bucket=bucket.name))) == []
    python = make_venv(tmp_path / "venv")
    with serving("--bucket", bucket.name, log_dir=tmp_path) as server:
        # Files 2.x published: pip checks each download against the sha256 on the page.
        done = pip("--python", python, "install", "hello-world==1.0", "other", index_url=server.url)
    assert done.returncode == 0, done.stderr
    assert "Successfully installed hello-world-1.0 other-0.1" in done.stdout


def test_a_2x_client_keeps_our_hashes_and_our_next_publish_merges_its_change(
    run: Run, bucket: Bucket, s3pypi2: S3PyPI2, projects: Callable[..., SampleProject]
) -> None:
    ours = [projects().wheel("1.0", requires_python=">=3.8"), projects().sdist("1.0")]
    assert run("upload", *ours, "--bucket", bucket.name, "--put-root-index").exit_code == 0
    _html, before = read_pages(bucket, "hello-world")
    theirs = projects().wheel("1.1")

    done = s3pypi2("upload", theirs, "--bucket", bucket.name, "--put-root-index")

    assert done.returncode == 0, done.stderr
    rewritten = Index.parse(bucket.text("hello-world/"))
    assert rewritten.serial == 0  # 2.x wrote it (no serial), keeping every file's hash:
    assert {k: v.value if v else None for k, v in rewritten.filenames.items()} == hashes(
        [*ours, theirs]
    )
    assert RootIndex.parse(bucket.text("index.html")).projects == {"hello-world"}

    newest = projects().wheel("1.2")
    result = run("upload", newest, "--bucket", bucket.name, "--put-root-index")

    assert result.exit_code == 0, result.output
    assert_project_lists(bucket, "hello-world", hashes([*ours, theirs, newest]))
    _html, after = read_pages(bucket, "hello-world")
    for name, record in before.files.items():
        assert after.files[name] == record  # what we knew about our files survived 2.x
    assert_root_lists(bucket, {"hello-world"})
    # 2.x writes no metadata files; reindex adds the one its upload lacks.
    problems = verify_index(Config(s3=S3Config(bucket=bucket.name)))
    assert [(p.kind, p.key) for p in problems] == [
        ("missing-metadata", f"s3://{bucket.name}/hello-world/{theirs.name}.metadata")
    ]
    assert run("reindex", "--bucket", bucket.name).exit_code == 0
    assert verify_index(Config(s3=S3Config(bucket=bucket.name))) == []


def test_a_lock_held_by_2x_blocks_our_publisher(
    run: Run,
    bucket: Bucket,
    s3pypi2_script: Path,
    fault_proxy: FaultProxy,
    projects: Callable[..., SampleProject],
) -> None:
    table = bucket.create_locks_table()
    theirs, ours = projects().wheel("1.0"), projects().wheel("1.1")
    # 2.x takes the lock, then its upload hangs in the proxy: it holds the lock for real.
    stuck = threading.Event()
    fault_proxy.add("PUT", rf"/{theirs.name}$", Fault(hold=stuck))
    old = subprocess.Popen(
        [s3pypi2_script, "upload", theirs, "--bucket", bucket.name, "--locks-table", table,
         "--s3-endpoint-url", fault_proxy.url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        fault_proxy.wait_until_holding()
        lock = lock_id("hello-world")
        holder = locks(bucket, table).get_item(Key={"LockID": lock})["Item"]

        blocked = run(
            "upload", ours, "--bucket", bucket.name, "--locks-table", table,
            "--lock-timeout", "0.3",
        )  # fmt: skip

        assert blocked.exit_code == 1
        assert blocked.stderr.splitlines()[-1] == (
            f"s3pypi: error: timed out after 0.3s waiting for lock {lock} held by "
            f"{holder['Owner']} since {holder['AcquiredAt']}; if no publisher is running, "
            f"release it with: s3pypi force-unlock {table} {lock}"
        )
    finally:
        stuck.set()
        _out, err = old.communicate(timeout=60)
    assert old.returncode == 0, err
    result = run("upload", ours, "--bucket", bucket.name, "--locks-table", table)
    assert result.exit_code == 0, result.output
    assert {f for f in Index.parse(bucket.text("hello-world/")).files} == {theirs.name, ours.name}


def test_our_lock_blocks_a_2x_publisher(
    bucket: Bucket, s3pypi2_script: Path, projects: Callable[..., SampleProject]
) -> None:
    table = bucket.create_locks_table()
    theirs = projects().wheel("1.0")
    locker = open_locker(boto3.Session(region_name=REGION), table, bucket.name)
    assert isinstance(locker, DynamoDBLocker)

    with locker("hello-world"):
        old = subprocess.Popen(
            [s3pypi2_script, "upload", theirs, "--bucket", bucket.name, "--locks-table", table],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert old.stderr is not None
        waiting = old.stderr.readline()
        assert f"Waiting to acquire lock... ({lock_id('hello-world')})" in waiting
        assert bucket.keys() == []
    _out, err = old.communicate(timeout=60)

    assert old.returncode == 0, err
    assert set(Index.parse(bucket.text("hello-world/")).files) == {theirs.name}


def locks(bucket: Bucket, table: str) -> Any:
    resource = boto3.resource("dynamodb", endpoint_url=bucket.endpoint, region_name=REGION)
    return resource.Table(table)
