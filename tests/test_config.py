"""`Config.from_options`: the one place where every front end's options are checked."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from s3pypi_core import Config, OptionError, upload_packages
from s3pypi_core.locking import DEFAULT_TIMEOUT
from s3pypi_core.storage import S3Config
from tests.conftest import run_console_script
from tests.distributions import SampleProject

Run = Callable[..., Result]


def test_a_bucket_with_every_option() -> None:
    cfg = Config.from_options(
        bucket="my-pypi-bucket",
        prefix="/packages/",
        profile="production",
        region="eu-west-1",
        endpoint_url="http://localhost:9000",
        put_args={"ServerSideEncryption": "aws:kms"},
        index_html=True,
        locks_table="my-locks",
        lock_timeout=5,
    )

    assert cfg.s3 == S3Config(
        bucket="my-pypi-bucket",
        prefix="packages",
        profile="production",
        region="eu-west-1",
        endpoint_url="http://localhost:9000",
        put_kwargs={"ServerSideEncryption": "aws:kms"},
        index_html=True,
        locks_table="my-locks",
    )
    assert cfg.directory is None
    assert cfg.lock_timeout == 5
    assert cfg.location == "s3://my-pypi-bucket/packages/"


def test_a_repository_url_and_a_prefix_that_replaces_its_own() -> None:
    assert Config.from_options(repository_url="s3://b-1/a/b").layout.prefix == "a/b"
    assert Config.from_options(repository_url="s3://b-1/a", prefix="c").layout.prefix == "c"
    assert Config.from_options(repository_url="s3://b-1/a", prefix="").layout.prefix == ""
    assert Config.from_options(bucket="b-1").lock_timeout == DEFAULT_TIMEOUT


def test_a_directory(tmp_path: Path) -> None:
    cfg = Config.from_options(repository_url=tmp_path.as_uri(), dry_run=True)

    assert cfg.directory == tmp_path
    assert cfg.s3 is None
    assert cfg.dry_run
    assert cfg.location == tmp_path.as_uri() + "/"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "missing --bucket (or --repository-url)"),
        (
            {"bucket": "b-1", "repository_url": "s3://b-1"},
            "--repository-url and --bucket both name the repository",
        ),
        ({"repository_url": "https://pypi.org/simple/"}, "unsupported repository URL"),
        ({"repository_url": "s3://"}, "repository URL has no bucket"),
        ({"bucket": "no_such bucket!"}, "not a valid S3 bucket name: 'no_such bucket!'"),
        ({"bucket": "b-1", "endpoint_url": "not a url"}, "--s3-endpoint-url: not an http"),
        ({"bucket": "b-1", "endpoint_url": "ftp://x"}, "--s3-endpoint-url: not an http"),
        ({"bucket": "b-1", "endpoint_url": "http://:9000"}, "--s3-endpoint-url: not an http"),
        ({"bucket": "b-1", "endpoint_url": "http://x:port"}, "--s3-endpoint-url: not an http"),
        ({"bucket": "b-1", "region": "bad region!"}, "--region: not a valid AWS region name"),
        ({"bucket": "b-1", "locks_table": "t"}, "--locks-table: not a valid DynamoDB table"),
        ({"bucket": "b-1", "lock_timeout": -1}, "--lock-timeout must not be negative"),
    ],
)
def test_malformed_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(OptionError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        Config.from_options(**options)  # type: ignore[arg-type]


def test_s3_options_for_a_directory_are_named_not_dropped(tmp_path: Path) -> None:
    with pytest.raises(OptionError) as error:
        Config.from_options(
            repository_url=tmp_path.as_uri(),
            profile="nonexistent",
            index_html=True,
            put_args={"ACL": "public-read"},
        )

    assert str(error.value) == (
        "--profile, --s3-put-args, --index.html apply to S3 repositories only, not to the "
        f"directory {tmp_path.as_uri()}"
    )


def test_front_ends_name_options_as_they_spell_them(tmp_path: Path) -> None:
    names = {"locks_table": "`locks-table`"}
    with pytest.raises(OptionError, match=r"^`locks-table` applies to S3 repositories only"):
        Config.from_options(repository_url=tmp_path.as_uri(), locks_table="x", names=names)


def test_a_misspelled_option_is_an_error_not_ignored() -> None:
    with pytest.raises(TypeError):
        Config.from_options(bucket="b-1", regoin="eu-west-1")  # type: ignore[call-arg]
    with pytest.raises(OptionError, match="unknown S3 option"):
        Config.from_repository_url("s3://b-1", regoin="eu-west-1")
    with pytest.raises(OptionError, match="do not apply to file:///x"):
        Config.from_repository_url("file:///x", profile="p")


def test_the_readme_example_publishes_to_a_directory(tmp_path: Path) -> None:
    project = SampleProject("hello-world", tmp_path / "dist")
    project.wheel("1.0")
    project.sdist("1.0")
    index = tmp_path / "index"

    cfg = Config.from_options(repository_url=index.as_uri())
    result = upload_packages(cfg, [tmp_path / "dist" / "*"], put_root_index=True)

    assert sorted(d.filename for d in result.uploaded) == [
        "hello_world-1.0-py3-none-any.whl",
        "hello_world-1.0.tar.gz",
    ]
    root = json.loads((index / "index.json").read_text())
    assert root["projects"] == [{"name": "hello-world"}]


# The same check, through each front end: one line, nothing written.


def test_the_command_line_refuses_s3_options_for_a_directory(
    run: Run, tmp_path: Path, dist_dir: Path
) -> None:
    index = tmp_path / "index"
    result = run(
        "upload", dist_dir / "*", "--repository-url", index.as_uri(),
        "--profile", "nonexistent", "--index.html", "--s3-put-args", "ACL=private",
    )  # fmt: skip

    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "Error: --profile, --s3-put-args, --index.html apply to S3 repositories only, not to "
        f"the directory {index.as_uri()}"
    )
    assert not index.exists()


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--s3-endpoint-url", "not a url", "--s3-endpoint-url: not an http:// or https:// URL"),
        ("--region", "bad region!", "--region: not a valid AWS region name: 'bad region!'"),
    ],
)
def test_the_command_line_refuses_malformed_aws_options(
    run: Run, dist_dir: Path, flag: str, value: str, message: str
) -> None:
    result = run("upload", dist_dir / "*", "--bucket", "b-1", flag, value)

    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].startswith(f"Error: {message}")
    assert "Traceback" not in result.stderr


def test_s3pypi_twine_refuses_s3_options_for_a_directory(tmp_path: Path, dist_dir: Path) -> None:
    index = tmp_path / "index"
    result = run_console_script(
        "s3pypi-twine", "upload", "--repository-url", index.as_uri(), "--region", "eu-west-1",
        *sorted(dist_dir.iterdir()),
    )  # fmt: skip

    assert result.returncode == 1
    assert result.stderr == (
        "s3pypi-twine upload: error: --region applies to S3 repositories only, not to the "
        f"directory {index.as_uri()}\n"
    )
    assert not index.exists()
