"""Basic auth for `s3pypi serve --users FILE`, built to stay up under a flood of wrong passwords.

A password check is scrypt: 16 MiB and tens of milliseconds of CPU by design. So checks run on a
pool of `workers` threads (one per core), at most `queue` more may wait for a turn, and any
request beyond that is answered 503 at once (pip and uv retry it) instead of queueing memory
and CPU. A successful check is remembered for `cache_ttl` seconds under a keyed hash of the
credentials, so a user who got in keeps getting in without a check, flood or not.

The users file is read again whenever it changes (its inode, size or times), so added, removed
and changed users take effect on the next request; a change empties the remembered checks.
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s3pypi_core import __prog__, auth
from s3pypi_core.exceptions import S3PyPIError

log = logging.getLogger(__prog__)

Records = Mapping[str, Mapping[str, Any]]


class UsersFileError(S3PyPIError):
    pass


class WatchedUsersFile:
    """The users of a JSON users file, as it is now."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._signature: tuple[int, ...] | None = None
        self._users: Records = {}
        self.generation = 0
        """Incremented on every change that was read."""
        self._read(self._stat(), strict=True)

    def current(self) -> tuple[int, Records]:
        """The generation and the users; one `stat` when nothing changed."""
        signature = self._stat()
        if signature != self._signature:
            with self._lock:
                if signature != self._signature:
                    self._read(signature, strict=False)
        return self.generation, self._users

    def _stat(self) -> tuple[int, ...] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def _read(self, signature: tuple[int, ...] | None, *, strict: bool) -> None:
        try:
            users = {} if signature is None else auth.load_users_file(self.path)
        except (OSError, ValueError) as e:
            if strict:
                raise UsersFileError(f"cannot read users file {self.path}: {e}") from e
            # A half-edited file must not lock everyone out: keep the users read last, and
            # say so once for this version of the file.
            log.error("cannot read users file %s (still using the previous one): %s", self.path, e)
            self._signature = signature
            return
        if signature is None and not strict:
            log.warning("users file %s is gone: nobody can sign in", self.path)
        self._users, self._signature = users, signature
        self.generation += 1


@dataclass(frozen=True)
class Verdict:
    user: str | None = None
    """Who signed in; None when the credentials are missing or wrong."""
    busy: bool = False
    """Too many checks under way: try again shortly (503)."""


class Gate:
    """Decides `Authorization` headers against a users file, with bounded work."""

    def __init__(
        self,
        users: WatchedUsersFile,
        *,
        workers: int | None = None,
        queue: int | None = None,
        cache_ttl: float = 300.0,
        cache_size: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.users = users
        self.workers = workers or max(1, min(os.cpu_count() or 1, 8))
        self.queue = self.workers * 4 if queue is None else queue
        # Checks run on these threads only: scrypt's 16 MiB stay in their malloc arenas
        # instead of one arena per request thread.
        self._pool = concurrent.futures.ThreadPoolExecutor(self.workers, "s3pypi-auth")
        self._verified = auth.VerifiedCredentials(ttl=cache_ttl, size=cache_size, clock=clock)
        self._lock = threading.Lock()
        self._generation = -1
        self._admitted = 0
        self._checking = 0
        self._counts = collections.Counter[str]()

    def check(self, authorization: str | None) -> Verdict:
        credentials = auth.parse_basic_auth(authorization)
        if credentials is None:
            return Verdict()
        user, password = credentials
        generation, records = self.users.current()
        entry = self._verified.entry(user, password)
        if self._remembered(entry, generation):
            return Verdict(user)
        with self._lock:
            if self._admitted >= self.workers + self.queue:
                self._counts["busy"] += 1
                return Verdict(busy=True)
            self._admitted += 1
            self._counts["peak_admitted"] = max(self._counts["peak_admitted"], self._admitted)
        try:
            ok = self._pool.submit(self._verify, records, user, password).result()
        finally:
            with self._lock:
                self._admitted -= 1
        with self._lock:
            self._counts["checks"] += 1
            if not ok:
                self._counts["refused"] += 1
        if ok:
            self._remember(entry, generation)
            return Verdict(user)
        return Verdict()

    def may_publish(self, user: str) -> bool:
        """Whether `user` (signed in) has the publish permission in the users file as it is
        now: a permission taken away holds from the next request on."""
        _generation, records = self.users.current()
        return auth.may_publish(records.get(user))

    def stats(self) -> dict[str, int]:
        """Counters for the health endpoint: how hard the gate is working (nothing about
        the users: the endpoint answers without credentials)."""
        with self._lock:
            return {
                "workers": self.workers,
                "queue": self.queue,
                "checking": self._checking,
                "waiting": self._admitted - self._checking,
                "checks": self._counts["checks"],
                "refused": self._counts["refused"],
                "busy": self._counts["busy"],
                "remembered": self._counts["remembered"],
                "peak_checking": self._counts["peak_checking"],
                "peak_admitted": self._counts["peak_admitted"],
            }

    def _verify(self, records: Records, user: str, password: str) -> bool:
        with self._lock:
            self._checking += 1
            self._counts["peak_checking"] = max(self._counts["peak_checking"], self._checking)
        try:
            record = records.get(user) if auth.valid_username(user) else None
            return auth.verify_user(record, password)
        finally:
            with self._lock:
                self._checking -= 1

    def _remembered(self, entry: bytes, generation: int) -> bool:
        with self._lock:
            if generation != self._generation:  # the users changed: forget every check
                self._verified.clear()
                self._generation = generation
                return False
        if entry not in self._verified:
            return False
        with self._lock:
            self._counts["remembered"] += 1
        return True

    def _remember(self, entry: bytes, generation: int) -> None:
        with self._lock:
            if generation == self._generation:  # not if the users changed during the check
                self._verified.add(entry)
