"""`s3pypi serve --users FILE`: HTTP basic auth with the records `put_user.py --file` writes,
as the Lambda@Edge function checks them; pip and uv pass with credentials in the URL."""

from __future__ import annotations

import base64
import json
import sys
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from s3pypi_core import auth
from tests.conftest import Bucket, run_console_script
from tests.serving import PIP_ACCEPT, pip, serving, uv

Run = Callable[..., Result]

PASSWORD = "correct:horse@battery"  # a ':' and an '@' must survive the header and the URL


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"alice": auth.hash_password(PASSWORD)}))
    return path


@pytest.fixture
def published(bucket: Bucket, run: Run, dist_dir: Path) -> Bucket:
    result = run("upload", dist_dir / "*", "--bucket", bucket.name, "--put-root-index")
    assert result.exit_code == 0, result.output
    return bucket


def test_missing_or_wrong_credentials_get_401(
    published: Bucket, users_file: Path, tmp_path: Path
) -> None:
    wheel = "/hello-world/hello_world-1.0.0-py3-none-any.whl"
    with serving("--bucket", published.name, "--users", users_file, log_dir=tmp_path) as server:
        refused = [
            server.get("/hello-world/", accept=PIP_ACCEPT),
            server.get(wheel, authorization=_basic("alice", "wrong")),
            server.get(wheel, authorization=_basic("mallory", PASSWORD)),
            server.get(wheel, authorization="Bearer abc"),
            server.head(wheel),
        ]
        allowed = server.get(wheel, authorization=_basic("alice", PASSWORD))
        page = server.get(
            "/hello-world/", accept=PIP_ACCEPT, authorization=_basic("alice", PASSWORD)
        )
        log = server.requests()
    for response in refused:
        assert response.status == 401
        assert response.headers["www-authenticate"] == 'Basic realm="s3pypi", charset="UTF-8"'
        assert b"hello" not in response.body
    assert allowed.status == 200
    assert allowed.body == published.read(wheel[1:])
    assert page.status == 200
    assert [r.status for r in log] == [401, 401, 401, 401, 401, 200, 200]


@pytest.mark.slow
def test_pip_and_uv_with_credentials_in_the_url(
    published: Bucket, users_file: Path, tmp_path: Path
) -> None:
    with serving("--bucket", published.name, "--users", users_file, log_dir=tmp_path) as server:
        parts = urllib.parse.urlsplit(server.url)
        secret = urllib.parse.quote(PASSWORD, safe="")
        with_credentials = parts._replace(netloc=f"alice:{secret}@{parts.netloc}").geturl()
        wrong = parts._replace(netloc=f"alice:nope@{parts.netloc}").geturl()

        ok = pip(
            "install", "--dry-run", "--ignore-installed", "hello-world", index_url=with_credentials
        )
        assert ok.returncode == 0, ok.stderr
        assert "hello-world-1.1" in ok.stdout
        denied = pip("install", "--dry-run", "--ignore-installed", "hello-world", index_url=wrong)
        assert denied.returncode != 0
        assert "401" in denied.stdout + denied.stderr

        compiled = uv(
            "pip", "compile", "-", "--python", sys.executable, "--no-header", "--no-annotate",
            index_url=with_credentials, input="hello-world\n",
        )  # fmt: skip
        assert compiled.returncode == 0, compiled.stderr
        assert compiled.stdout.split() == ["hello-world==1.1"]
        statuses = {r.status for r in server.requests()}
    assert statuses == {200, 401}


def test_unreadable_users_file_is_one_line(published: Bucket, tmp_path: Path) -> None:
    bad = tmp_path / "users.json"
    bad.write_text("[1, 2]")
    result = run_console_script("s3pypi", "serve", "--bucket", published.name, "--users", bad)
    assert result.returncode == 1
    assert result.stderr.startswith(f"s3pypi: error: cannot read users file {bad}: ")
    assert len(result.stderr.splitlines()) == 1
