"""Bad input is refused before anything is written: one line on stderr, exit 1, bucket unchanged."""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import Bucket, run_console_script
from tests.damaged import corrupt_member, cut, flip_byte, patch_zip_member, payload
from tests.distributions import SampleProject, core_metadata

Run = Callable[..., Result]


def write_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def dist(tmp: Path) -> Path:
    (tmp / "dist").mkdir(exist_ok=True)
    return tmp / "dist"


def make_missing(tmp: Path) -> Path:
    return dist(tmp) / "nothing-1.0.tar.gz"


def make_directory(tmp: Path) -> Path:
    path = dist(tmp) / "adir-1.0.tar.gz"
    path.mkdir()
    return path


def make_unknown_extension(tmp: Path) -> Path:
    path = dist(tmp) / "hello_world-1.0.egg"
    path.write_bytes(b"egg")
    return path


def make_empty(tmp: Path) -> Path:
    path = dist(tmp) / "hello_world-1.0.tar.gz"
    path.write_bytes(b"")
    return path


def make_corrupt_wheel(tmp: Path) -> Path:
    path = dist(tmp) / "hello_world-1.0-py3-none-any.whl"
    path.write_bytes(b"PK\x03\x04 this is not really a zip file")
    return path


def make_corrupt_sdist(tmp: Path) -> Path:
    path = dist(tmp) / "hello_world-1.0.tar.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00 truncated gzip")
    return path


def make_wheel_without_metadata(tmp: Path) -> Path:
    return write_zip(
        dist(tmp) / "hello_world-1.0-py3-none-any.whl", {"hello_world/__init__.py": b""}
    )


def make_sdist_without_metadata(tmp: Path) -> Path:
    return write_tar(dist(tmp) / "hello_world-1.0.tar.gz", {"hello_world-1.0/setup.py": b""})


def make_name_mismatch(tmp: Path) -> Path:
    return SampleProject("hello-world", dist(tmp)).wheel(
        "1.0", metadata=core_metadata("other-project", "1.0")
    )


def make_version_mismatch(tmp: Path) -> Path:
    return write_tar(
        dist(tmp) / "hello_world-1.0.tar.gz",
        {"hello_world-1.0/PKG-INFO": core_metadata("hello-world", "2.0").encode()},
    )


def make_invalid_filename(tmp: Path) -> Path:
    return SampleProject("hello-world", dist(tmp)).wheel("1.0", filename="hello_world.whl")


def make_dot_dot_name(tmp: Path) -> Path:
    return write_tar(
        dist(tmp) / "..-1.0.tar.gz", {"..-1.0/PKG-INFO": core_metadata("..", "1.0").encode()}
    )


def make_backslash_name(tmp: Path) -> Path:
    return SampleProject("evil", dist(tmp)).wheel(
        "1.0", filename="..\\..\\evil-1.0-py3-none-any.whl"
    )


def make_path_in_metadata_name(tmp: Path) -> Path:
    return SampleProject("evil", dist(tmp)).wheel(
        "1.0", metadata=core_metadata("../../evil", "1.0")
    )


def make_cut_sdist(extension: str) -> Callable[[Path], Path]:
    """An sdist cut to half its size: PKG-INFO, written first, is still in the part left."""

    def make(tmp: Path) -> Path:
        sdist = SampleProject("hello-world", dist(tmp)).sdist(
            "1.0", extension=extension, payload=payload(64 * 1024)
        )
        return cut(sdist)

    return make


def make_crc_corrupt_wheel(tmp: Path) -> Path:
    wheel = SampleProject("hello-world", dist(tmp)).wheel("1.0", payload=payload(4096))
    return corrupt_member(wheel, "hello_world/__init__.py")


def make_encrypted_member(tmp: Path) -> Path:
    wheel = SampleProject("hello-world", dist(tmp)).wheel("1.0")
    return patch_zip_member(wheel, "hello_world/__init__.py", flags=0x1)


def make_encrypted_metadata(tmp: Path) -> Path:
    wheel = SampleProject("hello-world", dist(tmp)).wheel("1.0")
    return patch_zip_member(wheel, "hello_world-1.0.dist-info/METADATA", flags=0x1)


def make_deflate64_member(tmp: Path) -> Path:
    wheel = SampleProject("hello-world", dist(tmp)).wheel("1.0")
    return patch_zip_member(wheel, "hello_world/__init__.py", method=9)


