"""Publishers killed with SIGKILL at random points: no page ever names a missing object.

Each publisher is a real `s3pypi upload` process talking to the store through the fault proxy,
which kills it on its N-th request, either before that request reaches the store or right after
the store acted on it (the publisher never hears back). N and the moment come from fixed seeds,
so a failure can be replayed. What is left must be consistent (files before pages), reported by
`verify`, and healed by `reindex` or by running the same upload again.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from click.testing import Result

from s3pypi_core.core import Config, verify_index
from s3pypi_core.storage import S3Config
from tests.conftest import REGION, Bucket
from tests.distributions import SampleProject
from tests.fault_proxy import Fault, FaultProxy
from tests.publishers import (
    Publishers,
    assert_project_lists,
    assert_root_lists,
    dangling_entries,
    hashes,
    unlisted_files,
)

Run = Callable[..., Result]

RUNS = 5
"""Kills per test; two tests (two ways to heal) make 10 kill points in all."""

ROOT_KEYS = ("index.html", "other/")
"""What the root page's problems name: the page itself, or the project it lacks."""

# What a killed publisher may leave behind: work not yet named by a page.
LEFTOVERS = {"unlisted-file", "missing-page", "pages-disagree", "missing-root-entry"}


@dataclass
class Files:
    first: list[Path]
    second: list[Path]


@pytest.fixture
def files(projects: Callable[..., SampleProject]) -> Files:
    first = [projects().wheel("1.0", requires_python=">=3.8")]
    second = [projects().wheel("1.1"), projects().sdist("1.1"), projects("other").wheel("0.1")]
    return Files(first, second)


def new_bucket(endpoint: str) -> Bucket:
    name = f"crash-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name=REGION).create_bucket(Bucket=name)
    return Bucket(name, endpoint)


def upload_args(bucket: Bucket, files: Files, *extra: str) -> list[str | Path]:
    return ["upload", *files.second, "--bucket", bucket.name, "--put-root-index", *extra]


def copy_bucket(source: Bucket) -> Bucket:
    bucket = new_bucket(source.endpoint)
    for key in source.keys():
        bucket.client.copy_object(
            Bucket=bucket.name, Key=key, CopySource={"Bucket": source.name, "Key": key}
        )
    return bucket


def requests_per_upload(run: Run, template: Bucket, proxy: FaultProxy, files: Files) -> int:
    """How many requests the publish to be killed makes when nothing goes wrong."""
    bucket = copy_bucket(template)
    result = run(*upload_args(bucket, files, "--s3-endpoint-url", proxy.url))
    assert result.exit_code == 0, result.output
    return len(proxy.requests(path=rf"^/{bucket.name}(/|\?|$)"))


def kill_publishers(
    run: Run, endpoint: str, proxy: FaultProxy, files: Files, workdir: Path, seeds: range
) -> list[Bucket]:
    """One bucket per seed, each with a publisher killed at the seed's request."""
    template = new_bucket(endpoint)
    result = run("upload", *files.first, "--bucket", template.name, "--put-root-index")
    assert result.exit_code == 0, result.output
    total = requests_per_upload(run, template, proxy, files)
    buckets = [copy_bucket(template) for _ in seeds]
    publishers = Publishers(workdir)
    for bucket in buckets:
        publishers.add(*upload_args(bucket, files, "--s3-endpoint-url", proxy.url))
    for seed, bucket, pid in zip(seeds, buckets, publishers.start(), strict=True):
        rng = random.Random(seed)
        nth, moment = rng.randint(1, total), rng.choice(["before", "after"])
        fault = Fault(kill=pid, drop="after" if moment == "after" else None)
        proxy.add("*", rf"^/{bucket.name}(/|\?|$)", fault, skip=nth - 1)
    publishers.release()
    finished = publishers.wait()
    assert [p.returncode for p in finished] == [-9] * len(finished)
    return buckets


def check_what_was_left(bucket: Bucket) -> None:
    assert dangling_entries(bucket) == []
    problems = verify_index(Config(s3=S3Config(bucket=bucket.name)))
    assert {p.kind for p in problems} <= LEFTOVERS, problems
    reported = sorted(p.key for p in problems if p.kind == "unlisted-file")
    assert reported == [f"s3://{bucket.name}/{key}" for key in unlisted_files(bucket)]


def test_killed_publishers_leave_consistent_pages_that_reindex_heals(
    run: Run, moto_endpoint: str, fault_proxy: FaultProxy, files: Files, tmp_path: Path
) -> None:
    seeds = range(RUNS)
    for bucket in kill_publishers(run, moto_endpoint, fault_proxy, files, tmp_path, seeds):
        check_what_was_left(bucket)

        result = run("reindex", "--bucket", bucket.name)

        assert result.exit_code == 0, result.output
        assert verify_index(Config(s3=S3Config(bucket=bucket.name))) == []
        there = [
            p for p in [*files.first, *files.second[:2]] if f"hello-world/{p.name}" in bucket.keys()
        ]
        assert_project_lists(bucket, "hello-world", hashes(there))


def test_killed_publishers_leave_consistent_pages_that_the_next_upload_heals(
    run: Run, moto_endpoint: str, fault_proxy: FaultProxy, files: Files, tmp_path: Path
) -> None:
    seeds = range(RUNS, 2 * RUNS)
    for bucket in kill_publishers(run, moto_endpoint, fault_proxy, files, tmp_path, seeds):
        check_what_was_left(bucket)

        result = run(*upload_args(bucket, files))

        assert result.exit_code == 0, result.output
        assert_project_lists(bucket, "hello-world", hashes([*files.first, *files.second[:2]]))
        assert_project_lists(bucket, "other", hashes(files.second[2:]))
        # A growing project costs no root page request, so a root entry the killed publisher
        # had not written yet (its project pages were complete) waits for reindex.
        left = verify_index(Config(s3=S3Config(bucket=bucket.name)))
        assert {p.kind for p in left} <= {"missing-root-entry", "pages-disagree"}, left
        assert {p.key for p in left} <= {f"s3://{bucket.name}/{key}" for key in ROOT_KEYS}, left
        if left:
            assert run("reindex", "--bucket", bucket.name).exit_code == 0
            assert verify_index(Config(s3=S3Config(bucket=bucket.name))) == []
        assert_root_lists(bucket, {"hello-world", "other"})
