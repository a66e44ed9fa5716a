"""Real, small distributions for the benchmark: the test suite's own builder
(`tests.distributions`), which writes them directly, with no build backend."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.distributions import SampleProject

REQUIRES_PYTHON = ">=3.8"


def wheel_bytes(name: str, version: str, payload: bytes = b"") -> tuple[str, bytes]:
    """The filename and content of a pure-Python wheel of `name` `version`."""
    with tempfile.TemporaryDirectory(prefix="s3pypi-bench-") as tmp:
        path = SampleProject(name, Path(tmp)).wheel(
            version, requires_python=REQUIRES_PYTHON, payload=payload
        )
        return path.name, path.read_bytes()


def sdist_bytes(name: str, version: str) -> tuple[str, bytes]:
    """The filename and content of a `.tar.gz` sdist with static metadata (PEP 643)."""
    with tempfile.TemporaryDirectory(prefix="s3pypi-bench-") as tmp:
        path = SampleProject(name, Path(tmp)).sdist(version, requires_python=REQUIRES_PYTHON)
        return path.name, path.read_bytes()


def write_release(directory: Path, name: str, version: str) -> list[Path]:
    """A wheel and an sdist (static metadata, PEP 643) of one version, written into `directory`."""
    project = SampleProject(name, directory)
    return [
        project.wheel(version, requires_python=REQUIRES_PYTHON),
        project.sdist(version, requires_python=REQUIRES_PYTHON),
    ]


def write_large_wheel(directory: Path, name: str, version: str, size: int) -> Path:
    """A valid wheel of about `size` bytes that takes almost no disk space.

    Zip readers find an archive from its end, so data before it is ignored: the file is a
    sparse hole of `size` zero bytes followed by a small wheel. Both tools read every byte of
    it (to hash and upload it) as they would a real large wheel's.
    """
    filename, data = wheel_bytes(name, version)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    with open(path, "wb") as f:
        f.truncate(size)
        f.seek(size)
        f.write(data)
    return path
