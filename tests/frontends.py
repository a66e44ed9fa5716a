"""Helpers for the front-end tests: what `s3pypi upload` writes, to compare the front ends with."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest

from tests.conftest import REGION, Bucket


def new_bucket(endpoint: str) -> Bucket:
    """Another bucket, e.g. for what `s3pypi upload` writes, to compare a front end with."""
    name = f"ref-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name=REGION).create_bucket(Bucket=name)
    return Bucket(name, endpoint)


def contents(bucket: Bucket) -> dict[str, Any]:
    """Every object, with the upload times (which differ between two uploads) left out of the
    JSON pages and of PyPI's JSON documents (`NAME/json`, `NAME/VERSION/json`)."""
    found: dict[str, Any] = {}
    for key, body in bucket.snapshot().items():
        found[key] = _without_upload_times(json.loads(body)) if key.endswith("json") else body
    return found


def _without_upload_times(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            key: _without_upload_times(value)
            for key, value in data.items()
            if not key.startswith(("upload-time", "upload_time"))
        }
    if isinstance(data, list):
        return [_without_upload_times(item) for item in data]
    return data


def stored_metadata(bucket: Bucket) -> dict[str, tuple[str, str]]:
    """Content-Type and Cache-Control of every object."""
    return {
        key: (head["ContentType"], head.get("CacheControl", ""))
        for key in bucket.keys()
        for head in [bucket.head(key)]
    }


@pytest.fixture(autouse=True)
def bytecode_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Let the console scripts run here cache their bytecode, in a temporary directory.

    With PYTHONDONTWRITEBYTECODE set (as on CI machines), every subprocess compiles boto3,
    rich and twine again: a second or more each. A prefix keeps the caches out of the source
    tree and the virtual environment.
    """
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(tmp_path_factory.getbasetemp() / "pycache"))
