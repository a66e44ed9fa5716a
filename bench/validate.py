"""What reading a distribution in full costs: the gate before publishing (issue 11).

    python bench/validate.py           # a ~80 MB wheel and a ~80 MB .tar.gz sdist
    python bench/validate.py --smoke   # ~4 MB each, as the test suite runs it

Every member of the archive is decompressed and checked (CRC, sizes, the tar stream to its end)
and the file is hashed in the same pass. Compared with: hashing alone, the reading done before
(sha256 of the file, then METADATA alone), and checking and hashing in two separate passes.
The files are deterministic: a third incompressible "binary" members, the rest source-like
text, as compiled wheels are.
"""

from __future__ import annotations

import argparse
import functools
import io
import random
import statistics
import sys
import tarfile
import tempfile
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `s3pypi_core` importable from src/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from s3pypi_core.distribution import read_archive, sha256_of

MB = 1000 * 1000
NAME, VERSION = "bench_validate", "1.0"
METADATA = f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\nSummary: bench\n".encode()


def _members(size: int) -> dict[str, bytes]:
    """About `size` bytes of content: one third random bytes, the rest source-like text."""
    rng = random.Random(11)
    words = ["def", "return", "self", "value", "import", "class", "for", "in", "if", "None"]
    words += [f"name_{i}" for i in range(400)]
    members: dict[str, bytes] = {}
    binary = size // 3
    for i in range(max(1, binary // (4 * MB))):
        members[f"{NAME}/_native_{i}.so"] = rng.randbytes(min(4 * MB, binary))
    pool = [
        "    " + " ".join(rng.choice(words) for _ in range(rng.randint(3, 10))) for _ in range(5000)
    ]
    text_left, i = size - binary, 0
    while text_left > 0:
        data = "\n".join(rng.choices(pool, k=20_000)).encode()[:text_left]
        members[f"{NAME}/module_{i}.py"] = data
        text_left -= len(data)
        i += 1
    return members


def write_wheel(directory: Path, size: int) -> Path:
    path = directory / f"{NAME}-{VERSION}-py3-none-any.whl"
    dist_info = f"{NAME}-{VERSION}.dist-info"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in _members(size).items():
            archive.writestr(name, data)
        archive.writestr(f"{dist_info}/METADATA", METADATA)
        archive.writestr(f"{dist_info}/WHEEL", b"Wheel-Version: 1.0\nTag: py3-none-any\n")
        archive.writestr(f"{dist_info}/RECORD", b"")
    return path


def write_sdist(directory: Path, size: int) -> Path:
    path = directory / f"{NAME}-{VERSION}.tar.gz"
    base = f"{NAME}-{VERSION}"
    with tarfile.open(path, "w:gz") as archive:
        for name, data in {"PKG-INFO": METADATA, **_members(size)}.items():
            info = tarfile.TarInfo(f"{base}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def metadata_only(path: Path) -> None:
    """The reading before issue 11: the file's sha256, then METADATA (or up to PKG-INFO)."""
    sha256_of(path)
    if path.name.endswith(".whl"):
        with zipfile.ZipFile(path) as archive:
            archive.read(f"{NAME}-{VERSION}.dist-info/METADATA")
    else:
        with tarfile.open(path, "r:gz") as archive:
            member = archive.next()
            assert member is not None
            extracted = archive.extractfile(member)
            assert extracted is not None
            extracted.read()


def two_passes(path: Path) -> None:
    """Check every member, then hash the file again: what one pass saves."""
    if path.name.endswith(".whl"):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as member:
                    while member.read(1 << 20):
                        pass
    else:
        with tarfile.open(path, "r:gz") as tar:
            for tar_info in tar:
                extracted = tar.extractfile(tar_info)
                while extracted is not None and extracted.read(1 << 20):
                    pass
    sha256_of(path)


def timed(operation: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        operation()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small files, one run each")
    args = parser.parse_args()
    size, repeat = (4 * MB, 1) if args.smoke else (150 * MB, 5)

    with tempfile.TemporaryDirectory(prefix="s3pypi-bench-") as tmp:
        files = [write_wheel(Path(tmp), size), write_sdist(Path(tmp), size)]
        print(
            "| file | size | sha256 alone | before: sha256 + METADATA | "
            "read in full, one pass | check, then hash (two passes) | one pass / before | "
            "peak Python memory |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for path in files:
            mb = path.stat().st_size / MB
            hashing = timed(functools.partial(sha256_of, path), repeat)
            before = timed(functools.partial(metadata_only, path), repeat)
            one_pass = timed(functools.partial(read_archive, path), repeat)
            separate = timed(functools.partial(two_passes, path), repeat)
            tracemalloc.start()
            read_archive(path)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(
                f"| {path.name} | {mb:.0f} MB | {hashing:.3f} s | {before:.3f} s | "
                f"{one_pass:.3f} s ({mb / one_pass:.0f} MB/s) | {separate:.3f} s | "
                f"{one_pass / before:.1f}x | {peak / MB:.1f} MB |"
            )


if __name__ == "__main__":
    main()
