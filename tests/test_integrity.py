"""The gate before publishing: bombs, the same distribution under two names, the metadata bound,
and agreement with what `twine check` refuses."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from s3pypi_core.config import Config
from s3pypi_core.distribution import (
    MAX_METADATA_SIZE,
    Distribution,
    distribution_identity,
    read_archive,
    read_for_upload,
    sha256_of,
)
from s3pypi_core.exceptions import InvalidDistribution
from s3pypi_core.index import Hash, Index
from s3pypi_core.maintenance import verify_index
from s3pypi_core.storage import LocalStorage, S3Config
from tests.conftest import Bucket, run_console_script
from tests.damaged import member_bomb, metadata_bomb, overlapping_zip
from tests.distributions import SampleProject, core_metadata
from tests.measure import run_measured

Run = Callable[..., Result]

MIB = 1024 * 1024
BOMB_SIZE = 256 * MIB
MEMORY_BOUND = 200 * MIB
"""Peak RSS allowed to `s3pypi upload` of a bomb: the command itself takes about 60 MiB."""


@pytest.fixture(scope="session")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bombs")
    return {
        "metadata": metadata_bomb(root / "metadata", BOMB_SIZE),
        "member": member_bomb(root / "member", BOMB_SIZE),
    }


def test_a_metadata_bomb_is_refused_in_bounded_memory(
    bombs: dict[str, Path], bucket: Bucket, tmp_path: Path
) -> None:
    bomb = bombs["metadata"]
    assert bomb.stat().st_size < 300 * 1024

    result = run_measured("s3pypi", "upload", bomb, "--bucket", bucket.name, tmp=tmp_path)

    assert result.returncode == 1
    assert result.stderr == (
        f"s3pypi: error: {bomb}: METADATA is larger than {MAX_METADATA_SIZE} bytes "
        f"({BOMB_SIZE} bytes or more)\n"
    )
    assert result.max_rss < MEMORY_BOUND
    assert bucket.keys() == []


def test_a_member_that_inflates_to_256_mib_is_checked_in_bounded_memory(
    bombs: dict[str, Path], bucket: Bucket, tmp_path: Path
) -> None:
    """Zeros are a valid file; reading them to check the CRC must not hold them."""
    bomb = bombs["member"]

    result = run_measured("s3pypi", "upload", bomb, "--bucket", bucket.name, tmp=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.max_rss < MEMORY_BOUND
    assert f"zeros/{bomb.name}" in bucket.keys()


def test_the_metadata_bound_is_an_option(run: Run, bucket: Bucket, tmp_path: Path) -> None:
    project = SampleProject("hello-world", tmp_path / "dist")
    description = ("x" * 79 + "\n") * (MIB // 80)
    large = project.wheel("1.0", metadata=core_metadata("hello-world", "1.0") + "\n" + description)
    size = len(Distribution.read(large).metadata)

    refused = run("upload", large, "--bucket", bucket.name, "--max-metadata-size", size - 1)
    assert refused.exit_code == 1
    assert f"METADATA is larger than {size - 1} bytes" in refused.stderr
    assert bucket.keys() == []

    accepted = run("upload", large, "--bucket", bucket.name, "--max-metadata-size", size)
    assert accepted.exit_code == 0, accepted.stderr
    assert f"hello-world/{large.name}" in bucket.keys()


def test_the_metadata_bound_is_a_parameter(tmp_path: Path) -> None:
    wheel = SampleProject("hello-world", tmp_path).wheel("1.0")
    size = len(Distribution.read(wheel).metadata)

    assert read_archive(wheel, max_metadata_size=size).metadata == Distribution.read(wheel).metadata
    with pytest.raises(InvalidDistribution, match=f"METADATA is larger than {size - 1} bytes"):
        Distribution.read(wheel, max_metadata_size=size - 1)


def test_reading_hashes_the_file_in_the_same_pass(tmp_path: Path) -> None:
    project = SampleProject("hello-world", tmp_path)
    for path in (
        project.wheel("1.0", payload=os.urandom(300_000)),
        project.sdist("1.0", payload=os.urandom(300_000)),
        project.sdist("1.0", extension=".zip", payload=os.urandom(300_000)),
        project.sdist("1.0", extension=".tar.xz"),
    ):
        contents = read_archive(path)
        assert (contents.sha256, contents.size) == sha256_of(path)


# The same distribution


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Hello-1.0.0-py3-none-any.whl", "hello-1.0.0-py3-none-any.whl"),
        ("hello-1.0-py3-none-any.whl", "hello-1.0.0-py3-none-any.whl"),
        ("hello_world-1.0-py3-none-any.whl", "hello.world-1.0-py3-none-any.whl"),
        ("hello-1.0-py2.py3-none-any.whl", "hello-1.0-py3.py2-none-any.whl"),
        ("hello-1.0.tar.gz", "Hello-1.0.0.zip"),
        ("hello-1.0.tar.gz", "hello-1.0.tar.xz"),
    ],
)
def test_same_distribution(a: str, b: str) -> None:
    assert distribution_identity(a) == distribution_identity(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("hello-1.0-py3-none-any.whl", "hello-1.0.1-py3-none-any.whl"),
        ("hello-1.0-py3-none-any.whl", "hello-1.0-py2-none-any.whl"),
        ("hello-1.0-py3-none-any.whl", "hello-1.0-1-py3-none-any.whl"),
        ("hello-1.0-py3-none-any.whl", "hello-1.0.tar.gz"),
        ("hello-1.0.tar.gz", "hello_world-1.0.tar.gz"),
    ],
)
def test_different_distributions(a: str, b: str) -> None:
    assert distribution_identity(a) != distribution_identity(b)


def test_one_distribution_under_two_names_is_refused(
    run: Run, bucket: Bucket, tmp_path: Path
) -> None:
    upper = SampleProject("Hello", tmp_path / "a").wheel("1.0.0")
    lower = SampleProject("hello", tmp_path / "b").wheel("1.0.0")
    assert upper.name != lower.name

    result = run("upload", upper, lower, "--bucket", bucket.name)

    assert result.exit_code == 1
    assert result.stderr == (
        f"s3pypi: error: two files for the same distribution: {upper} and {lower}\n"
    )
    assert bucket.keys() == []


def two_names(tmp_path: Path) -> tuple[Path, Path]:
    """One distribution under two names: hello 1.0.0's wheel as `hello-...` and `Hello-...`."""
    lower = SampleProject("hello", tmp_path / "a").wheel("1.0.0")
    upper = SampleProject("Hello", tmp_path / "b").wheel("1.0.0")
    assert lower.name != upper.name
    return lower, upper


