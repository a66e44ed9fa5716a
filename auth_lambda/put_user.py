#!/usr/bin/env python3
"""Add, replace, remove and list the basic auth users of an s3pypi index.

Users live in SSM Parameter Store as `/s3pypi/DOMAIN/users/USER` (SecureString), where the
Lambda@Edge handler reads them, or with `--file FILE` in a local JSON file `{"USER": RECORD}`
for `s3pypi serve --users FILE`. RECORD is the same in both (`s3pypi_core.auth`). `--publish`
lets the user upload through `s3pypi serve`; without it a user may only install.

    ./put_user.py pypi.example.com alice                      # asks for the password
    echo "$PASSWORD" | ./put_user.py pypi.example.com alice --password-stdin
    ./put_user.py pypi.example.com alice --random-password 32  # prints the password
    ./put_user.py pypi.example.com ci --publish --random-password 32  # may upload too
    ./put_user.py pypi.example.com alice --delete
    ./put_user.py pypi.example.com --list
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

try:
    from s3pypi_core import auth, users
except ImportError:  # a checkout without s3pypi installed: use its sources
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from s3pypi_core import auth, users


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _check_combination(parser, args)
    user_errors: tuple[type[Exception], ...] = (users.UserError, *users.aws_errors())
    try:
        store = users.open_users(
            file=args.file, domain=args.domain, region=args.region, profile=args.profile
        )
        if args.list:
            _list(store, args.domain)
        elif args.delete:
            store.delete(args.user)
            _say(f"Removed user {args.user} from {store.where}")
        else:
            _put(store, args)
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
        "--publish",
        action="store_true",
        help="allow the user to upload through `s3pypi serve` (without it: install only)",
    )
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
        "--region",
        default=users.DEFAULT_REGION,
        help=f"SSM region (default: {users.DEFAULT_REGION})",
    )
    p.add_argument("--profile", help="AWS profile")
    return p


def _check_combination(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    sets_password = (
        args.password_stdin or args.random_password is not None or args.overwrite or args.publish
    )
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
    if args.random_password is not None and args.random_password < users.MIN_RANDOM_PASSWORD:
        parser.error(f"--random-password needs at least {users.MIN_RANDOM_PASSWORD} characters")
    if args.salt_nbytes < auth.MIN_SALT_NBYTES:
        parser.error(f"--salt-nbytes needs at least {auth.MIN_SALT_NBYTES} bytes")


def _put(store: users.Users, args: argparse.Namespace) -> None:
    password = _password(args)
    replaced = users.add_user(
        store,
        args.user,
        password,
        overwrite=args.overwrite,
        salt_nbytes=args.salt_nbytes,
        publish=args.publish,
    )
    _say(f"{'Replaced' if replaced else 'Added'} user {args.user} to {store.where}")
    if args.random_password is not None:
        print(password)  # stdout: the one thing worth capturing


def _password(args: argparse.Namespace) -> str:
    if args.random_password is not None:
        return users.random_password(args.random_password)
    if args.password_stdin:
        return users.password_from(sys.stdin.buffer)
    password = getpass.getpass(f"Password for {args.user}: ")
    if getpass.getpass("Repeat password: ") != password:
        raise users.UserError("the passwords do not match")
    if not password:
        raise users.UserError("the password is empty")
    return password


def _list(store: users.Users, domain: str) -> None:
    records = store.list()
    for line in users.listing(records):
        print(line)
    old = users.stale(records)
    if old:
        _say(
            f"{len(old)} user(s) with an old password hash ({', '.join(old)}): set their "
            f"password again with `put_user.py {domain} USER --overwrite`"
        )


def _say(message: str) -> None:
    print(message, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
