"""`s3pypi mirror`: the closure of some requirements copied from an index that is not ours (a
static PEP 503 tree, pypiserver, a full PEP 691/658/700 index), then installed by real pip and
uv from our index alone."""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from s3pypi_core import Config
from s3pypi_core._progress import DownloadBars
from s3pypi_core._upstream import uv_platform
from s3pypi_core.index import Index, IndexFile, format_upload_time, parse_upload_time
from s3pypi_core.mirroring import mirror_packages
from tests.conftest import Bucket
from tests.distributions import SampleProject
from tests.serving import make_venv, pip, serving, uv
from tests.upstreams import pypiserver, sha256, static_server, write_simple_tree

pytestmark = pytest.mark.slow

Run = Callable[..., Result]

THIS_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
TARGETS = ("--python-version", "3.10", "--python-version", THIS_PYTHON)
INSTALLED = {"app": "1.0", "lib": "1.1", "util": "1.0"}
# What app needs on Linux for Python 3.10 and this Python: the newest lib that is not yanked,
# the newest util this Python can run, and compat (an sdist only) for Python < 3.11.
CLOSURE = [
    "app-1.0-py3-none-any.whl",
    "compat-1.0.tar.gz",
    "lib-1.1-py3-none-any.whl",
    "util-1.0-py3-none-any.whl",
]
YANK_REASON = "broken build"


@pytest.fixture(autouse=True)
def uv_without_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """The resolver reads every page afresh (tests change upstream pages between runs)."""
    monkeypatch.setenv("UV_NO_CACHE", "1")


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """app 1.0 -> lib (1.0, 1.1, 2.0 yanked) -> util (1.0, 2.0 for a Python to come); app also
    needs compat (an sdist only) below Python 3.11 and winhelper on Windows."""
    root = tmp_path_factory.mktemp("upstream-dists")

    def project(name: str) -> SampleProject:
        return SampleProject(name, root)

    paths = [
        project("app").wheel(
            "1.0",
            requires=[
                "lib>=1.0",
                "compat; python_version < '3.11'",
                "winhelper; sys_platform == 'win32'",
            ],
            requires_python=">=3.8",
        ),
        project("app").sdist("1.0", requires_python=">=3.8"),
        project("lib").wheel("1.0", requires=["util"]),
        project("lib").wheel("1.1", requires=["util"], requires_python=">=3.8"),
        project("lib").wheel("2.0", requires=["util"]),
        project("util").wheel("1.0"),
        project("util").wheel("2.0", requires_python=">=4"),
        project("compat").sdist("1.0"),
        project("winhelper").wheel("1.0", filename="winhelper-1.0-py3-none-win_amd64.whl"),
    ]
    return {path.name: path for path in paths}


