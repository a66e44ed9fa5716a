"""Property-based: damaged archives are refused with one line, or are wholly readable.

Valid wheels and sdists are mutated (cut, bit-flipped, members reordered, duplicated or
recompressed) and fed to the reader and validator. Whatever it accepts must read to the end with
the standard library on its own terms (every zip member's CRC, every tar member's data, the
compressed stream's trailer); whatever it refuses, it refuses with `InvalidDistribution` and one
line. No other exception may come out.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import subprocess
import sys
import tarfile
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3pypi_core.distribution import read_for_upload
from s3pypi_core.exceptions import InvalidDistribution
from tests.damaged import payload
from tests.distributions import SampleProject

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure here is reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
EXTENSIONS = [".whl", ".tar.gz", ".tar.bz2", ".tar.xz", ".zip"]
ZIP_METHODS = [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """One valid distribution per archive format, with a member large enough to cut into."""
    project = SampleProject("hello-world", tmp_path_factory.mktemp("originals"))
    files = {".whl": project.wheel("1.0", payload=payload(20_000))}
    for extension in EXTENSIONS[1:]:
        files[extension] = project.sdist("1.0", extension=extension, payload=payload(20_000))
    return {extension: path.read_bytes() for extension, path in files.items()}


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="s3pypi-mutations-") as tmp:
        yield Path(tmp)


def filename(extension: str) -> str:
    return (
        "hello_world-1.0-py3-none-any.whl" if extension == ".whl" else f"hello_world-1.0{extension}"
    )


# Mutations: each takes the archive's bytes and the hypothesis data to draw from.

Mutation = Callable[[bytes, st.DataObject], bytes]


def truncate(data: bytes, draw: st.DataObject) -> bytes:
    return data[: draw.draw(st.integers(1, len(data) - 1), label="cut at")]


def flip_bits(data: bytes, draw: st.DataObject) -> bytes:
    damaged = bytearray(data)
    for _ in range(draw.draw(st.integers(1, 4), label="flips")):
        at = draw.draw(st.integers(0, len(data) - 1), label="at")
        damaged[at] ^= 1 << draw.draw(st.integers(0, 7), label="bit")
    return bytes(damaged)


def _zip_members(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info, archive.read(info)) for info in archive.infolist()]


def _tar_members(data: bytes, extension: str) -> list[tuple[tarfile.TarInfo, bytes]]:
    members = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as t:
        for info in t.getmembers():
            extracted = t.extractfile(info)
            members.append((info, extracted.read() if extracted else b""))
    return members


def _write_zip(members: list[tuple[zipfile.ZipInfo, bytes]], methods: list[int]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for (info, content), method in zip(members, methods, strict=True):
            copy = zipfile.ZipInfo(info.filename, info.date_time)
            copy.compress_type = method
            archive.writestr(copy, content)
    return out.getvalue()


def _write_tar(members: list[tuple[tarfile.TarInfo, bytes]], extension: str) -> bytes:
    out = io.BytesIO()
    mode = f"w:{extension.rpartition('.')[2]}"
    with tarfile.open(fileobj=out, mode=mode) as archive:  # type: ignore[call-overload]
        for info, content in members:
            archive.addfile(info, io.BytesIO(content))
    return out.getvalue()


def restructure(extension: str) -> Mutation:
    """Members reordered, one maybe duplicated, zip members recompressed by any method."""

    def mutate(data: bytes, draw: st.DataObject) -> bytes:
        is_zip = extension in (".whl", ".zip")
        members: list[tuple[object, bytes]] = list(
            _zip_members(data) if is_zip else _tar_members(data, extension)
        )
        members = draw.draw(st.permutations(members), label="order")
        if draw.draw(st.booleans(), label="duplicate"):
            members.append(members[draw.draw(st.integers(0, len(members) - 1), label="which")])
        if is_zip:
            methods = draw.draw(
                st.lists(
                    st.sampled_from(ZIP_METHODS), min_size=len(members), max_size=len(members)
                ),
                label="methods",
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "Duplicate name": the point of the mutation
                return _write_zip(members, methods)  # type: ignore[arg-type]
        return _write_tar(members, extension)  # type: ignore[arg-type]

    return mutate


def readable_to_the_end(path: Path) -> None:
    """Read the file as installers would, with the standard library alone: no error may come."""
    data = path.read_bytes()
    if path.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None  # every member decompressed, every CRC checked
        return
    decompress = {"gz": gzip.decompress, "bz2": bz2.decompress, "xz": lzma.decompress}
    tar = decompress[path.name.rpartition(".")[2]](data)  # to the trailer, checks included
    with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as archive:
        for member in archive:
            extracted = archive.extractfile(member)
            if extracted is not None:
                assert len(extracted.read()) == member.size


def check(path: Path) -> None:
    """The property: refused with one line, or accepted and wholly readable, nothing else."""
    try:
        dist = read_for_upload(path)
    except InvalidDistribution as refused:
        message = str(refused)
        assert message.startswith(f"{path}: ")
        assert not set(message) & {"\n", "\r"}
        return
    readable_to_the_end(path)
    data = path.read_bytes()
    assert (dist.sha256, dist.size) == (hashlib.sha256(data).hexdigest(), len(data))


@pytest.mark.parametrize("extension", EXTENSIONS)
@pytest.mark.parametrize("mutation", ["truncate", "flip_bits", "restructure", "restructure+flip"])
@SETTINGS
@given(draw=st.data())
def test_mutated_archives_are_refused_with_one_line_or_wholly_readable(
    originals: dict[str, bytes],
    workdir: Path,
    extension: str,
    mutation: str,
    draw: st.DataObject,
) -> None:
    mutations: dict[str, list[Mutation]] = {
        "truncate": [truncate],
        "flip_bits": [flip_bits],
        "restructure": [restructure(extension)],
        "restructure+flip": [restructure(extension), flip_bits],
    }
    data = originals[extension]
    for mutate in mutations[mutation]:
        data = mutate(data, draw)
    path = workdir / filename(extension)
    path.write_bytes(data)

    check(path)


def test_the_originals_are_accepted(originals: dict[str, bytes], workdir: Path) -> None:
    for extension, data in originals.items():
        path = workdir / filename(extension)
        path.write_bytes(data)
        read_for_upload(path)


@pytest.mark.slow
def test_pip_installs_accepted_mutations(originals: dict[str, bytes], tmp_path: Path) -> None:
    """A few restructured archives the reader accepts: pip installs them from a directory."""
    wheel_members = _zip_members(originals[".whl"])
    recompressed = _write_zip(
        list(reversed(wheel_members)),
        [ZIP_METHODS[i % len(ZIP_METHODS)] for i in range(len(wheel_members))],
    )
    sdist_members = _tar_members(originals[".tar.gz"], ".tar.gz")
    reordered_sdist = _write_tar(list(reversed(sdist_members)), ".tar.gz")
    for name, data, options in [
        ("hello_world-1.0-py3-none-any.whl", recompressed, ["--only-binary", ":all:"]),
        ("hello_world-1.0.tar.gz", reordered_sdist, ["--no-binary", ":all:"]),
    ]:
        index = tmp_path / name.replace(".", "_")
        index.mkdir()
        (index / name).write_bytes(data)
        read_for_upload(index / name)
        target = tmp_path / f"target-{index.name}"
        result = subprocess.run(
            [
                *(sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps"),
                *("--no-build-isolation", "--disable-pip-version-check", *options),
                *("--find-links", str(index), "--target", str(target), "hello-world==1.0"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        assert (target / "hello_world" / "__init__.py").read_bytes().startswith(b"VERSION = '1.0'")
