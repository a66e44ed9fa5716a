"""s3pypi 2.x's Python surface, as scripts and tests written against 2.x use it (with
`s3pypi_core` for `s3pypi`), and its lock table found wherever DynamoDB is."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from click.testing import Result

from s3pypi_core import S3PyPIError, __prog__
from s3pypi_core.__main__ import main as s3pypi
from s3pypi_core.index import Hash, Index
from s3pypi_core.locking import lock_id
from tests.conftest import REGION, Bucket
from tests.distributions import SampleProject

Run = Callable[..., Result]


def test_python_dash_m(tmp_path: Path) -> None:
    project = SampleProject("hello-world", tmp_path / "dist")
    index = tmp_path / "index"
    command = [sys.executable, "-m", "s3pypi_core"]

    version = subprocess.run([*command, "--version"], capture_output=True, text=True)
    upload = subprocess.run(
        [*command, "upload", project.wheel("1.0"), "--repository-url", index.as_uri()],
        capture_output=True,
        text=True,
    )

    assert version.returncode == 0
    assert version.stdout.startswith("s3pypi, version ")
    assert upload.returncode == 0, upload.stderr
    assert "Uploading " in upload.stderr
    assert (index / "hello-world" / "hello_world-1.0-py3-none-any.whl").is_file()


def test_main_returns_on_success_and_logs_as_2x_did(
    bucket: Bucket,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    SampleProject("foo", tmp_path / "dists").sdist("0.1.0")
    monkeypatch.chdir(tmp_path)
    dist = "dists/foo-0.1.0.tar.gz"
    caplog.set_level(logging.INFO, logger=__prog__)

    # Each call returns (a SystemExit would fail the test), as 2.x's main did.
    s3pypi("upload", dist, "--bucket", bucket.name)
    s3pypi("upload", dist, "--bucket", bucket.name)
    with pytest.raises(SystemExit) as failed:
        s3pypi("upload", dist, "--strict", "--bucket", bucket.name)
    s3pypi("upload", dist, "--force", "--bucket", bucket.name)

    assert failed.value.code not in (0, None)
    warning = "foo-0.1.0.tar.gz already exists! (use --force to overwrite)"
    uploading = (__prog__, logging.INFO, f"Uploading {dist}")
    records = [r for r in caplog.record_tuples if r[2].startswith(("Uploading", "foo-"))]
    assert records == [
        uploading,
        (__prog__, logging.WARNING, warning),
        (__prog__, logging.WARNING, warning),
        uploading,
    ]


def test_main_force_unlock_with_2x_arguments(bucket: Bucket) -> None:
    table = bucket.create_locks_table()
    dynamodb = boto3.resource("dynamodb", endpoint_url=bucket.endpoint, region_name=REGION)
    dynamodb.Table(table).put_item(Item={"LockID": "12345", "Owner": "someone"})

    s3pypi("force-unlock", table, "12345")  # returns

    assert "Item" not in dynamodb.Table(table).get_item(Key={"LockID": "12345"})


def test_2x_names_of_the_error_class() -> None:
    from s3pypi_core.core import S3PyPiError as FromCore
    from s3pypi_core.exceptions import S3PyPiError

    assert S3PyPiError is FromCore is S3PyPIError


def test_an_index_from_filenames_and_assigned_filenames() -> None:
    hashed = Hash("sha256", "12" * 32)
    index = Index({"foo-1.0.tar.gz": None, "foo-1.1.tar.gz": hashed})

    assert index.filenames == {"foo-1.0.tar.gz": None, "foo-1.1.tar.gz": hashed}
    assert 'href="foo-1.1.tar.gz#sha256=' in index.to_html()

    index.filenames = {"foo-1.1.tar.gz": hashed, "foo-2.0.tar.gz": None}

    assert dict(index.filenames) == {"foo-1.1.tar.gz": hashed, "foo-2.0.tar.gz": None}
    assert Index.parse(index.to_html()).filenames == index.filenames


def test_log_lines_reach_an_embedding_programs_handlers_once(tmp_path: Path) -> None:
    """2.x's __main__ called logging.basicConfig(): a program that configures logging itself
    sees our lines through its own handler, once."""
    project = SampleProject("hello-world", tmp_path / "dist")
    script = (
        "import logging, sys\n"
        "logging.basicConfig(format='ROOT %(name)s %(levelname)s %(message)s')\n"
        "from s3pypi_core.__main__ import main\n"
        f"main('upload', {str(project.wheel('1.0'))!r}, '--repository-url', "
        f"{(tmp_path / 'index').as_uri()!r})\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "Uploading" in line]
    assert len(lines) == 1
    assert lines[0].startswith("ROOT s3pypi INFO Uploading ")


def test_the_default_lock_table_is_found_at_a_configured_dynamodb_endpoint(
    run: Run, bucket: Bucket, dist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 at a custom endpoint (`--s3-endpoint-url`), DynamoDB where AWS_ENDPOINT_URL_DYNAMODB
    says: the BUCKET-locks table 2.x uses is looked up there, so both lock on one table."""
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", bucket.endpoint)
    table = bucket.create_locks_table()
    dynamodb = boto3.resource("dynamodb", endpoint_url=bucket.endpoint, region_name=REGION)
    # A 2.x publisher holds the project's lock.
    dynamodb.Table(table).put_item(
        Item={
            "LockID": lock_id("hello-world"),
            "Owner": "ci@2x",
            "AcquiredAt": datetime.now(timezone.utc).isoformat(),
        }
    )

    args = ("--bucket", bucket.name, "--s3-endpoint-url", bucket.endpoint, "--lock-timeout", "0")
    result = run("upload", dist_dir / "*", *args)

    assert result.exit_code == 1
    assert "held by ci@2x since" in result.stderr
    assert f"s3pypi force-unlock {table} {lock_id('hello-world')}" in result.stderr
    assert bucket.keys() == []
