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


@pytest.mark.bench
def test_smoke_run_prints_the_table_and_writes_it_for_the_docs(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    results = tmp_path / "results.md"
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--markdown", str(results)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
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

    # The docs' benchmark page includes this file: the same table, and how it was measured.
    written = results.read_text()
    assert "\n".join(table) in written
    assert "`python -m bench.run --smoke`" in written
    setup = next(line for line in result.stdout.splitlines() if line.startswith("s3pypi "))
    assert setup in written


@pytest.mark.bench
def test_validate_benchmark_prints_its_table() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "validate.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| bench_validate")]
    assert [row.split("|")[1].strip() for row in rows] == [
        "bench_validate-1.0-py3-none-any.whl",
        "bench_validate-1.0.tar.gz",
    ]
