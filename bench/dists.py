"""Real, small distributions for the benchmark, written directly (no build backend needed)."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path


def _metadata(name: str, version: str, metadata_version: str) -> bytes:
    return (
        f"Metadata-Version: {metadata_version}\nName: {name}\nVersion: {version}\n"
        "Summary: A benchmark project\nRequires-Python: >=3.8\n"
    ).encode()


def _dist_name(name: str) -> str:
    return name.replace("-", "_").replace(".", "_")


def wheel_bytes(name: str, version: str, payload: bytes = b"") -> tuple[str, bytes]:
    """The filename and content of a pure-Python wheel of `name` `version`."""
    dist = _dist_name(name)
    dist_info = f"{dist}-{version}.dist-info"
    files = {
        f"{dist.lower()}/__init__.py": f"VERSION = {version!r}\n".encode() + payload,
        f"{dist_info}/METADATA": _metadata(name, version, "2.1"),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: s3pypi-bench\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = "".join(
        f"{path},sha256={_b64(hashlib.sha256(data).digest())},{len(data)}\n"
        for path, data in files.items()
    )
    files[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(zipfile.ZipInfo(path, (2020, 1, 1, 0, 0, 0)), data)
    return f"{dist}-{version}-py3-none-any.whl", out.getvalue()


def sdist_bytes(name: str, version: str) -> tuple[str, bytes]:
    """The filename and content of a `.tar.gz` sdist with static metadata (PEP 643)."""
    base = f"{_dist_name(name)}-{version}"
    members = {
        f"{base}/PKG-INFO": _metadata(name, version, "2.2"),
        f"{base}/pyproject.toml": (
            f'[project]\nname = "{name}"\nversion = "{version}"\n'
            '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        ).encode(),
        f"{base}/{_dist_name(name).lower()}/__init__.py": f"VERSION = {version!r}\n".encode(),
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for path, data in members.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 1577836800
            archive.addfile(info, io.BytesIO(data))
    return f"{base}.tar.gz", out.getvalue()


def write_release(directory: Path, name: str, version: str) -> list[Path]:
    """A wheel and an sdist of one version, written into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for filename, data in (wheel_bytes(name, version), sdist_bytes(name, version)):
        path = directory / filename
        path.write_bytes(data)
        paths.append(path)
    return paths


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


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
