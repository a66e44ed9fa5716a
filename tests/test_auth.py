"""The password scheme shared by Lambda@Edge and `s3pypi serve` (`s3pypi_core.auth`)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from s3pypi_core import auth


def basic(credentials: str | bytes) -> str:
    raw = credentials.encode() if isinstance(credentials, str) else credentials
    return "Basic " + base64.b64encode(raw).decode()


def legacy_record(password: str) -> dict[str, str]:
    """A user as s3pypi 2.x's put_user.py stored it."""
    salt = secrets.token_urlsafe(32)
    digest = hashlib.sha1((password + salt).encode(), usedforsecurity=False).hexdigest()
    return {"password_hash": digest, "password_salt": salt}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Users(dict[str, dict[str, Any]]):
    """A users table that counts lookups."""

    lookups = 0

    def lookup(self, user: str) -> dict[str, Any] | None:
        self.lookups += 1
        return self.get(user)


def test_record_holds_algorithm_parameters_salt_and_hash() -> None:
    record = auth.hash_password("s3cret", salt_nbytes=48)
    assert set(record) == {"algorithm", "n", "r", "p", "salt", "hash"}
    assert record["algorithm"] == "scrypt"
    assert (record["n"], record["r"], record["p"]) == (auth.SCRYPT_N, auth.SCRYPT_R, auth.SCRYPT_P)
    assert len(base64.b64decode(record["salt"])) == 48
    assert len(base64.b64decode(record["hash"])) == auth.HASH_NBYTES
    json.dumps(record)  # stored as JSON, as is


def test_same_password_gets_a_new_salt_each_time() -> None:
    first, second = auth.hash_password("s3cret"), auth.hash_password("s3cret")
    assert first["salt"] != second["salt"]
    assert first["hash"] != second["hash"]


@pytest.mark.parametrize("password", ["s3cret", "with:colons:in:it", "pässwörd ☃", " spaced "])
def test_verify_accepts_only_the_password(password: str) -> None:
    record = auth.hash_password(password)
    assert auth.verify_password(record, password)
    assert not auth.verify_password(record, password + "x")
    assert not auth.verify_password(record, password.strip() + "!")
    assert not auth.verify_password(record, "")


def test_parameters_come_from_the_record_so_they_can_be_raised() -> None:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(b"s3cret", salt=salt, n=2**15, r=8, p=2, maxmem=2**26, dklen=64)
    record = {
        "algorithm": "scrypt",
        "n": 2**15,
        "r": 8,
        "p": 2,
        "salt": base64.b64encode(salt).decode(),
        "hash": base64.b64encode(digest).decode(),
    }
    assert auth.verify_password(record, "s3cret")
    assert not auth.verify_password({**record, "p": 1}, "s3cret")
    assert not auth.needs_rehash(record)


def test_s3pypi_2_records_verify_and_are_flagged_for_rehash() -> None:
    record = legacy_record("old:password")
    assert auth.verify_password(record, "old:password")
    assert not auth.verify_password(record, "old:passwort")
    assert auth.needs_rehash(record)
    assert auth.describe(record) == "sha1 (s3pypi 2.x)"
    assert not auth.needs_rehash(auth.hash_password("new"))


@pytest.mark.parametrize(
    "change",
    [
        {"algorithm": "md5"},
        {"hash": "not base64!"},
        {"salt": None},
        {"n": "many"},
        {"n": 1000},  # not a power of two
        {"n": 2**24},  # 2 GiB: refused, not allocated
        {"hash": base64.b64encode(b"short").decode()},
    ],
)
def test_malformed_records_never_verify(change: dict[str, Any]) -> None:
    record = {**auth.hash_password("s3cret"), **change}
    assert not auth.verify_password(record, "s3cret")


def test_records_missing_fields_never_verify() -> None:
    record = auth.hash_password("s3cret")
    for field in record:
        assert not auth.verify_password({k: v for k, v in record.items() if k != field}, "s3cret")
    assert not auth.verify_password({}, "s3cret")
    assert not auth.verify_password({"password_hash": 1, "password_salt": 2}, "s3cret")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (basic("alice:s3cret"), ("alice", "s3cret")),
        (basic("alice:pass:with:colons"), ("alice", "pass:with:colons")),
        (basic("alice:"), ("alice", "")),
        ("basic " + basic("alice:s3cret").split()[1], ("alice", "s3cret")),
        ("  Basic   " + basic("bob:x").split()[1] + " ", ("bob", "x")),
        (basic("ünïcode:☃"), ("ünïcode", "☃")),
        (None, None),
        ("", None),
        ("Basic", None),
        ("Basic ", None),
        ("Bearer " + basic("alice:s3cret").split()[1], None),
        ("Digest username=alice", None),
        ("Basic not-base64!", None),
        ("Basic YWxpY2U6czNjcmV0", ("alice", "s3cret")),
        ("Basic YWxpY2U6czNjcmU", None),  # missing padding
        (basic(b"alice:\xff\xfe"), ("alice", "\xff\xfe")),  # not UTF-8: Latin-1
        (basic("alice:pässwörd".encode("latin-1")), ("alice", "pässwörd")),  # pip, requests
        (basic("alice:pässwörd".encode()), ("alice", "pässwörd")),  # uv, browsers
        (basic("no-colon"), None),
        (basic(":s3cret"), None),  # no user
    ],
)
def test_parse_basic_auth(header: str | None, expected: tuple[str, str] | None) -> None:
    assert auth.parse_basic_auth(header) == expected


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("alice", True),
        ("ci-bot_2.0", True),
        ("A" * 64, True),
        ("A" * 65, False),
        ("", False),
        (".hidden", False),
        ("a/b", False),
        ("a:b", False),
        ("al ice", False),
        ("ünïcode", False),
    ],
)
def test_valid_username(name: str, valid: bool) -> None:
    assert auth.valid_username(name) is valid


