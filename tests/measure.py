"""Running a console script and measuring its own peak memory (RSS)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import BIN

MIB = 1024 * 1024


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str
    max_rss: int
    """Peak resident memory of the process, in bytes."""


MEASURE = """
import resource, subprocess, sys
result = subprocess.run(sys.argv[2:])
with open(sys.argv[1], "w") as report:
    report.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(result.returncode)
"""
"""Runs a command and writes its peak RSS (KiB). A launcher of its own, because a child's peak
RSS counts the memory of the process it was forked from (here a test worker of 200 MiB)."""


def run_measured(*args: str | Path, tmp: Path) -> Finished:
    """Run a console script; measure its own peak RSS."""
    report = tmp / "max_rss"
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, report, BIN / str(args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return Finished(result.returncode, result.stdout, result.stderr, int(report.read_text()) * 1024)
