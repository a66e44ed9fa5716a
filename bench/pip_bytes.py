"""Scenario 5: what pip downloads to resolve a dozen real wheels from each tool's index.

Each tool publishes the same wheels (flask and requests with their dependencies, downloaded
once from PyPI into bench/.cache/) to a bucket of its own; a static HTTP front then serves each
bucket as CloudFront would (`servers.index_front`: `/NAME/` is the object `NAME/`; for our
index, `Accept: application/vnd.pypi.simple.v1+json` gets `NAME/index.json` by
`s3pypi_core.routing`). `pip install --dry-run` resolves against it, and the front counts what
it served. With 2.x's index pip must download every wheel to read its metadata; with ours it
reads the JSON pages and the PEP 658 `.metadata` files only.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.dists import wheel_bytes
from bench.servers import Traffic, index_front
from bench.tools import CACHE, pip_client, run

if TYPE_CHECKING:
    from bench.run import Bench

# `pip download flask requests` on 2026-11-25, pinned so every run resolves the same files.
WHEELS = (
    "blinker==1.9.0",
    "certifi==2026.10.19.post1",
    "charset-normalizer==3.5.3",
    "click==8.5.1",
    "flask==3.1.3",
    "idna==3.20",
    "itsdangerous==2.2.0",
    "jinja2==3.1.6",
    "markupsafe==3.0.4",
    "requests==2.34.2",
    "urllib3==2.8.0",
    "werkzeug==3.1.9",
)
REQUIREMENTS = ("flask", "requests")
SMOKE_PROJECTS = ("smoke-a", "smoke-b", "smoke-c")


@dataclass(frozen=True)
class Fetched:
    requirements: tuple[str, ...]
    wheels: int
    theirs: Traffic
    ours: Traffic


def _pip_env() -> dict[str, str]:
    return {**os.environ, "PIP_CONFIG_FILE": "/dev/null", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def real_wheels(python: Path) -> list[Path]:
    """The dozen wheels, downloaded once (for this platform) into bench/.cache/."""
    directory = CACHE / "pip-bytes-wheels"  # not metadata_bytes.py's "wheels": another set
    marker = directory / ".complete"
    if not marker.exists():
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--only-binary=:all:",
                "--index-url",
                "https://pypi.org/simple",
                "-d",
                str(directory),
                *WHEELS,
            ],
            check=True,
            env=_pip_env(),
        )
        marker.touch()
    return sorted(directory.glob("*.whl"))


def smoke_wheels(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in SMOKE_PROJECTS:
        filename, data = wheel_bytes(name, "1.0.0")
        (directory / filename).write_bytes(data)
        paths.append(directory / filename)
    return paths


def measure(bench: Bench, *, smoke: bool) -> Fetched:
    python = pip_client()
    wheels = smoke_wheels(bench.workdir / "pip-smoke") if smoke else real_wheels(python)
    requirements = SMOKE_PROJECTS if smoke else REQUIREMENTS
    traffic = {}
    theirs_tool, ours_tool = bench.tools
    for tool in bench.tools:
        bucket = bench.new_bucket()
        bench.measure(tool, "upload", *wheels, "--bucket", bucket, "--put-root-index")
        with index_front(bench.s3, bucket, json_pages=tool is ours_tool) as front:
            run(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "--dry-run",
                    "--no-cache-dir",
                    "-q",
                    "--index-url",
                    front.url + "/",
                    *requirements,
                ],
                _pip_env(),
            )
            traffic[tool] = front.take()
        bench.empty(bucket)
    return Fetched(requirements, len(wheels), traffic[theirs_tool], traffic[ours_tool])
