"""Benchmark: this s3pypi against s3pypi 2.0.1, on one moto server, through a counting proxy.

    python -m bench.run            # the full benchmark (a few minutes)
    python -m bench.run --smoke    # the smallest sizes, as CI runs it
    python -m bench.run --markdown docs/benchmarks/results.md   # also write the docs' figures

Both tools run as their console scripts, alternately, each against its own bucket, with a
DynamoDB lock table (`BUCKET-locks`, the setup 2.x documents for concurrent publishers). The
table printed is Markdown: median wall time, requests and bytes on the wire (counted by the
proxy), peak RSS, and ours/theirs against the target.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import logging
import os
import platform
import statistics
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `s3pypi_core` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import pip_bytes, seed
from bench.dists import write_large_wheel, write_release
from bench.servers import ProxyServer, Traffic, counting_proxy, moto_server
from bench.tools import OLD_VERSION, Run, RunFailed, Tool, ours, run, theirs

REGION = "us-east-1"
MIB = 1024 * 1024
ALL_SCENARIOS = "12345"
DEFAULT_LATENCY_MS = 20.0


@dataclass(frozen=True)
class Sizes:
    versions: int
    """Scenario 1: versions of one project, a wheel and an sdist each."""
    projects: tuple[int, ...]
    """Scenario 2: projects already in the bucket."""
    large_file: int
    """Scenario 4: bytes."""
    repeat: int
    startup_repeat: int


FULL = Sizes(versions=20, projects=(200, 2000), large_file=1024 * MIB, repeat=5, startup_repeat=15)
SMOKE = Sizes(versions=2, projects=(5, 20), large_file=8 * MIB, repeat=1, startup_repeat=3)


@dataclass
class Sample:
    seconds: float
    max_rss: int
    traffic: Traffic


@dataclass
class Metric:
    name: str
    theirs: float
    ours: float
    render: Callable[[float], str]
    target: float | None = None
    """The most ours/theirs may be."""
    limit: float | None = None
    """The most ours may be."""
    detail: tuple[str, str] = ("", "")

    @property
    def ratio(self) -> float:
        return self.ours / self.theirs if self.theirs else float("inf")

    @property
    def met(self) -> bool | None:
        if self.target is not None:
            return self.ratio <= self.target
        if self.limit is not None:
            return self.ours <= self.limit
        return None

    def target_text(self, judge: bool = True) -> str:
        if self.target is not None:
            text = f"ours/2.x ≤ {self.target:.2g}"
        elif self.limit is not None:
            text = f"ours ≤ {self.render(self.limit)}"
        else:
            return ""
        if not judge:
            return text
        return f"{text} {'✓' if self.met else '✗ MISSED'}"


@dataclass
class Scenario:
    title: str
    metrics: list[Metric] = field(default_factory=list)


class Bench:
    def __init__(self, moto: str, proxy: ProxyServer, workdir: Path, sizes: Sizes) -> None:
        import boto3

        self.moto = moto
        self.proxy = proxy
        self.workdir = workdir
        self.sizes = sizes
        self.tools = (theirs(), ours())
        self.new_version: dict[int, tuple[list[Sample], list[Sample]]] = {}
        """Scenario 2's runs of both tools for a new version, by projects in the index."""
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        self.s3 = session.client("s3", endpoint_url=moto)
        self.dynamodb = session.client("dynamodb", endpoint_url=moto)
        devnull = os.devnull
        # As installed for real: bytecode is written once (by the warm-up) and then reused.
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AWS_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        self.env.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION=REGION,
            AWS_ENDPOINT_URL=proxy.url,
            AWS_CONFIG_FILE=devnull,
            AWS_SHARED_CREDENTIALS_FILE=devnull,
            AWS_EC2_METADATA_DISABLED="true",
        )

    # Buckets, straight to moto (not counted)

    def new_bucket(self) -> str:
        bucket = f"bench-{uuid.uuid4().hex[:12]}"
        self.s3.create_bucket(Bucket=bucket)
        self.dynamodb.create_table(
            TableName=f"{bucket}-locks",
            KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        return bucket

    def empty(self, bucket: str) -> None:
        """Free moto's memory of a bucket's objects."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for page in pages:
            for item in page.get("Contents", []):
                self.s3.delete_object(Bucket=bucket, Key=item["Key"])

    # Runs

    def measure(self, tool: Tool, *args: str | Path) -> Sample:
        self.proxy.take()
        result: Run = run(tool.command(*args), self.env, cwd=self.workdir)
        return Sample(result.seconds, result.max_rss, self.proxy.take())

    def alternate(
        self, repeat: int, one: Callable[[Tool, int], Sample]
    ) -> tuple[list[Sample], list[Sample]]:
        """`repeat` runs of each tool, alternating (and swapping who goes first)."""
        samples: dict[Tool, list[Sample]] = {tool: [] for tool in self.tools}
        for i in range(repeat):
            for tool in self.tools if i % 2 == 0 else reversed(self.tools):
                samples[tool].append(one(tool, i))
        return samples[self.tools[0]], samples[self.tools[1]]

    def warm_up(self) -> None:
        """One run each first: Python compiles bytecode on a first import."""
        for tool in self.tools:
            run(tool.command("--version"), self.env)
            files = write_release(self.workdir / "warm-up", "warm-up", "1.0.0")
            self.measure(tool, "upload", *files, "--bucket", self.new_bucket())

    # Scenarios

    def publish_many(self) -> Scenario:
        versions = self.sizes.versions
        files = [
            path
            for v in range(versions)
            for path in write_release(self.workdir / "many", "many-versions", f"1.{v}.0")
        ]

        def one(tool: Tool, i: int) -> Sample:
            return self.measure(tool, "upload", *files, "--bucket", self.new_bucket())

        theirs_, ours_ = self.alternate(self.sizes.repeat, one)
        scenario = Scenario(f"1. Publish {len(files)} files ({versions} versions) in one run")
        scenario.metrics += [
            _time(theirs_, ours_, target=0.5),
            _requests(theirs_, ours_),
            _bytes(theirs_, ours_),
            _rss(theirs_, ours_),
        ]
        return scenario

    def publish_into(self, projects: int) -> list[Scenario]:
        """One more version of a project, and one new project, with --put-root-index."""
        theirs_tool, ours_tool = self.tools
        buckets = {theirs_tool: self.new_bucket(), ours_tool: self.new_bucket()}
        python_2x = theirs_tool.executable.parent / "python"
        seed.write(
            self.s3, buckets[theirs_tool], seed.theirs(projects, self.workdir / "seed", python_2x)
        )
        seed.write(self.s3, buckets[ours_tool], seed.ours(projects, self.workdir / "seed"))
        scenarios = []
        for new_project in (False, True):

            def one(tool: Tool, i: int, new_project: bool = new_project) -> Sample:
                name = f"new-{i}" if new_project else seed.project_name(0)
                version = "1.0.0" if new_project else f"1.1.{i}"
                files = write_release(self.workdir / f"into-{projects}", name, version)
                args: list[str | Path] = ["upload", *files, "--bucket", buckets[tool]]
                args.append("--put-root-index")
                return self.measure(tool, *args)

            theirs_, ours_ = self.alternate(self.sizes.repeat, one)
            if not new_project:
                self.new_version[projects] = (theirs_, ours_)
            what = "a new project" if new_project else "a new version"
            # The targets are for the everyday case: a new version of an existing project.
            primary = not new_project and projects == max(self.sizes.projects)
            scenarios.append(
                Scenario(
                    f"2. Publish {what} (wheel + sdist) into {projects:,} projects, "
                    "--put-root-index",
                    [
                        _time(theirs_, ours_),
                        _requests(theirs_, ours_, target=1.0 if primary else None),
                        _bytes(theirs_, ours_, target=1 / 3 if primary else None),
                    ],
                )
            )
        for bucket in buckets.values():
            self.empty(bucket)
        return scenarios

    def growth(self) -> list[Scenario]:
        """How the cost of a new version grows from the smallest index to the largest."""
        if len(self.new_version) < 2:
            return []
        small, large = min(self.new_version), max(self.new_version)
        metrics = []
        for name, value in (
            ("requests", lambda s: s.traffic.total_requests),
            ("bytes", lambda s: s.traffic.total_bytes),
        ):
            (theirs_small, ours_small), (theirs_large, ours_large) = (
                self.new_version[small],
                self.new_version[large],
            )
            metrics.append(
                Metric(
                    f"{name} at {large:,} / at {small:,}",
                    _median(theirs_large, value) / _median(theirs_small, value),
                    _median(ours_large, value) / _median(ours_small, value),
                    lambda v: f"{v:.2f}x",
                    limit=1.0,
                )
            )
        return [
            Scenario(f"2. Growth of a new version's cost, {small:,} -> {large:,} projects", metrics)
        ]

    def startup(self) -> Scenario:
        def one(tool: Tool, i: int) -> Sample:
            return self.measure(tool, "--version")

        theirs_, ours_ = self.alternate(self.sizes.startup_repeat, one)
        return Scenario(
            "3. Start-up: `s3pypi --version`",
            [_time(theirs_, ours_, target=1.0), _rss(theirs_, ours_)],
        )

    def large_file(self) -> Scenario:
        size = self.sizes.large_file
        path = write_large_wheel(self.workdir / "large", "large-file", "1.0.0", size)

        def one(tool: Tool, i: int) -> Sample:
            bucket = self.new_bucket()
            try:
                return self.measure(tool, "upload", path, "--bucket", bucket)
            finally:
                self.empty(bucket)

        try:
            theirs_, ours_ = self.alternate(max(1, self.sizes.repeat // 2), one)
        finally:
            path.unlink()
        rss = _rss(theirs_, ours_)
        rss.limit = 150 * MIB
        return Scenario(
            f"4. Publish one {_size(size)} wheel",
            [
                _time(theirs_, ours_),
                rss,
                _requests(theirs_, ours_),
            ],
        )

    def pip_fetches(self, smoke: bool) -> Scenario:
        measured = pip_bytes.measure(self, smoke=smoke)
        theirs_, ours_ = measured.theirs, measured.ours
        return Scenario(
            f"5. `pip install --dry-run {' '.join(measured.requirements)}` "
            f"({measured.wheels} wheels) from each tool's index",
            [
                Metric(
                    "bytes pip fetched",
                    theirs_.total_bytes,
                    ours_.total_bytes,
                    _size,
                    detail=(_fetch_detail(theirs_), _fetch_detail(ours_)),
                ),
                Metric("requests", theirs_.total_requests, ours_.total_requests, _count),
            ],
        )


def _median(samples: list[Sample], value: Callable[[Sample], float]) -> float:
    return statistics.median(value(s) for s in samples)


def _time(theirs: list[Sample], ours: list[Sample], target: float | None = None) -> Metric:
    name = "wall time (median)" if len(ours) > 1 else "wall time"
    seconds = lambda s: s.seconds  # noqa: E731
    return Metric(name, _median(theirs, seconds), _median(ours, seconds), _seconds, target)


def _requests(theirs: list[Sample], ours: list[Sample], target: float | None = None) -> Metric:
    total = lambda s: s.traffic.total_requests  # noqa: E731
    return Metric(
        "requests",
        _median(theirs, total),
        _median(ours, total),
        _count,
        target,
        detail=(_request_detail(theirs[-1].traffic), _request_detail(ours[-1].traffic)),
    )


def _bytes(theirs: list[Sample], ours: list[Sample], target: float | None = None) -> Metric:
    total = lambda s: s.traffic.total_bytes  # noqa: E731
    return Metric(
        "bytes (sent + received)",
        _median(theirs, total),
        _median(ours, total),
        _size,
        target,
        detail=(_bytes_detail(theirs[-1].traffic), _bytes_detail(ours[-1].traffic)),
    )


def _rss(theirs: list[Sample], ours: list[Sample]) -> Metric:
    peak = lambda s: s.max_rss  # noqa: E731
    return Metric("peak RSS", max(map(peak, theirs)), max(map(peak, ours)), _size)


def _request_detail(traffic: Traffic) -> str:
    return f"S3 {traffic.count('s3')}, DynamoDB {traffic.count('dynamodb')}"


def _bytes_detail(traffic: Traffic) -> str:
    return f"{_size(traffic.bytes_sent)} up, {_size(traffic.bytes_received)} down"


def _fetch_detail(traffic: Traffic) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(traffic.requests.items()))


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.0f} ms"


def _count(value: float) -> str:
    return f"{value:g}"


def _size(value: float) -> str:
    for unit, scale in (("GiB", MIB * 1024), ("MiB", MIB), ("KiB", 1024)):
        if value >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value:.0f} B"


def render(scenarios: list[Scenario], old_name: str, *, judge: bool = True) -> str:
    lines = [
        f"| Scenario | Measure | {old_name} | ours | ours / 2.x | target |",
        "|---|---|---|---|---|---|",
    ]
    for scenario in scenarios:
        title = scenario.title
        for metric in scenario.metrics:
            theirs_text, ours_text = metric.render(metric.theirs), metric.render(metric.ours)
            if metric.detail[0]:
                theirs_text += f" ({metric.detail[0]})"
                ours_text += f" ({metric.detail[1]})"
            lines.append(
                f"| {title} | {metric.name} | {theirs_text} | {ours_text} | "
                f"{metric.ratio:.2f} | {metric.target_text(judge)} |"
            )
            title = ""
    return "\n".join(lines)


@contextlib.contextmanager
def bench_environment(sizes: Sizes, latency: float) -> Iterator[Bench]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    with (
        moto_server() as moto,
        counting_proxy(moto) as proxy,
        tempfile.TemporaryDirectory(prefix="s3pypi-bench-") as tmp,
    ):
        proxy.latency = latency
        yield Bench(moto, proxy, Path(tmp), sizes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="smallest sizes, one run each")
    parser.add_argument("--repeat", type=int, help="runs of each tool per scenario")
    parser.add_argument(
        "--only", default=ALL_SCENARIOS, help="scenarios to run, e.g. --only 13 (default: all)"
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        metavar="FILE",
        help="also write the results to FILE, as the docs include them "
        "(docs/benchmarks/results.md)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=DEFAULT_LATENCY_MS,
        help="round-trip time the proxy adds, as a network to S3 would (default: 20)",
    )
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    if args.repeat:
        sizes = Sizes(
            sizes.versions, sizes.projects, sizes.large_file, args.repeat, 3 * args.repeat
        )
    steps: list[tuple[str, Callable[[Bench], list[Scenario]]]] = [
        ("1", lambda b: [b.publish_many()]),
        ("2", lambda b: [s for n in sizes.projects for s in b.publish_into(n)] + b.growth()),
        ("3", lambda b: [b.startup()]),
        ("4", lambda b: [b.large_file()]),
        ("5", lambda b: [b.pip_fetches(args.smoke)]),
    ]
    scenarios: list[Scenario] = []
    with bench_environment(sizes, args.latency_ms / 1000) as bench:
        bench.warm_up()
        for number, step in steps:
            if number in args.only:
                print(f"bench: scenario {number} ...", file=sys.stderr)
                scenarios += step(bench)
        old_name = bench.tools[0].name
    setup = _setup(sizes, args.latency_ms)
    table = render(scenarios, old_name, judge=not args.smoke)
    missed = [m for s in scenarios for m in s.metrics if m.met is False]
    if args.smoke:
        verdict = "Smoke run: the sizes are too small to judge the targets."
    else:
        verdict = f"{len(missed)} target(s) missed." if missed else "Every target met."
    print(f"{setup}\n\n{table}\n\n{verdict}")
    if args.markdown:
        args.markdown.write_text(results_page(_command(args), setup, table, verdict))
    return 1 if missed and not args.smoke else 0


def results_page(command: str, setup: str, table: str, verdict: str) -> str:
    """The results as the docs' benchmark page includes them: when, how, the table, the verdict."""
    today = datetime.date.today().isoformat()
    return (
        f"<!-- Written by `{command} --markdown FILE`; run it again rather than edit. -->\n\n"
        f"Measured on {today} with `{command}`: {setup}\n\n{table}\n\n{verdict}\n"
    )


def _command(args: argparse.Namespace) -> str:
    """The command that measures the same again (without where --markdown wrote)."""
    words = ["python -m bench.run"]
    if args.smoke:
        words.append("--smoke")
    if args.repeat:
        words.append(f"--repeat {args.repeat}")
    if args.only != ALL_SCENARIOS:
        words.append(f"--only {args.only}")
    if args.latency_ms != DEFAULT_LATENCY_MS:
        words.append(f"--latency-ms {args.latency_ms:g}")
    return " ".join(words)


def _setup(sizes: Sizes, latency_ms: float) -> str:
    from importlib.metadata import version

    return (
        f"s3pypi {version('s3pypi')} (ours) vs s3pypi {OLD_VERSION}, both on boto3 "
        f"{version('boto3')}, against moto {version('moto')} through a proxy adding "
        f"{latency_ms:g} ms per round trip; median of {sizes.repeat} runs each, alternating; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs."
    )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RunFailed as e:
        sys.exit(f"bench: {e}")
