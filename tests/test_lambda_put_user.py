"""`auth_lambda/put_user.py`, run as an administrator would: users in SSM (moto's server) or in
a users file for `s3pypi serve --users FILE`."""

from __future__ import annotations

import base64
import json
import os
import stat
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from s3pypi_core import auth

PUT_USER = Path(__file__).parent.parent / "auth_lambda" / "put_user.py"


def put_user(*args: str | Path, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PUT_USER), *map(str, args)],
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def stored(ssm: Any, domain: str, user: str) -> dict[str, Any]:
    parameter = ssm.get_parameter(Name=f"/s3pypi/{domain}/users/{user}", WithDecryption=True)
    assert parameter["Parameter"]["Type"] == "SecureString"
    record: dict[str, Any] = json.loads(parameter["Parameter"]["Value"])
    return record


def test_add_a_user_from_stdin(ssm: Any, domain: str) -> None:
    result = put_user(domain, "alice", "--password-stdin", input="pass:with:colons\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # nothing secret printed
    assert f"/s3pypi/{domain}/users/" in result.stderr
    record = stored(ssm, domain, "alice")
    assert record["algorithm"] == "scrypt"
    assert auth.verify_password(record, "pass:with:colons")
    assert not auth.verify_password(record, "pass:with:colons\n")


def test_an_existing_user_is_replaced_only_with_overwrite(ssm: Any, domain: str) -> None:
    assert put_user(domain, "alice", "--password-stdin", input="first").returncode == 0
    refused = put_user(domain, "alice", "--password-stdin", input="second")
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "error: user alice already exists (pass --overwrite to replace it)"
    ]
    assert auth.verify_password(stored(ssm, domain, "alice"), "first")

    replaced = put_user(domain, "alice", "--password-stdin", "--overwrite", input="second")
    assert replaced.returncode == 0, replaced.stderr
    assert "Replaced user alice" in replaced.stderr
    assert auth.verify_password(stored(ssm, domain, "alice"), "second")


def test_random_password_is_printed_once(ssm: Any, domain: str) -> None:
    result = put_user(domain, "ci", "--random-password", "32")
    assert result.returncode == 0, result.stderr
    password = result.stdout.strip()
    assert len(password) == 32
    assert set(password) <= set(string.ascii_letters + string.digits)
    assert auth.verify_password(stored(ssm, domain, "ci"), password)
    again = put_user(domain, "ci2", "--random-password", "32")
    assert again.stdout.strip() != password


def test_salt_length(ssm: Any, domain: str) -> None:
    result = put_user(domain, "alice", "--password-stdin", "--salt-nbytes", "64", input="pw")
    assert result.returncode == 0, result.stderr
    assert len(base64.b64decode(stored(ssm, domain, "alice")["salt"])) == 64


def test_delete_and_list(ssm: Any, domain: str) -> None:
    for user in ("bob", "alice"):
        assert put_user(domain, user, "--password-stdin", input="pw").returncode == 0
    ssm.put_parameter(  # a user left by s3pypi 2.x
        Name=f"/s3pypi/{domain}/users/legacy",
        Value=json.dumps({"password_hash": "0" * 40, "password_salt": "salt"}),
        Type="SecureString",
    )
    listed = put_user(domain, "--list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        f"alice\tscrypt n={auth.SCRYPT_N} r={auth.SCRYPT_R} p={auth.SCRYPT_P}",
        f"bob\tscrypt n={auth.SCRYPT_N} r={auth.SCRYPT_R} p={auth.SCRYPT_P}",
        "legacy\tsha1 (s3pypi 2.x)",
    ]
    assert f"put_user.py {domain} USER --overwrite" in listed.stderr

    deleted = put_user(domain, "bob", "--delete")
    assert deleted.returncode == 0, deleted.stderr
    assert [line.split("\t")[0] for line in put_user(domain, "--list").stdout.splitlines()] == [
        "alice",
        "legacy",
    ]
    missing = put_user(domain, "bob", "--delete")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: no user bob in SSM")


