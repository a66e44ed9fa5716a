"""What a user does first: publish to a local directory index, and pip installs from it."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.distributions import SampleProject

ROOT = Path(__file__).parent.parent
Run = Callable[..., Result]


def pip_install(target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Real pip, into a throwaway environment, ignoring the machine's pip configuration."""
    return subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(target / "bin" / "python"), "install",
         "--no-cache-dir", "--disable-pip-version-check", *args],
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip


@pytest.mark.slow
def test_pip_installs_from_a_local_directory_index(
    run: Run, tmp_path: Path, projects: Callable[..., SampleProject]
) -> None:
    projects("acme-core").wheel("1.0", requires_python=">=3.8")
    projects("acme-core").wheel("2.0", requires_python=">=3.8")
    projects("acme-core").sdist("2.0")
    projects("acme-app").wheel("0.1", requires=["acme-core<2"])
    index = tmp_path / "index"

    result = run("upload", tmp_path / "dist/*", "--repository-url", index.as_uri())
    assert result.exit_code == 0, result.output

    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    installed = pip_install(target, "--index-url", index.as_uri() + "/", "acme-app")

    assert installed.returncode == 0, installed.stderr
    assert "Successfully installed acme-app-0.1 acme-core-1.0" in installed.stdout
    code = "import acme_app, acme_core; print(acme_core.VERSION)"
    out = subprocess.run(
        [target / "bin" / "python", "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout == "1.0\n"


@pytest.mark.slow
def test_readme_demo(tmp_path: Path) -> None:
    """The README's first command: build, publish to `file://`, pip install, run."""
    result = subprocess.run(
        [sys.executable, ROOT / "examples" / "demo.py", "--workdir", tmp_path / "demo"],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr
    assert "Hello from a private package index!" in result.stdout
    assert (tmp_path / "demo/index/hello-s3pypi/hello_s3pypi-1.0.0.tar.gz").is_file()
