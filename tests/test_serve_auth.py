"""`s3pypi serve --users FILE`: HTTP basic auth with the records `put_user.py --file` writes,
as the Lambda@Edge function checks them; pip and uv pass with credentials in the URL."""

from __future__ import annotations

import base64
import json
import sys
import threading
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from s3pypi_core import auth
from tests.conftest import Bucket, run_console_script
from tests.serving import PIP_ACCEPT, Server, pip, serving, uv

Run = Callable[..., Result]

PASSWORD = "correct:horse@battery"  # a ':' and an '@' must survive the header and the URL


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"alice": auth.hash_password(PASSWORD)}))
    return path


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


def _status(server: Server, user: str, password: str | bytes) -> int:
    raw = password if isinstance(password, bytes) else password.encode()
    header = "Basic " + base64.b64encode(user.encode() + b":" + raw).decode()
    return server.get("/hello-world/", authorization=header).status


def test_startup_line_health_and_the_user_in_the_log(
    published: Bucket, users_file: Path, tmp_path: Path
) -> None:
    with serving("--bucket", published.name, "--users", users_file, log_dir=tmp_path) as server:
        assert f"(basic auth: 1 user(s) in {users_file})" in server.first_line
        health = server.get("/-/health")  # no credentials: load balancers have none
        assert _status(server, "alice", PASSWORD) == 200
        log = server.requests()
    assert health.status == 200
    assert json.loads(health.body)["status"] == "ok"
    assert [(r.path, r.user) for r in log] == [("/-/health", "-"), ("/hello-world/", "alice")]


def test_the_users_file_is_read_again_when_it_changes(
    published: Bucket, users_file: Path, tmp_path: Path
) -> None:
    def user(*args: str, input: str | None = None) -> None:
        result = run_console_script("s3pypi", "user", *args, "--file", users_file, input=input)
        assert result.returncode == 0, result.stderr

    with serving("--bucket", published.name, "--users", users_file, log_dir=tmp_path) as server:
        assert _status(server, "alice", PASSWORD) == 200  # remembered from now on
        assert _status(server, "bob", "bob's") == 401

        user("add", "bob", "--password-stdin", input="bob's\n")
        assert _status(server, "bob", "bob's") == 200

        user("remove", "alice")
        assert _status(server, "alice", PASSWORD) == 401

        user("add", "bob", "--password-stdin", "--overwrite", input="new\n")
        assert _status(server, "bob", "bob's") == 401
        assert _status(server, "bob", "new") == 200

        users_file.write_text("{not json")  # a bad edit keeps the users read last
        assert _status(server, "bob", "new") == 200
        assert "cannot read users file" in server.log_path.read_text()


def test_utf8_and_latin1_credentials(published: Bucket, tmp_path: Path) -> None:
    users_file = tmp_path / "users.json"
    users_file.write_text(
        json.dumps({"alice": auth.hash_password("pässwörd"), "bob": auth.hash_password("密码")})
    )
    with serving("--bucket", published.name, "--users", users_file, log_dir=tmp_path) as server:
        assert _status(server, "alice", "pässwörd".encode()) == 200  # uv, browsers
        assert _status(server, "alice", "pässwörd".encode("latin-1")) == 200  # pip, requests
        assert _status(server, "bob", "密码".encode()) == 200
        assert _status(server, "alice", "passwort".encode("latin-1")) == 401


@pytest.mark.slow
def test_pip_with_a_non_ascii_password(published: Bucket, tmp_path: Path) -> None:
    users_file = tmp_path / "users.json"
    users_file.write_text(json.dumps({"alice": auth.hash_password("pässwörd:1")}))
    with serving("--bucket", published.name, "--users", users_file, log_dir=tmp_path) as server:
        parts = urllib.parse.urlsplit(server.url)
        secret = urllib.parse.quote("pässwörd:1", safe="")
        url = parts._replace(netloc=f"alice:{secret}@{parts.netloc}").geturl()
        result = pip("install", "--dry-run", "--ignore-installed", "hello-world", index_url=url)
        statuses = {r.status for r in server.requests()}
    assert result.returncode == 0, result.stderr
    assert "hello-world-1.1" in result.stdout
    assert statuses == {200}


def test_a_flood_of_wrong_passwords_is_bounded(
    published: Bucket, users_file: Path, tmp_path: Path
) -> None:
    """Password checks run a few at a time and only a few more may wait; the rest of a flood
    is answered 503 at once. A user who signed in before keeps getting in meanwhile."""
    attackers = 60
    signed_in = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    with serving("--bucket", published.name, "--users", users_file, log_dir=tmp_path) as server:
        assert server.get("/hello-world/", authorization=signed_in).status == 200
        barrier = threading.Barrier(attackers + 1)
        statuses: list[int] = []

        def attack(n: int) -> None:
            header = "Basic " + base64.b64encode(f"alice:wrong-{n}".encode()).decode()
            barrier.wait()
            statuses.append(server.get("/hello-world/", authorization=header).status)

        threads = [threading.Thread(target=attack, args=(n,)) for n in range(attackers)]
        for thread in threads:
            thread.start()
        barrier.wait()
        during = server.get("/hello-world/", authorization=signed_in).status
        for thread in threads:
            thread.join()
        gate = json.loads(server.get("/-/health").body)["auth"]
    assert during == 200
    assert sorted(set(statuses)) in ([401], [401, 503])
    assert statuses.count(401) == gate["refused"]
    assert statuses.count(503) == gate["busy"]
    assert gate["peak_checking"] <= gate["workers"]
    assert gate["peak_admitted"] <= gate["workers"] + gate["queue"]
    assert gate["checks"] == gate["refused"] + 1  # alice's one check; the rest was remembered
