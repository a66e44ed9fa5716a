"""The mirror benchmark runs end to end at its smallest sizes, so it cannot rot (its figures
are for `python -m bench.mirror`, by hand)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.bench
def test_smoke_run_prints_every_figure() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run(
        [sys.executable, "-m", "bench.mirror", "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {
        line.split("|")[1].strip(): line
        for line in result.stdout.splitlines()
        if line.startswith("| ")
    }
    for what in (
        "s3pypi mirror (empty bucket)",
        "s3pypi mirror again (nothing new)",
        "pip download + s3pypi upload",
        "resolve for Python 3.10: uv pip compile",
    ):
        assert what in rows, result.stdout
    assert "legacy-shim found" in rows["resolve for Python 3.10: uv pip compile"]
