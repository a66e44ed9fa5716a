"""The seed's Python snippets, as written there (with `s3pypi.x` spelled `s3pypi_core.x`)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from s3pypi_core.core import Config, delete_package, upload_packages
from s3pypi_core.exceptions import ExistingFiles, InvalidDistribution, NotFound
from s3pypi_core.index import Hash, Index
from s3pypi_core.storage import S3Config
from tests.browsing import view_keys
from tests.conftest import Bucket


def test_programmatic_upload_and_delete(
    bucket: Bucket, dist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(dist_dir.parent)
    locks = bucket.create_locks_table("my-locks", region="eu-west-1")
    cfg = Config(
        s3=S3Config(
            bucket=bucket.name,
            prefix="packages",
            profile="production",
            region="eu-west-1",
            locks_table=locks,
            put_kwargs={
                "ServerSideEncryption": "aws:kms",
                "SSEKMSKeyId": "1234abcd-...",
            },
        )
    )
    dist_files = [
        Path("dist/hello_world-1.0.0.tar.gz"),
        Path("dist/hello_world-1.0.0-py3-none-any.whl"),
    ]

    upload_packages(cfg, dist_files, put_root_index=True, strict=False, force=False)

    assert bucket.keys() == sorted(
        [
            "packages/",
            "packages/hello-world/",
            "packages/hello-world/hello_world-1.0.0-py3-none-any.whl",
            "packages/hello-world/hello_world-1.0.0-py3-none-any.whl.metadata",
            "packages/hello-world/hello_world-1.0.0.tar.gz",
            "packages/hello-world/hello_world-1.0.0.tar.gz.metadata",
            "packages/hello-world/index.json",
            "packages/index.json",
            *view_keys("packages", hello_world=["1.0.0"]),
        ]
    )
    assert bucket.head("packages/hello-world/")["ServerSideEncryption"] == "aws:kms"

    delete_package(cfg, name="hello-world", version="1.0.0")

    # The view of the index stays; the project's documents and page went with its files.
    assert bucket.keys() == sorted(["packages/", "packages/index.json", *view_keys("packages")])
    assert "hello-world" not in bucket.text("packages/")


def test_api_errors_are_exceptions(bucket: Bucket, dist_dir: Path) -> None:
    cfg = Config(s3=S3Config(bucket=bucket.name))
    wheel = dist_dir / "hello_world-1.1-py3-none-any.whl"
    upload_packages(cfg, [wheel])

    with pytest.raises(ExistingFiles):
        upload_packages(cfg, [wheel], strict=True)
    with pytest.raises(NotFound):
        delete_package(cfg, name="hello-world", version="3.0")
    with pytest.raises(InvalidDistribution):
        upload_packages(cfg, [dist_dir / "missing-1.0.tar.gz"])


def test_parse_an_existing_index_page() -> None:
    html_content = """
<a href="mypackage-1.0.0.tar.gz#sha256=abc123">mypackage-1.0.0.tar.gz</a>
"""
    index = Index.parse(html_content)

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print(index.filenames)
    assert out.getvalue() == ("{'mypackage-1.0.0.tar.gz': Hash(name='sha256', value='abc123')}\n")


def test_create_a_new_index(dist_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(dist_dir.parent)
    sdist, wheel = "hello_world-1.0.0.tar.gz", "hello_world-1.0.0-py3-none-any.whl"

    new_index = Index()
    new_index.filenames[sdist] = Hash.of("sha256", Path(f"dist/{sdist}"))
    new_index.filenames[wheel] = Hash.of("sha256", Path(f"dist/{wheel}"))
    html = new_index.to_html()

    import hashlib

    digest = hashlib.sha256((dist_dir / sdist).read_bytes()).hexdigest()
    assert f'<a href="{sdist}#sha256={digest}"' in html
    assert Index.parse(html).filenames == new_index.filenames


def test_parse_distribution_filenames() -> None:
    from s3pypi_core.core import normalize_package_name, parse_distribution_id

    dist = parse_distribution_id("hello_world-1.0.0-py3-none-any.whl")
    assert f"Name: {dist.name}, Version: {dist.version}" == "Name: hello_world, Version: 1.0.0"

    dist = parse_distribution_id("my-package-2.3.4.tar.gz")
    assert f"Name: {dist.name}, Version: {dist.version}" == "Name: my_package, Version: 2.3.4"

    assert normalize_package_name("My.Package_Name") == "my-package-name"
    assert normalize_package_name("company---test.1") == "company-test-1"


@pytest.mark.parametrize(
    "filename",
    [
        "my_package-2.3.4.zip",
        "my_package-2.3.4.tar.bz2",
        "my_package-2.3.4.tar.xz",
        "my_package-2.3.4-cp311-cp311-manylinux_2_17_x86_64.whl",
    ],
)
def test_parse_other_distribution_kinds(filename: str) -> None:
    from s3pypi_core.core import parse_distribution_id

    dist = parse_distribution_id(filename)
    assert (dist.name, dist.version) == ("my_package", "2.3.4")


def test_local_directory_repository(tmp_path: Path, dist_dir: Path) -> None:
    cfg = Config.from_repository_url((tmp_path / "index").as_uri())

    upload_packages(cfg, [f"{dist_dir}/*"], put_root_index=True)

    assert (tmp_path / "index/index.html").is_file()
    page = Index.parse((tmp_path / "index/hello-world/index.html").read_text())
    assert sorted(page.filenames) == sorted(p.name for p in dist_dir.iterdir())
