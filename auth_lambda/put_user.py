#!/usr/bin/env python3
"""Add, replace, remove and list the basic auth users of an s3pypi index.

Users live in SSM Parameter Store as `/s3pypi/DOMAIN/users/USER` (SecureString), where the
Lambda@Edge handler reads them, or with `--file FILE` in a local JSON file `{"USER": RECORD}`
for `s3pypi serve --users FILE`. RECORD is the same in both (`s3pypi_core.auth`).

    ./put_user.py pypi.example.com alice                      # asks for the password
    echo "$PASSWORD" | ./put_user.py pypi.example.com alice --password-stdin
    ./put_user.py pypi.example.com alice --random-password 32  # prints the password
    ./put_user.py pypi.example.com alice --delete
    ./put_user.py pypi.example.com --list
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import secrets
import string
import sys
import tempfile
from pathlib import Path
from typing import Any, Protocol

try:
    from s3pypi_core import auth
except ImportError:  # a checkout without s3pypi installed: use its sources
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from s3pypi_core import auth

DEFAULT_REGION = "us-east-1"  # the handler's default, and where s3pypi 2.x kept its users
MIN_RANDOM_PASSWORD = 16
# Letters and digits only: a random password then needs no escaping in an index URL.
_PASSWORD_ALPHABET = string.ascii_letters + string.digits


class UserError(Exception):
    """Something the user can fix; printed as one line."""


class Users(Protocol):
    where: str

    def put(self, user: str, record: dict[str, Any], *, overwrite: bool) -> bool: ...
    def delete(self, user: str) -> None: ...
    def list(self) -> dict[str, dict[str, Any]]: ...


class SSMUsers:
    """Users of DOMAIN in SSM Parameter Store."""

    def __init__(self, domain: str, *, region: str, profile: str | None) -> None:
        import boto3

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
    """Users in a JSON file, written atomically and readable by its owner only."""

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


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _check_combination(parser, args)
    user_errors: tuple[type[Exception], ...] = (UserError, *_aws_errors())
    try:
        users: Users = (
            FileUsers(args.file)
            if args.file
            else SSMUsers(args.domain, region=args.region, profile=args.profile)
        )
        if args.list:
            _list(users, args.domain)
        elif args.delete:
            users.delete(args.user)
            _say(f"Removed user {args.user} from {users.where}")
        else:
            _put(users, args)
    except user_errors as e:
        _say(f"error: {e}")
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="put_user.py",
        description="Add (or replace, remove, list) basic auth users of an s3pypi index.",
    )
    p.add_argument("domain", metavar="DOMAIN", help="the index's domain, e.g. pypi.example.com")
    p.add_argument("user", metavar="USER", nargs="?", help="the username")
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    source.add_argument(
        "--random-password",
        type=int,
        metavar="N",
        help="generate a random password of N letters and digits and print it",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing user")
    p.add_argument(
        "--salt-nbytes",
        type=int,
        default=auth.DEFAULT_SALT_NBYTES,
        metavar="N",
        help=f"salt length in bytes (default: {auth.DEFAULT_SALT_NBYTES})",
    )
    action = p.add_mutually_exclusive_group()
    action.add_argument("--delete", action="store_true", help="remove the user")
    action.add_argument("--list", action="store_true", help="list the users (no USER)")
    p.add_argument(
        "--file",
        type=Path,
        metavar="FILE",
        help="keep users in this JSON file (for `s3pypi serve --users FILE`) instead of SSM",
    )
    p.add_argument(
        "--region", default=DEFAULT_REGION, help=f"SSM region (default: {DEFAULT_REGION})"
    )
    p.add_argument("--profile", help="AWS profile")
    return p


def _check_combination(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    sets_password = args.password_stdin or args.random_password is not None or args.overwrite
    if args.list:
        if args.user or sets_password:
            parser.error("--list takes only DOMAIN (and --file, --region, --profile)")
        return
    if not args.user:
        parser.error("USER is required (or --list)")
    if not auth.valid_username(args.user):
        parser.error(f"invalid USER {args.user!r}: use letters, digits, '_', '.', '-' (64 max)")
    if args.delete and sets_password:
        parser.error("--delete takes no password options")
    if args.random_password is not None and args.random_password < MIN_RANDOM_PASSWORD:
        parser.error(f"--random-password needs at least {MIN_RANDOM_PASSWORD} characters")
    if args.salt_nbytes < auth.MIN_SALT_NBYTES:
        parser.error(f"--salt-nbytes needs at least {auth.MIN_SALT_NBYTES} bytes")


def _put(users: Users, args: argparse.Namespace) -> None:
    password = _password(args)
    record = auth.hash_password(password, salt_nbytes=args.salt_nbytes)
    replaced = users.put(args.user, record, overwrite=args.overwrite)
    _say(f"{'Replaced' if replaced else 'Added'} user {args.user} to {users.where}")
    if args.random_password is not None:
        print(password)  # stdout: the one thing worth capturing


def _password(args: argparse.Namespace) -> str:
    if args.random_password is not None:
        return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(args.random_password))
    if args.password_stdin:
        # Bytes, decoded here: the locale's codec would fail with a traceback (or guess).
        try:
            password = sys.stdin.buffer.read().decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise UserError("the password is not valid UTF-8") from None
    else:
        password = getpass.getpass(f"Password for {args.user}: ")
        if getpass.getpass("Repeat password: ") != password:
            raise UserError("the passwords do not match")
    if not password:
        raise UserError("the password is empty")
    return password


def _list(users: Users, domain: str) -> None:
    records = users.list()
    for user in sorted(records):
        print(f"{user}\t{auth.describe(records[user])}")
    stale = sorted(user for user, record in records.items() if auth.needs_rehash(record))
    if stale:
        _say(
            f"{len(stale)} user(s) with an old password hash ({', '.join(stale)}): set their "
            f"password again with `put_user.py {domain} USER --overwrite`"
        )


def _aws_errors() -> tuple[type[Exception], ...]:
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


def _say(message: str) -> None:
    print(message, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
