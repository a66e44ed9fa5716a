"""Real distribution files for tests, written directly (fast, deterministic, installable)."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


def core_metadata(
    name: str,
    version: str,
    *,
    metadata_version: str = "2.1",
    requires_python: str | None = None,
    requires: Sequence[str] = (),
    dynamic: Sequence[str] = (),
    summary: str = "A sample project",
    description: str = "",
) -> str:
    lines = [
        f"Metadata-Version: {metadata_version}",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: {summary}",
    ]
    lines += [f"Dynamic: {field}" for field in dynamic]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {req}" for req in requires]
    text = "\n".join(lines) + "\n"
    if description:
        text += "Description-Content-Type: text/x-rst\n\n" + description
    return text


@dataclass
class SampleProject:
    """Writes wheels and sdists of one project into `root`."""

    name: str
    root: Path

    @property
    def module(self) -> str:
        return self.name.replace("-", "_").replace(".", "_").lower()

    def _path(self, filename: str) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root / filename

    def wheel(
        self,
        version: str,
        *,
        requires_python: str | None = None,
        requires: Sequence[str] = (),
        filename: str | None = None,
        metadata: str | None = None,
        payload: bytes = b"",
        description: str = "",
    ) -> Path:
        dist = self.name.replace("-", "_").replace(".", "_")
        path = self._path(filename or f"{dist}-{version}-py3-none-any.whl")
        dist_info = f"{dist}-{version}.dist-info"
        files = {
            f"{self.module}/__init__.py": f"VERSION = {version!r}\n".encode() + payload,
            f"{dist_info}/METADATA": (
                metadata
                or core_metadata(
                    self.name,
                    version,
                    requires_python=requires_python,
                    requires=requires,
                    description=description,
                )
            ).encode(),
            f"{dist_info}/WHEEL": (
                b"Wheel-Version: 1.0\nGenerator: s3pypi-tests\nRoot-Is-Purelib: true\n"
                b"Tag: py3-none-any\n"
            ),
        }
        record = "".join(
            f"{name},sha256={_b64(hashlib.sha256(data).digest())},{len(data)}\n"
            for name, data in files.items()
        )
        files[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in files.items():
                archive.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data)
        return path

    def sdist(
        self,
        version: str,
        *,
        extension: str = ".tar.gz",
        metadata_version: str = "2.2",
        dynamic: Sequence[str] = (),
        requires_python: str | None = None,
        filename: str | None = None,
        payload: bytes = b"",
    ) -> Path:
        base = f"{self.name.replace('-', '_').replace('.', '_')}-{version}"
        path = self._path(filename or base + extension)
        pkg_info = core_metadata(
            self.name,
            version,
            metadata_version=metadata_version,
            dynamic=dynamic,
            requires_python=requires_python,
        ).encode()
        pyproject = (
            f'[project]\nname = "{self.name}"\nversion = "{version}"\n'
            '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        ).encode()
        members = {
            f"{base}/PKG-INFO": pkg_info,
            f"{base}/pyproject.toml": pyproject,
            f"{base}/{self.module}/__init__.py": f"VERSION = {version!r}\n".encode() + payload,
        }
        if extension == ".zip":
            with zipfile.ZipFile(path, "w") as archive:
                for name, data in members.items():
                    archive.writestr(name, data)
        else:
            mode = {".tar.gz": "w:gz", ".tar.bz2": "w:bz2", ".tar.xz": "w:xz"}[extension]
            with tarfile.open(path, mode) as archive:  # type: ignore[call-overload]
                for name, data in members.items():
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    info.mtime = 1577836800
                    archive.addfile(info, io.BytesIO(data))
        return path


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
