"""The DynamoDB lock: waits, times out with the way out, takes over stale locks, reports errors."""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import Result

from s3pypi_core.exceptions import LockTimeout
from s3pypi_core.locking import DynamoDBLocker, lock_id, open_locker
from tests.conftest import REGION, Bucket
from tests.distributions import SampleProject
from tests.fault_proxy import Fault, FaultProxy
from tests.publishers import assert_project_lists, hashes

Run = Callable[..., Result]

LOCK = lock_id("hello-world")


def table_of(bucket: Bucket, name: str) -> Any:
    return boto3.resource("dynamodb", endpoint_url=bucket.endpoint, region_name=REGION).Table(name)


def locker(bucket: Bucket, table: str, **options: Any) -> DynamoDBLocker:
    opened = open_locker(boto3.Session(region_name=REGION), table, bucket.name, **options)
    assert isinstance(opened, DynamoDBLocker)
    return opened


@pytest.fixture
def wheel(projects: Callable[..., SampleProject]) -> Path:
    return projects().wheel("1.0")


def test_a_held_lock_times_out_naming_the_holder_and_the_force_unlock_command(
    run: Run, bucket: Bucket, wheel: Path
) -> None:
    table = bucket.create_locks_table()
    holder = locker(bucket, table)

    with holder("hello-world"):
        item = table_of(bucket, table).get_item(Key={"LockID": LOCK})["Item"]
        result = run(
            "upload",
            wheel,
            "--bucket",
            bucket.name,
            "--locks-table",
            table,
            "--lock-timeout",
            "0.2",
        )

        assert result.exit_code == 1
        assert result.stderr.splitlines() == [
            f"Waiting for lock {LOCK} on table {table} ...",
            f"s3pypi: error: timed out after 0.2s waiting for lock {LOCK} held by "
            f"{holder.owner} since {item['AcquiredAt']}; if no publisher is running, release it "
            f"with: s3pypi force-unlock {table} {LOCK}",
        ]
        assert bucket.keys() == []

        # The command in the message works as printed.
        command = result.stderr.rsplit("release it with: ", 1)[1].strip()
        assert run(*shlex.split(command)[1:]).exit_code == 0
        assert "Item" not in table_of(bucket, table).get_item(Key={"LockID": LOCK})
        result = run("upload", wheel, "--bucket", bucket.name, "--locks-table", table)
        assert result.exit_code == 0, result.output
    assert_project_lists(bucket, "hello-world", hashes([wheel]))


