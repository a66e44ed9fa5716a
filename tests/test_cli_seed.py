"""Every `s3pypi` command line of the seed, run against a real S3 wire protocol (moto's server)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from click.testing import Result

from s3pypi_core.index import Index, RootIndex
from s3pypi_core.locking import lock_id
from tests.browsing import view_keys
from tests.conftest import REGION, Bucket, run_console_script
from tests.distributions import SampleProject

Run = Callable[..., Result]

FILES = [
    "hello_world-1.0.0-py3-none-any.whl",
    "hello_world-1.0.0.tar.gz",
    "hello_world-1.1-py3-none-any.whl",
]


def assert_pages_agree(html: Index, json_page: Index) -> None:
    """What both forms carry is the same (JSON adds size and upload-time)."""

    def listing(index: Index) -> dict[str, tuple[object, ...]]:
        return {
            f.filename: (f.hash, f.requires_python, f.core_metadata, f.yanked)
            for f in index.files.values()
        }

    assert listing(html) == listing(json_page)
    assert html.serial == json_page.serial


def project_keys(prefix: str = "", page: str = "") -> list[str]:
    """The simple API's objects of hello-world, and those of the human view around them."""
    base = f"{prefix}/hello-world/" if prefix else "hello-world/"
    keys = [base + page, base + "index.json"]
    for name in FILES:
        keys += [base + name, base + name + ".metadata"]
    return sorted(keys + view_keys(prefix, hello_world=["1.0.0", "1.1"]))


def test_upload_dist_star(run: Run, bucket: Bucket, dist_dir: Path) -> None:
    result = run("upload", f"{dist_dir}/*", "--bucket", bucket.name)

    assert result.exit_code == 0, result.output
    assert bucket.keys() == project_keys()
    page = Index.parse(bucket.text("hello-world/"))
    assert sorted(page.filenames) == FILES
    for name in FILES:
        assert bucket.read(f"hello-world/{name}") == (dist_dir / name).read_bytes()
        assert page.files[name].hash is not None


def test_upload_real_console_script_with_shell_expanded_glob(
    bucket: Bucket, dist_dir: Path
) -> None:
    files = sorted(dist_dir.iterdir())
    result = run_console_script("s3pypi", "upload", *files, "--bucket", bucket.name)

    assert result.returncode == 0, result.stderr
    assert bucket.keys() == project_keys()


def test_upload_with_prefix(run: Run, bucket: Bucket, dist_dir: Path) -> None:
    result = run("upload", f"{dist_dir}/*", "--bucket", bucket.name, "--prefix", "packages")

    assert result.exit_code == 0, result.output
    assert bucket.keys() == project_keys("packages")


def test_upload_put_root_index(run: Run, bucket: Bucket, dist_dir: Path) -> None:
    result = run("upload", f"{dist_dir}/*", "--bucket", bucket.name, "--put-root-index")

    assert result.exit_code == 0, result.output
    assert bucket.keys() == sorted([*project_keys(), "index.html", "index.json"])
    assert RootIndex.parse(bucket.text("index.html")).projects == {"hello-world"}
    assert '<a href="hello-world/">hello-world</a>' in bucket.text("index.html")


def test_upload_put_root_index_with_prefix(run: Run, bucket: Bucket, dist_dir: Path) -> None:
    args = ("--bucket", bucket.name, "--prefix", "packages", "--put-root-index")
    result = run("upload", f"{dist_dir}/*", *args)

    assert result.exit_code == 0, result.output
    assert "packages/" in bucket.keys()
    assert "packages/index.json" in bucket.keys()
    assert RootIndex.parse(bucket.text("packages/")).projects == {"hello-world"}


def test_existing_files_are_skipped_with_a_warning(
    run: Run, bucket: Bucket, dist_dir: Path
) -> None:
    run("upload", f"{dist_dir}/*", "--bucket", bucket.name)
    before = bucket.snapshot()

    result = run("upload", f"{dist_dir}/*", "--bucket", bucket.name)

    assert result.exit_code == 0
    # s3pypi 2.x's words, which CI scripts look for.
    assert (
        "warning: hello_world-1.1-py3-none-any.whl already exists! (use --force to overwrite)\n"
        in result.stderr
    )
    assert bucket.snapshot() == before


