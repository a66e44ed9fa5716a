"""What PEP 658 metadata files save: the bytes and requests `pip install --dry-run` takes from
an index with them, against the same index without them (pages without `core-metadata`, no
`.metadata` objects), both served by `s3pypi serve` and measured from its request log.

    python bench/metadata_bytes.py           # a dozen real wheels (boto3, requests, click)
    python bench/metadata_bytes.py --smoke   # offline: sample wheels from tests/distributions.py

The real wheels are downloaded once with `pip download` into bench/.cache/ (not committed).
`uv pip compile` is measured too, for comparison: without metadata files uv reads a wheel's
METADATA with range requests instead of downloading it. Exits 1 when pip does not take at
least 10x fewer bytes with metadata files.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.distributions and tests.serving

from packaging.utils import canonicalize_name, parse_wheel_filename  # noqa: E402

from s3pypi_core.core import Config, upload_packages  # noqa: E402
from s3pypi_core.index import Index  # noqa: E402
from tests.distributions import SampleProject  # noqa: E402
from tests.serving import Request, pip, serving, uv  # noqa: E402

TARGET = 10.0
CACHE = ROOT / "bench" / ".cache" / "wheels"
REQUIREMENTS = ["boto3", "requests", "click"]
PINS = {
    "boto3": "1.44.8",
    "botocore": "1.44.8",
    "s3transfer": "0.19.3",
    "jmespath": "1.1.0",
    "python-dateutil": "2.9.0.post0",
    "six": "1.17.0",
    "urllib3": "2.8.0",
    "requests": "2.34.2",
    "certifi": "2026.10.19.post1",
    "charset-normalizer": "3.5.3",
    "idna": "3.20",
    "click": "8.5.1",
}


@dataclass(frozen=True)
class Measurement:
    requests: int
    bytes: int

    @classmethod
    def of(cls, log: list[Request]) -> Measurement:
        return cls(len(log), sum(r.size for r in log))


def real_wheels() -> list[Path]:
    """The pinned dependency set of REQUIREMENTS, downloaded once."""
    if not _missing(CACHE):
        return sorted(CACHE.glob("*.whl"))
    pins = [f"{name}=={version}" for name, version in PINS.items()]
    print(f"Downloading {len(pins)} wheels into {CACHE} (once) ...", flush=True)
    download = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
    download += ["--only-binary=:all:", "--dest", str(CACHE), *pins]
    subprocess.run(download, check=True)
    if missing := _missing(CACHE):
        raise SystemExit(f"pip download did not fetch {', '.join(missing)}")
    return sorted(CACHE.glob("*.whl"))


def _missing(directory: Path) -> list[str]:
    have = {
        (canonicalize_name(name), str(version))
        for name, version, _, _ in map(
            parse_wheel_filename, (p.name for p in directory.glob("*.whl"))
        )
    }
    return [f"{n}=={v}" for n, v in PINS.items() if (canonicalize_name(n), v) not in have]


def sample_wheels(directory: Path) -> tuple[list[Path], list[str]]:
    """A small dependency tree of installable wheels, each carrying 200 kB of code-like bulk."""
    bulk = random.Random(658).randbytes(200_000)
    tree = {"app": ["lib-a", "lib-b"], "lib-a": ["base"], "lib-b": ["base"], "base": []}
    wheels = [
        SampleProject(name, directory).wheel("1.0", requires=deps, payload=b"#" + bulk)
        for name, deps in tree.items()
    ]
    return wheels, ["app"]


def publish(wheels: list[Path], directory: Path, *, metadata: bool) -> None:
    cfg = Config.from_repository_url(directory.as_uri())
    upload_packages(cfg, wheels, put_root_index=True)
    if not metadata:
        _strip_metadata(cfg)


def _strip_metadata(cfg: Config) -> None:
    """Make the index one without PEP 658: no `core-metadata` on pages, no `.metadata` files."""
    publisher = cfg.publisher()
    keys = [o.key for o in publisher.storage.list() if o.key.endswith(".metadata")]
    for project in sorted({key.split("/")[0] for key in keys}):
        publisher.pages.update_project(project, _without_metadata, create=False)
    for key in keys:
        publisher.storage.delete(key)


def _without_metadata(index: Index) -> bool:
    changed = any(f.core_metadata for f in index.files.values())
    index.files = {name: replace(f, core_metadata=None) for name, f in index.files.items()}
    return changed


def measure(directory: Path, requirements: list[str], tool: str, log_dir: Path) -> Measurement:
    with serving("--repository-url", directory.as_uri(), log_dir=log_dir) as server:
        if tool == "pip":
            result = pip(
                "install", "--dry-run", "--ignore-installed", "--quiet", *requirements,
                index_url=server.url,
            )  # fmt: skip
        else:
            result = uv(
                "pip", "compile", "-", "--python", sys.executable, "--quiet",
                index_url=server.url, input="\n".join(requirements),
            )  # fmt: skip
        if result.returncode != 0:
            raise SystemExit(f"{tool} failed:\n{result.stderr}")
        return Measurement.of(server.requests())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="offline, with sample wheels (for CI)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="s3pypi-bench-") as tmp:
        work = Path(tmp)
        if args.smoke:
            wheels, requirements = sample_wheels(work / "dist")
        else:
            wheels, requirements = real_wheels(), REQUIREMENTS
        size = sum(w.stat().st_size for w in wheels)
        print(f"{len(wheels)} wheels, {size:,} bytes; resolving: {' '.join(requirements)}")
        indexes = {"with metadata files": work / "with", "without metadata files": work / "without"}
        for label, directory in indexes.items():
            publish(wheels, directory, metadata=label.startswith("with "))
        results: dict[tuple[str, str], Measurement] = {}
        for tool in ("pip", "uv"):
            for label, directory in indexes.items():
                results[tool, label] = measure(directory, requirements, tool, work)
    _report(results)
    with_, without = (results["pip", label] for label in indexes)
    ratio = without.bytes / max(with_.bytes, 1)
    verdict = "met" if ratio >= TARGET else "MISSED"
    print(f"\npip --dry-run takes {ratio:.0f}x fewer bytes with metadata files "
          f"(target {TARGET:.0f}x: {verdict})")  # fmt: skip
    return 0 if ratio >= TARGET else 1


def _report(results: dict[tuple[str, str], Measurement]) -> None:
    print(f"\n{'':46} {'requests':>9} {'bytes':>13}")
    for (tool, label), m in results.items():
        command = "pip install --dry-run" if tool == "pip" else "uv pip compile"
        print(f"{command + ', ' + label:46} {m.requests:>9} {m.bytes:>13,}")


if __name__ == "__main__":
    sys.exit(main())