def test_a_distribution_already_in_the_index_under_another_name_exists(
    run: Run, bucket: Bucket, tmp_path: Path
) -> None:
    lower, upper = two_names(tmp_path)
    assert run("upload", lower, "--bucket", bucket.name).exit_code == 0
    before = bucket.snapshot()

    skipped = run("upload", upper, "--bucket", bucket.name)
    assert skipped.exit_code == 0
    assert skipped.stderr.splitlines() == [
        f"warning: {upper.name} already exists! (listed as {lower.name}; use --force to replace it)"
    ]
    assert bucket.snapshot() == before

    strict = run("upload", upper, "--bucket", bucket.name, "--strict")
    assert strict.exit_code == 1
    assert strict.stderr.splitlines()[-1] == (
        f"s3pypi: error: 1 file(s) already existed: {upper.name}"
    )
    assert bucket.snapshot() == before


def test_s3pypi_twine_refuses_a_distribution_listed_under_another_name(
    run: Run, bucket: Bucket, tmp_path: Path
) -> None:
    lower, upper = two_names(tmp_path)
    assert run("upload", lower, "--bucket", bucket.name).exit_code == 0
    before = bucket.snapshot()

    url = f"s3://{bucket.name}"
    result = run_console_script("s3pypi-twine", "upload", "--repository-url", url, upper)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"s3pypi-twine upload: error: 1 file(s) already exist in {url}/: {upper.name} "
        "(use --skip-existing to skip them)"
    )
    assert bucket.snapshot() == before


def test_force_replaces_the_file_listed_under_another_name(
    run: Run, bucket: Bucket, tmp_path: Path
) -> None:
    """--force: the new name takes the old one's place on the page, then the old file and its
    .metadata file are deleted, so the index never lists one distribution twice."""
    lower, upper = two_names(tmp_path)
    assert run("upload", lower, "--bucket", bucket.name, "--put-root-index").exit_code == 0

    result = run("upload", upper, "--bucket", bucket.name, "--force")

    assert result.exit_code == 0, result.output
    files = [k for k in bucket.keys() if k.endswith((".whl", ".whl.metadata"))]
    assert files == [f"hello/{upper.name}", f"hello/{upper.name}.metadata"]
    assert not [k for k in bucket.keys() if lower.name.encode() in bucket.read(k)]
    page = Index.from_json(bucket.read("hello/index.json"))
    assert list(page.files) == [upper.name]
    assert page.files[upper.name].hash == Hash("sha256", sha256_of(upper)[0])
    assert verify_index(Config(s3=S3Config(bucket=bucket.name))) == []


