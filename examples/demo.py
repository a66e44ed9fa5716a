"""The main job, end to end, without AWS: build a package, publish it, install it back.

    python examples/demo.py [--workdir demo]

1. builds `examples/hello-s3pypi` (a wheel and an sdist) with hatchling;
2. publishes both with `s3pypi upload` to a local directory index (`file://`), the same
   layout an S3 bucket gets;
3. creates a virtual environment and `pip install`s the package from that index only;
4. runs the installed command.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent


def step(*command: str | Path, cwd: Path | None = None) -> None:
    print(f"\n$ {' '.join(map(str, command))}", flush=True)
    # pip must see our index only: machine-wide pip settings (extra indexes) are ignored.
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
    subprocess.run([str(c) for c in command], cwd=cwd, env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("demo"))
    workdir = parser.parse_args().workdir.absolute()
    shutil.rmtree(workdir, ignore_errors=True)
    dist, index, env = workdir / "dist", workdir / "index", workdir / "venv"

    step(BIN / "hatchling", "build", "-d", dist, cwd=HERE / "hello-s3pypi")
    step(
        BIN / "s3pypi", "upload", *sorted(dist.iterdir()),
        "--repository-url", index.as_uri(), "--put-root-index",
    )  # fmt: skip
    venv.create(env, with_pip=True)
    step(
        env / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-cache-dir",
        "--disable-pip-version-check", "--index-url", index.as_uri() + "/", "hello-s3pypi",
    )  # fmt: skip
    step(env / "bin" / "hello-s3pypi")
    print(f"\nThe index is in {index}; pip installed hello-s3pypi from it.")


if __name__ == "__main__":
    main()
