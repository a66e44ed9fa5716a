"""S3Storage.put_file: a small file is one PutObject, a large one a multipart upload; both
create only when asked to, and report their progress."""

from __future__ import annotations

from pathlib import Path

import pytest

from s3pypi_core.exceptions import WriteConflict
from s3pypi_core.storage import MULTIPART_THRESHOLD, S3Config, S3Storage
from tests.conftest import Bucket


def _file(path: Path, size: int, fill: bytes) -> Path:
    path.write_bytes(fill * size)
    return path


@pytest.mark.parametrize("size", [10, MULTIPART_THRESHOLD + 1], ids=["small", "multipart"])
def test_put_file_creates_only_when_asked(bucket: Bucket, tmp_path: Path, size: int) -> None:
    storage = S3Storage(S3Config(bucket=bucket.name))
    first = _file(tmp_path / "first", size, b"a")
    second = _file(tmp_path / "second", size, b"b")
    progress: list[int] = []

    def put(path: Path, overwrite: bool) -> None:
        storage.put_file(
            "p/f.whl",
            path,
            content_type="application/zip",
            cache_control="max-age=1",
            overwrite=overwrite,
            on_progress=progress.append,
        )

    put(first, overwrite=False)
    assert sum(progress) == size
    with pytest.raises(WriteConflict):
        put(second, overwrite=False)
    assert bucket.read("p/f.whl") == first.read_bytes()

    put(second, overwrite=True)
    assert bucket.read("p/f.whl") == second.read_bytes()
    head = bucket.head("p/f.whl")
    assert (head["ContentType"], head["CacheControl"]) == ("application/zip", "max-age=1")
