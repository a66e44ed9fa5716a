"""Mutual exclusion between publishers with a DynamoDB table, compatible with s3pypi 2.x.

Pages are safe without it (they are updated with compare-and-swap); the lock adds exclusion,
and lets s3pypi 2.x clients, which only know the lock, share a bucket with us during a
migration. The item is the one 2.x writes (`LockID` = sha1 of the page's directory, `Owner`,
`AcquiredAt`) plus `ExpiresAt`, refreshed while held, so a killed publisher's lock frees itself.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import logging
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol

from s3pypi_core import __prog__, _aws
from s3pypi_core.exceptions import LockTimeout, MissingCredentials, S3PyPIError, StorageError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

log = logging.getLogger(__prog__)

DEFAULT_TIMEOUT = 60.0
DEFAULT_EXPIRY = timedelta(minutes=15)


class Locker(Protocol):
    def __call__(self, key: str) -> contextlib.AbstractContextManager[None]: ...


def no_lock(key: str) -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()


def lock_id(key: str) -> str:
    """The LockID s3pypi 2.x uses for a page directory (`NAME` or `/` for the root)."""
    return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()


def open_locker(
    session: Any,
    table_name: str | None,
    bucket: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    expiry: timedelta = DEFAULT_EXPIRY,
) -> Locker:
    """The lock for a bucket: `table_name`, or `BUCKET-locks` when that table exists."""
    if session is None:
        return no_lock
    name = table_name or f"{bucket}-locks"
    try:
        with _dynamodb_errors(name):
            table = session.resource("dynamodb").Table(name)
            table.get_item(Key={"LockID": "?"})
    except _MissingTable:
        if table_name:
            raise StorageError(f"DynamoDB lock table does not exist: {table_name}") from None
        log.debug("No lock table %s: relying on conditional writes alone.", name)
        return no_lock
    except StorageError as e:
        if table_name or isinstance(e, MissingCredentials):
            raise
        log.warning("Publishing without a lock: cannot use table %s (%s)", name, e)
        return no_lock
    return DynamoDBLocker(table, timeout=timeout, expiry=expiry)


def force_unlock(session: Any, table_name: str, lock_id: str) -> None:
    try:
        with _dynamodb_errors(table_name):
            session.resource("dynamodb").Table(table_name).delete_item(Key={"LockID": lock_id})
    except _MissingTable:
        raise StorageError(f"DynamoDB lock table does not exist: {table_name}") from None


class DynamoDBLocker:
    def __init__(self, table: Table, *, timeout: float, expiry: timedelta) -> None:
        self.table = table
        self.timeout = timeout
        self.expiry = expiry
        self.owner = f"{_user()}@{socket.gethostname()}"

    @contextlib.contextmanager
    def __call__(self, key: str) -> Iterator[None]:
        lid = lock_id(key)
        token = uuid.uuid4().hex
        self._acquire(lid, token)
        stop = threading.Event()
        heartbeat = threading.Thread(
            target=self._refresh_until, args=(lid, token, stop), daemon=True
        )
        heartbeat.start()
        try:
            yield
        finally:
            stop.set()
            heartbeat.join()
            self._release(lid, token)

    def _item(self, lid: str, token: str) -> dict[str, Any]:
        now = datetime.now(timezone.utc)
        return {
            "LockID": lid,
            "AcquiredAt": now.isoformat(),
            "Owner": self.owner,
            "ExpiresAt": int((now + self.expiry).timestamp()),
            "Token": token,
        }

    def _acquire(self, lid: str, token: str) -> None:
        deadline = time.monotonic() + self.timeout
        delay = 0.1
        waiting = False
        while True:
            now = datetime.now(timezone.utc)
            try:
                with _dynamodb_errors(self.table.name):
                    self.table.put_item(
                        Item=self._item(lid, token),
                        # Free, expired, or a 2.x lock (no ExpiresAt) older than the expiry.
                        ConditionExpression=(
                            "attribute_not_exists(LockID) OR ExpiresAt < :now OR "
                            "(attribute_not_exists(ExpiresAt) AND AcquiredAt < :stale)"
                        ),
                        ExpressionAttributeValues={
                            ":now": int(now.timestamp()),
                            ":stale": (now - self.expiry).isoformat(),
                        },
                    )
                return
            except _ConditionFailed:
                pass
            if time.monotonic() >= deadline:
                raise self._timeout_error(lid)
            if not waiting:
                log.info("Waiting for lock %s on table %s ...", lid, self.table.name)
                waiting = True
            time.sleep(min(delay * random.uniform(0.5, 1.5), deadline - time.monotonic()))
            delay = min(delay * 2, 5.0)

    def _timeout_error(self, lid: str) -> LockTimeout:
        with _dynamodb_errors(self.table.name):
            item = self.table.get_item(Key={"LockID": lid}).get("Item", {})
        holder = str(item.get("Owner", "another publisher"))
        since = str(item.get("AcquiredAt", "?"))
        return LockTimeout(
            f"timed out after {self.timeout:g}s waiting for lock {lid} held by {holder} "
            f"since {since}; if no publisher is running, release it with: "
            f"s3pypi force-unlock {self.table.name} {lid}"
        )

    def _refresh_until(self, lid: str, token: str, stop: threading.Event) -> None:
        interval = self.expiry.total_seconds() / 3
        while not stop.wait(interval):
            try:
                with _dynamodb_errors(self.table.name):
                    self.table.put_item(
                        Item=self._item(lid, token),
                        ConditionExpression="#t = :token",
                        ExpressionAttributeNames={"#t": "Token"},
                        ExpressionAttributeValues={":token": token},
                    )
            except (_ConditionFailed, S3PyPIError) as e:
                log.warning("Could not refresh lock %s: %s", lid, e)

    def _release(self, lid: str, token: str) -> None:
        try:
            with _dynamodb_errors(self.table.name):
                self.table.delete_item(
                    Key={"LockID": lid},
                    # Never release a lock that expired and was taken by someone else.
                    ConditionExpression="#t = :token",
                    ExpressionAttributeNames={"#t": "Token"},
                    ExpressionAttributeValues={":token": token},
                )
        except _ConditionFailed:
            log.warning("Lock %s was no longer ours when releasing it", lid)


class _ConditionFailed(Exception):
    pass


class _MissingTable(Exception):
    pass


@contextlib.contextmanager
def _dynamodb_errors(table: str) -> Iterator[None]:
    """botocore's errors as ours; a failed condition and a missing table as the two private
    exceptions the lock logic acts on."""

    def on_client_error(error: Any) -> None:
        code = _aws.error_code(error)
        if code == "ConditionalCheckFailedException":
            raise _ConditionFailed from error
        if code == "ResourceNotFoundException":
            raise _MissingTable from error

    with _aws.errors(f"DynamoDB table {table}", on_client_error):
        yield


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name, e.g. in some containers
        return "unknown"
