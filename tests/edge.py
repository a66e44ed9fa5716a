"""A CloudFront-like front for a bucket: each request's URI rewritten by the viewer-request
function (the module's real JavaScript, run by node, or `s3pypi_core.routing`), the object at
that key served from the bucket with the headers S3 stored and the response headers policy's
Content-Security-Policy; and a record of every response, to compare what clients received."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3

from s3pypi_core.routing import object_key
from tests.conftest import REGION, Bucket
from tests.test_cloudfront_function import function_code
from tests.test_terraform import resource

Router = Callable[[str, str | None], str]
"""(request URI with query, Accept header) -> the URI the origin is asked for."""

_NODE_ROUTER = """
const vm = require("vm");
const context = vm.createContext({});
vm.runInContext(require("fs").readFileSync(process.argv[1], "utf8"), context);
require("readline").createInterface({ input: process.stdin }).on("line", (line) => {
  const { uri, accept } = JSON.parse(line);
  const headers = accept === null ? {} : { accept: { value: accept } };
  const request = context.handler({ request: { uri, headers, querystring: {}, cookies: {} } });
  process.stdout.write(JSON.stringify(request.uri) + "\\n");
});
"""


def content_security_policy() -> str:
    """The CSP that the Terraform module's response headers policy adds to every response."""
    policy = resource("aws_cloudfront_response_headers_policy", "pypi")
    value: str = policy["security_headers_config"][0]["content_security_policy"][0][
        "content_security_policy"
    ]
    return value


@contextmanager
def cloudfront_function(workdir: Path) -> Iterator[Router]:
    """The module's viewer-request function, loaded once in node and asked per request."""
    node = shutil.which("node")
    assert node, "node is needed to run the CloudFront Function"
    code = workdir / "viewer_request.js"
    code.write_text(function_code(index_html=False))
    process = subprocess.Popen(
        [node, "-e", _NODE_ROUTER, str(code)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    lock = threading.Lock()

    def route(path: str, accept: str | None) -> str:
        assert process.stdin
        assert process.stdout
        with lock:
            process.stdin.write(json.dumps({"uri": path.split("?", 1)[0], "accept": accept}) + "\n")
            process.stdin.flush()
            routed: str = json.loads(process.stdout.readline())
        return routed

    try:
        yield route
    finally:
        assert process.stdin
        process.stdin.close()
        process.wait(timeout=30)


def python_routing(path: str, accept: str | None) -> str:
    return "/" + urllib.parse.quote(object_key(path, accept))


@dataclass(frozen=True)
class Exchange:
    """One response the edge gave."""

    method: str
    path: str
    accept: str | None
    key: str
    status: int
    content_type: str | None
    sha256: str


@dataclass
class Edge:
    url: str
    exchanges: list[Exchange] = field(default_factory=list)


@contextmanager
def edge(bucket: Bucket, route: Router) -> Iterator[Edge]:
    """Serve `bucket` on 127.0.0.1 as the CloudFront distribution of the module would."""
    client = boto3.client("s3", endpoint_url=bucket.endpoint, region_name=REGION)
    csp = content_security_policy()
    record: list[Exchange] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def _answer(self, *, send_body: bool) -> None:
            accept = self.headers.get("Accept")
            uri = route(self.path, accept)
            key = urllib.parse.unquote(uri[1:])
            headers: dict[str, Any] = {}
            try:
                found = client.get_object(Bucket=bucket.name, Key=key)
                status, body = HTTPStatus.OK, found["Body"].read()
                headers["Content-Type"] = found.get("ContentType")
                headers["Cache-Control"] = found.get("CacheControl")
                headers["ETag"] = found.get("ETag")
            except client.exceptions.NoSuchKey:
                # Without s3:ListBucket, S3 answers a missing key with 403, as CloudFront shows.
                status, body = HTTPStatus.FORBIDDEN, b"AccessDenied\n"
                headers["Content-Type"] = "application/xml"
            headers["Content-Security-Policy"] = csp
            headers["X-Content-Type-Options"] = "nosniff"
            with lock:
                record.append(
                    Exchange(
                        self.command,
                        self.path,
                        accept,
                        key,
                        status,
                        headers.get("Content-Type"),
                        hashlib.sha256(body).hexdigest(),
                    )
                )
            self.send_response(status)
            for name, value in headers.items():
                if value:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Edge(f"http://127.0.0.1:{server.server_address[1]}/", record)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
