"""The index a mirror copies from: resolving against it with uv, reading its pages, and
downloading its files with their hashes checked.

uv resolves (`uv pip compile --format pylock.toml`), once per target environment: it evaluates
environment markers for the target's Python and platform (pip's `--python-version` only picks
wheels, and still evaluates markers for the running interpreter), takes sdists where no wheel
fits, honours `--exclude-newer` (the cool-down), and writes a PEP 751 lock with the URL and the
upstream's hash of each chosen file.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from http.client import HTTPResponse
from pathlib import Path
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name

from s3pypi_core import __prog__, __version__
from s3pypi_core.distribution import parse_filename
from s3pypi_core.exceptions import InvalidDistribution, OptionError, S3PyPIError, UpstreamError
from s3pypi_core.index import Hash, Index, parse_upload_time

log = logging.getLogger(__prog__)

PYPI = "https://pypi.org/simple/"
TIMEOUT = 60.0
"""Seconds without an answer before a request to the upstream fails."""
MAX_PAGE_SIZE = 256 * 1024 * 1024
"""Larger project pages are refused (PyPI's largest JSON pages are a few MB)."""
_CHUNK = 1024 * 1024
_ACCEPT_PAGE = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01"
)
# The uv settings of this environment that may stay: where its cache is and how it connects.
# Every other UV_* variable (extra indexes, find-links, constraints, exclude-newer ...) would
# change what is resolved, so it is left out, as are config files (`--no-config`).
_UV_KEPT = (
    "UV_CACHE_DIR",
    "UV_NO_CACHE",
    "UV_NATIVE_TLS",
    "UV_HTTP_TIMEOUT",
    "UV_CONCURRENT_DOWNLOADS",
    "UV_CONCURRENT_BUILDS",
    "UV_INSECURE_HOST",
)

ProgressCallback = Callable[[int], None]


class _Unreachable(UpstreamError):
    """No answer at all (refused, unknown host, timed out), as opposed to an HTTP error."""


@dataclass(frozen=True)
class Target:
    """One environment to mirror for: a Python version and a platform (None: this machine's)."""

    python_version: str | None = None
    platform: str | None = None
    """A wheel platform tag (`manylinux_2_17_x86_64`, `win_amd64`, `macosx_11_0_arm64`) or
    one of uv's platform names (`linux`, `x86_64-pc-windows-msvc`, ...)."""

    def __str__(self) -> str:
        python = f"Python {self.python_version}" if self.python_version else "this Python"
        return f"{python} on {self.platform or 'this platform'}"


def parse_python_version(value: str) -> str:
    if not re.fullmatch(r"3\.\d{1,2}", value):
        raise OptionError(f"--python-version: expected X.Y (e.g. 3.12), got {value!r}")
    return value


_UV_PLATFORM_NAMES = re.compile(r"linux|windows|macos|[a-z0-9_]+-[a-z0-9_.-]+")
_ARCHES = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}


def uv_platform(tag: str) -> tuple[str, dict[str, str]]:
    """uv's `--python-platform` for a wheel platform tag, and the environment it needs (the
    macOS version a `macosx_X_Y_ARCH` tag names)."""
    if _UV_PLATFORM_NAMES.fullmatch(tag):
        return tag, {}
    if match := re.fullmatch(r"manylinux_(\d+)_(\d+)_(x86_64|aarch64)", tag):
        return f"{match[3]}-manylinux_{match[1]}_{match[2]}", {}
    if match := re.fullmatch(r"manylinux2014_(x86_64|aarch64)", tag):
        return f"{match[1]}-manylinux2014", {}
    if match := re.fullmatch(r"musllinux_\d+_\d+_(x86_64|aarch64)", tag):
        return f"{match[1]}-unknown-linux-musl", {}
    if match := re.fullmatch(r"linux_(x86_64|aarch64)", tag):
        return f"{match[1]}-unknown-linux-gnu", {}
    windows = {"win_amd64": "x86_64", "win32": "i686", "win_arm64": "aarch64"}
    if tag in windows:
        return f"{windows[tag]}-pc-windows-msvc", {}
    if match := re.fullmatch(r"macosx_(\d+)_(\d+)_(x86_64|arm64|universal2)", tag):
        arch = "aarch64" if match[3] in ("arm64", "universal2") else "x86_64"
        return f"{arch}-apple-darwin", {"MACOSX_DEPLOYMENT_TARGET": f"{match[1]}.{match[2]}"}
    raise OptionError(
        f"--platform: unknown platform tag {tag!r} (e.g. manylinux_2_17_x86_64, "
        "musllinux_1_2_x86_64, win_amd64, macosx_11_0_arm64)"
    )


