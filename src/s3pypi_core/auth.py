"""HTTP basic auth for a private index: the one password scheme of Lambda@Edge and `s3pypi serve`.

Standard library only: this module is also zipped, as a top-level module, into the Lambda@Edge
package, so it imports nothing from `s3pypi_core`.

A user RECORD is a JSON object, stored as is in SSM Parameter Store (`/s3pypi/DOMAIN/users/USER`)
or in a users file (`{"USER": RECORD, ...}`):

    {"algorithm": "scrypt", "n": 16384, "r": 8, "p": 1, "salt": "<base64>", "hash": "<base64>"}

The cost parameters live in each record, so they can be raised later without breaking existing
users. Records written by s3pypi 2.x (`{"password_hash": sha1(password + salt), "password_salt":
salt}`) still verify, so a migration keeps working; `needs_rehash` points them out.

A record with `"publish": true` may also upload through `s3pypi serve`; every other record
(s3pypi 2.x's and those of releases before uploads included) is read-only.
"""

from __future__ import annotations

import base64
import binascii
import collections
import functools
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

REALM = "s3pypi"
CHALLENGE = f'Basic realm="{REALM}", charset="UTF-8"'
"""The `WWW-Authenticate` value of a 401 (RFC 7617: credentials are read as UTF-8)."""

# scrypt's "interactive login" cost (16 MiB, about 27 ms of CPU on one core of a 2020s server). A
# Lambda@Edge viewer request gets 128 MB, which Lambda backs with about 1/14 of a vCPU, so one
# verification there takes roughly 0.4 s, paid once per user per cache period.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
HASH_NBYTES = 32
DEFAULT_SALT_NBYTES = 32
MIN_SALT_NBYTES = 16

# Refuse records that would need more memory than a 128 MB Lambda can spare.
_SCRYPT_MAXMEM = 64 * 1024 * 1024

# Usernames become SSM parameter names and must not contain ':' (RFC 7617).
_USERNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


PUBLISH = "publish"
"""The key of a user record that grants uploading (`"publish": true`)."""


def may_publish(record: Mapping[str, Any] | None) -> bool:
    """Whether a user record grants uploading: only an explicit JSON `true` does."""
    return record is not None and record.get(PUBLISH) is True


def valid_username(username: str) -> bool:
    """Letters, digits, `_`, `.` and `-` (what an SSM parameter name allows), 64 at most."""
    return _USERNAME.fullmatch(username) is not None


def hash_password(password: str, *, salt_nbytes: int = DEFAULT_SALT_NBYTES) -> dict[str, Any]:
    """The user record for `password`: scrypt with a fresh random salt."""
    if salt_nbytes < MIN_SALT_NBYTES:
        raise ValueError(f"a salt needs at least {MIN_SALT_NBYTES} bytes, not {salt_nbytes}")
    salt = secrets.token_bytes(salt_nbytes)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_NBYTES)
    return {
        "algorithm": "scrypt",
        "n": SCRYPT_N,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
        "salt": _b64encode(salt),
        "hash": _b64encode(digest),
    }


def verify_password(record: Mapping[str, Any], password: str) -> bool:
    """Whether `password` matches `record`; constant-time, and False for a malformed record."""
    try:
        expected, actual = _expected_and_actual(record, password)
    except (KeyError, TypeError, ValueError, OverflowError, MemoryError, binascii.Error):
        return False
    return hmac.compare_digest(expected, actual)


def needs_rehash(record: Mapping[str, Any]) -> bool:
    """Whether a record is weaker than what `hash_password` writes today (s3pypi 2.x, low cost)."""
    if record.get("algorithm") != "scrypt":
        return True
    try:
        n, r, p = int(record["n"]), int(record["r"]), int(record["p"])
    except (KeyError, TypeError, ValueError):
        return True
    return n * r * p < SCRYPT_N * SCRYPT_R * SCRYPT_P


def describe(record: Mapping[str, Any]) -> str:
    """A short, secret-free description of a record's scheme, for listings."""
    if _is_legacy(record):
        return "sha1 (s3pypi 2.x)"
    if record.get("algorithm") == "scrypt":
        return f"scrypt n={record.get('n')} r={record.get('r')} p={record.get('p')}"
    return f"unknown ({record.get('algorithm')!r})"


