"""A local-directory index: a write that fails (a name too long, a read-only directory, a full
disk) is one line with nothing half-written; leftovers of stopped publishers are reported by
`verify` and removed by `reindex`, once old enough; odd things in the directory crash nothing."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import Result

from s3pypi_core._inventory import LEFTOVER_AGE
from tests.conftest import BIN
from tests.damaged import payload
from tests.distributions import SampleProject

Run = Callable[..., Result]


def shortened(name: str) -> str:
    """A long name as messages show it."""
    return name[:20] + "..." + name[-40:]


def error_line(stderr: str) -> str:
    """The error of a command that logs its progress first; there must be one, and no
    traceback."""
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("s3pypi: error: ")]
    assert len(errors) == 1, stderr
    return errors[0]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` (temporary files included), by relative path."""
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".s3pypi.lock"
    }


def temporary_files(root: Path) -> list[str]:
    return [p.name for p in root.rglob(".s3pypi-tmp-*")]


@pytest.fixture
def index(run: Run, projects: Callable[..., SampleProject], tmp_path: Path) -> Path:
    root = tmp_path / "index"
    wheel = projects().wheel("1.0")
    assert (
        run("upload", wheel, "--repository-url", root.as_uri(), "--put-root-index").exit_code == 0
    )
    return root


# Names too long for the file system


def test_a_name_too_long_for_the_metadata_file_is_refused_before_writing(
    run: Run, index: Path, tmp_path: Path
) -> None:
    """A 255-byte wheel name is allowed; its `.metadata` file's 264 bytes are not (ext4,
    tmpfs, APFS: 255). Checked before the first write, so not even the wheel is written."""
    name = "a" * (255 - len("-1.0-py3-none-any.whl"))
    wheel = SampleProject(name, tmp_path / "long").wheel("1.0")
    assert len(wheel.name) == 255
    before = snapshot(index)

    result = run("upload", wheel, "--repository-url", index.as_uri())

    assert result.exit_code == 1
    assert result.stderr == (
        f"s3pypi: error: {wheel}: cannot be published to {index.as_uri()}/: the file name "
        f"{shortened(wheel.name + '.metadata')} is 264 bytes; {index} allows 255\n"
    )
    assert snapshot(index) == before


def test_what_a_name_too_long_left_behind_is_mended_as_far_as_it_can_be(
    run: Run, index: Path, tmp_path: Path
) -> None:
    """The state an older upload left: the wheel written, its `.metadata` file impossible, and
    a temporary file. reindex removes the leftover and lists the wheel without a `.metadata`
    file; verify then says why there is none."""
    name = "a" * (255 - len("-1.0-py3-none-any.whl"))
    wheel = SampleProject(name, tmp_path / "long").wheel("1.0")
    project = index / name
    project.mkdir()
    (project / wheel.name).write_bytes(wheel.read_bytes())
    leftover = project / ".s3pypi-tmp-k2j3h4g5"
    leftover.write_bytes(b"METADATA, half of it")
    age(leftover, LEFTOVER_AGE * 2)

    found = run("verify", "--repository-url", index.as_uri(), "--json")
    assert found.exit_code == 1
    assert sorted(p["kind"] for p in json.loads(found.stdout)) == [
        "leftover",
        "missing-root-entry",
        "unlisted-file",
    ]

    mended = run("reindex", "--repository-url", index.as_uri())
    assert mended.exit_code == 0, mended.output
    assert f"{name}: removed .s3pypi-tmp-k2j3h4g5 (20 bytes)" in mended.stdout
    assert f"{name}: listed {wheel.name}" in mended.stdout
    assert temporary_files(index) == []

    left = json.loads(run("verify", "--repository-url", index.as_uri(), "--json").stdout)
    assert [(p["kind"], p["message"]) for p in left] == [
        (
            "missing-metadata",
            "no .metadata file (PEP 658), and there cannot be one: the file name "
            f"{shortened(wheel.name + '.metadata')} is 264 bytes; {project} allows 255",
        )
    ]


# Permissions


@contextlib.contextmanager
def read_only(root: Path) -> Iterator[None]:
    """Make every directory under `root` read-only, for root too (the immutable attribute)."""
    directories = [root, *(p for p in root.rglob("*") if p.is_dir())]
    for directory in directories:
        directory.chmod(0o555)
    immutable = os.geteuid() == 0
    try:
        if immutable:
            for directory in directories:
                done = subprocess.run(["chattr", "+i", directory], capture_output=True)
                if done.returncode != 0:
                    pytest.skip(f"running as root, and chattr +i fails: {done.stderr!r}")
        yield
    finally:
        for directory in directories:
            if immutable:
                subprocess.run(["chattr", "-i", directory], capture_output=True)
            directory.chmod(0o755)


def test_a_read_only_directory_is_one_line_and_nothing_is_written(
    run: Run, index: Path, projects: Callable[..., SampleProject]
) -> None:
    wheel = projects().wheel("2.0")
    before = snapshot(index)

    with read_only(index):
        result = run("upload", wheel, "--repository-url", index.as_uri())
        again = run("reindex", "--repository-url", index.as_uri())

    assert result.exit_code == 1
    assert error_line(result.stderr) in {
        f"s3pypi: error: cannot write {index.as_uri()}/hello-world/{wheel.name}: {reason}"
        for reason in ("Permission denied", "Operation not permitted")
    }
    assert again.exit_code == 0, again.output  # nothing to change: nothing written
    assert snapshot(index) == before


# A full disk


def limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_write_that_fails_midway_leaves_no_temporary_file(
    index: Path, projects: Callable[..., SampleProject]
) -> None:
    """A file that cannot be written whole (here: a file-size limit, as a full disk would
    stop it) is one line, and its temporary file is removed."""
    wheel = projects().wheel("2.0", payload=payload(3 * 1024 * 1024))
    before = snapshot(index)

    result = subprocess.run(
        [BIN / "s3pypi", "upload", wheel, "--repository-url", index.as_uri()],
        capture_output=True,
        text=True,
        preexec_fn=limit_file_size(1024 * 1024),
        timeout=120,
    )

    assert result.returncode == 1
    assert error_line(result.stderr) == (
        f"s3pypi: error: cannot write {index.as_uri()}/hello-world/{wheel.name}: File too large"
    )
    assert snapshot(index) == before


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB file system (tmpfs), where the system allows mounting one."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", mount], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()!r}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", mount], check=True)


def test_a_full_disk_is_one_line_and_leaves_no_temporary_file(
    run: Run, small_disk: Path, projects: Callable[..., SampleProject]
) -> None:
    index = small_disk / "index"
    assert run("upload", projects().wheel("1.0"), "--repository-url", index.as_uri()).exit_code == 0
    before = snapshot(index)
    wheel = projects().wheel("2.0", payload=payload(1024 * 1024))

    result = run("upload", wheel, "--repository-url", index.as_uri())

    assert result.exit_code == 1
    assert error_line(result.stderr) == (
        f"s3pypi: error: cannot write {index.as_uri()}/hello-world/{wheel.name}: "
        "No space left on device"
    )
    assert snapshot(index) == before


# Leftovers of stopped publishers


def age(path: Path, by: timedelta) -> None:
    then = time.time() - by.total_seconds()
    os.utime(path, (then, then))


def test_a_killed_publishers_temporary_file_is_reported_and_removed_once_old(
    run: Run, index: Path
) -> None:
    """A temporary file not written for LEFTOVER_AGE is a leftover; a younger one may be a
    publisher at work, and is left alone."""
    old = index / "hello-world" / ".s3pypi-tmp-old12345"
    old.write_bytes(b"PK\x03\x04 half a wheel")
    age(old, LEFTOVER_AGE + LEFTOVER_AGE / 10)
    young = index / "hello-world" / ".s3pypi-tmp-young123"
    young.write_bytes(b"PK\x03\x04 being written")
    age(young, LEFTOVER_AGE - LEFTOVER_AGE / 10)
    at_root = index / ".s3pypi-tmp-rootpage"
    at_root.write_bytes(b"<!DOCTYPE")
    age(at_root, LEFTOVER_AGE * 4)

    found = run("verify", "--repository-url", index.as_uri(), "--json")
    assert found.exit_code == 1
    assert [(p["kind"], p["key"], p["project"]) for p in json.loads(found.stdout)] == [
        ("leftover", f"{index.as_uri()}/.s3pypi-tmp-rootpage", None),
        ("leftover", f"{index.as_uri()}/hello-world/.s3pypi-tmp-old12345", "hello-world"),
    ]
    assert "not written for over 15 minutes" in json.loads(found.stdout)[0]["message"]

    dry = run("reindex", "--repository-url", index.as_uri(), "--dry-run")
    assert dry.exit_code == 0
    assert old.exists()
    assert at_root.exists()

    mended = run("reindex", "--repository-url", index.as_uri())
    assert mended.exit_code == 0, mended.output
    assert mended.stdout.splitlines() == [
        "(index): removed .s3pypi-tmp-rootpage (9 bytes), a temporary file left by a "
        "publisher that was stopped",
        "hello-world: removed .s3pypi-tmp-old12345 (17 bytes), a temporary file left by a "
        "publisher that was stopped",
    ]
    assert not old.exists()
    assert not at_root.exists()
    assert young.exists()
    assert run("verify", "--repository-url", index.as_uri()).exit_code == 0


def test_odd_things_in_the_directory_crash_nothing(
    run: Run, index: Path, projects: Callable[..., SampleProject]
) -> None:
    project = index / "hello-world"
    (project / "hello_world-3.0-py3-none-any.whl").mkdir()  # a directory named like a file
    (project / "notes" / "deeper").mkdir(parents=True)
    (project / "notes" / "deeper" / "hello_world-4.0-py3-none-any.whl").write_bytes(b"x")
    (project / "hello_world-5.0-py3-none-any.whl").symlink_to(index / "nowhere")
    (index / "not a project!").mkdir()
    (index / "not a project!" / "file.txt").write_bytes(b"x")
    (index / "README.txt").write_bytes(b"x")

    for command in ("verify", "reindex", "verify"):
        result = run(command, "--repository-url", index.as_uri())
        assert result.exit_code == 0, (command, result.output)
    assert run("upload", projects().wheel("2.0"), "--repository-url", index.as_uri()).exit_code == 0


def test_a_page_that_cannot_be_written_fails_that_project_only(
    run: Run, index: Path, projects: Callable[..., SampleProject]
) -> None:
    """reindex reports what it could not do, does the rest, and exits 1."""
    url = index.as_uri()
    assert run("upload", projects("other").wheel("1.0"), "--repository-url", url).exit_code == 0
    (index / "hello-world" / "index.json").unlink()
    (index / "hello-world" / "index.json").mkdir()  # where the JSON page should be written
    (index / "other" / "index.json").unlink()

    result = run("reindex", "--repository-url", url)

    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].startswith(
        f"hello-world: not rebuilt: cannot write {url}/hello-world/index.json: "
    )
    assert "other: pages rewritten (HTML and JSON)" in result.stdout
    assert (index / "other" / "index.json").is_file()
    assert result.stderr.splitlines()[-1] == f"error: 1 thing(s) could not be done in {url}/"