def test_a_second_name_on_no_page_is_not_listed_by_reindex(
    run: Run, bucket: Bucket, tmp_path: Path
) -> None:
    """The other name of a listed distribution, on no page (a copy by hand, or a replaced file
    a publisher role could not delete): reindex does not list it (the index would offer one
    distribution twice); verify says what to do."""
    lower, upper = two_names(tmp_path)
    assert run("upload", lower, "--bucket", bucket.name).exit_code == 0
    key = f"hello/{upper.name}"
    bucket.client.put_object(Bucket=bucket.name, Key=key, Body=upper.read_bytes())
    advice = (
        f"on no page, which lists the same distribution as {lower.name}: delete it, or upload "
        f"it with --force to replace {lower.name}"
    )
    cfg = Config(s3=S3Config(bucket=bucket.name))
    assert [(p.kind, p.message) for p in verify_index(cfg)] == [("unlisted-file", advice)]

    result = run("reindex", "--bucket", bucket.name)

    assert result.exit_code == 0, result.output
    assert f"hello: skipped {upper.name}: the page lists the same distribution as" in result.stdout
    assert list(Index.from_json(bucket.read("hello/index.json")).files) == [lower.name]
    assert [p.kind for p in verify_index(cfg)] == ["unlisted-file"]
    assert run("upload", upper, "--bucket", bucket.name, "--force").exit_code == 0
    assert verify_index(cfg) == []


def test_force_on_a_case_insensitive_name_keeps_the_one_object(tmp_path: Path) -> None:
    """Where the store holds both names in one object (a case-insensitive file system), the
    replaced name is not deleted, or the new file would go with it."""
    index = tmp_path / "index"
    storage = LocalStorage(index)
    (index / "hello").mkdir(parents=True)
    (index / "hello" / "one").write_bytes(b"x")
    (index / "hello" / "other").hardlink_to(index / "hello" / "one")

    assert storage.same_object("hello/one", "hello/other")
    assert not storage.same_object("hello/one", "hello/missing")
    assert not storage.same_object("hello/one", "hello/")


# The metadata twine refuses, refused by the core


BAD_METADATA = {
    "invalid Requires-Python": {"Requires-Python": '"><script>'},
    "invalid Requires-Dist": {"Requires-Dist": "not valid !!"},
    "unknown field": {"Favourite-Colour": "blue"},
    "field newer than the Metadata-Version": {"License-Expression": "MIT"},
    "two-line Summary": {"Summary": "one\n  two"},
    "invalid content type": {"Description-Content-Type": "text/html"},
    "invalid extra": {"Provides-Extra": "not an extra!"},
    "reStructuredText that does not render": {"__body__": "Title\n==\n\nSome `text\n"},
}
GOOD_METADATA = {
    "plain": {},
    "License-File under 2.1, as setuptools writes it": {"License-File": "LICENSE"},
    "markdown with markup errors": {
        "Description-Content-Type": "text/markdown",
        "__body__": "Some `text\n",
    },
    "reStructuredText": {"Description-Content-Type": "text/x-rst", "__body__": "Title\n=====\n"},
}


def metadata_wheel(root: Path, fields: dict[str, str]) -> Path:
    lines = ["Metadata-Version: 2.1", "Name: sample", "Version: 1.0", "Summary: s"]
    lines = [line for line in lines if line.split(":")[0] not in fields]
    lines += [f"{key}: {value}" for key, value in fields.items() if key != "__body__"]
    text = "\n".join(lines) + "\n\n" + fields.get("__body__", "")
    return SampleProject("sample", root).wheel("1.0", metadata=text)


