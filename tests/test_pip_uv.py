"""Real pip and real uv installing from `s3pypi serve` in front of a moto bucket, and the
server's request log proving what they fetched: JSON pages (PEP 691), metadata files instead of
wheels (PEP 658/714), Requires-Python and yanked files (PEP 592) honoured from the page."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import Bucket
from tests.distributions import SampleProject
from tests.serving import Request, Server, make_venv, pip, serving, uv

pytestmark = pytest.mark.slow

Run = Callable[..., Result]

RESOLVED = {"acme-app": "1.0", "acme-lib": "1.1", "acme-util": "1.0"}
RESOLVED_METADATA = {
    "acme-app/acme_app-1.0-py3-none-any.whl.metadata",
    "acme-lib/acme_lib-1.1-py3-none-any.whl.metadata",
    "acme-util/acme_util-1.0-py3-none-any.whl.metadata",
}
YANK_REASON = "breaks the <frobnicate> API"


@pytest.fixture
def acme(bucket: Bucket, run: Run, projects: Callable[..., SampleProject]) -> Bucket:
    """Three projects depending on each other. The newest acme-lib is yanked; the newest
    acme-util needs a Python that does not exist yet, so both resolve to older versions."""
    app, lib, util = projects("acme-app"), projects("acme-lib"), projects("acme-util")
    app.wheel("1.0", requires=["acme-lib>=1.0"], requires_python=">=3.8")
    app.sdist("1.0", requires_python=">=3.8")
    for version in ("1.0", "1.1", "2.0"):
        lib.wheel(version, requires=["acme-util"], requires_python=">=3.8")
    util.wheel("1.0", requires_python=">=3.8")
    util.wheel("2.0", requires_python=">=4")
    result = run("upload", app.root / "*", "--bucket", bucket.name, "--put-root-index")
    assert result.exit_code == 0, result.output
    result = run("yank", "acme-lib", "2.0", "--reason", YANK_REASON, "--bucket", bucket.name)
    assert result.exit_code == 0, result.output
    return bucket


def _installed(python: Path) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json; "
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    output = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(output.stdout))


def _assert_resolved_from_metadata_files(requests: list[Request]) -> None:
    """Each page once, in JSON; the metadata file of each chosen version; nothing else: no
    wheel, no sdist, nothing of the versions the page already excluded (yanked, Python 4)."""
    assert all(r.status == 200 for r in requests), requests
    assert sorted(r.key for r in requests) == sorted(
        [f"{name}/index.json" for name in RESOLVED] + list(RESOLVED_METADATA)
    )
    pages = [r for r in requests if r.key.endswith("/index.json")]
    assert sorted(r.path for r in pages) == [f"/{name}/" for name in sorted(RESOLVED)]


def _dist_requests(server: Server, since: int) -> list[str]:
    return [r.key for r in server.requests(since) if r.key.endswith((".whl", ".tar.gz"))]


def test_pip(acme: Bucket, tmp_path: Path) -> None:
    with serving("--bucket", acme.name, log_dir=tmp_path) as server:
        # Resolution only: metadata files, no wheel.
        report = tmp_path / "report.json"
        dry_run = pip(
            "install", "--dry-run", "--ignore-installed", "--report", report, "acme-app",
            index_url=server.url,
        )  # fmt: skip
        assert dry_run.returncode == 0, dry_run.stderr
        resolved = {
            item["metadata"]["name"]: item["metadata"]["version"]
            for item in json.loads(report.read_text())["install"]
        }
        assert resolved == RESOLVED
        _assert_resolved_from_metadata_files(server.requests())

        # A real install: now the wheels, checked against the page's hashes by pip.
        python = make_venv(tmp_path / "venv")
        mark = len(server.requests())
        install = pip("--python", python, "install", "acme-app", index_url=server.url)
        assert install.returncode == 0, install.stderr
        assert _installed(python) == RESOLVED
        assert sorted(_dist_requests(server, mark)) == sorted(
            key.removesuffix(".metadata") for key in RESOLVED_METADATA
        )

        # The yanked version is installed when pinned with ==, with pip's warning and reason.
        pinned = pip("--python", python, "install", "acme-lib==2.0", index_url=server.url)
        assert pinned.returncode == 0, pinned.stderr
        assert "yanked" in pinned.stderr
        assert YANK_REASON in pinned.stderr
        assert _installed(python)["acme-lib"] == "2.0"


def test_uv(acme: Bucket, tmp_path: Path) -> None:
    with serving("--bucket", acme.name, log_dir=tmp_path) as server:
        compiled = uv(
            "pip", "compile", "-", "--python", sys.executable, "--no-header", "--no-annotate",
            index_url=server.url, input="acme-app\n",
        )  # fmt: skip
        assert compiled.returncode == 0, compiled.stderr
        assert compiled.stdout.split() == [f"{name}=={v}" for name, v in sorted(RESOLVED.items())]
        _assert_resolved_from_metadata_files(server.requests())

        python = make_venv(tmp_path / "venv")
        mark = len(server.requests())
        install = uv("pip", "install", "--python", python, "acme-app", index_url=server.url)
        assert install.returncode == 0, install.stderr
        assert _installed(python) == RESOLVED
        assert sorted(_dist_requests(server, mark)) == sorted(
            key.removesuffix(".metadata") for key in RESOLVED_METADATA
        )

        pinned = uv("pip", "install", "--python", python, "acme-lib==2.0", index_url=server.url)
        assert pinned.returncode == 0, pinned.stderr
        assert "yanked" in pinned.stderr
        assert YANK_REASON in pinned.stderr
        assert _installed(python)["acme-lib"] == "2.0"


def test_pip_from_a_directory_index_and_uv_from_its_server(
    run: Run, projects: Callable[..., SampleProject], tmp_path: Path
) -> None:
    """A `file://` index is installable by pip as it is on disk, and served alike."""
    lib = projects("acme-lib")
    lib.wheel("1.0")
    lib.wheel("2.0")
    index = tmp_path / "index"
    result = run("upload", lib.root / "*", "--repository-url", index.as_uri(), "--put-root-index")
    assert result.exit_code == 0, result.output
    assert run("yank", "acme-lib", "2.0", "--repository-url", index.as_uri()).exit_code == 0

    report = tmp_path / "report.json"
    direct = pip(
        "install", "--dry-run", "--ignore-installed", "--report", report, "acme-lib",
        index_url=index.as_uri() + "/",
    )  # fmt: skip
    assert direct.returncode == 0, direct.stderr
    assert [i["metadata"]["version"] for i in json.loads(report.read_text())["install"]] == ["1.0"]

    with serving("--repository-url", index.as_uri(), log_dir=tmp_path) as server:
        compiled = uv(
            "pip", "compile", "-", "--python", sys.executable, "--no-header", "--no-annotate",
            index_url=server.url, input="acme-lib\n",
        )  # fmt: skip
        assert compiled.returncode == 0, compiled.stderr
        assert compiled.stdout.split() == ["acme-lib==1.0"]
        assert [r.key for r in server.requests()] == [
            "acme-lib/index.json",
            "acme-lib/acme_lib-1.0-py3-none-any.whl.metadata",
        ]
