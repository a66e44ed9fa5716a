"""Fixtures: a real moto server on 127.0.0.1, a fresh bucket per test, sample distributions."""

from __future__ import annotations

import functools
import io
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from s3pypi_core.cli import cli
from tests.distributions import SampleProject
from tests.fault_proxy import FaultProxy, start_proxy

REGION = "us-east-1"
BIN = Path(sys.executable).parent


class SerialMotoServer(ThreadedMotoServer):
    """moto's threaded server, answering one mutating request at a time.

    moto checks S3 preconditions (If-Match, If-None-Match) and then writes, without a lock, so
    two concurrent conditional PUTs could both succeed; real S3 decides them atomically.
    Serialising writes here gives the test server S3's guarantee without weakening any test.
    moto also ignores If-None-Match on CopyObject, which S3 honours (a 412 when the key
    exists): that check is made here too, inside the same lock.
    """

    def _server_entry(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        class Dispatcher(DomainDispatcherApplication):
            # moto looks the host up among all its backends on every request, half of its time
            # per request here; the answer depends on the host alone.
            @functools.cache  # noqa: B019 (one instance, lives with the server)
            def get_backend_for_host(self, host: str | None) -> Any:
                return super().get_backend_for_host(host)

        app = Dispatcher(create_backend_app)
        write_lock = threading.Lock()

        def exists(environ: dict[str, Any]) -> bool:
            head = {k: v for k, v in environ.items() if not k.startswith("HTTP_X_AMZ_COPY")}
            head.update(REQUEST_METHOD="HEAD", CONTENT_LENGTH="0", QUERY_STRING="")
            head["wsgi.input"] = io.BytesIO()
            head.pop("HTTP_IF_NONE_MATCH", None)
            status: list[str] = []
            list(app(head, lambda s, headers, exc_info=None: status.append(s)))
            return status[0].startswith("200")

        def serialised(environ: dict[str, Any], start_response: Any) -> Any:
            if environ["REQUEST_METHOD"] in ("GET", "HEAD"):
                return app(environ, start_response)
            with write_lock:
                if (
                    environ["REQUEST_METHOD"] == "PUT"
                    and "HTTP_X_AMZ_COPY_SOURCE" in environ
                    and environ.get("HTTP_IF_NONE_MATCH") == "*"
                    and exists(environ)
                ):
                    # S3 refuses a create-only copy onto an existing key; moto copies anyway.
                    body = (
                        b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>PreconditionFailed"
                        b"</Code><Message>At least one of the pre-conditions you specified did "
                        b"not hold</Message><Condition>If-None-Match</Condition></Error>"
                    )
                    start_response(
                        "412 Precondition Failed",
                        [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
                    )
                    return [body]
                return list(app(environ, start_response))

        self._server = make_server(
            self._ip_address, self._port, serialised, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = SerialMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def aws_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory, request: Any
) -> None:
    """Credentials and config of our own; nothing may reach real AWS."""
    home = tmp_path_factory.mktemp("aws")
    (home / "credentials").write_text(
        "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
        "[production]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
    )
    (home / "config").write_text(
        f"[default]\nregion = {REGION}\n[profile production]\nregion = {REGION}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "config"))
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    if "moto_endpoint" in request.fixturenames or "bucket" in request.fixturenames:
        monkeypatch.setenv("AWS_ENDPOINT_URL", request.getfixturevalue("moto_endpoint"))
    else:
        # A test that forgets the server must fail fast instead of calling AWS.
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")


@dataclass
class Bucket:
    name: str
    endpoint: str
    tables: list[tuple[str, str]] = field(default_factory=list)

    @functools.cached_property
    def client(self) -> Any:
        # One client per bucket: creating one costs a tenth of a second of CPU.
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION)

    def all_keys(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return sorted(o["Key"] for p in pages for o in p.get("Contents", []))

    def keys(self) -> list[str]:
        """The keys of the index: all but the marker of the conditional-writes check, which
        every first publish to a non-AWS endpoint (moto's) writes (tests/test_faults.py)."""
        return [k for k in self.all_keys() if k.rsplit("/", 1)[-1] != ".s3pypi-conditional-writes"]

    def read(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        return body

    def text(self, key: str) -> str:
        return self.read(key).decode()

    def head(self, key: str) -> dict[str, Any]:
        head: dict[str, Any] = self.client.head_object(Bucket=self.name, Key=key)
        return head

    def snapshot(self) -> dict[str, bytes]:
        return {key: self.read(key) for key in self.keys()}

    def create_locks_table(self, name: str | None = None, region: str = REGION) -> str:
        """A lock table like the Terraform module's; dropped when the test ends."""
        name = name or f"{self.name}-locks"
        self.tables.append((name, region))
        boto3.client("dynamodb", endpoint_url=self.endpoint, region_name=region).create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        return name


@pytest.fixture
def bucket(moto_endpoint: str) -> Iterator[Bucket]:
    name = f"pypi-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION).create_bucket(Bucket=name)
    bucket = Bucket(name, moto_endpoint)
    yield bucket
    # Tables have fixed names in some tests; the next test on this server may want them again.
    for table, region in bucket.tables:
        client = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=region)
        client.delete_table(TableName=table)


@pytest.fixture
def published(bucket: Bucket, run: Callable[..., Result], dist_dir: Path) -> Bucket:
    """The bucket with `dist_dir` published, root page included."""
    result = run("upload", dist_dir / "*", "--bucket", bucket.name, "--put-root-index")
    assert result.exit_code == 0, result.output
    return bucket


@pytest.fixture
def domain() -> str:
    """A fresh index domain: its users live under /s3pypi/DOMAIN/users/ in SSM."""
    return f"pypi-{uuid.uuid4().hex[:8]}.example.com"


@pytest.fixture
def ssm(moto_endpoint: str) -> Any:
    return boto3.client("ssm", endpoint_url=moto_endpoint, region_name=REGION)


@pytest.fixture
def run() -> Callable[..., Result]:
    """Run the `s3pypi` CLI in-process, as click runs it, and capture stdout and stderr."""

    def invoke(*args: str | Path, input: str | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def projects(tmp_path: Path) -> Callable[..., SampleProject]:
    def make(name: str = "hello-world", **kwargs: Any) -> SampleProject:
        return SampleProject(name=name, root=tmp_path / "dist", **kwargs)

    return make


@pytest.fixture
def dist_dir(tmp_path: Path) -> Path:
    """A `dist/` with a wheel and an sdist of hello-world 1.0.0 and a wheel of 1.1."""
    project = SampleProject(name="hello-world", root=tmp_path / "dist")
    project.wheel("1.0.0", requires_python=">=3.8")
    project.sdist("1.0.0")
    project.wheel("1.1")
    return tmp_path / "dist"


def run_console_script(
    name: str,
    *args: str | Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run an installed console script (s3pypi, s3pypi-twine, hatch ...) as a user would."""
    return subprocess.run(
        [str(BIN / name), *map(str, args)],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        input=input,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def fault_proxy(moto_endpoint: str) -> Iterator[FaultProxy]:
    """An HTTP proxy in front of the moto server that injects the faults a test adds to it."""
    yield from start_proxy(moto_endpoint)