def test_a_publisher_waits_for_a_lock_and_goes_on_when_it_is_released(
    run: Run,
    bucket: Bucket,
    wheel: Path,
    fault_proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = bucket.create_locks_table()
    holder = locker(bucket, table)  # talks to the server directly; the publisher via the proxy
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", fault_proxy.url)
    acquired = threading.Event()

    def hold() -> None:
        with holder("hello-world"):
            acquired.set()
            # Released once the publisher tried to take the lock, and was refused.
            fault_proxy.wait_for(lambda e: e.target.endswith(".PutItem") and e.status == 400)

    thread = threading.Thread(target=hold)
    thread.start()
    acquired.wait(30)

    result = run("upload", wheel, "--bucket", bucket.name, "--locks-table", table)

    thread.join()
    assert result.exit_code == 0, result.output
    assert f"Waiting for lock {LOCK}" in result.stderr
    attempts = [e.status for e in fault_proxy.log if e.target.endswith(".PutItem")]
    assert attempts[0] == 400
    assert 200 in attempts
    assert_project_lists(bucket, "hello-world", hashes([wheel]))


def stale_lock(kind: str) -> dict[str, Any]:
    long_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    item: dict[str, Any] = {
        "LockID": LOCK,
        "AcquiredAt": long_ago.isoformat(),
        "Owner": "ci@killed-runner",
    }
    if kind == "ours, expired":
        item |= {"ExpiresAt": int(long_ago.timestamp()) + 900, "Token": "gone"}
    return item  # s3pypi 2.x writes no expiry: its age decides


@pytest.mark.parametrize("kind", ["ours, expired", "s3pypi 2.x, old"])
def test_a_stale_lock_is_taken_over(run: Run, bucket: Bucket, wheel: Path, kind: str) -> None:
    table = bucket.create_locks_table()
    table_of(bucket, table).put_item(Item=stale_lock(kind))

    result = run(
        "upload", wheel, "--bucket", bucket.name, "--locks-table", table, "--lock-timeout", "0"
    )

    assert result.exit_code == 0, result.output
    assert table_of(bucket, table).scan()["Items"] == []
    assert_project_lists(bucket, "hello-world", hashes([wheel]))


def test_a_fresh_lock_of_s3pypi_2x_is_respected(run: Run, bucket: Bucket, wheel: Path) -> None:
    table = bucket.create_locks_table()
    now = datetime.now(timezone.utc).isoformat()
    item = {"LockID": LOCK, "AcquiredAt": now, "Owner": "alice@laptop"}
    table_of(bucket, table).put_item(Item=item)

    result = run(
        "upload", wheel, "--bucket", bucket.name, "--locks-table", table, "--lock-timeout", "0"
    )

    assert result.exit_code == 1
    assert f"held by alice@laptop since {now}" in result.stderr
    assert table_of(bucket, table).get_item(Key={"LockID": LOCK})["Item"] == item
    assert bucket.keys() == []


def test_a_held_lock_is_refreshed_so_nobody_takes_it_over(bucket: Bucket) -> None:
    table = bucket.create_locks_table()
    # Expires 2 s after each refresh; refreshed every 2/3 s while held.
    holder = locker(bucket, table, expiry=timedelta(seconds=2))
    other = locker(bucket, table, timeout=0, expiry=timedelta(seconds=2))

    with holder("hello-world"):
        first = table_of(bucket, table).get_item(Key={"LockID": LOCK})["Item"]
        deadline = int(first["ExpiresAt"]) + 1.5
        while time.time() < deadline:  # past the first expiry, until refreshed past it
            time.sleep(0.2)
        refreshed = table_of(bucket, table).get_item(Key={"LockID": LOCK})["Item"]
        assert refreshed["ExpiresAt"] > first["ExpiresAt"]
        with pytest.raises(LockTimeout), other("hello-world"):
            pass
    assert table_of(bucket, table).scan()["Items"] == []


def test_access_errors_on_an_explicit_table_are_reported(
    run: Run,
    bucket: Bucket,
    wheel: Path,
    fault_proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = bucket.create_locks_table()
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", fault_proxy.url)
    denied = Fault(status=400, code="AccessDeniedException", json_error=True)
    fault_proxy.add("POST", "^/$", denied, times=None)

    result = run("upload", wheel, "--bucket", bucket.name, "--locks-table", table)

    assert result.exit_code == 1
    assert result.stderr == (
        f"s3pypi: error: DynamoDB table {table}: AccessDeniedException: "
        "injected AccessDeniedException\n"
    )
    assert bucket.keys() == []


def test_access_errors_on_the_default_table_are_reported_as_a_warning(
    run: Run,
    bucket: Bucket,
    wheel: Path,
    fault_proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", fault_proxy.url)
    denied = Fault(status=400, code="AccessDeniedException", json_error=True)
    fault_proxy.add("POST", "^/$", denied, times=None)

    result = run("upload", wheel, "--bucket", bucket.name)

    assert result.exit_code == 0, result.output
    assert (
        f"warning: Publishing without a lock: cannot use table {bucket.name}-locks "
        f"(DynamoDB table {bucket.name}-locks: AccessDeniedException: "
        "injected AccessDeniedException)"
    ) in result.stderr
    assert_project_lists(bucket, "hello-world", hashes([wheel]))
