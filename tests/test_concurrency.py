"""Many publishers at the same moment, without a lock table: nothing is lost.

Conditional writes are what makes this safe, so the first tests check that the test server
decides them atomically (moto alone does not: `SerialMotoServer` in conftest.py serialises its
writes); the others race real `s3pypi upload` processes against each other.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import pytest

from s3pypi_core.core import Config, verify_index
from s3pypi_core.index import Index, RootIndex
from s3pypi_core.storage import S3Config
from tests.conftest import REGION, Bucket
from tests.distributions import SampleProject
from tests.publishers import Publishers, assert_project_lists, assert_root_lists, hashes

RACERS = 16


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Switch threads as often as possible, so a check-then-write race shows up if there is one."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def race(bucket: Bucket, key: str, **condition: Any) -> list[int]:
    """RACERS threads put `key` with `condition` at once; the numbers of those that succeeded."""
    client: Any = boto3.client(
        "s3",
        endpoint_url=bucket.endpoint,
        region_name=REGION,
        config=botocore.config.Config(max_pool_connections=RACERS, retries={"max_attempts": 1}),
    )
    barrier = threading.Barrier(RACERS)
    outcomes: dict[int, str] = {}

    def put(i: int) -> None:
        barrier.wait()
        try:
            client.put_object(Bucket=bucket.name, Key=key, Body=f"writer {i}".encode(), **condition)
            outcomes[i] = "written"
        except botocore.exceptions.ClientError as e:
            outcomes[i] = e.response["Error"]["Code"]

    threads = [threading.Thread(target=put, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(outcomes.values()) <= {"written", "PreconditionFailed", "ConditionalRequestConflict"}
    return [i for i, outcome in outcomes.items() if outcome == "written"]


@pytest.mark.usefixtures("busy_switching")
def test_test_server_creates_a_key_for_exactly_one_of_many_if_none_match_puts(
    bucket: Bucket,
) -> None:
    for round_ in range(10):
        key = f"contended-{round_}"
        winners = race(bucket, key, IfNoneMatch="*")
        assert len(winners) == 1
        assert bucket.text(key) == f"writer {winners[0]}"


@pytest.mark.usefixtures("busy_switching")
def test_test_server_lets_exactly_one_of_many_if_match_puts_replace_a_version(
    bucket: Bucket,
) -> None:
    for round_ in range(10):
        key = f"page-{round_}"
        etag = bucket.client.put_object(Bucket=bucket.name, Key=key, Body=b"v0")["ETag"]
        winners = race(bucket, key, IfMatch=etag)
        assert len(winners) == 1
        assert bucket.text(key) == f"writer {winners[0]}"


def test_sixteen_publishers_of_one_project_and_eight_new_projects_lose_nothing(
    bucket: Bucket, projects: Callable[..., SampleProject], tmp_path: Path
) -> None:
    crowd = [projects("crowd").wheel(f"1.0.{i}", requires_python=">=3.8") for i in range(RACERS)]
    newcomers = [projects(f"new-{i}").wheel("0.1") for i in range(8)]

    publishers = Publishers(tmp_path / "publishers")
    for path in [*crowd, *newcomers]:
        publishers.add("upload", path, "--bucket", bucket.name, "--put-root-index")
    publishers.release()
    finished = publishers.wait()

    assert [p.returncode for p in finished] == [0] * len(finished), [p.stderr for p in finished]
    assert_project_lists(bucket, "crowd", hashes(crowd))
    for i, path in enumerate(newcomers):
        assert_project_lists(bucket, f"new-{i}", hashes([path]))
    assert_root_lists(bucket, {"crowd", *(f"new-{i}" for i in range(8))})
    assert verify_index(Config(s3=S3Config(bucket=bucket.name))) == []


def test_publishers_sharing_a_lock_table_take_turns_and_lose_nothing(
    bucket: Bucket, projects: Callable[..., SampleProject], tmp_path: Path
) -> None:
    table = bucket.create_locks_table()
    dists = [projects("queue").wheel(f"2.0.{i}") for i in range(4)]

    publishers = Publishers(tmp_path / "publishers")
    for path in dists:
        publishers.add("upload", path, "--bucket", bucket.name, "--locks-table", table)
    publishers.release()
    finished = publishers.wait()

    assert [p.returncode for p in finished] == [0] * len(finished), [p.stderr for p in finished]
    assert_project_lists(bucket, "queue", hashes(dists))
    locks = boto3.resource("dynamodb", endpoint_url=bucket.endpoint, region_name=REGION)
    assert locks.Table(table).scan()["Items"] == []


def test_publishers_of_a_local_directory_index_lose_nothing(
    projects: Callable[..., SampleProject], tmp_path: Path
) -> None:
    index = tmp_path / "index"
    dists = [projects("local").wheel(f"3.0.{i}") for i in range(8)]

    publishers = Publishers(tmp_path / "publishers")
    for path in dists:
        publishers.add("upload", path, "--repository-url", index.as_uri(), "--put-root-index")
    publishers.release()
    finished = publishers.wait()

    assert [p.returncode for p in finished] == [0] * len(finished), [p.stderr for p in finished]
    html = Index.parse((index / "local" / "index.html").read_text())
    json_page = Index.from_json((index / "local" / "index.json").read_bytes())
    for page in (html, json_page):
        assert {f.filename: f.hash.value for f in page.files.values() if f.hash} == hashes(dists)
    assert html.serial == json_page.serial
    assert RootIndex.parse((index / "index.html").read_text()).projects == {"local"}
    assert verify_index(Config.from_repository_url(index.as_uri())) == []
