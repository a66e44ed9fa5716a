"""`bench/upload_api.py` runs end to end (without pypiserver, which it would install), so it
cannot rot. Its figures are not checked: the comparison is run by hand."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.bench
def test_quick_run_prints_both_tables() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run(
        [sys.executable, "-m", "bench.upload_api", "--quick", "--large", "8MiB", "--no-pypiserver"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split("|")[1:3] for line in result.stdout.splitlines() if line.startswith("| ")]
    names = [name.strip() for name, _ in rows if name.strip() != "publisher"]
    assert names == [
        "twine upload -> s3pypi serve (directory)",
        "s3pypi upload (directory)",
        "twine upload -> s3pypi serve (bucket, moto)",
        "s3pypi upload (bucket, moto)",
        "twine upload -> s3pypi serve (directory)",
        "s3pypi upload (directory)",
    ]
    assert not any("failed" in seconds for _, seconds in rows)
    assert "One 8 MiB upload (twine)" in result.stdout
