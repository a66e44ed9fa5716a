"""The publishing tools people already use, unchanged, against a running `s3pypi serve`: twine,
uv, Poetry, PDM and flit, each run as a user runs it (the commands of docs/upload-api.md), on a
moto bucket and on a directory. After each, the index holds exactly what `s3pypi upload` writes
for the same files, and pip installs from it.

One server per store for the whole module, and one throwaway environment for Poetry, PDM and
flit (twine and uv come with the test dependencies)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from click.testing import Result

from s3pypi_core import auth
from tests.conftest import BIN, REGION, Bucket
from tests.distributions import SampleProject
from tests.serving import Server, installer_env, pip, serving
from tests.uploading import project_records

pytestmark = pytest.mark.slow

Run = Callable[..., Result]
USER, PASSWORD = "ci", "s3cret-pw"
# pdm[locked]: PDM's pinned dependencies (a newer hishel breaks PDM 2.29). twine 6.0: twine
# 6.1 and later refuse --skip-existing for every index but PyPI's, before sending anything.
TOOLS = ("poetry", "pdm[locked]", "flit", "twine<6.1")
SERIAL = re.compile(rb"<!--SERIAL \d+-->")


@dataclass
class Index:
    """A running `s3pypi serve` and the store behind it."""

    server: Server
    store: Bucket | Path

    @property
    def upload_url(self) -> str:
        return self.server.url + "legacy/"

    @property
    def index_url_with_credentials(self) -> str:
        parts = urllib.parse.urlsplit(self.server.url)
        return parts._replace(netloc=f"{USER}:{PASSWORD}@{parts.netloc}").geturl()

    def keys(self, project: str) -> list[str]:
        if isinstance(self.store, Bucket):
            return [k for k in self.store.keys() if k.startswith(f"{project}/")]
        return sorted(
            str(p.relative_to(self.store))
            for p in (self.store / project).rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )

    def read(self, key: str) -> bytes:
        if isinstance(self.store, Bucket):
            return self.store.read(key)
        return (self.store / key).read_bytes()


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with Poetry, PDM, flit and twine 6.0 (uv installs them in
    seconds)."""
    venv = tmp_path_factory.mktemp("clients") / "venv"
    subprocess.run([str(BIN / "uv"), "venv", "-q", str(venv)], check=True)
    installed = subprocess.run(
        [str(BIN / "uv"), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), *TOOLS],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if installed.returncode != 0:
        pytest.skip(f"cannot install {', '.join(TOOLS)} here: {installed.stderr.strip()[-300:]}")
    return venv / "bin"


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users.json"
    ci = {**auth.hash_password(PASSWORD), "publish": True}
    path.write_text(json.dumps({USER: ci, "dev": auth.hash_password(PASSWORD)}))
    return path


def _aws(moto_endpoint: str) -> dict[str, str]:
    """The environment of a server that outlives one test: moto, and nothing of AWS's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=moto_endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_CONFIG_FILE=os.devnull,
    )
    return env


@pytest.fixture(scope="module")
def on_bucket(
    moto_endpoint: str, users_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Index]:
    name = f"pypi-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client(  # module-scoped: set up before the test's own AWS settings
        "s3",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=name)
    args = ("--bucket", name, "--users", users_file, "--put-root-index")
    log_dir = tmp_path_factory.mktemp("serve-bucket")
    with serving(*args, log_dir=log_dir, env=_aws(moto_endpoint)) as server:
        yield Index(server, Bucket(name, moto_endpoint))


@pytest.fixture(scope="module")
def on_directory(users_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    root = tmp_path_factory.mktemp("index")
    args = ("--repository-url", root.as_uri(), "--users", users_file, "--put-root-index")
    with serving(*args, log_dir=tmp_path_factory.mktemp("serve-dir")) as server:
        yield Index(server, root)


@pytest.fixture(params=["bucket", "directory"])
def index(request: pytest.FixtureRequest, moto_endpoint: str) -> Index:
    """Each store in turn (`moto_endpoint` named here points this test's AWS settings at it)."""
    fixture = "on_bucket" if request.param == "bucket" else "on_directory"
    result: Index = request.getfixturevalue(fixture)
    return result


def client_env(home: Path, **extra: str) -> dict[str, str]:
    """A user's environment with a fresh home: no .pypirc, no tool configuration, no keyring."""
    home.mkdir(parents=True, exist_ok=True)
    env = installer_env()
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        POETRY_KEYRING_ENABLED="false",
        PDM_CHECK_UPDATE="false",
        UV_CACHE_DIR=str(home / ".cache" / "uv"),
    )
    env.pop("UV_NO_CONFIG")  # uv publish --index reads the project's [[tool.uv.index]]
    env.update(extra)
    return env


