"""The seed's `python scripts/migrate-s3-index.py my-pypi-bucket`: `NAME/index.html` pages
become `NAME/` pages, nothing is lost, and the old pages go only when the user says yes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from s3pypi_core.index import Index
from tests.conftest import Bucket

SCRIPT = Path(__file__).parent.parent / "scripts" / "migrate-s3-index.py"
Run = Callable[..., Result]


def migrate(*args: str, answer: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], input=answer, capture_output=True, text=True
    )


@pytest.mark.parametrize("prefix", [None, "packages"])
def test_index_html_pages_move_to_directory_keys(
    run: Run, bucket: Bucket, dist_dir: Path, prefix: str | None
) -> None:
    where = ("--bucket", bucket.name, *(("--prefix", prefix) if prefix else ()))
    run("upload", f"{dist_dir}/*", *where, "--index.html", "--put-root-index")
    base = f"{prefix}/" if prefix else ""
    old_page = Index.parse(bucket.text(f"{base}hello-world/index.html"))

    result = migrate(bucket.name, *(("--prefix", prefix) if prefix else ()), "--yes")

    assert result.returncode == 0, result.stderr
    keys = bucket.keys()
    assert f"{base}hello-world/index.html" not in keys
    new_page = Index.parse(bucket.text(f"{base}hello-world/"))
    assert new_page.filenames == old_page.filenames
    root = f"{prefix}/" if prefix else "index.html"
    assert "hello-world/" in bucket.text(root)
    assert (f"{prefix}/index.html" not in keys) if prefix else ("index.html" in keys)
    assert run("verify", *where).exit_code == 0


def test_old_pages_stay_unless_confirmed(run: Run, bucket: Bucket, dist_dir: Path) -> None:
    run("upload", f"{dist_dir}/*", "--bucket", bucket.name, "--index.html")

    result = migrate(bucket.name, answer="no\n")

    assert result.returncode == 0, result.stderr
    assert "Delete the old pages listed above?" in result.stdout
    assert "Kept the old pages." in result.stdout
    assert {"hello-world/", "hello-world/index.html"} <= set(bucket.keys())


def test_nothing_to_migrate(run: Run, bucket: Bucket, dist_dir: Path) -> None:
    run("upload", f"{dist_dir}/*", "--bucket", bucket.name)

    result = migrate(bucket.name)

    assert result.returncode == 0
    assert result.stdout == "No `NAME/index.html` pages found. Nothing to migrate.\n"


def test_missing_bucket_is_one_line(moto_endpoint: str) -> None:
    result = migrate("no-such-bucket-here", "--yes")

    assert result.returncode == 1
    assert result.stderr == "migrate-s3-index: error: bucket does not exist: no-such-bucket-here\n"
