"""Benchmark: publishing through the upload API of `s3pypi serve`, against pypiserver and
against `s3pypi upload`.

    python -m bench.upload_api                  # 3 runs of each, a 1 GiB upload (a few minutes)
    python -m bench.upload_api --quick          # 1 run, a 64 MiB upload (CI's smoke run)
    python -m bench.upload_api --large 256MiB --runs 5
    python -m bench.upload_api --quick --large 8MiB --no-pypiserver   # nothing to install

40 files (20 projects, a wheel and an sdist each) are published into an empty index by:
- `twine upload` to `s3pypi serve` (this checkout) in front of a directory, and of a bucket
  (moto on 127.0.0.1, no added latency),
- `twine upload` to pypiserver 2.4.2 (its default server, wsgiref) over a directory,
- `s3pypi upload` straight into a directory, and into a bucket.
Both servers check a password (scrypt for ours, bcrypt for pypiserver) and run on this
machine; twine is this environment's. Each run starts from an empty index and a fresh server
(not timed). Then one large wheel (a sparse file: a hole of zeros, then a small wheel) is
uploaded by twine to each server, and the server's peak resident memory (VmHWM) is read.

Figures: the median wall time of the runs, per file, and the server's peak RSS (for
`s3pypi upload`, its own). pypiserver is installed into bench/.cache/ on first use.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.dists import write_large_wheel, write_release
from bench.http_servers import PASSWORD, _write_htpasswd
from bench.servers import moto_server
from bench.tools import RunFailed, _venv, run

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PROJECTS = 20
USER = "alice"  # with PASSWORD, in pypiserver's htpasswd as bench.http_servers writes it
PYPISERVER = ["pypiserver==2.4.2", "passlib==1.7.4", "bcrypt==4.0.1"]
MIB = 1024 * 1024


@dataclass
class Row:
    name: str
    seconds: list[float] = field(default_factory=list)
    peak_rss: int = 0
    failed: str = ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 run and a 64 MiB upload")
    parser.add_argument("--runs", type=int, help="runs of each (default 3; 1 with --quick)")
    parser.add_argument("--large", help="size of the large upload, e.g. 1GiB (default)")
    parser.add_argument("--no-pypiserver", action="store_true", help="leave pypiserver out")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    runs = args.runs or (1 if args.quick else 3)
    large = _size(args.large or ("64MiB" if args.quick else "1GiB"))
    with tempfile.TemporaryDirectory(prefix="s3pypi-upload-bench-") as tmp:
        work = Path(tmp)
        dist = work / "dist"
        files = [p for i in range(PROJECTS) for p in write_release(dist, f"bench-{i:02d}", "1.0")]
        venv = None if args.no_pypiserver else _venv("pypiserver", PYPISERVER)
        if venv is not None:
            _write_htpasswd(work / "htpasswd", venv)
        from s3pypi_core import auth

        users = work / "users.json"
        users.write_text(json.dumps({USER: {**auth.hash_password(PASSWORD), "publish": True}}))
        with moto_server() as moto:
            env = _aws(moto)
            rows = _publish_40(work, files, users, venv, env, runs)
            big = write_large_wheel(work / "large", "large", "1.0", large)
            large_rows = _publish_large(work, big, users, venv, env)
    print(f"s3pypi serve, pypiserver 2.4.2 and s3pypi upload on 127.0.0.1; median of {runs}")
    print()
    print(f"Publishing {len(files)} files ({PROJECTS} projects, a wheel and an sdist each)")
    print()
    print("| publisher | wall time (s) | per file (ms) | peak RSS (MiB) |")
    print("|---|---:|---:|---:|")
    for row in rows:
        _print_row(row, per=len(files))
    print()
    print(f"One {large // MIB} MiB upload (twine)")
    print()
    print("| publisher | wall time (s) | per file (ms) | peak RSS (MiB) |")
    print("|---|---:|---:|---:|")
    for row in large_rows:
        _print_row(row, per=1)


def _publish_40(
    work: Path, files: list[Path], users: Path, venv: Path | None, env: dict[str, str], runs: int
) -> list[Row]:
    rows = [
        Row("twine upload -> s3pypi serve (directory)"),
        Row("twine upload -> pypiserver 2.4.2 (directory)"),
        Row("s3pypi upload (directory)"),
        Row("twine upload -> s3pypi serve (bucket, moto)"),
        Row("s3pypi upload (bucket, moto)"),
    ]
    rows = [row for row in rows if venv is not None or "pypiserver" not in row.name]
    for n in range(runs):
        for row in rows:
            print(f"bench: {row.name} ({n + 1}/{runs})", file=sys.stderr)
            try:
                seconds, rss = _one(row.name, work, files, users, venv, env)
            except (RuntimeError, RunFailed, subprocess.SubprocessError) as e:
                row.failed = str(e).splitlines()[0][:120]
                continue
            row.seconds.append(seconds)
            row.peak_rss = max(row.peak_rss, rss)
    return rows


def _publish_large(
    work: Path, big: Path, users: Path, venv: Path | None, env: dict[str, str]
) -> list[Row]:
    rows = [
        Row("twine upload -> s3pypi serve (directory)"),
        Row("twine upload -> pypiserver 2.4.2 (directory)"),
        Row("s3pypi upload (directory)"),
    ]
    rows = [row for row in rows if venv is not None or "pypiserver" not in row.name]
    for row in rows:
        print(f"bench: {row.name}, large", file=sys.stderr)
        try:
            seconds, rss = _one(row.name, work, [big], users, venv, env)
        except (RuntimeError, RunFailed, subprocess.SubprocessError) as e:
            row.failed = str(e).splitlines()[0][:120]
            continue
        row.seconds.append(seconds)
        row.peak_rss = rss
    return rows


def _one(
    name: str, work: Path, files: list[Path], users: Path, venv: Path | None, env: dict[str, str]
) -> tuple[float, int]:
    """One publish into a fresh index: wall time and the server's (or tool's) peak RSS."""
    place = work / f"index-{uuid.uuid4().hex[:8]}"
    place.mkdir()
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    on_bucket = "bucket" in name
    if on_bucket:
        _create_bucket(bucket, env)
    target = ["--bucket", bucket] if on_bucket else ["--repository-url", place.as_uri()]
    if name.startswith("s3pypi upload"):
        result = run([str(BIN / "s3pypi"), "upload", *map(str, files), *target], env)
        return result.seconds, result.max_rss
    if "pypiserver" in name:
        assert venv is not None
        command = [str(venv / "bin" / "pypi-server"), "run", "-i", "127.0.0.1", "-p", "{port}",
                   "-a", "update", "-P", str(work / "htpasswd"), str(place)]  # fmt: skip
        upload_path, health = "/", "/"
    else:
        command = [str(BIN / "s3pypi"), "serve", *target, "--users", str(users), "--port",
                   "{port}", "--max-upload-size", "2GiB"]  # fmt: skip
        upload_path, health = "/legacy/", "/-/health"
    with _server(command, env, health, work) as (port, pid):
        twine = [str(BIN / "twine"), "upload", "--repository-url",
                 f"http://127.0.0.1:{port}{upload_path}", "-u", USER, "-p", PASSWORD,
                 "--non-interactive", "--disable-progress-bar", *map(str, files)]  # fmt: skip
        result = run(twine, env)
        return result.seconds, _peak_rss(pid)


@contextlib.contextmanager
def _server(
    command: list[str], env: dict[str, str], health: str, work: Path
) -> Iterator[tuple[int, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [c.replace("{port}", str(port)) for c in command]
    log = work / f"server-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=out, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{health}", timeout=5):
                    break
            except OSError as e:
                if getattr(e, "code", None) in (401, 403):  # up, and asking for a password
                    break
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{command[0]} did not start: {log.read_text()}") from None
                time.sleep(0.1)
        yield port, process.pid
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _aws(moto: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TWINE_"))}
    env.update(
        AWS_ENDPOINT_URL=moto,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def _create_bucket(name: str, env: dict[str, str]) -> None:
    import boto3

    boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=name)


def _size(text: str) -> int:
    units = {"kib": 1024, "mib": MIB, "gib": 1024 * MIB}
    for unit, factor in units.items():
        if text.lower().endswith(unit):
            return int(text[: -len(unit)]) * factor
    return int(text)


def _print_row(row: Row, *, per: int) -> None:
    if not row.seconds:
        print(f"| {row.name} | failed: {row.failed} | | |")
        return
    median = statistics.median(row.seconds)
    print(f"| {row.name} | {median:.2f} | {median / per * 1000:.0f} | {row.peak_rss / MIB:.0f} |")


if __name__ == "__main__":
    main()
