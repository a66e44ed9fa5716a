"""Damaged and invalid files, given to every front end: the same one-line refusal, exit status 1,
and nothing written. `s3pypi upload`, `s3pypi-twine upload` and `hatch publish -p s3pypi` run as
the real console scripts."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Bucket, run_console_script
from tests.frontends import bytecode_cache
from tests.test_bad_input import (
    make_corrupt_tar_xz,
    make_crc_corrupt_wheel,
    make_cut_sdist,
    make_deflate64_metadata,
    make_encrypted_member,
    make_invalid_requires_python,
)
from tests.test_hatch import HatchProject, build_env, make_project

__all__ = ["build_env", "bytecode_cache", "make_project"]  # fixtures

pytestmark = pytest.mark.slow  # Hatch runs in a subprocess for every case

CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "encrypted member": (make_encrypted_member, "archive member 'hello_world/__init__.py' is "),
    "deflate64 METADATA": (make_deflate64_metadata, "compression method 9 (deflate64)"),
    "corrupt .tar.xz": (make_corrupt_tar_xz, "corrupt archive: "),
    "CRC-corrupt member": (make_crc_corrupt_wheel, "corrupt archive: Bad CRC-32"),
    "sdist cut in half": (make_cut_sdist(".tar.gz"), "corrupt archive: "),
    "invalid Requires-Python": (
        make_invalid_requires_python,
        """invalid metadata: '"><script>' is invalid for 'requires-python'""",
    ),
}


def reason(result: subprocess.CompletedProcess[str], filename: str) -> str:
    """The refusal's reason: the one line on stderr after the file's path."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0].split(f"{filename}: ", 1)[1]


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_every_front_end_refuses_with_the_same_line(
    case: tuple[Callable[[Path], Path], str],
    bucket: Bucket,
    make_project: Callable[..., HatchProject],
    tmp_path: Path,
) -> None:
    make, expected = case
    bad = make(tmp_path)
    url = f"s3://{bucket.name}"
    project = make_project(f'repository-url = "{url}"\n')
    project.dist.mkdir()
    shutil.copy(bad, project.dist / bad.name)

    reasons = {
        "s3pypi": reason(
            run_console_script("s3pypi", "upload", bad, "--bucket", bucket.name), bad.name
        ),
        "s3pypi-twine": reason(
            run_console_script(
                "s3pypi-twine", "upload", "--disable-progress-bar", "--repository-url", url, bad
            ),
            bad.name,
        ),
        "hatch": reason(project.publish(), bad.name),
    }

    assert expected in reasons["s3pypi"]
    assert reasons["s3pypi-twine"] == reasons["s3pypi"]
    assert reasons["hatch"] == reasons["s3pypi"]
    assert bucket.keys() == []