def sh(
    *args: str | Path, cwd: Path, env: dict[str, str], input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,  # a prompt fails, not hangs
        capture_output=True,
        text=True,
        timeout=300,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def assert_as_s3pypi_upload(
    index: Index, project: str, files: list[Path], run: Run, tmp_path: Path
) -> None:
    """The project's objects are those `s3pypi upload` writes for the same files: the same
    keys, the same distributions, metadata files and pages, but for what says when and how
    often they were written (upload times, serials)."""
    reference: Bucket | Path
    if isinstance(index.store, Bucket):  # the same kind of store: a bucket's pages are `NAME/`
        reference = Bucket(f"pypi-{uuid.uuid4().hex[:12]}", index.store.endpoint)
        reference.client.create_bucket(Bucket=reference.name)
        where = f"s3://{reference.name}"
    else:
        reference = tmp_path / "reference"
        where = reference.as_uri()
    result = run("upload", *files, "--repository-url", where, "--put-root-index")
    assert result.exit_code == 0, result.output
    expected = Index(index.server, reference)
    assert index.keys(project) == expected.keys(project)
    for key in expected.keys(project):
        ours, theirs = index.read(key), expected.read(key)
        if key.endswith("json"):  # the simple API's index.json, PyPI's JSON API documents
            assert timeless(json.loads(ours)) == timeless(json.loads(theirs)), key
        else:  # HTML pages: but for the serial, one per page write
            assert SERIAL.sub(b"", ours) == SERIAL.sub(b"", theirs), key
    assert project_records(index.store, project) == project_records(reference, project)
    root = json.loads(index.read("index.json"))
    assert {"name": project} in root["projects"]


WHEN = frozenset({"upload-time", "upload_time", "upload_time_iso_8601"})
SERIALS = frozenset({"last_serial", "_last-serial"})


def timeless(document: object) -> object:
    """A JSON document without upload times and serials."""
    if isinstance(document, dict):
        return {k: timeless(v) for k, v in document.items() if k not in WHEN | SERIALS}
    if isinstance(document, list):
        return [timeless(v) for v in document]
    return document


def assert_pip_installs(index: Index, requirement: str, tmp_path: Path) -> None:
    installed = pip(
        "install",
        "--no-deps",
        "--target",
        tmp_path / "site",
        requirement,
        index_url=index.index_url_with_credentials,
    )
    assert installed.returncode == 0, installed.stderr
    assert "Successfully installed" in installed.stdout


# twine


@pytest.mark.parametrize(
    ("index", "path"), [("bucket", ""), ("directory", "legacy/")], indirect=["index"]
)
def test_twine_upload(index: Index, path: str, run: Run, tmp_path: Path) -> None:
    """At the index URL and at `legacy/`, into a bucket and into a directory."""
    name = f"twine-{uuid.uuid4().hex[:6]}"
    project = SampleProject(name, tmp_path / "dist")
    files = [project.wheel("1.0.0", requires_python=">=3.8"), project.sdist("1.0.0")]
    env = client_env(tmp_path / "home")
    output = ok(
        sh(
            BIN / "twine",
            "upload",
            "--repository-url",
            index.server.url + path,
            "-u",
            USER,
            "-p",
            PASSWORD,
            "--non-interactive",
            "--disable-progress-bar",
            *files,
            cwd=tmp_path,
            env=env,
        )
    )
    assert "Uploading" in output
    assert_as_s3pypi_upload(index, name, files, run, tmp_path)
    assert_pip_installs(index, f"{name}==1.0.0", tmp_path)


def test_twine_with_pypirc_and_skip_existing(on_bucket: Index, tools: Path, tmp_path: Path) -> None:
    """`.pypirc` as docs/upload-api.md shows it; a file already there with other bytes fails
    the upload, and twine 6.0's `--skip-existing` skips it (later twines refuse the flag for
    any index but PyPI's); the same bytes again simply succeed."""
    index = on_bucket
    home = tmp_path / "home"
    env = client_env(home)
    (home / ".pypirc").write_text(
        "[distutils]\nindex-servers =\n    private\n\n"
        f"[private]\nrepository = {index.upload_url}\nusername = {USER}\npassword = {PASSWORD}\n"
    )
    name = f"skip-{uuid.uuid4().hex[:6]}"
    first = SampleProject(name, tmp_path / "first").wheel("1.0")
    rebuilt = SampleProject(name, tmp_path / "rebuilt").wheel("1.0", payload=b"# rebuilt\n")
    twine = (
        BIN / "twine",
        "upload",
        "-r",
        "private",
        "--non-interactive",
        "--disable-progress-bar",
    )

    ok(sh(*twine, first, cwd=tmp_path, env=env))
    before = {key: index.read(key) for key in index.keys(name)}
    ok(sh(*twine, first, cwd=tmp_path, env=env))  # the same bytes: 200
    refused = sh(*twine, rebuilt, cwd=tmp_path, env=env)
    assert refused.returncode == 1
    said = " ".join((refused.stdout + refused.stderr).split())
    assert f"400 Bad Request from {index.upload_url} File already exists: {rebuilt.name}" in said
    twine60 = (tools / "twine", *twine[1:])
    skipped = ok(sh(*twine60, "--skip-existing", rebuilt, cwd=tmp_path, env=env))
    assert f"Skipping {rebuilt.name} because it appears to already exist" in " ".join(
        skipped.split()
    )
    twine7 = sh(*twine, "--skip-existing", rebuilt, cwd=tmp_path, env=env)
    assert "does not have support for the following features: --skip-existing" in " ".join(
        (twine7.stdout + twine7.stderr).split()
    )
    assert {key: index.read(key) for key in index.keys(name)} == before


# uv


def test_uv_publish(index: Index, run: Run, tmp_path: Path) -> None:
    name = f"uv-{uuid.uuid4().hex[:6]}"
    project = SampleProject(name, tmp_path / "dist")
    files = [project.wheel("2.0"), project.sdist("2.0")]
    env = client_env(tmp_path / "home")
    ok(
        sh(
            BIN / "uv",
            "publish",
            "--publish-url",
            index.upload_url,
            "--username",
            USER,
            "--password",
            PASSWORD,
            *files,
            cwd=tmp_path,
            env=env,
        )
    )
    assert_as_s3pypi_upload(index, name, files, run, tmp_path)
    assert_pip_installs(index, f"{name}==2.0", tmp_path)


def test_uv_publish_to_a_named_index(on_bucket: Index, tmp_path: Path) -> None:
    """`[[tool.uv.index]]` with `publish-url`, then `uv publish --index private`. uv then
    checks the index's `url` first: a file already there with the same hash is skipped, one
    with another hash is an error (uv's --check-url)."""
    index = on_bucket
    name = f"uvidx-{uuid.uuid4().hex[:6]}"
    work = tmp_path / "work"
    wheel = SampleProject(name, work / "dist").wheel("1.0")
    (work / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "1.0"\n\n'
        f'[[tool.uv.index]]\nname = "private"\nurl = "{index.server.url}"\n'
        f'publish-url = "{index.upload_url}"\nexplicit = true\n'
    )
    env = client_env(
        tmp_path / "home",
        UV_PUBLISH_USERNAME=USER,
        UV_PUBLISH_PASSWORD=PASSWORD,
        UV_INDEX_PRIVATE_USERNAME=USER,
        UV_INDEX_PRIVATE_PASSWORD=PASSWORD,
    )
    ok(sh(BIN / "uv", "publish", "--index", "private", cwd=work, env=env))
    assert wheel.name in index.read(f"{name}/index.json").decode()
    again = ok(sh(BIN / "uv", "publish", "--index", "private", cwd=work, env=env))
    assert f"File {wheel.name} already exists, skipping" in " ".join(again.split())
    SampleProject(name, work / "dist").wheel("1.0", payload=b"# rebuilt\n")
    rebuilt = sh(BIN / "uv", "publish", "--index", "private", cwd=work, env=env)
    assert rebuilt.returncode != 0
    said = " ".join(rebuilt.stderr.split())  # uv wraps long lines
    assert f"Local file and index file do not match for `{wheel.name}`" in said


# Poetry, PDM, flit


def test_poetry_publish(on_bucket: Index, tools: Path, run: Run, tmp_path: Path) -> None:
    """`poetry publish --build -r private`; a rebuild with other bytes under the same version
    fails with "File already exists", and `--skip-existing` skips it."""
    index = on_bucket
    name = f"poetry-{uuid.uuid4().hex[:6]}"
    work = tmp_path / "work"
    module = work / name.replace("-", "_") / "__init__.py"
    module.parent.mkdir(parents=True)
    module.write_text("")
    (work / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "0.1.0"\ndescription = "d"\n'
        'requires-python = ">=3.10"\n\n'
        '[build-system]\nrequires = ["poetry-core>=2.0"]\n'
        'build-backend = "poetry.core.masonry.api"\n'
    )
    env = client_env(tmp_path / "home")
    poetry = tools / "poetry"
    ok(sh(poetry, "config", "repositories.private", index.upload_url, cwd=work, env=env))
    ok(sh(poetry, "config", "http-basic.private", USER, PASSWORD, cwd=work, env=env))
    output = ok(sh(poetry, "publish", "--build", "-r", "private", "-n", cwd=work, env=env))
    assert "Publishing" in output
    published = tmp_path / "published"
    shutil.copytree(work / "dist", published)
    files = sorted(published.iterdir())
    assert_as_s3pypi_upload(index, name, files, run, tmp_path)
    assert_pip_installs(index, f"{name}==0.1.0", tmp_path)

    module.write_text("CHANGED = True\n")
    ok(sh(poetry, "build", "-n", cwd=work, env=env))
    again = sh(poetry, "publish", "-r", "private", "-n", cwd=work, env=env)
    assert again.returncode != 0
    assert "HTTP Error 400: File already exists" in again.stdout + again.stderr
    skipped = ok(sh(poetry, "publish", "-r", "private", "-n", "--skip-existing", cwd=work, env=env))
    assert "File exists. Skipping" in skipped
    assert all(index.read(f"{name}/{f.name}") == f.read_bytes() for f in files)


def test_pdm_publish(on_bucket: Index, tools: Path, run: Run, tmp_path: Path) -> None:
    """`pdm publish -r private` (here of a `dist/` built beforehand: `--no-build`); other
    bytes under a published name fail, and `--skip-existing` skips them."""
    index = on_bucket
    name = f"pdm-{uuid.uuid4().hex[:6]}"
    work = tmp_path / "work"
    files = [SampleProject(name, work / "dist").wheel("0.2.0")]
    published = files[0].read_bytes()
    (work / "pyproject.toml").write_text(f'[project]\nname = "{name}"\nversion = "0.2.0"\n')
    env = client_env(tmp_path / "home")
    pdm = tools / "pdm"
    ok(sh(pdm, "config", "repository.private.url", index.upload_url, cwd=work, env=env))
    ok(sh(pdm, "config", "repository.private.username", USER, cwd=work, env=env))
    ok(sh(pdm, "config", "repository.private.password", PASSWORD, cwd=work, env=env))
    ok(sh(pdm, "publish", "-r", "private", "--no-build", cwd=work, env=env))
    assert_as_s3pypi_upload(index, name, files, run, tmp_path)
    assert_pip_installs(index, f"{name}==0.2.0", tmp_path)

    SampleProject(name, work / "dist").wheel("0.2.0", payload=b"# rebuilt\n")
    again = sh(pdm, "publish", "-r", "private", "--no-build", cwd=work, env=env)
    assert again.returncode != 0
    # PDM shows the standard phrase ("Client error '400 Bad Request'"), and the reason in
    # its log; --skip-existing reads the reason from the body.
    assert "400 Bad Request" in again.stderr
    skipped = ok(
        sh(pdm, "publish", "-r", "private", "--no-build", "--skip-existing", cwd=work, env=env)
    )
    assert f"Skipping {files[0].name} because it appears to already exist" in skipped
    assert index.read(f"{name}/{files[0].name}") == published


def test_flit_publish(on_bucket: Index, tools: Path, run: Run, tmp_path: Path) -> None:
    index = on_bucket
    name = f"flit-{uuid.uuid4().hex[:6]}"
    module = name.replace("-", "_")
    work = tmp_path / "work"
    work.mkdir()
    (work / f"{module}.py").write_text('"""A flit sample."""\n__version__ = "0.3.0"\n')
    (work / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\ndynamic = ["version", "description"]\n\n'
        '[build-system]\nrequires = ["flit_core>=3.4"]\nbuild-backend = "flit_core.buildapi"\n'
    )
    home = tmp_path / "home"
    env = client_env(home)
    (home / ".pypirc").write_text(
        "[distutils]\nindex-servers =\n    private\n\n"
        f"[private]\nrepository = {index.upload_url}\nusername = {USER}\npassword = {PASSWORD}\n"
    )
    ok(sh(tools / "flit", "publish", "--repository", "private", cwd=work, env=env))
    files = sorted((work / "dist").iterdir())
    assert_as_s3pypi_upload(index, name, files, run, tmp_path)
    assert_pip_installs(index, f"{name}==0.3.0", tmp_path)


def test_refusals_as_twine_shows_them(on_bucket: Index, tmp_path: Path) -> None:
    """Wrong credentials, and a user without the publish permission."""
    wheel = SampleProject("refused", tmp_path / "dist").wheel("1.0")
    env = client_env(tmp_path / "home")

    def twine(user: str, password: str) -> str:
        result = sh(
            BIN / "twine", "upload", "--repository-url", on_bucket.upload_url, "-u", user,
            "-p", password, "--non-interactive", wheel, cwd=tmp_path, env=env,
        )  # fmt: skip
        assert result.returncode == 1
        return " ".join((result.stdout + result.stderr).split())

    assert f"401 Unauthorized from {on_bucket.upload_url}" in twine(USER, "wrong")
    assert (
        f"403 Forbidden from {on_bucket.upload_url} dev may not publish: only users added "
        "with --publish may"
    ) in twine("dev", PASSWORD)
    assert on_bucket.keys("refused") == []
