"""`s3pypi user add|remove|list`: the basic auth users of an index."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import click

from s3pypi_core.cli._options import (
    F,
    handle_errors,
    log,
    verbose_option,
)


@click.group()
def user() -> None:
    """Add, remove and list the basic auth users of an index.

    Users are kept in a JSON file (--file FILE, what `s3pypi serve --users FILE` reads) or in
    SSM Parameter Store under /s3pypi/DOMAIN/users/USER (--domain DOMAIN, what the Lambda@Edge
    function reads).
    """


def users_options(f: F) -> F:
    for option in reversed(
        [
            click.option(
                "--file",
                type=click.Path(dir_okay=False, path_type=Path),
                help="The users file (for s3pypi serve --users FILE).",
            ),
            click.option("--domain", help="The index's domain, for users kept in SSM."),
            click.option("--region", help="SSM region (default: us-east-1)."),
            click.option("--profile", help="AWS profile to use."),
        ]
    ):
        f = option(f)
    return f


def _users(**options: Any) -> Any:
    from s3pypi_core import users

    return users.open_users(**options)


def _aws_errors_as_user_errors(f: F) -> F:
    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from s3pypi_core import users

        try:
            return f(*args, **kwargs)
        except users.aws_errors() as e:
            raise users.UserError(str(e)) from e

    return wrapper  # type: ignore[return-value]


@user.command("add")
@click.argument("name", metavar="USER")
@users_options
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option(
    "--random-password",
    type=int,
    metavar="N",
    help="Generate a random password of N letters and digits and print it.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing user.")
@click.option(
    "--publish",
    is_flag=True,
    help="Allow the user to upload through `s3pypi serve` (without it: install only).",
)
@click.option("--salt-nbytes", type=int, default=32, show_default=True, metavar="N")
@verbose_option
@handle_errors
@_aws_errors_as_user_errors
def user_add(
    name: str,
    password_stdin: bool,
    random_password: int | None,
    overwrite: bool,
    publish: bool,
    salt_nbytes: int,
    **options: Any,
) -> None:
    """Add USER (or replace it, with --overwrite); with --publish, USER may also upload."""
    from s3pypi_core import users

    if password_stdin and random_password is not None:
        raise click.UsageError("--password-stdin and --random-password exclude each other")
    users.check_username(name)
    users.check_salt(salt_nbytes)
    if random_password is not None:
        password = users.random_password(random_password)
    elif password_stdin:
        password = users.password_from(sys.stdin.buffer)
    else:
        password = click.prompt(
            f"Password for {name}", hide_input=True, confirmation_prompt=True, err=True
        )
    store = _users(**options)
    replaced = users.add_user(
        store, name, password, overwrite=overwrite, salt_nbytes=salt_nbytes, publish=publish
    )
    click.echo(f"{'Replaced' if replaced else 'Added'} user {name} in {store.where}", err=True)
    if random_password is not None:
        click.echo(password)


@user.command("remove")
@click.argument("name", metavar="USER")
@users_options
@verbose_option
@handle_errors
@_aws_errors_as_user_errors
def user_remove(name: str, **options: Any) -> None:
    """Remove USER."""
    store = _users(**options)
    store.delete(name)
    click.echo(f"Removed user {name} from {store.where}", err=True)


@user.command("list")
@users_options
@verbose_option
@handle_errors
@_aws_errors_as_user_errors
def user_list(**options: Any) -> None:
    """List the users, their password scheme, and who may publish."""
    from s3pypi_core import users

    records = _users(**options).list()
    for line in users.listing(records):
        click.echo(line)
    old = users.stale(records)
    if old:
        log.warning(
            "%d user(s) with an old password hash (%s): set their password again with "
            "`s3pypi user add USER --overwrite`",
            len(old),
            ", ".join(old),
        )
