"""The Lambda@Edge basic auth handler, with users in SSM (moto's server, over real HTTP)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import secrets
import shutil
import subprocess
import sys
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig

from auth_lambda.handler import Config, EdgeAuth
from s3pypi_core import auth
from tests.conftest import REGION
from tests.test_routing import CASES
from tests.test_terraform import lambda_package_sources

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def put_user(ssm: Any, domain: str) -> Callable[[str, dict[str, Any]], None]:
    def put(user: str, record: dict[str, Any]) -> None:
        ssm.put_parameter(
            Name=f"/s3pypi/{domain}/users/{user}",
            Value=json.dumps(record),
            Type="SecureString",
            Overwrite=True,
        )

    return put


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_handler(ssm: Any, domain: str, clock: Clock) -> Callable[..., EdgeAuth]:
    def make(**settings: Any) -> EdgeAuth:
        config = Config.from_json({"domains": [domain], "region": REGION, **settings})
        return EdgeAuth(config, ssm, clock=clock)

    return make


@pytest.fixture
def handler(make_handler: Callable[..., EdgeAuth]) -> EdgeAuth:
    return make_handler()


def basic(credentials: str | bytes) -> str:
    raw = credentials.encode() if isinstance(credentials, str) else credentials
    return "Basic " + base64.b64encode(raw).decode()


def viewer_request(
    host: str, uri: str = "/", *, authorization: str | None = None, accept: str | None = None
) -> dict[str, Any]:
    """A Lambda@Edge viewer-request event, as CloudFront sends it."""
    uri, _, querystring = uri.partition("?")
    headers = {"host": [{"key": "Host", "value": host}]}
    if authorization is not None:
        headers["authorization"] = [{"key": "Authorization", "value": authorization}]
    if accept is not None:
        headers["accept"] = [{"key": "Accept", "value": accept}]
    return {
        "Records": [
            {
                "cf": {
                    "config": {
                        "distributionDomainName": "d111111abcdef8.cloudfront.net",
                        "distributionId": "EDFDVBD6EXAMPLE",
                        "eventType": "viewer-request",
                        "requestId": uuid.uuid4().hex,
                    },
                    "request": {
                        "clientIp": "203.0.113.178",
                        "headers": headers,
                        "method": "GET",
                        "querystring": querystring,
                        "uri": uri,
                    },
                }
            }
        ]
    }


def assert_unauthorized(response: dict[str, Any]) -> None:
    assert response["status"] == "401"
    assert response["headers"]["www-authenticate"] == [
        {"key": "WWW-Authenticate", "value": 'Basic realm="s3pypi", charset="UTF-8"'}
    ]
    assert response["headers"]["cache-control"][0]["value"] == "no-store"
    assert "uri" not in response  # a response, not the request passed on


def key_of(request: dict[str, Any]) -> str:
    assert "+" not in request["uri"]  # S3 would read a literal '+' as a space
    return urllib.parse.unquote(request["uri"][1:])


@pytest.mark.parametrize(
    "authorization",
    [
        None,  # missing header
        "Bearer abc.def",  # other scheme
        "Basic !!!not-base64",  # bad base64
        basic(b"alice:\xff\xfepw"),  # not UTF-8
        basic("alice"),  # no colon
        basic("mallory:s3cret"),  # unknown user
        basic("alice:wrong"),  # wrong password
        basic("alice:s3cret:"),  # a password with one character more
        basic("../alice:s3cret"),  # not a username at all
    ],
    ids=[
        "missing",
        "scheme",
        "base64",
        "utf8",
        "no-colon",
        "unknown-user",
        "wrong-password",
        "longer-password",
        "bad-username",
    ],
)
def test_every_failure_answers_the_same_401(
    handler: EdgeAuth, put_user: Callable[..., None], domain: str, authorization: str | None
) -> None:
    put_user("alice", auth.hash_password("s3cret"))
    response = handler(viewer_request(domain, "/", authorization=authorization))
    assert_unauthorized(response)
    # Without saying which: every failure is this very response.
    missing = handler(viewer_request(domain, "/"))
    assert response == missing


def test_right_password_passes_the_request_on_with_the_routed_uri(
    handler: EdgeAuth, put_user: Callable[..., None], domain: str
) -> None:
    put_user("alice", auth.hash_password("s3cret"))
    event = viewer_request(
        domain,
        "/hello-world/",
        authorization=basic("alice:s3cret"),
        accept=CASES["accept"]["pip"],
    )
    original = copy.deepcopy(event["Records"][0]["cf"]["request"])
    request = handler(event)
    assert request["uri"] == "/hello-world/index.json"
    assert {**request, "uri": original["uri"]} == original  # nothing else changed


@pytest.mark.parametrize("index_html", [False, True])
def test_routing_cases(
    make_handler: Callable[..., EdgeAuth],
    put_user: Callable[..., None],
    domain: str,
    index_html: bool,
) -> None:
    handler = make_handler(index_html=index_html)
    put_user("alice", auth.hash_password("s3cret"))
    cases = [c for c in CASES["cases"] if c.get("index_html", False) == index_html]
    for case in cases:
        event = viewer_request(
            domain,
            case["path"],
            authorization=basic("alice:s3cret"),
            accept=CASES["accept"][case["accept"]],
        )
        assert key_of(handler(event)) == case["key"], case


def test_a_local_version_reaches_s3_encoded(
    handler: EdgeAuth, put_user: Callable[..., None], domain: str
) -> None:
    put_user("alice", auth.hash_password("s3cret"))
    for uri in (
        "/hello/hello-1.0+local-py3-none-any.whl",
        "/hello/hello-1.0%2Blocal-py3-none-any.whl",
    ):
        request = handler(viewer_request(domain, uri, authorization=basic("alice:s3cret")))
        assert request["uri"] == "/hello/hello-1.0%2Blocal-py3-none-any.whl"


def test_colons_in_passwords(handler: EdgeAuth, put_user: Callable[..., None], domain: str) -> None:
    put_user("ci-bot", auth.hash_password("a:b::c:"))
    ok = handler(viewer_request(domain, "/", authorization=basic("ci-bot:a:b::c:")))
    assert ok["uri"] == "/index.html"
    assert_unauthorized(handler(viewer_request(domain, "/", authorization=basic("ci-bot:a:b"))))


def test_a_user_stored_by_s3pypi_2_verifies(
    handler: EdgeAuth, put_user: Callable[..., None], domain: str
) -> None:
    salt = secrets.token_urlsafe(32)
    digest = hashlib.sha1(("old-password" + salt).encode(), usedforsecurity=False).hexdigest()
    put_user("legacy", {"password_hash": digest, "password_salt": salt})
    ok = handler(viewer_request(domain, "/", authorization=basic("legacy:old-password")))
    assert ok["uri"] == "/index.html"
    bad = handler(viewer_request(domain, "/", authorization=basic("legacy:old-passwort")))
    assert_unauthorized(bad)


def test_a_removed_user_is_refused_once_the_cache_bound_passes(
    make_handler: Callable[..., EdgeAuth],
    put_user: Callable[..., None],
    ssm: Any,
    domain: str,
    clock: Clock,
) -> None:
    handler = make_handler(cache_ttl=120)
    put_user("alice", auth.hash_password("s3cret"))
    event = viewer_request(domain, "/", authorization=basic("alice:s3cret"))
    assert handler(copy.deepcopy(event))["uri"] == "/index.html"

    ssm.delete_parameter(Name=f"/s3pypi/{domain}/users/alice")
    clock.now += 119
    assert handler(copy.deepcopy(event))["uri"] == "/index.html"  # cached, within the bound
    clock.now += 1
    assert_unauthorized(handler(copy.deepcopy(event)))


def test_a_changed_password_is_refused_once_the_cache_bound_passes(
    handler: EdgeAuth, put_user: Callable[..., None], domain: str, clock: Clock
) -> None:
    put_user("alice", auth.hash_password("old"))
    assert handler(viewer_request(domain, "/", authorization=basic("alice:old")))["uri"]
    put_user("alice", auth.hash_password("new"))
    clock.now += 300
    assert_unauthorized(handler(viewer_request(domain, "/", authorization=basic("alice:old"))))
    assert handler(viewer_request(domain, "/", authorization=basic("alice:new")))["uri"]


@pytest.mark.parametrize("value", ["not json", '"a string"', "[]"])
def test_a_corrupt_record_is_no_user(handler: EdgeAuth, ssm: Any, domain: str, value: str) -> None:
    ssm.put_parameter(Name=f"/s3pypi/{domain}/users/alice", Value=value, Type="SecureString")
    assert_unauthorized(handler(viewer_request(domain, "/", authorization=basic("alice:x"))))


def test_users_belong_to_their_domain(
    handler: EdgeAuth, put_user: Callable[..., None], domain: str
) -> None:
    """A Host this function does not serve (the *.cloudfront.net name, say) has no users."""
    put_user("alice", auth.hash_password("s3cret"))
    for host in ("d111111abcdef8.cloudfront.net", "other.example.com", ""):
        assert_unauthorized(handler(viewer_request(host, "/", authorization=basic("alice:s3cret"))))
    ok = handler(viewer_request(domain.upper(), "/", authorization=basic("alice:s3cret")))
    assert ok["uri"] == "/index.html"


def test_ssm_unreachable_fails_closed(domain: str) -> None:
    unreachable = boto3.client(
        "ssm",
        endpoint_url="http://127.0.0.1:9",
        region_name=REGION,
        config=BotoConfig(connect_timeout=1, retries={"max_attempts": 1}),
    )
    handler = EdgeAuth(Config(domains=(domain,)), unreachable)
    response = handler(viewer_request(domain, "/", authorization=basic("alice:s3cret")))
    assert response["status"] == "503"
    assert "uri" not in response


def test_the_package_terraform_builds_runs_as_lambda_would(
    tmp_path: Path, put_user: Callable[..., None], domain: str
) -> None:
    """handler.py, auth.py, routing.py and config.json side by side, without s3pypi_core."""
    package = tmp_path / "task"
    package.mkdir()
    for name, source in lambda_package_sources().items():
        if source is not None:
            shutil.copy(source, package / name)
    (package / "config.json").write_text(
        json.dumps({"domains": [domain], "region": REGION, "cache_ttl": 300, "index_html": False})
    )
    put_user("alice", auth.hash_password("s3:cret"))
    events = [
        viewer_request(domain, "/hello-world/", authorization=basic("alice:s3:cret")),
        viewer_request(
            domain,
            "/hello-world/",
            authorization=basic("alice:s3:cret"),
            accept=CASES["accept"]["uv"],
        ),
        viewer_request(domain, "/hello-world/", authorization=basic("alice:wrong")),
    ]
    script = (
        "import json, os, sys\n"
        "sys.modules['s3pypi_core'] = None  # not in the Lambda package\n"
        "import handler\n"
        "assert handler.auth.__file__.startswith(os.getcwd()), handler.auth.__file__\n"
        "events = json.load(sys.stdin)\n"
        "print(json.dumps([handler.handle(e, None) for e in events]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=package,
        input=json.dumps(events),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    html, json_page, refused = json.loads(result.stdout)
    assert html["uri"] == "/hello-world/"
    assert json_page["uri"] == "/hello-world/index.json"
    assert_unauthorized(refused)