def test_strict_fails_when_files_exist(
    run: Run, bucket: Bucket, dist_dir: Path, projects: Callable[..., SampleProject]
) -> None:
    run("upload", f"{dist_dir}/hello_world-1.1-py3-none-any.whl", "--bucket", bucket.name)
    projects().wheel("1.2")

    result = run("upload", f"{dist_dir}/*", "--bucket", bucket.name, "--strict")

    assert result.exit_code == 1
    assert result.stderr.strip().endswith(
        "error: 1 file(s) already existed: hello_world-1.1-py3-none-any.whl"
    )
    # The new files were still published, as with s3pypi 2.x.
    assert "hello_world-1.2-py3-none-any.whl" in Index.parse(bucket.text("hello-world/")).files


def test_force_overwrites_and_rehashes(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject]
) -> None:
    wheel = projects().wheel("1.0")
    run("upload", wheel, "--bucket", bucket.name)
    old_hash = Index.parse(bucket.text("hello-world/")).files[wheel.name].hash
    wheel = projects().wheel("1.0", payload=b"# rebuilt\n")

    result = run("upload", wheel, "--bucket", bucket.name, "--force")

    assert result.exit_code == 0, result.output
    new_hash = Index.parse(bucket.text("hello-world/")).files[wheel.name].hash
    assert new_hash is not None
    assert new_hash != old_hash
    assert bucket.read(f"hello-world/{wheel.name}") == wheel.read_bytes()


def test_strict_and_force_exclude_each_other(run: Run, bucket: Bucket, dist_dir: Path) -> None:
    result = run("upload", f"{dist_dir}/*", "--bucket", bucket.name, "--strict", "--force")

    assert result.exit_code == 2
    assert "--strict and --force exclude each other" in result.stderr
    assert bucket.keys() == []


def test_s3_put_args_apply_to_every_object(run: Run, bucket: Bucket, dist_dir: Path) -> None:
    put_args = "ServerSideEncryption=aws:kms,SSEKMSKeyId=1234abcd-12ab-34cd-56ef-1234567890ab"
    result = run("upload", f"{dist_dir}/*", "--bucket", bucket.name, f"--s3-put-args={put_args}")

    assert result.exit_code == 0, result.output
    for key in bucket.keys():
        head = bucket.head(key)
        assert head["ServerSideEncryption"] == "aws:kms", key
        assert head["SSEKMSKeyId"].endswith("1234abcd-12ab-34cd-56ef-1234567890ab"), key


def test_bad_s3_put_args_are_refused(run: Run, bucket: Bucket, dist_dir: Path) -> None:
    result = run("upload", f"{dist_dir}/*", "--bucket", bucket.name, "--s3-put-args=ACL")

    assert result.exit_code == 2
    assert "KEY=VALUE" in result.stderr
    assert bucket.keys() == []


def test_profile_and_region(run: Run, bucket: Bucket, dist_dir: Path) -> None:
    args = ("--bucket", bucket.name, "--profile", "production", "--region", "eu-west-1")
    result = run("upload", f"{dist_dir}/*", *args)

    assert result.exit_code == 0, result.output
    assert bucket.keys() == project_keys()


def test_unknown_profile_is_one_line(run: Run, bucket: Bucket, dist_dir: Path) -> None:
    result = run("upload", f"{dist_dir}/*", "--bucket", bucket.name, "--profile", "nope")

    assert result.exit_code == 1
    assert result.stderr == "s3pypi: error: AWS profile not found: nope\n"