def make_deflate64_metadata(tmp: Path) -> Path:
    wheel = SampleProject("hello-world", dist(tmp)).wheel("1.0")
    return patch_zip_member(wheel, "hello_world-1.0.dist-info/METADATA", method=9)


def make_corrupt_tar_xz(tmp: Path) -> Path:
    sdist = SampleProject("hello-world", dist(tmp)).sdist("1.0", extension=".tar.xz")
    return flip_byte(sdist, sdist.stat().st_size // 2)


def make_invalid_requires_python(tmp: Path) -> Path:
    return SampleProject("hello-world", dist(tmp)).wheel("1.0", requires_python='"><script>')


def make_large_metadata(tmp: Path) -> Path:
    text = core_metadata("hello-world", "1.0") + "\n" + "x" * (10 * 1024 * 1024)
    return SampleProject("hello-world", dist(tmp)).wheel("1.0", metadata=text)


def make_unsafe_member_path(tmp: Path) -> Path:
    return write_zip(
        dist(tmp) / "hello_world-1.0-py3-none-any.whl",
        {
            "hello_world-1.0.dist-info/METADATA": core_metadata("hello-world", "1.0").encode(),
            "../../outside.py": b"",
        },
    )


def make_link_outside(tmp: Path) -> Path:
    path = dist(tmp) / "hello_world-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        metadata = core_metadata("hello-world", "1.0").encode()
        info = tarfile.TarInfo("hello_world-1.0/PKG-INFO")
        info.size = len(metadata)
        archive.addfile(info, io.BytesIO(metadata))
        link = tarfile.TarInfo("hello_world-1.0/setup.py")
        link.type = tarfile.SYMTYPE
        link.linkname = "../../../.bashrc"
        archive.addfile(link)
    return path


def make_duplicate_member(tmp: Path) -> Path:
    path = dist(tmp) / "hello_world-1.0-py3-none-any.whl"
    metadata = core_metadata("hello-world", "1.0").encode()
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello_world-1.0.dist-info/METADATA", metadata)
        archive.writestr("hello_world/__init__.py", b"A = 1\n")
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("hello_world/__init__.py", b"A = 2\n")
    return path


def make_undecodable_description(tmp: Path) -> Path:
    metadata = core_metadata("hello-world", "1.0").encode() + b"\n\xff\xfe not UTF-8\n"
    return write_zip(
        dist(tmp) / "hello_world-1.0-py3-none-any.whl",
        {"hello_world-1.0.dist-info/METADATA": metadata},
    )


BAD_INPUTS = {
    "missing path": (make_missing, "no such file"),
    "directory": (make_directory, "not a file"),
    "unknown extension": (make_unknown_extension, "unknown file type"),
    "empty file": (make_empty, "file is empty"),
    "corrupt wheel": (make_corrupt_wheel, "corrupt archive"),
    "corrupt sdist": (make_corrupt_sdist, "corrupt archive"),
    "wheel without METADATA": (make_wheel_without_metadata, "archive has no METADATA"),
    "sdist without PKG-INFO": (make_sdist_without_metadata, "archive has no PKG-INFO"),
    "name disagrees with metadata": (make_name_mismatch, "but its metadata says other-project"),
    "version disagrees with metadata": (make_version_mismatch, "but its metadata says"),
    "not a distribution filename": (make_invalid_filename, "not a valid distribution filename"),
    "dot-dot name": (make_dot_dot_name, "not a plain file name"),
    "backslashes": (make_backslash_name, "not a plain file name"),
    "path in metadata name": (make_path_in_metadata_name, "invalid core metadata"),
    "sdist .tar.gz cut in half": (make_cut_sdist(".tar.gz"), "corrupt archive: "),
    "sdist .tar.bz2 cut in half": (make_cut_sdist(".tar.bz2"), "corrupt archive: "),
    "sdist .tar.xz cut in half": (make_cut_sdist(".tar.xz"), "corrupt archive: "),
    "sdist .zip cut in half": (make_cut_sdist(".zip"), "corrupt archive: "),
    "wheel with a CRC-corrupt member": (make_crc_corrupt_wheel, "corrupt archive: Bad CRC-32"),
    "encrypted member": (make_encrypted_member, "'hello_world/__init__.py' is encrypted"),
    "encrypted METADATA": (make_encrypted_metadata, "METADATA' is encrypted"),
    "deflate64 member": (make_deflate64_member, "compression method 9 (deflate64)"),
    "deflate64 METADATA": (make_deflate64_metadata, "compression method 9 (deflate64)"),
    "corrupt .tar.xz": (make_corrupt_tar_xz, "corrupt archive: "),
    "invalid Requires-Python": (
        make_invalid_requires_python,
        """invalid metadata: '"><script>' is invalid for 'requires-python'""",
    ),
    "METADATA over 10 MiB": (make_large_metadata, "METADATA is larger than 10485760 bytes"),
    "member path outside the archive": (make_unsafe_member_path, "has an unsafe path"),
    "two members of one name": (make_duplicate_member, "two members named"),
    "symlink outside the archive": (make_link_outside, "links outside the archive"),
    "description not UTF-8": (
        make_undecodable_description,
        "'description' is unknown or malformed",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS.values(), ids=list(BAD_INPUTS))
def test_bad_input_is_refused_before_writing(
    case: tuple[Callable[[Path], Path], str],
    run: Run,
    bucket: Bucket,
    tmp_path: Path,
) -> None:
    make, message = case
    project = SampleProject("good-project", tmp_path / "good")
    good = [project.wheel("1.0"), project.sdist("1.0")]
    bad = make(tmp_path)

    # The good files come first: still nothing may be written.
    result = run("upload", *good, bad, "--bucket", bucket.name)

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("s3pypi: error: ")
    assert message in lines[0]
    assert bucket.keys() == []


def test_no_traceback_from_the_console_script(bucket: Bucket, tmp_path: Path) -> None:
    bad = make_corrupt_wheel(tmp_path)
    result = run_console_script("s3pypi", "upload", bad, "--bucket", bucket.name)

    assert result.returncode == 1
    assert result.stderr.startswith("s3pypi: error: ")
    assert "Traceback" not in result.stderr
    assert bucket.keys() == []


def test_verbose_shows_the_traceback(bucket: Bucket, tmp_path: Path) -> None:
    bad = make_corrupt_wheel(tmp_path)
    result = run_console_script("s3pypi", "-v", "upload", bad, "--bucket", bucket.name)

    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("s3pypi: error: ")


def test_pattern_matching_nothing(run: Run, bucket: Bucket, tmp_path: Path) -> None:
    result = run("upload", f"{tmp_path}/dist/*", "--bucket", bucket.name)

    assert result.exit_code == 1
    assert result.stderr == f"s3pypi: error: no distributions match {tmp_path}/dist/*\n"


def test_missing_bucket(run: Run, dist_dir: Path, moto_endpoint: str) -> None:
    result = run("upload", f"{dist_dir}/*", "--bucket", "no-such-bucket-here")

    assert result.exit_code == 1
    assert result.stderr == "s3pypi: error: bucket does not exist: no-such-bucket-here\n"


def test_missing_bucket_option(run: Run, dist_dir: Path) -> None:
    result = run("upload", f"{dist_dir}/*")

    assert result.exit_code == 2
    assert "missing --bucket (or --repository-url)" in result.stderr


def test_no_credentials(
    run: Run, bucket: Bucket, dist_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))

    result = run("upload", f"{dist_dir}/*", "--bucket", bucket.name)

    assert result.exit_code == 1
    assert result.stderr.startswith("s3pypi: error: no AWS credentials found")
    assert bucket.keys() == []


def test_unsupported_repository_url(run: Run, dist_dir: Path) -> None:
    result = run("upload", f"{dist_dir}/*", "--repository-url", "https://pypi.org/simple/")

    assert result.exit_code == 2
    assert "unsupported repository URL" in result.stderr


def test_invalid_version_for_delete(run: Run, bucket: Bucket) -> None:
    result = run("delete", "hello-world", "not a version", "--bucket", bucket.name)

    assert result.exit_code == 1
    assert result.stderr == "s3pypi: error: not a valid version: 'not a version'\n"


def test_no_region_configured(
    run: Run, bucket: Bucket, dist_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.write_text("[default]\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_DEFAULT_REGION")

    result = run("upload", f"{dist_dir}/*", "--bucket", bucket.name)

    # S3 works without a region; looking for the default lock table cannot, and says so.
    assert result.exit_code == 0, result.output
    assert "no AWS region configured (use --region or AWS_REGION)" in result.stderr
    assert "hello-world/" in bucket.keys()

    result = run("upload", f"{dist_dir}/*", "--bucket", bucket.name, "--locks-table", "locks")

    assert result.exit_code == 1
    assert result.stderr == (
        "s3pypi: error: DynamoDB table locks: "
        "no AWS region configured (use --region or AWS_REGION)\n"
    )
