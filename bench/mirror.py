"""Benchmark: `s3pypi mirror` of a 30-package closure, against `pip download` of the same
closure followed by `s3pypi upload`; and uv's resolution against pip's.

    python -m bench.mirror            # 30 packages, 3 rounds (about a minute)
    python -m bench.mirror --smoke    # 6 packages, 1 round, as CI runs it

Everything is local: the upstream is `s3pypi serve` in front of a directory index written here
(PEP 691 JSON pages, PEP 658 metadata files and PEP 700 upload times, as PyPI serves them),
with three versions of each project of which the newest is taken; the index mirrored into is a
bucket on a moto server. Caches are off for every tool (`UV_NO_CACHE`, `--no-cache-dir`), so
each round starts cold. Bytes from the upstream are counted from the server's request log.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `s3pypi_core` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3

from bench.servers import moto_server
from bench.tools import RunFailed, run
from s3pypi_core._upstream import find_uv
from tests.distributions import SampleProject
from tests.serving import Server, installer_env, serving

REGION = "us-east-1"
BIN = Path(sys.executable).parent
LEGACY = "legacy-shim"
"""Needed only below Python 3.11 (an environment marker): what resolving for another Python
than the running one must still find."""


@dataclass(frozen=True)
class Sizes:
    packages: int
    rounds: int


FULL = Sizes(packages=30, rounds=3)
SMOKE = Sizes(packages=6, rounds=1)


def write_upstream(directory: Path, packages: int) -> list[Path]:
    """`app` and packages-1 dependencies (a tree two levels deep), three versions each, wheels
    of 50-500 kB of incompressible payload; plus `legacy-shim` for Python < 3.11 only."""
    rng = random.Random(20261129)
    names = [f"dep-{i:02d}" for i in range(1, packages)]
    top, rest = names[: max(1, len(names) // 3)], names[max(1, len(names) // 3) :]
    requires: dict[str, list[str]] = {"app": [*top, f"{LEGACY}; python_version < '3.11'"]}
    for i, name in enumerate(top):
        requires[name] = rest[i :: len(top)]
    dists: list[Path] = []
    for name in ["app", *names, LEGACY]:
        project = SampleProject(name, directory)
        for version in ("1.0", "1.1", "2.0"):
            payload = rng.randbytes(rng.randrange(50_000, 500_000))
            dists.append(
                project.wheel(
                    version,
                    requires=requires.get(name, []),
                    requires_python=">=3.8",
                    payload=payload,
                )
            )
    return dists


@dataclass
class Figures:
    seconds: list[float]
    upstream_bytes: list[int]


def _median(values: list[float] | list[int]) -> float:
    return statistics.median(values) if values else 0.0


@contextmanager
def _environment(endpoint: str) -> Iterator[dict[str, str]]:
    with tempfile.TemporaryDirectory(prefix="s3pypi-bench-aws-") as home:
        credentials = Path(home) / "credentials"
        credentials.write_text(
            "[default]\naws_access_key_id = bench\naws_secret_access_key = bench\n"
        )
        env = {
            **installer_env(),
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "UV_NO_CACHE": "1",
        }
        yield env


def _bytes_since(server: Server, mark: int) -> tuple[int, int]:
    """Bytes served since the `mark`-th request, and the new mark."""
    requests = server.requests()
    return sum(r.size for r in requests[mark:]), len(requests)


def measure(sizes: Sizes, echo: Callable[[str], None] = print) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="s3pypi-bench-mirror-") as tmp_name:
        tmp = Path(tmp_name)
        dists = write_upstream(tmp / "dists", sizes.packages)
        upstream_dir = tmp / "upstream"
        env_base = installer_env()
        run(
            [
                str(BIN / "s3pypi"),
                "upload",
                *map(str, dists),
                "--repository-url",
                upstream_dir.as_uri(),
                "--put-root-index",
            ],
            env_base,
        )
        logs = tmp / "logs"
        logs.mkdir()
        with (
            moto_server() as endpoint,
            _environment(endpoint) as env,
            serving("--repository-url", upstream_dir.as_uri(), log_dir=logs) as upstream,
        ):
            s3 = boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name=REGION,
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
            )

            def new_bucket() -> str:
                name = f"bench-{uuid.uuid4().hex[:12]}"
                s3.create_bucket(Bucket=name)
                return name

            def stored(bucket: str) -> tuple[int, int]:
                pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                objects = [o for p in pages for o in p.get("Contents", [])]
                dists = [o for o in objects if o["Key"].endswith(".whl")]
                return len(dists), sum(o["Size"] for o in dists)

            cold, warm, download, upload = (Figures([], []) for _ in range(4))
            mark = len(upstream.requests())
            closure = (0, 0)
            for _ in range(sizes.rounds):
                bucket = new_bucket()
                mirror = [
                    str(BIN / "s3pypi"),
                    "mirror",
                    "app",
                    "--upstream",
                    upstream.url,
                    "--bucket",
                    bucket,
                ]
                cold.seconds.append(run(mirror, env).seconds)
                sent, mark = _bytes_since(upstream, mark)
                cold.upstream_bytes.append(sent)
                closure = stored(bucket)
                warm.seconds.append(run(mirror, env).seconds)
                sent, mark = _bytes_since(upstream, mark)
                warm.upstream_bytes.append(sent)

                dest = tmp / f"download-{uuid.uuid4().hex[:8]}"
                pip_download = [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-cache-dir",
                    "--index-url",
                    upstream.url,
                    "--dest",
                    str(dest),
                    "app",
                ]
                download.seconds.append(run(pip_download, env).seconds)
                sent, mark = _bytes_since(upstream, mark)
                download.upstream_bytes.append(sent)
                upload_cmd = [
                    str(BIN / "s3pypi"),
                    "upload",
                    *map(str, sorted(dest.iterdir())),
                    "--bucket",
                    new_bucket(),
                    "--put-root-index",
                ]
                upload.seconds.append(run(upload_cmd, env).seconds)
                upload.upstream_bytes.append(0)

            files, size = closure
            echo(f"closure: {files} wheels, {size / 1e6:.1f} MB; upstream: {len(dists)} wheels")
            both = [a + b for a, b in zip(download.seconds, upload.seconds, strict=True)]
            rows += [
                (
                    "s3pypi mirror (empty bucket)",
                    f"{_median(cold.seconds):.2f} s",
                    f"{_median(cold.upstream_bytes) / 1e6:.1f} MB",
                ),
                (
                    "s3pypi mirror again (nothing new)",
                    f"{_median(warm.seconds):.2f} s",
                    f"{_median(warm.upstream_bytes) / 1e6:.2f} MB",
                ),
                (
                    "pip download",
                    f"{_median(download.seconds):.2f} s",
                    f"{_median(download.upstream_bytes) / 1e6:.1f} MB",
                ),
                ("then s3pypi upload", f"{_median(upload.seconds):.2f} s", "-"),
                (
                    "pip download + s3pypi upload",
                    f"{_median(both):.2f} s",
                    f"{_median(download.upstream_bytes) / 1e6:.1f} MB",
                ),
            ]
            rows += _resolvers(upstream.url, env, sizes.rounds)
    return rows


def _resolvers(url: str, env: dict[str, str], rounds: int) -> list[tuple[str, str, str]]:
    """Resolution alone, for Python 3.10 on this platform: time, and whether the package that
    only Python < 3.11 needs was found (pip evaluates markers for the running Python)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="s3pypi-bench-resolve-") as tmp:
        lock, report = Path(tmp) / "pylock.toml", Path(tmp) / "report.json"
        requirements = Path(tmp) / "requirements.in"
        requirements.write_text("app\n")
        uv_command = [
            find_uv(), "pip", "compile", str(requirements), "--index-url", url, "--no-config",
            "--python-version", "3.10", "--python", sys.executable, "--format", "pylock.toml",
            "-o", str(lock), "--no-python-downloads",
        ]  # fmt: skip
        pip_command = [
            sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
            "--no-cache-dir", "--index-url", url, "--python-version", "3.10",
            "--only-binary=:all:", "--report", str(report), "app",
        ]  # fmt: skip
        uv_times, pip_times = [], []
        for _ in range(rounds):
            uv_times.append(run(uv_command, env).seconds)
            pip_times.append(run(pip_command, env).seconds)
        uv_found = LEGACY in lock.read_text()
        pip_found = any(
            item["metadata"]["name"] == LEGACY for item in json.loads(report.read_text())["install"]
        )
        rows.append(
            (
                "resolve for Python 3.10: uv pip compile",
                f"{_median(uv_times):.2f} s",
                f"{LEGACY} {'found' if uv_found else 'MISSED'}",
            )
        )
        rows.append(
            (
                "resolve for Python 3.10: pip install --dry-run",
                f"{_median(pip_times):.2f} s",
                f"{LEGACY} {'found' if pip_found else 'MISSED'}",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mirror", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="the smallest sizes (CI)")
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    try:
        rows = measure(sizes)
    except RunFailed as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    print(f"{sizes.packages} packages, median of {sizes.rounds} round(s), caches off\n")
    print("| What | Wall time | From the upstream |")
    print("|---|---|---|")
    for what, seconds, data in rows:
        print(f"| {what} | {seconds} | {data} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
