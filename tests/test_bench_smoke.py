"""The benchmark runs end to end at its smallest sizes, so it cannot rot.

Only that it runs and reports every scenario is checked here: timings on a shared CI machine
prove nothing, and the full benchmark is run by hand (`python bench/run.py`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_smoke_run_prints_the_table() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    table = [line for line in result.stdout.splitlines() if line.startswith("|")]
    assert table[0].startswith("| Scenario | Measure | s3pypi 2.0.1 | ours |")
    titles = [row.split("|")[1].strip() for row in table[2:]]
    for number in "12345":
        assert any(title.startswith(f"{number}. ") for title in titles), titles
    measures = {row.split("|")[2].strip() for row in table[2:]}
    assert {"wall time", "requests", "bytes (sent + received)", "peak RSS"} <= measures
    assert "bytes pip fetched" in measures