def test_custom_s3_endpoint_url(
    run: Run, bucket: Bucket, dist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the flag points at the server: no endpoint is configured for DynamoDB, and the
    # environment's S3 endpoint points nowhere.
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    args = ("--bucket", bucket.name, "--s3-endpoint-url", bucket.endpoint)
    result = run("upload", f"{dist_dir}/*", *args)

    assert result.exit_code == 0, result.output
    assert bucket.keys() == project_keys()
    # A custom S3 endpoint is not AWS, and no DynamoDB endpoint is configured: no table is
    # looked for (it would be at AWS, out of reach here, and say so).
    assert "warning" not in result.stderr


def test_no_sign_request_on_a_public_bucket(run: Run, bucket: Bucket, dist_dir: Path) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket.name}", f"arn:aws:s3:::{bucket.name}/*"],
            }
        ],
    }
    bucket.client.put_bucket_policy(Bucket=bucket.name, Policy=json.dumps(policy))

    result = run("upload", f"{dist_dir}/*", "--bucket", bucket.name, "--no-sign-request")
    assert result.exit_code == 0, result.output
    result = run(
        "upload", f"{dist_dir}/hello_world-1.1*", "--bucket", bucket.name, "-f", "--no-sign-request"
    )
    assert result.exit_code == 0, result.output
    assert bucket.keys() == project_keys()


def test_index_html_suffix(run: Run, bucket: Bucket, dist_dir: Path) -> None:
    args = ("--bucket", bucket.name, "--index.html", "--put-root-index")
    result = run("upload", f"{dist_dir}/*", *args)

    assert result.exit_code == 0, result.output
    assert bucket.keys() == sorted([*project_keys(page="index.html"), "index.html", "index.json"])
    assert sorted(Index.parse(bucket.text("hello-world/index.html")).filenames) == FILES


def test_legacy_website_options(run: Run, bucket: Bucket, dist_dir: Path) -> None:
    args = ("--bucket", bucket.name, "--index.html", "--s3-put-args=ACL=public-read")
    result = run("upload", f"{dist_dir}/*", *args)

    assert result.exit_code == 0, result.output
    grants = bucket.client.get_object_acl(Bucket=bucket.name, Key="hello-world/index.html")
    assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") for g in grants["Grants"])


def test_custom_locks_table_is_used_and_released(run: Run, bucket: Bucket, dist_dir: Path) -> None:
    table = bucket.create_locks_table("my-custom-locks")
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    # Held by someone else: our publisher waits, then names the holder and the way out.
    dynamodb.put_item(
        TableName=table,
        Item={
            "LockID": {"S": lock_id("hello-world")},
            "AcquiredAt": {"S": "2099-01-01T00:00:00+00:00"},
            "Owner": {"S": "alice@ci"},
        },
    )
    args = ("--bucket", bucket.name, "--locks-table", table, "--lock-timeout", "0.5")
    result = run("upload", f"{dist_dir}/*", *args)

    assert result.exit_code == 1
    assert "held by alice@ci" in result.stderr
    assert f"s3pypi force-unlock my-custom-locks {lock_id('hello-world')}" in result.stderr
    assert "hello-world/" not in bucket.keys()

    assert run("force-unlock", table, lock_id("hello-world")).exit_code == 0
    result = run("upload", f"{dist_dir}/*", *args)

    assert result.exit_code == 0, result.output
    assert "hello-world/" in bucket.keys()
    assert dynamodb.scan(TableName=table)["Items"] == []


def test_default_locks_table_is_found(run: Run, bucket: Bucket, dist_dir: Path) -> None:
    table = bucket.create_locks_table()
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=table,
        Item={"LockID": {"S": lock_id("hello-world")}, "Owner": {"S": "bob@laptop"}},
    )

    result = run("upload", f"{dist_dir}/*", "--bucket", bucket.name, "--lock-timeout", "0")

    assert result.exit_code == 1
    assert "held by bob@laptop" in result.stderr


def test_missing_explicit_locks_table_is_an_error(run: Run, bucket: Bucket, dist_dir: Path) -> None:
    result = run("upload", f"{dist_dir}/*", "--bucket", bucket.name, "--locks-table", "nope")

    assert result.exit_code == 1
    assert result.stderr == "s3pypi: error: DynamoDB lock table does not exist: nope\n"
    assert bucket.keys() == []


def test_force_unlock_with_profile_and_region(run: Run, bucket: Bucket) -> None:
    table = bucket.create_locks_table("my-pypi-bucket-locks")
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.put_item(TableName=table, Item={"LockID": {"S": "abc123def456"}})

    result = run(
        "force-unlock", table, "abc123def456", "--profile", "production", "--region", REGION
    )

    assert result.exit_code == 0, result.output
    assert "Released lock abc123def456" in result.stderr
    assert dynamodb.scan(TableName=table)["Items"] == []


@pytest.mark.parametrize("prefix", [None, "packages"])
def test_delete_version(run: Run, bucket: Bucket, dist_dir: Path, prefix: str | None) -> None:
    where = ("--bucket", bucket.name, *(("--prefix", prefix) if prefix else ()))
    run("upload", f"{dist_dir}/*", *where, "--put-root-index")
    base = f"{prefix}/" if prefix else ""

    # PEP 440: "1.0" is the version of the files named 1.0.0.
    result = run("delete", "hello-world", "1.0", *where)

    assert result.exit_code == 0, result.output
    keys = bucket.keys()
    assert f"{base}hello-world/hello_world-1.0.0.tar.gz" not in keys
    assert f"{base}hello-world/hello_world-1.0.0-py3-none-any.whl.metadata" not in keys
    page = Index.parse(bucket.text(f"{base}hello-world/"))
    assert sorted(page.filenames) == ["hello_world-1.1-py3-none-any.whl"]
    assert_pages_agree(page, Index.from_json(bucket.read(f"{base}hello-world/index.json")))


def test_delete_last_version_removes_project_from_root(
    run: Run, bucket: Bucket, dist_dir: Path, projects: Callable[..., SampleProject]
) -> None:
    other = projects("other-project").wheel("2.0")
    run("upload", f"{dist_dir}/*", other, "--bucket", bucket.name, "--put-root-index")

    run("delete", "hello-world", "1.0.0", "--bucket", bucket.name)
    result = run("delete", "Hello_World", "1.1", "--bucket", bucket.name, "--profile", "production")

    assert result.exit_code == 0, result.output
    assert not [k for k in bucket.keys() if k.startswith("hello-world/")]
    root_html = bucket.text("index.html")
    assert RootIndex.parse(root_html).projects == {"other-project"}
    assert RootIndex.from_json(bucket.read("index.json")).projects == {"other-project"}
    # Hrefs keep their trailing slash (s3pypi 2.x dropped it when deleting).
    assert '<a href="other-project/">other-project</a>' in root_html


def test_delete_unknown_version_is_an_error(run: Run, bucket: Bucket, dist_dir: Path) -> None:
    run("upload", f"{dist_dir}/*", "--bucket", bucket.name)
    before = bucket.snapshot()

    result = run("delete", "hello-world", "9.9", "--bucket", bucket.name)

    assert result.exit_code == 1
    assert result.stderr.startswith("s3pypi: error: no files of hello-world 9.9 in s3://")
    assert bucket.snapshot() == before


def test_dry_run_writes_nothing(run: Run, bucket: Bucket, dist_dir: Path) -> None:
    result = run("upload", f"{dist_dir}/*", "--bucket", bucket.name, "--dry-run")

    assert result.exit_code == 0, result.output
    assert bucket.keys() == []
    assert (
        f"would upload {dist_dir}/hello_world-1.1-py3-none-any.whl to s3://{bucket.name}/hello-world/hello_world-1.1-py3-none-any.whl"
        in result.stdout
    )
    assert f"would write s3://{bucket.name}/hello-world/ (" in result.stdout
    assert f"would write s3://{bucket.name}/hello-world/index.json (" in result.stdout


def test_repository_url_replaces_bucket_and_prefix(
    run: Run, bucket: Bucket, dist_dir: Path
) -> None:
    result = run("upload", f"{dist_dir}/*", "--repository-url", f"s3://{bucket.name}/packages")

    assert result.exit_code == 0, result.output
    assert bucket.keys() == project_keys("packages")


def test_repository_url_and_bucket_conflict(run: Run, bucket: Bucket, dist_dir: Path) -> None:
    url = f"s3://{bucket.name}"
    result = run("upload", f"{dist_dir}/*", "--repository-url", url, "--bucket", bucket.name)

    assert result.exit_code == 2
    assert "--repository-url replaces --bucket and --prefix" in result.stderr


def test_version_and_help(run: Run) -> None:
    from s3pypi_core import __version__

    assert run("--version").stdout == f"s3pypi, version {__version__}\n"
    assert "upload" in run("--help").stdout