@pytest.fixture(scope="module")
def plain_upstream(
    dists: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A static PEP 503 tree behind `http.server`: HTML pages only (with yanks and
    Requires-Python), no JSON, no metadata files, no upload times."""
    root = write_simple_tree(
        tmp_path_factory.mktemp("plain"),
        dists.values(),
        yanked={"lib-2.0-py3-none-any.whl": YANK_REASON},
        requires_python={"util-2.0-py3-none-any.whl": ">=4", "lib-1.1-py3-none-any.whl": ">=3.8"},
    )
    with static_server(root) as origin:
        yield f"{origin}/simple/"


@pytest.fixture(scope="module")
def pypiserver_upstream(
    dists: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """pypiserver with the same files, but for the yanked one (pypiserver cannot yank)."""
    packages = tmp_path_factory.mktemp("pypiserver-packages")
    for name, path in dists.items():
        if name != "lib-2.0-py3-none-any.whl":
            shutil.copy(path, packages)
    with pypiserver(packages, packages.parent / "pypiserver.log") as url:
        yield url


@pytest.fixture
def full_upstream(dists: dict[str, Path], run: Run, tmp_path: Path) -> Path:
    """A directory index with every page feature (JSON pages, PEP 658 metadata files, PEP 700
    upload times), for `s3pypi serve` to serve as an upstream."""
    directory = tmp_path / "full-upstream"
    result = run("upload", *dists.values(), "--repository-url", directory.as_uri())
    assert result.exit_code == 0, result.output
    assert run("yank", "lib", "2.0", "--reason", YANK_REASON, "--repository-url",
               directory.as_uri()).exit_code == 0  # fmt: skip
    return directory


def mirror(run: Run, *args: str | Path) -> Result:
    return run("mirror", *args)


def files_of(bucket: Bucket) -> dict[str, bytes]:
    """The distributions in a bucket, by filename."""
    return {
        key.rsplit("/", 1)[-1]: bucket.read(key)
        for key in bucket.keys()
        if key.endswith((".whl", ".tar.gz"))
    }


def page(bucket: Bucket, project: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(bucket.read(f"{project}/index.json"))
    return data


def installed(python: Path) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json; "
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    output = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(output.stdout))


def error_line(result: Result) -> str:
    """The one error line (progress lines may come before it), with no traceback."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("s3pypi: error: ")]
    assert len(errors) == 1, result.stderr
    assert result.stderr.endswith(errors[0] + "\n")
    return errors[0]


# From a static tree into a bucket; installed by pip and uv from the bucket alone.


def test_mirror_into_a_bucket_then_pip_and_uv_install_from_it_alone(
    plain_upstream: str, dists: dict[str, Path], bucket: Bucket, run: Run, tmp_path: Path
) -> None:
    result = mirror(run, "app", "--upstream", plain_upstream, *TARGETS, "--bucket", bucket.name)
    assert result.exit_code == 0, result.output
    assert sorted(line.split()[2] for line in result.stdout.splitlines()) == CLOSURE
    assert "Mirrored 4 files" in result.stderr
    # compat is an sdist: whoever installs it from the bucket builds it with hatchling.
    assert (
        f"warning: compat-1.0.tar.gz is an sdist: installing it from s3://{bucket.name}/ builds "
        "it with hatchling, so mirror it too"
    ) in result.stderr.splitlines()

    # The same bytes as upstream, listed with the upstream's hashes, yanks and Requires-Python.
    copied = files_of(bucket)
    assert sorted(copied) == CLOSURE
    assert all(copied[name] == dists[name].read_bytes() for name in copied)
    lib = page(bucket, "lib")
    assert lib["_s3pypi"] == {"mirrored-from": plain_upstream}
    [record] = lib["files"]
    assert record["hashes"] == {"sha256": sha256(dists["lib-1.1-py3-none-any.whl"])}
    assert record["requires-python"] == ">=3.8"
    assert record["yanked"] is False
    assert bucket.read("lib/lib-1.1-py3-none-any.whl.metadata").startswith(b"Metadata-Version")
    root = json.loads(bucket.read("index.json"))
    assert sorted(p["name"] for p in root["projects"]) == ["app", "compat", "lib", "util"]

    # A second run writes nothing.
    before = bucket.snapshot()
    again = mirror(run, "app", "--upstream", plain_upstream, *TARGETS, "--bucket", bucket.name)
    assert again.exit_code == 0, again.output
    assert again.stdout == ""
    assert "Nothing to mirror: the closure (4 files of 4 projects) is in" in again.stderr
    assert bucket.snapshot() == before

    with serving("--bucket", bucket.name, log_dir=tmp_path) as server:
        python = make_venv(tmp_path / "pip-venv")
        installed_by_pip = pip("--python", python, "install", "app", index_url=server.url)
        assert installed_by_pip.returncode == 0, installed_by_pip.stderr
        assert installed(python) == INSTALLED

        python = make_venv(tmp_path / "uv-venv")
        installed_by_uv = uv("pip", "install", "--python", python, "app", index_url=server.url)
        assert installed_by_uv.returncode == 0, installed_by_uv.stderr
        assert installed(python) == INSTALLED


def test_the_upstreams_password_is_written_nowhere(
    plain_upstream: str, run: Run, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    with_password = plain_upstream.replace("http://", "http://alice:s3cret@")
    result = mirror(run, "util", "--upstream", with_password, "--repository-url", index.as_uri())
    assert result.exit_code == 0, result.output
    assert json.loads((index / "util" / "index.json").read_text())["_s3pypi"] == {
        "mirrored-from": plain_upstream
    }
    written = b"".join(p.read_bytes() for p in index.rglob("*") if p.is_file())
    assert b"s3cret" not in written
    assert "s3cret" not in result.output


def test_dry_run_prints_names_versions_files_and_bytes_and_writes_nothing(
    plain_upstream: str, dists: dict[str, Path], bucket: Bucket, run: Run
) -> None:
    result = mirror(
        run, "app", "--upstream", plain_upstream, *TARGETS, "--bucket", bucket.name, "--dry-run"
    )
    assert result.exit_code == 0, result.output
    size = dists["lib-1.1-py3-none-any.whl"].stat().st_size
    assert f"would copy lib 1.1 lib-1.1-py3-none-any.whl ({size} bytes)" in result.stdout
    assert len(result.stdout.splitlines()) == len(CLOSURE)
    assert "Would mirror 4 files" in result.stderr
    assert bucket.keys() == []


# Into a directory: incremental, from requirements files.


def test_adding_a_requirement_copies_only_what_is_new(
    plain_upstream: str, run: Run, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("util\n")
    first = mirror(run, "-r", requirements, "--upstream", plain_upstream, *TARGETS,
                   "--repository-url", index.as_uri())  # fmt: skip
    assert first.exit_code == 0, first.output
    util = index / "util" / "util-1.0-py3-none-any.whl"
    stamp = util.stat().st_mtime_ns, util.stat().st_ino
    util_page = (index / "util" / "index.json").read_bytes()

    requirements.write_text("util\napp\n")
    second = mirror(run, "-r", requirements, "--upstream", plain_upstream, *TARGETS,
                    "--repository-url", index.as_uri())  # fmt: skip
    assert second.exit_code == 0, second.output
    assert sorted(line.split()[2] for line in second.stdout.splitlines()) == [
        name for name in CLOSURE if not name.startswith("util")
    ]
    assert (util.stat().st_mtime_ns, util.stat().st_ino) == stamp
    assert (index / "util" / "index.json").read_bytes() == util_page

    # pip installs straight from the directory.
    python = make_venv(tmp_path / "venv")
    install = pip("--python", python, "install", "app", index_url=index.as_uri() + "/")
    assert install.returncode == 0, install.stderr
    assert installed(python) == INSTALLED


# From pypiserver.


def test_mirror_from_pypiserver(
    pypiserver_upstream: str, dists: dict[str, Path], run: Run, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    result = mirror(run, "app", "--upstream", pypiserver_upstream, *TARGETS,
                    "--repository-url", index.as_uri())  # fmt: skip
    assert result.exit_code == 0, result.output
    copied = sorted(p.name for p in index.glob("*/*") if p.name.endswith((".whl", ".tar.gz")))
    assert copied == CLOSURE
    assert all((index / p.split("-")[0] / p).read_bytes() == dists[p].read_bytes() for p in copied)
    again = mirror(run, "app", "--upstream", pypiserver_upstream, *TARGETS,
                   "--repository-url", index.as_uri())  # fmt: skip
    assert again.exit_code == 0, again.output
    assert again.stdout == ""

    with serving("--repository-url", index.as_uri(), log_dir=tmp_path) as server:
        python = make_venv(tmp_path / "venv")
        install = uv("pip", "install", "--python", python, "app", index_url=server.url)
        assert install.returncode == 0, install.stderr
        assert installed(python) == INSTALLED


# From a full index: PEP 658 metadata files, PEP 700 upload times (--min-age), yanks.


def _set_upload_time(directory: Path, project: str, filename: str, when: datetime) -> None:
    path = directory / project / "index.json"
    data = json.loads(path.read_text())
    for item in data["files"]:
        if item["filename"] == filename:
            item["upload-time"] = format_upload_time(when)
    path.write_text(json.dumps(data))


def test_mirror_from_a_full_index_keeps_metadata_upload_times_and_yanks(
    full_upstream: Path, run: Run, bucket: Bucket, tmp_path: Path
) -> None:
    now = datetime.now(timezone.utc)
    old = now - timedelta(days=30)
    for project_dir in full_upstream.iterdir():
        if (project_dir / "index.json").exists():
            for item in json.loads((project_dir / "index.json").read_text())["files"]:
                _set_upload_time(full_upstream, project_dir.name, item["filename"], old)
    _set_upload_time(full_upstream, "lib", "lib-1.1-py3-none-any.whl", now - timedelta(days=2))

    with serving("--repository-url", full_upstream.as_uri(), log_dir=tmp_path) as upstream:
        # A cool-down longer than the upstream is old leaves nothing: one line says why.
        result = mirror(run, "app", "--upstream", upstream.url, "--min-age", "365",
                        "--bucket", bucket.name)  # fmt: skip
        assert "(--min-age 365 leaves out what was uploaded after " in error_line(result)
        assert bucket.keys() == []

        # A cool-down of a week leaves lib 1.1 out: lib 1.0 it is.
        result = mirror(run, "app", "--upstream", upstream.url, "--min-age", "7",
                        "--bucket", bucket.name)  # fmt: skip
        assert result.exit_code == 0, result.output
        assert sorted(files_of(bucket)) == [
            "app-1.0-py3-none-any.whl",
            "lib-1.0-py3-none-any.whl",
            "util-1.0-py3-none-any.whl",
        ]
        # The metadata file is the upstream's, byte for byte; the upload time is the upstream's.
        key = "lib/lib-1.0-py3-none-any.whl.metadata"
        assert bucket.read(key) == (full_upstream / key).read_bytes()
        [record] = page(bucket, "lib")["files"]
        assert parse_upload_time(record["upload-time"]) == old
        # Files older by their upload time than their objects are not "replaced" for reindex.
        before = bucket.snapshot()
        reindexed = run("reindex", "--bucket", bucket.name)
        assert reindexed.exit_code == 0, reindexed.output
        assert "Reading" not in reindexed.stderr
        assert bucket.snapshot() == before

        # Upstream yanks lib 1.0: the next run takes lib 1.1 and marks lib 1.0 yanked here too.
        assert run("yank", "lib", "1.0", "--reason", "oops", "--repository-url",
                   full_upstream.as_uri()).exit_code == 0  # fmt: skip
        result = mirror(run, "app", "--upstream", upstream.url, "--bucket", bucket.name)
        assert result.exit_code == 0, result.output
        size = (full_upstream / "lib" / "lib-1.1-py3-none-any.whl").stat().st_size
        assert result.stdout.splitlines() == [
            f"lib 1.1 lib-1.1-py3-none-any.whl ({size} bytes)",
            "marked lib-1.0-py3-none-any.whl yanked, as upstream",
        ]
        yanks = {f["filename"]: f["yanked"] for f in page(bucket, "lib")["files"]}
        assert yanks == {"lib-1.0-py3-none-any.whl": "oops", "lib-1.1-py3-none-any.whl": False}


def test_min_age_needs_upload_times(plain_upstream: str, bucket: Bucket, run: Run) -> None:
    result = mirror(run, "app", "--upstream", plain_upstream, "--min-age", "1",
                    "--bucket", bucket.name)  # fmt: skip
    assert "--min-age needs the upload time of every file (PEP 700)" in error_line(result)
    assert bucket.keys() == []


# Guards and refusals: one line, nothing written.


def test_a_project_of_ours_is_never_mirrored(
    plain_upstream: str, bucket: Bucket, run: Run, projects: Callable[..., SampleProject]
) -> None:
    ours = projects("lib").wheel("0.1")
    assert run("upload", ours, "--bucket", bucket.name).exit_code == 0
    before = bucket.snapshot()
    result = mirror(run, "app", "--upstream", plain_upstream, "--bucket", bucket.name)
    line = error_line(result)
    assert line == (
        f"s3pypi: error: lib is published in s3://{bucket.name}/ as a project of its own "
        f"(not mirrored): refusing to mirror lib from {plain_upstream}"
    )
    assert bucket.snapshot() == before


def test_a_private_package_the_upstream_lacks_gets_a_hint(
    plain_upstream: str, bucket: Bucket, run: Run, projects: Callable[..., SampleProject]
) -> None:
    """A lock file names the private packages too: the error says to leave them out."""
    ours = projects("acme-private").wheel("1.0")
    assert run("upload", ours, "--bucket", bucket.name).exit_code == 0
    before = bucket.snapshot()
    result = mirror(run, "acme-private==1.0", "--upstream", plain_upstream, "--bucket", bucket.name)
    assert error_line(result).endswith(
        f"(acme-private is published in s3://{bucket.name}/, not mirrored: leave it out of what "
        "you mirror, e.g. uv export --no-emit-package acme-private)"
    )
    assert bucket.snapshot() == before


def test_a_tampered_file_is_refused(
    dists: dict[str, Path], bucket: Bucket, run: Run, tmp_path: Path
) -> None:
    """The page's hash is not the file's: nothing is written."""
    util = "util-1.0-py3-none-any.whl"
    root = write_simple_tree(tmp_path / "tampered", dists.values(), hashes={util: "0" * 64})
    with static_server(root) as origin:
        result = mirror(run, "app", "--upstream", f"{origin}/simple/", "--bucket", bucket.name)
    assert f"hash mismatch for {util}" in error_line(result)
    assert bucket.keys() == []


def test_a_tampered_metadata_file_is_refused(
    full_upstream: Path, bucket: Bucket, run: Run, tmp_path: Path
) -> None:
    metadata = full_upstream / "util" / "util-1.0-py3-none-any.whl.metadata"
    metadata.write_bytes(metadata.read_bytes() + b"Requires-Dist: evil\n")
    with serving("--repository-url", full_upstream.as_uri(), log_dir=tmp_path) as upstream:
        result = mirror(run, "util", "--upstream", upstream.url, "--bucket", bucket.name)
    assert "hash mismatch" in error_line(result).lower()
    assert bucket.keys() == []


def _edit_page(directory: Path, project: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = directory / project / "index.json"
    data = json.loads(path.read_text())
    for item in data["files"]:
        change(item)
    path.write_text(json.dumps(data))


def _understate_size(directory: Path) -> None:
    def change(item: dict[str, Any]) -> None:
        item["size"] = 10

    _edit_page(directory, "util", change)


def _metadata_of_another_project(directory: Path) -> None:
    """A metadata file naming another project, with the hash the page gives for it."""
    metadata = directory / "util" / "util-1.0-py3-none-any.whl.metadata"
    metadata.write_bytes(metadata.read_bytes().replace(b"Name: util", b"Name: evil"))

    def change(item: dict[str, Any]) -> None:
        if item["filename"] == "util-1.0-py3-none-any.whl":
            item["core-metadata"] = item["dist-info-metadata"] = {"sha256": sha256(metadata)}

    _edit_page(directory, "util", change)


def _damage_page(directory: Path) -> None:
    (directory / "util" / "index.json").write_text('{"files": [{"nope": 1}]')


def _corrupt_archive(directory: Path) -> None:
    """A file that is not a wheel, listed with its own (matching) hash."""
    wheel = directory / "util" / "util-1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK not a zip at all")

    def change(item: dict[str, Any]) -> None:
        if item["filename"] == wheel.name:
            item["hashes"] = {"sha256": sha256(wheel)}
            item["size"] = wheel.stat().st_size

    _edit_page(directory, "util", change)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_understate_size, "is larger than the 10 bytes announced"),
        (_metadata_of_another_project, "metadata name `evil` does not match given name `util`"),
        (_damage_page, "unexpected JSON"),
        (_corrupt_archive, "util-1.0-py3-none-any.whl: corrupt archive"),
    ],
)
def test_a_damaged_upstream_is_refused(
    full_upstream: Path,
    bucket: Bucket,
    run: Run,
    tmp_path: Path,
    damage: Callable[[Path], None],
    message: str,
) -> None:
    """Whatever the upstream serves wrong (a size, a metadata file, a page, an archive), the
    resolver or the mirror refuses it in one line, and nothing is written."""
    damage(full_upstream)
    with serving("--repository-url", full_upstream.as_uri(), log_dir=tmp_path) as upstream:
        result = mirror(run, "util", "--upstream", upstream.url, "--bucket", bucket.name)
    assert message in error_line(result)
    assert bucket.keys() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-project"], "no-such-project was not found in the package registry"),
        (["app==9"], "there is no version of app==9"),
        (["not a requirement!"], "not a valid requirement: 'not a requirement!'"),
        (["app", "--python-version", "3"], "--python-version: expected X.Y"),
        (["app", "--platform", "amiga_68k"], "--platform: unknown platform tag 'amiga_68k'"),
        ([], "nothing to mirror: give requirements, or -r FILE"),
    ],
)
def test_bad_requests_are_one_line(
    plain_upstream: str, bucket: Bucket, run: Run, args: list[str], message: str
) -> None:
    result = mirror(run, *args, "--upstream", plain_upstream, "--bucket", bucket.name)
    assert message in error_line(result)
    assert bucket.keys() == []


