"""The basic auth users of an index: add, replace, remove and list them.

Users live in SSM Parameter Store as `/s3pypi/DOMAIN/users/USER` (SecureString), where the
Lambda@Edge handler reads them, or in a JSON users file `{"USER": RECORD, ...}` that
`s3pypi serve --users FILE` reads. RECORD is the same in both (`s3pypi_core.auth`), plus
`"publish": true` for a user allowed to upload.

Used by `s3pypi user add|remove|list` and by `auth_lambda/put_user.py`, which runs from a
checkout too: this module imports only the standard library, `auth` and `exceptions`
(boto3 when SSM is used).
"""

from __future__ import annotations

import json
import os
import secrets
import string
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from s3pypi_core import auth
from s3pypi_core.exceptions import S3PyPIError

DEFAULT_REGION = "us-east-1"  # the handler's default, and where s3pypi 2.x kept its users
MIN_RANDOM_PASSWORD = 16
# Letters and digits only: a random password then needs no escaping in an index URL.
_PASSWORD_ALPHABET = string.ascii_letters + string.digits


class UserError(S3PyPIError):
    """Something about users the user can fix; printed as one line."""


class Users(Protocol):
    where: str
    """Where the users are, for messages."""

    def put(self, user: str, record: dict[str, Any], *, overwrite: bool) -> bool:
        """Store `record`; whether it replaced a user. UserError if it exists and not
        `overwrite`."""

    def delete(self, user: str) -> None: ...

    def list(self) -> dict[str, dict[str, Any]]: ...


class SSMUsers:
    """Users of DOMAIN in SSM Parameter Store."""

    def __init__(self, domain: str, *, region: str | None, profile: str | None) -> None:
        import boto3

        region = region or DEFAULT_REGION
        self._prefix = f"/s3pypi/{domain}/users/"
        self._ssm = boto3.Session(profile_name=profile, region_name=region).client("ssm")
        self.where = f"SSM {self._prefix} ({region})"

    def put(self, user: str, record: dict[str, Any], *, overwrite: bool) -> bool:
        try:
            response = self._ssm.put_parameter(
                Name=self._prefix + user,
                Description="s3pypi basic auth user",
                Value=json.dumps(record),
                Type="SecureString",
                Overwrite=overwrite,
            )
        except self._ssm.exceptions.ParameterAlreadyExists:
            raise _exists(user) from None
        return int(response.get("Version", 1)) > 1

    def delete(self, user: str) -> None:
        try:
            self._ssm.delete_parameter(Name=self._prefix + user)
        except self._ssm.exceptions.ParameterNotFound:
            raise UserError(f"no user {user} in {self.where}") from None

    def list(self) -> dict[str, dict[str, Any]]:
        pages = self._ssm.get_paginator("get_parameters_by_path").paginate(
            Path=self._prefix, WithDecryption=True
        )
        return {
            p["Name"].removeprefix(self._prefix): _record(p["Value"])
            for page in pages
            for p in page["Parameters"]
        }


class FileUsers:
    """Users in a JSON file, written atomically (a reader sees the old file or the new one)
    and readable by its owner only."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self.where = str(path)

    def put(self, user: str, record: dict[str, Any], *, overwrite: bool) -> bool:
        users = self.list()
        existed = user in users
        if existed and not overwrite:
            raise _exists(user)
        self._write({**users, user: record})
        return existed

    def delete(self, user: str) -> None:
        users = self.list()
        if users.pop(user, None) is None:
            raise UserError(f"no user {user} in {self.where}")
        self._write(users)

    def list(self) -> dict[str, dict[str, Any]]:
        if not self._path.exists():
            return {}
        try:
            return auth.load_users_file(self._path)
        except (OSError, ValueError) as e:
            raise UserError(f"cannot read users file {self._path}: {e}") from None

    def _write(self, users: dict[str, dict[str, Any]]) -> None:
        text = json.dumps(users, indent=2, sort_keys=True) + "\n"
        try:
            fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=f".{self._path.name}.")
        except OSError as e:
            raise UserError(f"cannot write users file {self._path}: {e}") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, self._path)  # mkstemp made it 0600
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def open_users(
    *, file: Path | None, domain: str | None, region: str | None, profile: str | None
) -> Users:
    """A users file, or the users of DOMAIN in SSM."""
    if file is not None:
        return FileUsers(file)
    if not domain:
        raise UserError("give --file FILE, or --domain DOMAIN for users kept in SSM")
    return SSMUsers(domain, region=region, profile=profile)


def check_username(user: str) -> None:
    if not auth.valid_username(user):
        raise UserError(f"invalid USER {user!r}: use letters, digits, '_', '.', '-' (64 at most)")


def check_salt(nbytes: int) -> None:
    if nbytes < auth.MIN_SALT_NBYTES:
        raise UserError(f"--salt-nbytes needs at least {auth.MIN_SALT_NBYTES} bytes")


def random_password(length: int) -> str:
    if length < MIN_RANDOM_PASSWORD:
        raise UserError(f"--random-password needs at least {MIN_RANDOM_PASSWORD} characters")
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


def password_from(stream: BinaryIO) -> str:
    """A password piped in (`--password-stdin`): UTF-8, without its line end, not empty.

    Read as bytes and decoded here: the locale's codec would fail with a traceback, or guess.
    """
    try:
        password = stream.read().decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise UserError("the password is not valid UTF-8") from None
    if not password:
        raise UserError("the password is empty")
    return password


def add_user(
    users: Users,
    user: str,
    password: str,
    *,
    overwrite: bool = False,
    salt_nbytes: int = auth.DEFAULT_SALT_NBYTES,
    publish: bool = False,
) -> bool:
    """Store `user` with a fresh hash of `password`; whether an existing user was replaced."""
    check_username(user)
    check_salt(salt_nbytes)
    if not password:
        raise UserError("the password is empty")
    record = auth.hash_password(password, salt_nbytes=salt_nbytes)
    if publish:
        record[auth.PUBLISH] = True
    return users.put(user, record, overwrite=overwrite)


def listing(records: dict[str, dict[str, Any]]) -> list[str]:
    """One `USER<TAB>SCHEME` line per user, sorted; `, publish` for uploaders."""
    return [
        f"{user}\t{auth.describe(records[user])}"
        + (", publish" if auth.may_publish(records[user]) else "")
        for user in sorted(records)
    ]


def stale(records: dict[str, dict[str, Any]]) -> list[str]:
    """Users whose password hash is weaker than today's (s3pypi 2.x, lower cost)."""
    return sorted(user for user, record in records.items() if auth.needs_rehash(record))


def aws_errors() -> tuple[type[Exception], ...]:
    """botocore's errors (credentials, permissions, network), when boto3 is installed."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        return ()
    return (BotoCoreError, ClientError)


def _record(value: str) -> dict[str, Any]:
    try:
        record = json.loads(value)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def _exists(user: str) -> UserError:
    return UserError(f"user {user} already exists (pass --overwrite to replace it)")