def twine_refuses(path: Path) -> bool:
    """What `twine check` (its public function) says: True when it refuses the file."""
    code = (
        "import sys\n"
        "from twine.commands.check import check\n"
        "from twine.exceptions import InvalidDistribution\n"
        "try:\n"
        "    sys.exit(1 if check([sys.argv[1]]) else 0)\n"
        "except InvalidDistribution:\n"
        "    sys.exit(1)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode == 1


@pytest.mark.parametrize("fields", BAD_METADATA.values(), ids=list(BAD_METADATA))
def test_what_twine_check_refuses_the_core_refuses(fields: dict[str, str], tmp_path: Path) -> None:
    wheel = metadata_wheel(tmp_path, fields)
    assert twine_refuses(wheel)  # if twine stops refusing it, this list needs a look

    with pytest.raises(InvalidDistribution, match="invalid metadata: ") as refused:
        read_for_upload(wheel)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("fields", GOOD_METADATA.values(), ids=list(GOOD_METADATA))
def test_what_twine_check_accepts_the_core_accepts(fields: dict[str, str], tmp_path: Path) -> None:
    wheel = metadata_wheel(tmp_path, fields)
    assert not twine_refuses(wheel)

    read_for_upload(wheel)


# The ends of archives


def tar_gz(
    members: dict[str, bytes],
    *,
    cut_at: int | None = None,
    tail: bytes = b"",
    flip_at: int | None = None,
) -> bytes:
    """A .tar.gz whose gzip layer is intact; the tar inside cut at `cut_at`, `tail` appended,
    the byte at `flip_at` changed."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    tar = bytearray(out.getvalue()[:cut_at] + tail)
    if flip_at is not None:
        tar[flip_at] ^= 0xFF
    return gzip.compress(bytes(tar))


SDIST_MEMBERS = {
    "hello_world-1.0/PKG-INFO": core_metadata("hello-world", "1.0").encode(),
    "hello_world-1.0/setup.py": b"",
    "hello_world-1.0/hello_world/__init__.py": b"A = 1\n",
}


def tar_end(members: dict[str, bytes]) -> int:
    """Where the end-of-archive blocks of an uncompressed tar of `members` start."""
    return sum(512 + (len(data) + 511) // 512 * 512 for data in members.values())


END = tar_end(SDIST_MEMBERS)
DAMAGED_TARS = {
    "cut between two members": ({"cut_at": 1024}, "the tar archive is cut short at byte 1024"),
    "cut inside a header": ({"cut_at": 1124}, "the tar archive is cut short at byte 1024"),
    "no end-of-archive blocks": ({"cut_at": END}, f"the tar archive is cut short at byte {END}"),
    "a damaged second header": ({"flip_at": 1024 + 10}, "damaged tar header at byte 1024"),
    "data after the end": (
        {"cut_at": END + 1024, "tail": b"junk"},
        "data after the end of the tar archive",
    ),
}


@pytest.mark.parametrize("case", DAMAGED_TARS.values(), ids=list(DAMAGED_TARS))
def test_a_tar_stream_must_reach_its_end(case: tuple[dict[str, Any], str], tmp_path: Path) -> None:
    """The gzip layer is intact in each case: only the tar stream tells."""
    damage, message = case
    path = tmp_path / "hello_world-1.0.tar.gz"
    path.write_bytes(tar_gz(SDIST_MEMBERS, **damage))

    with pytest.raises(InvalidDistribution, match=f"corrupt archive: {message}"):
        Distribution.read(path)


def test_one_end_of_archive_block_is_enough(tmp_path: Path) -> None:
    path = tmp_path / "hello_world-1.0.tar.gz"
    path.write_bytes(tar_gz(SDIST_MEMBERS, cut_at=tar_end(SDIST_MEMBERS) + 512))

    assert Distribution.read(path).project == "hello-world"


def test_overlapping_zip_members_are_refused(tmp_path: Path) -> None:
    path = overlapping_zip(
        tmp_path / "hello_world-1.0-py3-none-any.whl",
        core_metadata("hello-world", "1.0").encode(),
        "hello_world-1.0.dist-info/METADATA",
    )
    with zipfile.ZipFile(path) as archive:  # each member alone reads well
        assert archive.read("hello_world/inner.py") == b"x = 1\n" * 100

    with pytest.raises(InvalidDistribution, match=r"corrupt archive: .*[Oo]verlap"):
        Distribution.read(path)


def test_a_huge_pax_header_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """tarfile reads a pax header whole, at the size the archive claims: we bound the read."""
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = 64 * MIB
    out = io.BytesIO()
    out.write(header.tobuf(format=tarfile.USTAR_FORMAT))
    out.write(bytes(64 * MIB))  # the "header": 64 MiB of zeros, 64 KiB once compressed
    path = tmp_path / "hello_world-1.0.tar.gz"
    path.write_bytes(gzip.compress(out.getvalue()))

    with pytest.raises(InvalidDistribution, match=f"a tar header claims {64 * MIB} bytes"):
        Distribution.read(path)
