"""`s3pypi serve` as a user runs it (the console script, in a subprocess), its request log, and
real pip and uv pointed at it with no other index and no cache."""

from __future__ import annotations

import http.client
import os
import re
import selectors
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
_LOG_LINE = re.compile(r"(\S+) (\S+) ([A-Z]+) (\S+) -> (.*) (\d{3}) (\d+) bytes")


@dataclass(frozen=True)
class Request:
    """One line of the server's request log."""

    method: str
    path: str
    key: str
    status: int
    size: int
    user: str = field(default="-", compare=False)
    """Who signed in (`-`: nobody); not compared, so tests without auth can leave it out."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes


@dataclass
class Server:
    url: str
    """The index URL it printed, e.g. `http://127.0.0.1:PORT/` (with the prefix, if any)."""
    process: subprocess.Popen[str]
    log_path: Path
    first_line: str = ""
    """What it printed on stdout when it started."""

    @property
    def origin(self) -> str:
        parts = urllib.parse.urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    def requests(self, since: int = 0) -> list[Request]:
        """The requests served so far (from the `since`-th on)."""
        found = []
        for line in self.log_path.read_text().splitlines():
            if match := _LOG_LINE.fullmatch(line):
                _client, user, method, path, key, status, size = match.groups()
                found.append(Request(method, path, key, int(status), int(size), user))
        return found[since:]

    def request(self, method: str, path: str, headers: dict[str, str] | None = None) -> Response:
        """One HTTP request; `path` is relative to the server's origin (`/NAME/`)."""
        parts = urllib.parse.urlsplit(self.url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        try:
            connection.request(method, path, headers=headers or {})
            response = connection.getresponse()
            body = response.read()
            return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
        finally:
            connection.close()

    def get(self, path: str, **headers: str) -> Response:
        return self.request("GET", path, {k.replace("_", "-"): v for k, v in headers.items()})

    def head(self, path: str, **headers: str) -> Response:
        return self.request("HEAD", path, {k.replace("_", "-"): v for k, v in headers.items()})


@contextmanager
def serving(
    *args: str | Path, log_dir: Path, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Run `s3pypi serve --port 0 ARGS` until the block ends; the AWS settings of the test
    (moto's endpoint, credentials) reach it through the environment (or `env`, for a server
    that outlives one test)."""
    log_path = log_dir / f"serve-{len(list(log_dir.glob('serve-*.log')))}.log"
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            [str(BIN / "s3pypi"), "serve", "--port", "0", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
            env=env,
        )
    try:
        line = _first_line(process, timeout=60)
        match = re.search(r"http://\S+", line)
        if not match:
            process.kill()
            process.wait()
            raise AssertionError(f"s3pypi serve printed {line!r}; log: {log_path.read_text()}")
        yield Server(match.group(0), process, log_path, line)
    finally:
        process.terminate()
        process.wait(timeout=30)
        assert process.stdout is not None
        process.stdout.close()


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"s3pypi serve printed nothing in {timeout} s")
    return process.stdout.readline()


def installer_env() -> dict[str, str]:
    """The environment without any pip or uv settings of this machine (global indexes,
    find-links): the served index is the only source."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        UV_NO_CONFIG="1",
        UV_PYTHON_DOWNLOADS="never",
    )
    return env


def pip(*args: str | Path, index_url: str) -> subprocess.CompletedProcess[str]:
    """Real pip (this environment's), installing from `index_url` only, without a cache."""
    return subprocess.run(
        [sys.executable, "-m", "pip", *map(str, args), "--index-url", index_url, "--no-cache-dir"],
        env=installer_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def uv(
    *args: str | Path, index_url: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Real uv, from `index_url` only, without a cache."""
    return subprocess.run(
        [str(BIN / "uv"), *map(str, args), "--index-url", index_url, "--no-cache"],
        env=installer_env(),
        capture_output=True,
        text=True,
        input=input,
        timeout=300,
    )


def make_venv(path: Path) -> Path:
    """A throwaway environment without pip (installed into by `pip --python` / `uv pip`)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path / "bin" / "python"