@dataclass(frozen=True)
class UpstreamFile:
    """One file the resolver chose, as the upstream names it."""

    project: NormalizedName
    version: str
    filename: str
    url: str
    hash: Hash
    """The upstream's hash (sha256 when it gives one)."""
    size: int | None = None
    upload_time: datetime | None = None

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")


def redact(url: str) -> str:
    """`url` without a password, for messages and pages."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def find_uv() -> str:
    """The uv executable: the one `s3pypi[mirror]` installs, else the first on PATH."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("uv")
    if found is None:
        raise S3PyPIError(
            "s3pypi mirror resolves with uv, which is not installed: "
            "pip install 's3pypi[mirror]' (or put uv on PATH)"
        )
    return found


def load_toml(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover (Python 3.10)
        try:
            import tomli as tomllib
        except ImportError:
            raise S3PyPIError(
                "s3pypi mirror needs tomli on Python 3.10: pip install 's3pypi[mirror]'"
            ) from None
    data: dict[str, Any] = tomllib.loads(text)
    return data


class Upstream:
    """An index served over HTTP(S) (or a `file://` directory) that files are copied from."""

    def __init__(self, url: str, *, timeout: float = TIMEOUT) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https", "file") or (
            parts.scheme != "file" and not parts.hostname
        ):
            raise OptionError(f"--upstream: not an http(s):// or file:// URL: {url!r}")
        self.url = url if url.endswith("/") else url + "/"
        self.display = redact(self.url)
        self.timeout = timeout
        self._host = (parts.hostname, parts.port)
        self._authorization: str | None = None
        if parts.username is not None:
            user = urllib.parse.unquote(parts.username)
            password = urllib.parse.unquote(parts.password or "")
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self._authorization = f"Basic {token}"

    # HTTP

    @contextmanager
    def _open(
        self, url: str, *, accept: str | None = None, method: str = "GET"
    ) -> Iterator[HTTPResponse]:
        """A response to read, or `UpstreamError` saying in one line why there is none."""
        parts = urllib.parse.urlsplit(url)
        headers = {"User-Agent": f"{__prog__}/{__version__} (mirror)"}
        if accept:
            headers["Accept"] = accept
        # The credentials of the upstream URL go to its host only (files may live elsewhere).
        if self._authorization and (parts.hostname, parts.port) == self._host:
            headers["Authorization"] = self._authorization
        request = urllib.request.Request(redact(url), headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                yield response
        except urllib.error.HTTPError as e:
            raise UpstreamError(f"{redact(url)}: HTTP {e.code} {e.reason}") from None
        except urllib.error.URLError as e:
            reason = getattr(e.reason, "strerror", None) or e.reason
            raise _Unreachable(f"cannot reach {redact(url)}: {reason}") from None
        except (OSError, ValueError) as e:
            raise UpstreamError(f"cannot read {redact(url)}: {e}") from None

    def check_reachable(self) -> None:
        """Fail early, in one line, when the upstream does not answer at all."""
        if self.url.startswith("file:"):
            path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(self.url).path))
            if not path.is_dir():
                raise UpstreamError(f"cannot reach {self.display}: no such directory")
            return
        try:
            with self._open(self.url, method="HEAD"):
                pass
        except _Unreachable:
            raise
        except UpstreamError:
            pass  # it answers (if only with an HTTP error, e.g. 405 for HEAD): it is there

    def project_page(self, project: str) -> Index:
        """The upstream's page of a project (PEP 691 JSON when served, else PEP 503 HTML)."""
        url = urllib.parse.urljoin(self.url, f"{project}/")
        if url.startswith("file:"):
            url += "index.html"
        with self._open(url, accept=_ACCEPT_PAGE) as response:
            body = response.read(MAX_PAGE_SIZE + 1)
            content_type = response.headers.get("Content-Type", "")
        if len(body) > MAX_PAGE_SIZE:
            raise UpstreamError(f"{redact(url)}: page larger than {MAX_PAGE_SIZE} bytes")
        try:
            if "json" in content_type:
                return Index.from_json(body)
            return Index.parse(body.decode("utf-8", "replace"))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise UpstreamError(f"{redact(url)}: not a valid project page ({e})") from None

    def size_of(self, file: UpstreamFile) -> int | None:
        """The size of a file the pages do not give, from its Content-Length."""
        with self._open(file.url, method="HEAD") as response:
            length = response.headers.get("Content-Length")
        return int(length) if length and length.isdigit() else None

    def download(
        self,
        file: UpstreamFile,
        directory: Path,
        on_progress: ProgressCallback | None = None,
        *,
        on_start: Callable[[int | None], None] | None = None,
    ) -> Path:
        """Stream a file into `directory`, checking its size and the upstream's hash.

        `on_start` is called with the size (the page's, else the Content-Length) once the
        upstream answers, `on_progress` with the bytes of each chunk received.
        """
        target = directory / file.filename
        digest = hashlib.new(file.hash.name)
        received = 0
        with self._open(file.url) as response, open(target, "wb") as out:
            limit = file.size
            if limit is None and (length := response.headers.get("Content-Length")):
                limit = int(length) if length.isdigit() else None
            if on_start:
                on_start(limit)
            while chunk := response.read(_CHUNK):
                received += len(chunk)
                if limit is not None and received > limit:
                    raise UpstreamError(
                        f"{file.filename} from {redact(file.url)} is larger than the "
                        f"{limit} bytes announced"
                    )
                digest.update(chunk)
                out.write(chunk)
                if on_progress:
                    on_progress(len(chunk))
        if digest.hexdigest() != file.hash.value:
            raise UpstreamError(
                f"hash mismatch for {file.filename} from {redact(file.url)}: the upstream "
                f"says {file.hash}, the file has {file.hash.name}={digest.hexdigest()}"
            )
        if file.size is not None and received != file.size:
            raise UpstreamError(
                f"{file.filename} from {redact(file.url)} has {received} bytes, "
                f"not the {file.size} announced"
            )
        return target

    def metadata(self, file: UpstreamFile, expected: Hash, max_size: int) -> bytes:
        """The file's PEP 658 metadata file, checked against the hash its page gives."""
        url = file.url.partition("#")[0] + ".metadata"
        with self._open(url) as response:
            body = response.read(max_size + 1)
        if len(body) > max_size:
            raise UpstreamError(f"{redact(url)}: metadata larger than {max_size} bytes")
        try:
            actual = hashlib.new(expected.name, body).hexdigest()
        except ValueError:
            raise UpstreamError(f"{redact(url)}: unknown hash {expected.name}") from None
        if actual != expected.value:
            raise UpstreamError(
                f"hash mismatch for {file.filename}.metadata from {redact(url)}: the upstream "
                f"says {expected}, the file has {expected.name}={actual}"
            )
        return body

    # Resolving

    def resolve(
        self,
        requirement_files: Iterable[Path],
        target: Target,
        *,
        exclude_newer: datetime | None = None,
    ) -> list[UpstreamFile]:
        """The files of the closure of the requirements for one target, as uv chooses them."""
        uv = find_uv()
        with tempfile.TemporaryDirectory(prefix="s3pypi-resolve-") as tmp:
            lock = Path(tmp) / "pylock.toml"
            command = [
                uv, "pip", "compile", *map(str, requirement_files),
                "--output-file", str(lock), "--format", "pylock.toml",
                "--index-url", self.url, "--no-config", "--no-python-downloads",
                "--python", sys.executable, "--no-header", "--color", "never", "--no-progress",
            ]  # fmt: skip
            env = {k: v for k, v in os.environ.items() if not k.startswith("UV_")}
            env.update({k: os.environ[k] for k in _UV_KEPT if k in os.environ})
            if target.python_version:
                command += ["--python-version", target.python_version]
            if target.platform:
                platform, platform_env = uv_platform(target.platform)
                command += ["--python-platform", platform]
                env.update(platform_env)
            if exclude_newer:
                command += ["--exclude-newer", exclude_newer.strftime("%Y-%m-%dT%H:%M:%SZ")]
            log.debug("Resolving for %s: %s", target, " ".join(map(redact, command)))
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
            )
            log.debug("%s", done.stderr.strip())
            undated = re.findall(r"`([^`]+)` is missing an upload date", done.stderr)
            if done.returncode != 0:
                if exclude_newer and undated:
                    raise UpstreamError(
                        f"--min-age needs the upload time of every file (PEP 700), and "
                        f"{self.display} gives none (e.g. for {undated[0]}): mirror from an "
                        "index that serves them (PyPI does), or without --min-age"
                    )
                raise UpstreamError(
                    f"cannot resolve against {self.display} for {target}: {_uv_error(done.stderr)}"
                )
            if undated:
                log.warning(
                    "--min-age: %s gives no upload time for %d file(s), left out as too new: %s",
                    self.display,
                    len(undated),
                    ", ".join(sorted(set(undated))),
                )
            return self._files_of(lock.read_text())

    def _files_of(self, pylock: str) -> list[UpstreamFile]:
        """The wheels uv chose for the target, or the sdist where no wheel fits."""
        files = []
        for package in load_toml(pylock).get("packages", []):
            name = canonicalize_name(package["name"])
            if "index" in package or "wheels" in package or "sdist" in package:
                entries = list(package.get("wheels") or [])
                if not entries and package.get("sdist"):
                    entries = [package["sdist"]]
            else:
                entries = []
            if not entries:
                raise UpstreamError(
                    f"{name} does not come from {self.display} (a URL, path or VCS "
                    "requirement): only packages of the upstream index can be mirrored"
                )
            files += [self._file(name, str(package.get("version", "")), e) for e in entries]
        return files

    def _file(self, project: NormalizedName, version: str, entry: dict[str, Any]) -> UpstreamFile:
        url = entry.get("url")
        if not isinstance(url, str):
            raise UpstreamError(f"{project} {version}: the resolver gave no URL for a file")
        filename = entry.get("name") or urllib.parse.unquote(
            urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1]
        )
        try:
            file_project, _file_version = parse_filename(filename)
        except InvalidDistribution as e:
            raise UpstreamError(f"{redact(url)}: {e}") from None
        if file_project != project:
            raise UpstreamError(f"{redact(url)}: {filename} is not a file of {project}")
        hashes = entry.get("hashes") or {}
        name = (
            "sha256"
            if "sha256" in hashes
            else next((n for n in sorted(hashes) if n in hashlib.algorithms_guaranteed), None)
        )
        if name is None:
            raise UpstreamError(
                f"{self.display} gives no usable hash for {filename}: refusing to copy a file "
                "that cannot be checked"
            )
        upload_time = entry.get("upload-time")
        if isinstance(upload_time, str):
            upload_time = parse_upload_time(upload_time)
        elif isinstance(upload_time, datetime) and upload_time.tzinfo is None:
            upload_time = upload_time.replace(tzinfo=timezone.utc)
        size = entry.get("size")
        return UpstreamFile(
            project=project,
            version=version,
            filename=filename,
            url=urllib.parse.urljoin(self.url, url),
            hash=Hash(name, str(hashes[name]).lower()),
            size=size if isinstance(size, int) else None,
            upload_time=upload_time if isinstance(upload_time, datetime) else None,
        )


def _uv_error(stderr: str) -> str:
    """uv's error and its causes, without warnings and hints (made one line by the caller)."""
    lines = stderr.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("error:")), None)
    if start is None:
        return " ".join(stderr.split()) or "uv failed without saying why"
    kept = []
    for line in lines[start:]:
        if line.startswith("hint:"):
            break
        text = line.strip().removeprefix("error:").removeprefix("cause:").strip()
        if text:
            kept.append(text)
    return ": ".join([kept[0], " ".join(kept[1:])]) if len(kept) > 1 else "".join(kept)