def test_users_file_for_s3pypi_serve(tmp_path: Path) -> None:
    users_file = tmp_path / "users.json"
    first = put_user("localhost", "alice", "--file", users_file, "--password-stdin", input="a:1")
    assert first.returncode == 0, first.stderr
    second = put_user("localhost", "bob", "--file", users_file, "--password-stdin", input="b")
    assert second.returncode == 0, second.stderr
    assert stat.S_IMODE(os.stat(users_file).st_mode) == 0o600

    users = auth.load_users_file(users_file)
    assert set(users) == {"alice", "bob"}
    assert auth.Authenticator(users.get).check("Basic " + base64.b64encode(b"alice:a:1").decode())
    refused = put_user("localhost", "bob", "--file", users_file, "--password-stdin", input="x")
    assert refused.returncode == 1

    listed = put_user("localhost", "--list", "--file", users_file)
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == ["alice", "bob"]
    assert put_user("localhost", "alice", "--delete", "--file", users_file).returncode == 0
    assert set(auth.load_users_file(users_file)) == {"bob"}
    assert list(tmp_path.iterdir()) == [users_file]  # no temporary files left


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["al:ice", "--password-stdin"], "invalid USER 'al:ice'"),
        (["alice", "--random-password", "8"], "--random-password needs at least 16"),
        (["alice", "--password-stdin", "--salt-nbytes", "8"], "--salt-nbytes needs at least 16"),
        (["alice", "--delete", "--password-stdin"], "--delete takes no password options"),
        (["alice", "--list"], "--list takes only DOMAIN"),
        ([], "USER is required (or --list)"),
    ],
)
def test_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    users_file = tmp_path / "users.json"
    result = put_user("localhost", *args, "--file", users_file, input="pw")
    assert result.returncode == 2
    assert message in result.stderr
    assert not users_file.exists()


def test_unwritable_users_file(tmp_path: Path) -> None:
    users_file = tmp_path / "missing-directory" / "users.json"
    result = put_user("localhost", "alice", "--file", users_file, "--password-stdin", input="pw")
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: cannot write users file {users_file}: ")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("password", ["", "\n"])
def test_empty_password_is_refused(tmp_path: Path, password: str) -> None:
    users_file = tmp_path / "users.json"
    result = put_user(
        "localhost", "alice", "--file", users_file, "--password-stdin", input=password
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "error: the password is empty"
    assert not users_file.exists()


def test_aws_errors_are_one_line(domain: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    result = put_user(domain, "--list")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: Could not connect")


def test_the_seeds_basic_auth_directory_runs_the_same_script(ssm: Any, domain: str) -> None:
    """The seed says `cd basic_auth/ && ./put_user.py ...` (s3pypi 2.x's directory)."""
    script = PUT_USER.parent.parent / "basic_auth" / "put_user.py"
    result = subprocess.run(
        ["./put_user.py", domain, "alice", "--password-stdin"],
        cwd=script.parent,
        input="mysecretpassword\n",
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert auth.verify_password(stored(ssm, domain, "alice"), "mysecretpassword")


def test_a_password_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    users_file = tmp_path / "users.json"
    args = ["localhost", "alice", "--file", str(users_file), "--password-stdin"]
    result = subprocess.run(
        [sys.executable, str(PUT_USER), *args],
        input=b"caf\xe9\n",
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == b"error: the password is not valid UTF-8\n"
    assert not users_file.exists()


def test_publish_is_granted_only_with_publish(ssm: Any, domain: str, tmp_path: Path) -> None:
    """SSM and a users file alike: `--publish` writes `"publish": true`; a record without it
    (every record written before, and s3pypi 2.x's) stays read-only; `--list` says who may."""
    users_file = tmp_path / "users.json"
    for where in ([], ["--file", str(users_file)]):
        assert (
            put_user(domain, "ci", "--publish", *where, "--password-stdin", input="a").returncode
            == 0
        )
        assert put_user(domain, "dev", *where, "--password-stdin", input="b").returncode == 0
        listed = put_user(domain, "--list", *where)
        assert listed.stdout.splitlines() == [
            f"ci\tscrypt n={auth.SCRYPT_N} r={auth.SCRYPT_R} p={auth.SCRYPT_P}, publish",
            f"dev\tscrypt n={auth.SCRYPT_N} r={auth.SCRYPT_R} p={auth.SCRYPT_P}",
        ]
    in_file = auth.load_users_file(users_file)
    for records in (in_file, {u: stored(ssm, domain, u) for u in ("ci", "dev")}):
        assert records["ci"]["publish"] is True
        assert "publish" not in records["dev"]
        assert auth.may_publish(records["ci"])
        assert not auth.may_publish(records["dev"])
    assert not auth.may_publish({**in_file["dev"], "publish": "yes"})  # only a JSON true grants


def test_publish_takes_a_password(tmp_path: Path) -> None:
    result = put_user("localhost", "ci", "--delete", "--publish", "--file", tmp_path / "u.json")
    assert result.returncode == 2
    assert "--delete takes no password options" in result.stderr
