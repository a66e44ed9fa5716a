"""The metadata benchmark's offline mode runs, and meets its target, with real pip and uv."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.serving import installer_env

BENCH = Path(__file__).resolve().parent.parent / "bench" / "metadata_bytes.py"


@pytest.mark.bench
def test_metadata_bench_smoke() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--smoke"],
        capture_output=True,
        text=True,
        env=installer_env(),
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {
        label: (int(requests), int(size.replace(",", "")))
        for label, requests, size in re.findall(
            r"^(.+?, with(?:out)? metadata files) +(\d+) +([\d,]+)$", result.stdout, re.M
        )
    }
    assert set(rows) == {
        f"{tool}, {kind} metadata files"
        for tool in ("pip install --dry-run", "uv pip compile")
        for kind in ("with", "without")
    }
    pip_with = rows["pip install --dry-run, with metadata files"]
    pip_without = rows["pip install --dry-run, without metadata files"]
    assert pip_with[0] == pip_without[0]  # the same requests: a metadata file instead of a wheel
    assert pip_without[1] >= 10 * pip_with[1]
    assert re.search(
        r"takes \d+x fewer bytes with metadata files \(target 10x: met\)", result.stdout
    )