def parse_basic_auth(authorization: str | None) -> tuple[str, str] | None:
    """`(user, password)` from a `Basic base64(user:password)` header; None if malformed.

    The password is everything after the FIRST ':', so passwords may contain ':'. Credentials
    are UTF-8 (RFC 7617, uv, browsers) or, when they are not valid UTF-8, Latin-1 (pip and
    requests encode them so).
    """
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        decoded = raw.decode("latin-1")
    user, sep, password = decoded.partition(":")
    if not sep or not user:
        return None
    return user, password


def verify_user(record: Mapping[str, Any] | None, password: str) -> bool:
    """Whether `password` is the user's; an unknown user (None) costs as much as a wrong
    password, so timing does not tell which usernames exist."""
    if record is None:
        verify_password(_unmatchable_record(), password)
        return False
    return verify_password(record, password)


class VerifiedCredentials:
    """Credentials verified lately: at most `size` of them, each for `ttl` seconds.

    Holds a keyed hash of `user:password` (the key is random and lives only in this process),
    never the password itself.
    """

    def __init__(
        self, *, ttl: float, size: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._size = size
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._expiries: collections.OrderedDict[bytes, float] = collections.OrderedDict()
        self._lock = threading.Lock()

    def entry(self, user: str, password: str) -> bytes:
        return hmac.digest(self._key, f"{user}\0{password}".encode(), "sha256")

    def __contains__(self, entry: bytes) -> bool:
        with self._lock:
            expires = self._expiries.get(entry)
            if expires is None:
                return False
            if self._clock() >= expires:
                del self._expiries[entry]
                return False
            self._expiries.move_to_end(entry)
            return True

    def add(self, entry: bytes) -> None:
        with self._lock:
            self._expiries[entry] = self._clock() + self._ttl
            self._expiries.move_to_end(entry)
            while len(self._expiries) > self._size:
                self._expiries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._expiries.clear()


class Authenticator:
    """Checks `Authorization` headers against users found by `lookup(user) -> record | None`.

    Verified credentials are remembered for at most `cache_ttl` seconds, and at most
    `cache_size` of them, so a removed or changed user loses access within that time. Errors
    of `lookup` (other than "no such user") propagate.
    """

    def __init__(
        self,
        lookup: Callable[[str], Mapping[str, Any] | None],
        *,
        cache_ttl: float = 300.0,
        cache_size: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._verified = VerifiedCredentials(ttl=cache_ttl, size=cache_size, clock=clock)

    def check(self, authorization: str | None) -> bool:
        """True iff the header carries a valid `user:password`."""
        credentials = parse_basic_auth(authorization)
        if credentials is None:
            return False
        user, password = credentials
        entry = self._verified.entry(user, password)
        if entry in self._verified:
            return True
        record = self._lookup(user) if valid_username(user) else None
        if not verify_user(record, password):
            return False
        self._verified.add(entry)
        return True


def load_users_file(path: Path) -> dict[str, dict[str, Any]]:
    """The users of a JSON users file, `{"USER": RECORD, ...}` (ValueError if malformed)."""
    users = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(users, dict) or not all(
        isinstance(name, str) and isinstance(record, dict) for name, record in users.items()
    ):
        raise ValueError(f'{path}: expected a JSON object {{"USER": RECORD, ...}}')
    return users


def _expected_and_actual(record: Mapping[str, Any], password: str) -> tuple[bytes, bytes]:
    if _is_legacy(record):
        # s3pypi 2.x: hex sha1 of password + salt, both as text.
        actual = hashlib.sha1(
            (password + record["password_salt"]).encode("utf-8"), usedforsecurity=False
        ).hexdigest()
        return str(record["password_hash"]).encode("ascii"), actual.encode("ascii")
    if record["algorithm"] != "scrypt":
        raise ValueError(f"unknown algorithm {record['algorithm']!r}")
    expected = base64.b64decode(record["hash"], validate=True)
    salt = base64.b64decode(record["salt"], validate=True)
    n, r, p = int(record["n"]), int(record["r"]), int(record["p"])
    return expected, _scrypt(password, salt, n, r, p, len(expected))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    if not (16 <= dklen <= 64):
        raise ValueError("unexpected hash length")
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=_SCRYPT_MAXMEM
    )


def _is_legacy(record: Mapping[str, Any]) -> bool:
    return "algorithm" not in record and "password_hash" in record and "password_salt" in record


@functools.cache
def _unmatchable_record() -> dict[str, Any]:
    """A record no password matches, to spend the same time on unknown users."""
    return hash_password(secrets.token_urlsafe(32))


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
