"""`s3pypi user add|remove|list`: user management that comes with `pip install s3pypi`, for
the users file of `s3pypi serve --users FILE` and for the Lambda@Edge users in SSM."""

from __future__ import annotations

import json
import stat
import string
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from s3pypi_core import auth
from tests.conftest import REGION, run_console_script


def user(*args: str | Path, input: str | None = None) -> Any:
    return run_console_script("s3pypi", "user", *args, input=input)


def test_a_users_file_from_scratch(tmp_path: Path) -> None:
    users_file = tmp_path / "users.json"
    added = user("add", "alice", "--file", users_file, "--password-stdin", input="a:b c\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout == ""
    assert added.stderr == f"Added user alice in {users_file}\n"
    assert stat.S_IMODE(users_file.stat().st_mode) == 0o600

    generated = user("add", "ci", "--file", users_file, "--random-password", "24")
    assert generated.returncode == 0, generated.stderr
    password = generated.stdout.strip()
    assert len(password) == 24
    assert set(password) <= set(string.ascii_letters + string.digits)

    records = auth.load_users_file(users_file)
    assert auth.verify_password(records["alice"], "a:b c")
    assert auth.verify_password(records["ci"], password)

    listed = user("list", "--file", users_file)
    assert listed.stdout.splitlines() == [
        f"alice\tscrypt n={auth.SCRYPT_N} r={auth.SCRYPT_R} p={auth.SCRYPT_P}",
        f"ci\tscrypt n={auth.SCRYPT_N} r={auth.SCRYPT_R} p={auth.SCRYPT_P}",
    ]

    again = user("add", "alice", "--file", users_file, "--password-stdin", input="x")
    assert again.returncode == 1
    assert again.stderr == (
        "s3pypi: error: user alice already exists (pass --overwrite to replace it)\n"
    )
    replaced = user(
        "add", "alice", "--file", users_file, "--password-stdin", "--overwrite", input="x"
    )
    assert replaced.stderr == f"Replaced user alice in {users_file}\n"

    publisher = user(
        "add", "release", "--file", users_file, "--publish", "--password-stdin", input="r"
    )
    assert publisher.returncode == 0, publisher.stderr
    assert auth.may_publish(auth.load_users_file(users_file)["release"])
    assert not auth.may_publish(auth.load_users_file(users_file)["alice"])
    assert user("list", "--file", users_file).stdout.splitlines()[-1] == (
        f"release\tscrypt n={auth.SCRYPT_N} r={auth.SCRYPT_R} p={auth.SCRYPT_P}, publish"
    )
    assert user("remove", "release", "--file", users_file).returncode == 0

    removed = user("remove", "ci", "--file", users_file)
    assert removed.returncode == 0, removed.stderr
    assert set(auth.load_users_file(users_file)) == {"alice"}
    assert user("remove", "ci", "--file", users_file).stderr == (
        f"s3pypi: error: no user ci in {users_file}\n"
    )
    assert list(tmp_path.iterdir()) == [users_file]  # no temporary files left


def test_users_in_ssm(moto_endpoint: str) -> None:
    domain = f"pypi-{uuid.uuid4().hex[:8]}.example.com"
    ssm = boto3.client("ssm", endpoint_url=moto_endpoint, region_name=REGION)
    added = user("add", "alice", "--domain", domain, "--password-stdin", input="s3cret\n")
    assert added.returncode == 0, added.stderr
    parameter = ssm.get_parameter(Name=f"/s3pypi/{domain}/users/alice", WithDecryption=True)
    assert auth.verify_password(json.loads(parameter["Parameter"]["Value"]), "s3cret")
    assert user("list", "--domain", domain).stdout.startswith("alice\tscrypt")
    assert user("remove", "alice", "--domain", domain).returncode == 0
    assert user("list", "--domain", domain).stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "al:ice", "--password-stdin"], "invalid USER 'al:ice'"),
        (["add", "alice", "--random-password", "8"], "--random-password needs at least 16"),
        (["add", "alice", "--password-stdin", "--salt-nbytes", "8"], "--salt-nbytes needs"),
        (["add", "alice", "--password-stdin"], "the password is empty"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    users_file = tmp_path / "users.json"
    result = user(*args, "--file", users_file, input="")
    assert result.returncode == 1
    assert result.stderr.startswith("s3pypi: error: ")
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not users_file.exists()


def test_neither_file_nor_domain(tmp_path: Path) -> None:
    result = user("list")
    assert result.returncode == 1
    assert result.stderr == (
        "s3pypi: error: give --file FILE, or --domain DOMAIN for users kept in SSM\n"
    )
