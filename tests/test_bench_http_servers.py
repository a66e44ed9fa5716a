"""`bench/http_servers.py` runs end to end for the servers it needs nothing extra for, so it
cannot rot. Its figures prove nothing on a shared CI machine and are not checked; the full
comparison is run by hand (`python -m bench.http_servers`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVERS = ["s3pypi serve (waitress)", "python -m http.server"]


@pytest.mark.bench
def test_quick_run_prints_the_three_tables() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run(
        [sys.executable, "-m", "bench.http_servers", "--quick", "--only", *SERVERS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    tables = result.stdout.split("\n\n")
    titles = [t.strip() for t in tables if t.strip() and not t.lstrip().startswith("|")]
    assert titles == [
        "Speed (page requests)",
        "200 concurrent wrong passwords (auth on)",
        "Robustness",
    ]
    rows = [line.split("|")[1].strip() for line in result.stdout.splitlines() if "|" in line]
    assert rows.count("s3pypi serve (waitress)") == 3  # speed, flood, robustness
    assert rows.count("python -m http.server") == 2  # no auth: no flood row