def test_an_unreachable_upstream_is_one_line(bucket: Bucket, run: Run) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: connecting is refused
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/simple/"
    result = mirror(run, "app", "--upstream", url, "--bucket", bucket.name)
    assert error_line(result).startswith(f"s3pypi: error: cannot reach {url}")
    assert bucket.keys() == []


# Targets.


def test_each_platform_gets_its_wheels(run: Run, tmp_path: Path) -> None:
    native = SampleProject("native", tmp_path / "dists")
    tags = [
        "cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64",
        "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64",
        "cp312-cp312-win_amd64",
        "cp312-cp312-macosx_11_0_arm64",
    ]
    wheels = [native.wheel("1.0", filename=f"native-1.0-{tag}.whl") for tag in tags]
    root = write_simple_tree(tmp_path / "tree", [*wheels, native.sdist("1.0")])
    with static_server(root) as origin:
        result = mirror(
            run, "native", "--upstream", f"{origin}/simple/", "--python-version", "3.12",
            "--python-version", "3.11", "--platform", "manylinux_2_17_x86_64",
            "--platform", "win_amd64", "--repository-url", (tmp_path / "index").as_uri(),
            "--dry-run",
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    # Python 3.12 has a wheel for both platforms; 3.11 has none, so it gets the sdist.
    assert sorted(line.split()[4] for line in result.stdout.splitlines()) == sorted(
        [wheels[1].name, wheels[2].name, "native-1.0.tar.gz"]
    )


@pytest.mark.parametrize(
    ("tag", "platform"),
    [
        ("manylinux_2_17_x86_64", "x86_64-manylinux_2_17"),
        ("manylinux2014_aarch64", "aarch64-manylinux2014"),
        ("musllinux_1_2_x86_64", "x86_64-unknown-linux-musl"),
        ("win_amd64", "x86_64-pc-windows-msvc"),
        ("macosx_11_0_arm64", "aarch64-apple-darwin"),
        ("linux", "linux"),
        ("x86_64-pc-windows-msvc", "x86_64-pc-windows-msvc"),
    ],
)
def test_platform_tags_as_uv_names_them(tag: str, platform: str) -> None:
    assert uv_platform(tag)[0] == platform


# The mirrored mark on pages.


def test_the_mirrored_mark_survives_both_page_forms() -> None:
    index = Index(
        files={"a-1.0.tar.gz": IndexFile("a-1.0.tar.gz")},
        name="a",
        mirrored_from="https://pypi.org/simple/",
    )
    assert json.loads(index.to_json())["_s3pypi"] == {"mirrored-from": "https://pypi.org/simple/"}
    assert Index.from_json(index.to_json()).mirrored_from == "https://pypi.org/simple/"
    assert Index.parse(index.to_html()).mirrored_from == "https://pypi.org/simple/"
    ours = Index(files=index.files, name="a")
    assert "_s3pypi" not in json.loads(ours.to_json())
    assert Index.parse(ours.to_html()).mirrored_from is None


@given(st.datetimes(timezones=st.just(timezone.utc)))
def test_upload_times_parse_back(when: datetime) -> None:
    assert parse_upload_time(format_upload_time(when)) == when
    seconds = when.replace(microsecond=0, tzinfo=None).isoformat()
    assert parse_upload_time(seconds + "Z") == when.replace(microsecond=0)
    assert parse_upload_time(seconds + "+00:00") == when.replace(microsecond=0)


@given(st.text())
def test_upload_time_parser_never_raises(text: str) -> None:
    parsed = parse_upload_time(text)
    assert parsed is None or parsed.tzinfo is not None


def test_download_progress_bars(plain_upstream: str, tmp_path: Path) -> None:
    """rich's bars, as a terminal shows them: one per file, with its name and size."""
    console = Console(file=io.StringIO(), force_terminal=True, width=200)
    cfg = Config.from_options(repository_url=(tmp_path / "index").as_uri())
    result = mirror_packages(cfg, ["util"], upstream=plain_upstream, observer=DownloadBars(console))
    assert [f.filename for f in result.copied] == ["util-1.0-py3-none-any.whl"]
    drawn = console.file.getvalue()  # type: ignore[attr-defined]
    assert "util-1.0-py3-none-any.whl" in drawn
    size = result.copied[0].size
    assert f"{size}/{size} bytes" in drawn  # the last frame: all of it