def test_authenticator_accepts_valid_credentials_only() -> None:
    users = Users(alice=auth.hash_password("s3:cret"), old=legacy_record("legacy"))
    authenticator = auth.Authenticator(users.lookup)
    assert authenticator.check(basic("alice:s3:cret"))
    assert authenticator.check(basic("old:legacy"))
    assert not authenticator.check(basic("alice:s3"))
    assert not authenticator.check(basic("mallory:s3:cret"))
    assert not authenticator.check(None)
    assert not authenticator.check("Bearer abc")


def test_verified_credentials_are_cached_for_the_ttl_only() -> None:
    clock = Clock()
    users = Users(alice=auth.hash_password("s3cret"))
    authenticator = auth.Authenticator(users.lookup, cache_ttl=300, clock=clock)
    assert authenticator.check(basic("alice:s3cret"))
    assert users.lookups == 1

    del users["alice"]
    clock.now += 299
    assert authenticator.check(basic("alice:s3cret"))  # still cached
    assert users.lookups == 1
    clock.now += 1
    assert not authenticator.check(basic("alice:s3cret"))  # the bound has passed
    assert users.lookups == 2


def test_a_changed_password_stops_working_after_the_ttl() -> None:
    clock = Clock()
    users = Users(alice=auth.hash_password("old"))
    authenticator = auth.Authenticator(users.lookup, cache_ttl=60, clock=clock)
    assert authenticator.check(basic("alice:old"))
    users["alice"] = auth.hash_password("new")
    assert authenticator.check(basic("alice:new"))
    clock.now += 60
    assert not authenticator.check(basic("alice:old"))
    assert authenticator.check(basic("alice:new"))


def test_wrong_passwords_are_not_cached() -> None:
    users = Users(alice=auth.hash_password("s3cret"))
    authenticator = auth.Authenticator(users.lookup)
    assert not authenticator.check(basic("alice:guess"))
    assert not authenticator.check(basic("alice:guess"))
    assert users.lookups == 2


def test_cache_is_bounded_in_size() -> None:
    clock = Clock()
    users = Users(alice=auth.hash_password("a"), bob=auth.hash_password("b"))
    authenticator = auth.Authenticator(users.lookup, cache_size=1, clock=clock)
    assert authenticator.check(basic("alice:a"))
    assert authenticator.check(basic("bob:b"))  # evicts alice
    assert users.lookups == 2
    assert authenticator.check(basic("alice:a"))
    assert users.lookups == 3


def test_cache_holds_no_plaintext_password() -> None:
    users = Users(alice=auth.hash_password("plaintext-s3cret"))
    authenticator = auth.Authenticator(users.lookup)
    assert authenticator.check(basic("alice:plaintext-s3cret"))
    state = repr(vars(authenticator))
    assert "plaintext-s3cret" not in state
    assert b"plaintext-s3cret".hex() not in state


def test_names_that_cannot_be_users_are_not_looked_up() -> None:
    users = Users()
    authenticator = auth.Authenticator(users.lookup)
    assert not authenticator.check(basic("../../other/users/x:pw"))
    assert users.lookups == 0


def test_lookup_errors_propagate() -> None:
    def broken(user: str) -> dict[str, Any] | None:
        raise ConnectionError("SSM is down")

    with pytest.raises(ConnectionError):
        auth.Authenticator(broken).check(basic("alice:s3cret"))


def test_users_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"alice": auth.hash_password("s3cret")}))
    users = auth.load_users_file(path)
    assert auth.Authenticator(users.get).check(basic("alice:s3cret"))


@pytest.mark.parametrize("content", ["[]", '{"alice": "hash"}', "{not json"])
def test_malformed_users_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "users.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=r"users\.json|Expecting"):
        auth.load_users_file(path)


def test_one_verification_fits_the_edge_budget() -> None:
    """About 27 ms on one core here; Lambda@Edge's 128 MB get about 1/14 of a vCPU."""
    record = auth.hash_password("s3cret")
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        assert auth.verify_password(record, "s3cret")
        timings.append(time.perf_counter() - start)
    assert sorted(timings)[1] < 0.25
    assert 128 * auth.SCRYPT_R * auth.SCRYPT_N <= 32 * 1024 * 1024  # memory, of 128 MB
