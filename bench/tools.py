"""The two publishers under test, and how one run of either is timed and measured."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"
OLD_VERSION = "2.0.1"
PIP_VERSION = "25.3"


@dataclass(frozen=True)
class Tool:
    name: str
    executable: Path

    def command(self, *args: str | Path) -> list[str]:
        return [str(self.executable), *map(str, args)]


@dataclass(frozen=True)
class Run:
    seconds: float
    max_rss: int
    """Peak resident memory of the process, in bytes."""
    output: str


class RunFailed(Exception):
    pass


def ours() -> Tool:
    """`s3pypi` of the environment the benchmark runs in: this checkout, installed."""
    executable = Path(sys.executable).parent / "s3pypi"
    if not executable.exists():
        raise RunFailed(
            f"no s3pypi beside {sys.executable}: install this checkout (pip install -e .)"
        )
    return Tool("ours", executable)


def theirs() -> Tool:
    """s3pypi 2.0.1 from PyPI, in a virtual environment of its own under bench/.cache/.

    Its boto3 is pinned to ours, so the comparison is of the tools, not of two SDK releases.
    """
    pins = [f"{name}=={version(name)}" for name in ("boto3", "botocore", "s3transfer")]
    venv = _venv(f"s3pypi-{OLD_VERSION}", [f"s3pypi=={OLD_VERSION}", *pins])
    return Tool(f"s3pypi {OLD_VERSION}", venv / "bin" / "s3pypi")


def pip_client() -> Path:
    """The python of a virtual environment with a known pip: the installer of scenario 5."""
    return _venv("pip-client", [f"pip=={PIP_VERSION}"]) / "bin" / "python"


def _venv(name: str, requirements: list[str]) -> Path:
    """A cached virtual environment with `requirements` from PyPI, made once.

    A marker written last tells a finished environment from one that was interrupted.
    """
    venv = CACHE / name
    marker = venv / ".bench-requirements"
    wanted = "\n".join(requirements)
    if marker.exists() and marker.read_text() == wanted:
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    print(f"bench: installing {' '.join(requirements)} into {venv}", file=sys.stderr)
    env = {**os.environ, "PIP_CONFIG_FILE": "/dev/null", "UV_NO_CONFIG": "1"}
    index = ["--index-url", "https://pypi.org/simple"]
    uv = shutil.which("uv", path=str(Path(sys.executable).parent))
    python = str(venv / "bin" / "python")
    if uv:
        _check([uv, "venv", "-q", "--python", sys.executable, str(venv)], env)
        _check(
            [
                uv,
                "pip",
                "install",
                "-q",
                "--compile-bytecode",
                "--python",
                python,
                *index,
                *requirements,
            ],
            env,
        )
    else:
        _check([sys.executable, "-m", "venv", str(venv)], env)
        _check(
            [
                python,
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                *index,
                *requirements,
            ],
            env,
        )
    marker.write_text(wanted)
    return venv


def _check(command: list[str], env: dict[str, str]) -> None:
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)


def run(command: list[str], env: dict[str, str], cwd: Path | None = None) -> Run:
    """Run a command to its end; its wall time, peak RSS and output (stdout and stderr)."""
    with tempfile.TemporaryFile() as output:
        start = time.perf_counter()
        process = subprocess.Popen(
            command, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=output, stderr=output
        )
        peak = _PeakRSS(process.pid, command[0])
        peak.start()
        process.wait()
        seconds = time.perf_counter() - start
        peak.join()
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    if process.returncode != 0:
        raise RunFailed(f"{' '.join(command)} exited with {process.returncode}:\n{text}")
    return Run(seconds=seconds, max_rss=peak.value, output=text)


class _PeakRSS(threading.Thread):
    """Polls a process's high-water RSS (VmHWM in /proc) until it exits.

    Not getrusage/wait4: their ru_maxrss includes the memory the child had as a fork of this
    (large) process before it exec'd the tool. VmHWM belongs to the exec'd program alone; a
    reading taken before the exec is told apart by the command line.
    """

    def __init__(self, pid: int, program: str) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.program = program.encode()
        self.value = 0

    def run(self) -> None:
        proc = Path(f"/proc/{self.pid}")
        while True:
            try:
                cmdline = (proc / "cmdline").read_bytes()
                status = (proc / "status").read_text()
            except (FileNotFoundError, ProcessLookupError):
                return
            hwm = next((line for line in status.splitlines() if line.startswith("VmHWM:")), None)
            if hwm is None:  # a zombie: the program has exited
                return
            if self.program in cmdline:
                self.value = max(self.value, int(hwm.split()[1]) * 1024)
            time.sleep(0.002)
