"""`hatch publish -p s3pypi`: a real Hatch project, built and published by the real `hatch`."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import Bucket, run_console_script
from tests.distributions import SampleProject
from tests.frontends import bytecode_cache, contents, new_bucket, stored_metadata

__all__ = ["bytecode_cache"]  # an autouse fixture: faster console scripts

pytestmark = pytest.mark.slow

Run = Callable[..., Result]

WHEEL = "sample_pkg-0.1.0-py3-none-any.whl"
SDIST = "sample_pkg-0.1.0.tar.gz"


@pytest.fixture(scope="session")
def build_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The environment `hatch build` builds in, seeing this one's hatchling: Hatch installs
    nothing, so the tests run offline."""
    path = tmp_path_factory.mktemp("hatch-build-env")
    venv.create(path, with_pip=False)
    purelib = subprocess.run(
        [path / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "s3pypi-tests.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return path


@dataclass
class HatchProject:
    """A project with hatchling as its build backend, and Hatch's directories of its own."""

    root: Path
    hatch_config: Path
    env: dict[str, str]

    @property
    def dist(self) -> Path:
        return self.root / "dist"

    def hatch(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return run_console_script("hatch", *args, cwd=self.root, env=self.env)

    def build(self) -> None:
        result = self.hatch("build")
        assert result.returncode == 0, result.stdout + result.stderr
        assert sorted(p.name for p in self.dist.glob("*.*")) == [WHEEL, SDIST]

    def publish(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return self.hatch("publish", "-p", "s3pypi", *args)


@pytest.fixture
def make_project(tmp_path: Path, build_env: Path) -> Callable[..., HatchProject]:
    def make(publish: str = "", hatch_config: str = "") -> HatchProject:
        root = tmp_path / "sample-pkg"
        (root / "src" / "sample_pkg").mkdir(parents=True)
        (root / "src" / "sample_pkg" / "__init__.py").write_text("GREETING = 'hello'\n")
        (root / "README.md").write_text("# sample-pkg\n\nA *sample* project.\n")
        (root / "pyproject.toml").write_text(
            '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n'
            '[project]\nname = "sample-pkg"\nversion = "0.1.0"\nreadme = "README.md"\n'
            'requires-python = ">=3.8"\n\n'
            f"[tool.hatch.publish.s3pypi]\n{publish}\n"
        )
        home = tmp_path / "hatch-home"
        home.mkdir()
        config = home / "config.toml"
        config.write_text(hatch_config)
        env = {
            "HATCH_CONFIG": str(config),
            "HATCH_DATA_DIR": str(home / "data"),
            "HATCH_CACHE_DIR": str(home / "cache"),
            "HATCH_ENV_TYPE_VIRTUAL_PATH": str(build_env),
            "PIP_CONFIG_FILE": os.devnull,
            "UV_NO_CONFIG": "1",
            "UV_OFFLINE": "1",
        }
        return HatchProject(root, config, env)

    return make


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_publish_configured_in_pyproject_writes_what_s3pypi_upload_writes(
    bucket: Bucket, make_project: Callable[..., HatchProject], run: Run
) -> None:
    project = make_project(
        f'bucket = "{bucket.name}"\nprefix = "packages"\nput-root-index = true\n'
    )
    project.build()

    result = project.publish()

    assert result.returncode == 0, result.stderr
    assert f"dist/{WHEEL} ... success" in result.stderr
    assert f"dist/{SDIST} ... success" in result.stderr
    assert f"s3://{bucket.name}/packages/sample-pkg/" in result.stderr
    reference = new_bucket(bucket.endpoint)
    expected = run(
        "upload",
        project.dist / WHEEL,
        project.dist / SDIST,
        "--bucket",
        reference.name,
        "--prefix",
        "packages",
        "--put-root-index",
    )
    assert expected.exit_code == 0, expected.output
    assert contents(bucket) == contents(reference)
    assert stored_metadata(bucket) == stored_metadata(reference)
    assert f"packages/sample-pkg/{WHEEL}.metadata" in bucket.keys()


def test_publish_configured_with_options_writes_what_s3pypi_upload_writes(
    bucket: Bucket, make_project: Callable[..., HatchProject], run: Run
) -> None:
    project = make_project()
    project.build()

    result = project.publish(
        "-o",
        f"repository-url=s3://{bucket.name}/team",
        "-o",
        "index-html=true",
        "-o",
        "put-root-index=yes",
        "-o",
        "s3-put-args=ServerSideEncryption=AES256,ContentLanguage=en",
    )

    assert result.returncode == 0, result.stderr
    reference = new_bucket(bucket.endpoint)
    expected = run(
        "upload",
        project.dist / WHEEL,
        project.dist / SDIST,
        "--repository-url",
        f"s3://{reference.name}/team",
        "--index.html",
        "--put-root-index",
        "--s3-put-args",
        "ServerSideEncryption=AES256,ContentLanguage=en",
    )
    assert expected.exit_code == 0, expected.output
    assert contents(bucket) == contents(reference)
    assert "team/sample-pkg/index.html" in bucket.keys()
    head = bucket.head(f"team/sample-pkg/{WHEEL}")
    assert (head["ServerSideEncryption"], head["ContentLanguage"]) == ("AES256", "en")


def test_options_win_over_the_project_and_the_project_over_hatch_config(
    bucket: Bucket, make_project: Callable[..., HatchProject]
) -> None:
    table = bucket.create_locks_table("team-locks")
    project = make_project(
        publish=f'bucket = "{bucket.name}"\nprefix = "proj"\nput-root-index = false\n',
        hatch_config=(
            '[publish.s3pypi]\nrepository-url = "s3://no-such-bucket/all"\n'
            'put-root-index = true\nlocks-table = "no-such-table"\nindex-html = true\n'
        ),
    )
    project.build()

    result = project.publish("-o", f"locks-table={table}")

    assert result.returncode == 0, result.stderr
    keys = bucket.keys()
    assert f"proj/sample-pkg/{WHEEL}" in keys  # the project's bucket and prefix
    assert "proj/index.json" not in keys  # the project's put-root-index = false
    assert "proj/sample-pkg/index.html" in keys  # Hatch config's index-html, not overridden


def test_repository_url_option_replaces_the_projects_bucket_and_prefix(
    bucket: Bucket, make_project: Callable[..., HatchProject], tmp_path: Path
) -> None:
    project = make_project(f'bucket = "{bucket.name}"\nprefix = "team"\n')
    project.build()
    index = tmp_path / "index"

    result = project.publish("-o", f"repository-url={index.as_uri()}")

    assert result.returncode == 0, result.stderr
    assert (index / "sample-pkg" / WHEEL).is_file()
    assert bucket.keys() == []


def test_prefix_option_applies_to_the_bucket_of_hatch_config(
    bucket: Bucket, make_project: Callable[..., HatchProject]
) -> None:
    project = make_project(hatch_config=f'[publish.s3pypi]\nbucket = "{bucket.name}"\n')
    project.build()

    result = project.publish("-o", "prefix=team")

    assert result.returncode == 0, result.stderr
    assert f"team/sample-pkg/{WHEEL}" in bucket.keys()


def test_table_in_pyproject(bucket: Bucket, make_project: Callable[..., HatchProject]) -> None:
    project = make_project(
        f'repository-url = "s3://{bucket.name}"\n'
        's3-put-args = { ServerSideEncryption = "AES256" }\n'
    )
    project.build()

    result = project.publish(f"dist/{WHEEL}")

    assert result.returncode == 0, result.stderr
    assert f"sample-pkg/{SDIST}" not in bucket.keys()
    assert bucket.head(f"sample-pkg/{WHEEL}")["ServerSideEncryption"] == "AES256"


def test_existing_files_are_skipped_unless_strict(
    bucket: Bucket, make_project: Callable[..., HatchProject]
) -> None:
    project = make_project(f'repository-url = "s3://{bucket.name}"\n')
    project.build()
    assert project.publish().returncode == 0
    before = bucket.snapshot()

    again = project.publish()
    strict = project.publish("-o", "strict=true")

    assert again.returncode == 0, again.stderr
    assert f"dist/{WHEEL} ... already exists" in again.stderr
    assert strict.returncode == 1
    assert "2 file(s) already existed" in strict.stderr.strip().splitlines()[-1]
    assert bucket.snapshot() == before


def test_disabled_publisher_asks_first(
    bucket: Bucket, make_project: Callable[..., HatchProject]
) -> None:
    project = make_project(f'repository-url = "s3://{bucket.name}"\ndisable = true\n')
    project.build()

    refused = project.publish("--no-prompt")
    assert refused.returncode == 1
    assert "Publisher is disabled: s3pypi" in refused.stderr
    assert bucket.keys() == []

    confirmed = project.publish("--yes")
    assert confirmed.returncode == 0, confirmed.stderr
    assert f"sample-pkg/{WHEEL}" in bucket.keys()


@pytest.mark.parametrize(
    ("publish", "options", "message"),
    [
        ("", ["-o", "strict=maybe"], "option `strict` in the -o options must be a boolean"),
        ("colour = 'blue'", [], "unknown option `colour` in [tool.hatch.publish.s3pypi]"),
        ("", ["-o", "bucket=b", "-o", "repository-url=s3://b"], "sets both `repository-url`"),
        ("", ["-o", "strict=true", "-o", "force=true"], "`strict` and `force` exclude each other"),
    ],
)
def test_bad_options_are_one_line(
    bucket: Bucket,
    make_project: Callable[..., HatchProject],
    publish: str,
    options: list[str],
    message: str,
) -> None:
    project = make_project(f'repository-url = "s3://{bucket.name}"\n{publish}\n')
    project.build()

    result = project.publish(*options)

    assert_one_line_error(result, message)
    assert bucket.keys() == []


def test_no_repository_is_one_line(make_project: Callable[..., HatchProject]) -> None:
    project = make_project()
    project.build()

    assert_one_line_error(project.publish(), "no repository: set `repository-url`")


def test_invalid_artifact_is_refused_before_anything_is_written(
    bucket: Bucket, make_project: Callable[..., HatchProject]
) -> None:
    project = make_project(f'repository-url = "s3://{bucket.name}"\n')
    project.build()
    (project.dist / "sample_pkg-0.2.0-py3-none-any.whl").write_bytes(b"not a zip")

    result = project.publish()

    assert_one_line_error(result, "sample_pkg-0.2.0-py3-none-any.whl: corrupt archive")
    assert bucket.keys() == []


def test_empty_dist_is_one_line(bucket: Bucket, make_project: Callable[..., HatchProject]) -> None:
    project = make_project(f'repository-url = "s3://{bucket.name}"\n')
    project.dist.mkdir()

    assert_one_line_error(project.publish(), "no artifacts found in dist")


def test_pip_installs_what_both_front_ends_published(
    make_project: Callable[..., HatchProject], tmp_path: Path
) -> None:
    """The path a user takes: publish with Hatch and with s3pypi-twine, then pip install."""
    index = tmp_path / "index"
    project = make_project()
    project.build()
    other = SampleProject("hello-world", tmp_path / "other").wheel("1.0", requires=["sample-pkg"])

    published = project.publish("-o", f"repository-url={index.as_uri()}")
    uploaded = run_console_script(
        "s3pypi-twine", "upload", "--repository-url", index.as_uri(), other
    )

    assert published.returncode == 0, published.stderr
    assert uploaded.returncode == 0, uploaded.stderr
    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", target / "bin" / "python", "install",
         "--no-cache-dir", "--disable-pip-version-check", "--index-url", index.as_uri() + "/",
         "hello-world"],
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "Successfully installed hello-world-1.0 sample-pkg-0.1.0" in installed.stdout
    code = "import hello_world, sample_pkg; print(hello_world.VERSION, sample_pkg.GREETING)"
    ran = subprocess.run(
        [target / "bin" / "python", "-c", code], capture_output=True, text=True, check=True
    )
    assert ran.stdout == "1.0 hello\n"
