"""Upload requests as clients send them (PyPI's legacy upload API), built by hand so that a test
can also send what no client would: damaged bodies, lying digests, missing parts."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import secrets
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tests.conftest import Bucket


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def upload_fields(path: Path, **overrides: str | None) -> list[tuple[str, str]]:
    """The form twine sends for `path` (metadata, action, digests); `None` drops a field."""
    data = path.read_bytes()
    name, version = path.name.split("-")[:2]
    fields = {
        "name": name.replace("_", "-"),
        "version": version.removesuffix(".tar.gz").removesuffix(".zip"),
        "filetype": "bdist_wheel" if path.suffix == ".whl" else "sdist",
        "pyversion": "py3" if path.suffix == ".whl" else "source",
        "metadata_version": "2.1",
        "summary": "A sample",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
        "blake2_256_digest": hashlib.blake2b(data, digest_size=32).hexdigest(),
        ":action": "file_upload",
        "protocol_version": "1",
    }
    fields.update(overrides)  # type: ignore[arg-type]
    return [(k, v) for k, v in fields.items() if v is not None]


def multipart(
    fields: Iterable[tuple[str, str]],
    files: Iterable[tuple[str, str, bytes]] = (),
    boundary: str | None = None,
) -> tuple[str, bytes]:
    """(Content-Type, body) of a multipart/form-data form: `files` are (field, filename,
    content) parts, after the fields (as twine orders them)."""
    boundary = boundary or secrets.token_hex(16)
    body = b""
    for name, value in fields:
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    for name, filename, content in files:
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    body += f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


def post(
    url: str,
    path: str,
    body: bytes | BinaryIO,
    headers: dict[str, str],
    *,
    timeout: float = 60,
) -> Answer:
    """One POST on a new connection; `path` is relative to the server's origin."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return Answer(
            response.status,
            response.reason,
            {k.lower(): v for k, v in response.getheaders()},
            response.read(),
        )
    finally:
        connection.close()


def upload(
    url: str,
    dist: Path,
    *,
    auth: str | None = None,
    path: str = "/legacy/",
    filename: str | None = None,
    **overrides: str | None,
) -> Answer:
    """POST `dist` as twine does (a fresh connection each time)."""
    content_type, body = multipart(
        upload_fields(dist, **overrides), [("content", filename or dist.name, dist.read_bytes())]
    )
    headers = {"Content-Type": content_type}
    if auth:
        headers["Authorization"] = auth
    return post(url, path, body, headers)


def project_records(bucket_or_dir: Bucket | Path, project: str) -> dict[str, dict[str, object]]:
    """The files of a project's JSON page, without their upload times."""
    key = f"{project}/index.json"
    raw = (
        bucket_or_dir.read(key)
        if isinstance(bucket_or_dir, Bucket)
        else ((bucket_or_dir / key).read_bytes())
    )
    files = json.loads(raw)["files"]
    return {f["filename"]: {k: v for k, v in f.items() if k != "upload-time"} for f in files}
