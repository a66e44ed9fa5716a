"""What `pip install s3pypi` gives a user: a lean install whose commands work, the extras for the
front ends that need more, and the licence and project URLs in the wheel."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.distributions import SampleProject

ROOT = Path(__file__).parent.parent
BIN = Path(sys.executable).parent

LEAN = {
    "s3pypi",
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python-dateutil",
    "six",
    "urllib3",
    "click",
    "packaging",
    "waitress",
    "python-multipart",
    "readme-renderer",
    "nh3",
    "docutils",
    "pygments",
    "comrak",
}
"""s3pypi and what its core needs: boto3 (with its own), click, packaging, waitress and
python-multipart (serve, and its upload API), readme-renderer with Markdown (READMEs rendered at
publish time, for the human view)."""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [BIN / "hatchling", "build", "-t", "wheel", "-d", out],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("s3pypi-*.whl")
    return built


def test_the_wheel_carries_the_licence_and_project_urls(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_bytes(archive.read(metadata_name))

    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert metadata["License-Expression"] == "MIT"
    urls = dict(url.split(", ", 1) for url in metadata.get_all("Project-URL", []))
    assert {"Homepage", "Documentation", "Source", "Changelog"} <= urls.keys()
    extras = metadata.get_all("Provides-Extra", [])
    assert sorted(extras) == ["hatch", "mirror", "twine"]


@pytest.mark.slow
def test_pip_install_s3pypi_is_lean_and_says_what_an_extra_adds(
    wheel: Path, tmp_path: Path
) -> None:
    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    pip: list[str | Path] = [sys.executable, "-m", "pip", "--python", target / "bin" / "python"]
    subprocess.run([*pip, "install", "--quiet", wheel], check=True, capture_output=True)

    listed = subprocess.run(
        [*pip, "list", "--format", "json"], check=True, capture_output=True, text=True
    )
    installed = {canonicalize_name(item["name"]) for item in json.loads(listed.stdout)}
    assert installed == LEAN

    # The core command works as it is.
    project = SampleProject("hello-world", tmp_path / "dist")
    index = tmp_path / "index"
    upload = subprocess.run(
        [target / "bin" / "s3pypi", "upload", project.wheel("1.0"), "--repository-url",
         index.as_uri()],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert upload.returncode == 0, upload.stderr
    assert (index / "hello-world" / "index.json").is_file()

    # The mirror says what it needs (uv, neither installed nor on PATH), in one line.
    mirror = subprocess.run(
        [target / "bin" / "s3pypi", "mirror", "six", "--repository-url", index.as_uri()],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": "/usr/bin:/bin"},
    )
    assert mirror.returncode == 1
    assert mirror.stderr == (
        "s3pypi: error: s3pypi mirror resolves with uv, which is not installed: "
        "pip install 's3pypi[mirror]' (or put uv on PATH)\n"
    )

    # Metadata twine would refuse is refused without twine too (packaging's validation).
    invalid = project.wheel("1.2", requires_python='"><script>')
    refused = subprocess.run(
        [target / "bin" / "s3pypi", "upload", invalid, "--repository-url", index.as_uri()],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 1
    assert refused.stderr.endswith(
        """invalid metadata: '"><script>' is invalid for 'requires-python'\n"""
    )

    # The twine front end says what it needs, in one line.
    twine = subprocess.run(
        [target / "bin" / "s3pypi-twine", "upload", project.wheel("1.1")],
        capture_output=True,
        text=True,
    )
    assert twine.returncode == 1
    assert twine.stderr == (
        "s3pypi-twine: error: twine and rich are not installed: pip install 's3pypi[twine]'\n"
    )
