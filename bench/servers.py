"""The benchmark's servers, all on 127.0.0.1: moto, a counting proxy in front of it, and a
static HTTP front that serves a bucket to pip the way CloudFront would.

The proxy is how requests and bytes are measured: both tools talk to it (AWS_ENDPOINT_URL), it
forwards every request to moto unchanged and counts it by operation, with the bytes that went
each way on the wire (request and status lines, headers and bodies, as sent). It can also
play a network: with `latency` set, every request waits that long before it is forwarded, and
so does the `100 Continue` that boto3 waits for before it sends a file.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from s3pypi_core.routing import object_key

_CHUNK = 256 * 1024
# Not forwarded: they describe one connection, not the request.
_HOP_BY_HOP = {"connection", "keep-alive", "expect", "proxy-connection", "te", "upgrade"}


class _MotoServer(ThreadedMotoServer):
    """moto's S3 and DynamoDB, told apart by the request itself.

    moto's own dispatcher finds the service of every request by scanning its package
    directory (some 180 stat calls, ~2.5 ms of CPU a request, five times what S3's handler
    takes): the benchmark's server would then set the pace, not the tools.
    """

    def _server_entry(self) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        s3 = create_backend_app("s3")
        dynamodb = create_backend_app("dynamodb")

        def app(environ: dict[str, Any], start_response: Any) -> Any:
            is_dynamodb = environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_")
            return (dynamodb if is_dynamodb else s3)(environ, start_response)

        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 and DynamoDB on a free port; yields its endpoint URL."""
    server = _MotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@dataclass
class Traffic:
    """What one tool run sent through the proxy."""

    requests: Counter[str] = field(default_factory=Counter)
    bytes_sent: int = 0
    """From the tool to S3/DynamoDB."""
    bytes_received: int = 0

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def total_bytes(self) -> int:
        return self.bytes_sent + self.bytes_received

    def count(self, service: str) -> int:
        return sum(n for op, n in self.requests.items() if op.startswith(service + ":"))


def operation(method: str, path: str, headers: dict[str, str]) -> str:
    """`s3:PutObject`, `dynamodb:PutItem`, ...: what a request asks for."""
    target = headers.get("x-amz-target", "")
    if target.startswith("DynamoDB_"):
        return "dynamodb:" + target.partition(".")[2]
    url = urllib.parse.urlsplit(path)
    query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    has_key = "/" in url.path.strip("/")  # path-style: /BUCKET/KEY
    if method == "POST" and "uploads" in query:
        name = "CreateMultipartUpload"
    elif method == "POST" and "uploadId" in query:
        name = "CompleteMultipartUpload"
    elif method == "POST":
        name = "DeleteObjects" if "delete" in query else "PostObject"
    elif method == "PUT" and "partNumber" in query:
        name = "UploadPart"
    elif method == "PUT":
        name = "CopyObject" if "x-amz-copy-source" in headers else "PutObject"
        name = name if has_key else "CreateBucket"
    elif method == "DELETE":
        name = "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    elif method == "HEAD":
        name = "HeadObject" if has_key else "HeadBucket"
    elif not has_key:
        name = "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
    else:
        name = "GetObject"
    return "s3:" + name


class CountingServer(ThreadingHTTPServer):
    """An HTTP server on a free port of 127.0.0.1 that counts what its handler records."""

    daemon_threads = True
    # socketserver's default backlog of 5 drops the connections of 16 parallel uploads beyond
    # it, and a dropped SYN is only retried a second later.
    request_queue_size = 128

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self._lock = threading.Lock()
        self._traffic = Traffic()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def record(self, op: str, sent: int, received: int) -> None:
        with self._lock:
            self._traffic.requests[op] += 1
            self._traffic.bytes_sent += sent
            self._traffic.bytes_received += received

    def take(self) -> Traffic:
        """The traffic since the last call."""
        with self._lock:
            traffic, self._traffic = self._traffic, Traffic()
        return traffic


class ProxyServer(CountingServer):
    def __init__(self, upstream: str) -> None:
        super().__init__(_ProxyHandler)
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.latency = 0.0
        """Seconds each round trip waits, as over a network."""

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(*self.upstream, timeout=600)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CountingServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(
        self, status: int, reason: str, headers: list[tuple[str, str]], body: Iterator[bytes]
    ) -> int:
        """Answer the client; returns the bytes written."""
        head = f"{self.protocol_version} {status} {reason}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        self.wfile.write(head.encode("latin-1"))
        sent = len(head)
        for chunk in body:
            self.wfile.write(chunk)
            sent += len(chunk)
        self.wfile.flush()
        return sent

    def _relay(self, response: http.client.HTTPResponse, method: str) -> int:
        headers = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
        length = response.getheader("Content-Length")
        if response.getheader("Transfer-Encoding") or (length is None and method != "HEAD"):
            # Rare (moto sends lengths): read it whole and send it with a length.
            body = response.read()
            headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
            return self._send(response.status, response.reason, headers, iter([body]))
        return self._send(response.status, response.reason, headers, _chunks(response))


class _ProxyHandler(_Handler):
    server: ProxyServer
    _interim = 0
    """Bytes of the `100 Continue` sent for the current request."""

    def handle_expect_100(self) -> bool:
        # boto3 sends a file with `Expect: 100-continue` and waits for the interim response
        # before the body: over a network that is one more round trip.
        if self.server.latency:
            time.sleep(self.server.latency)
        self._interim = len(f"{self.protocol_version} 100 Continue\r\n\r\n")
        return super().handle_expect_100()

    def do_GET(self) -> None:
        self._forward()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

    def _forward(self) -> None:
        if self.server.latency:
            time.sleep(self.server.latency)
        headers = {k.lower(): v for k, v in self.headers.items()}
        op = operation(self.command, self.path, headers)
        upstream = self.server.connect()
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in _HOP_BY_HOP:
                    upstream.putheader(name, value)
            upstream.endheaders()
            received = len(self.requestline) + 2 + len(self.headers.as_bytes())
            received += self._forward_body(upstream, headers)
            response = upstream.getresponse()
            sent = self._relay(response, self.command)
        finally:
            upstream.close()
        # Sent by the tool, received by the tool.
        self.server.record(op, sent=received, received=sent + self._interim)
        self._interim = 0

    def _forward_body(self, upstream: http.client.HTTPConnection, headers: dict[str, str]) -> int:
        if "chunked" in headers.get("transfer-encoding", ""):
            return _copy_chunked(self.rfile, upstream.send)
        remaining = int(headers.get("content-length", 0))
        total = remaining
        while remaining:
            chunk = self.rfile.read(min(_CHUNK, remaining))
            if not chunk:
                raise ConnectionError("client closed the connection mid-request")
            upstream.send(chunk)
            remaining -= len(chunk)
        return total


def _copy_chunked(source: io.BufferedIOBase, send: Callable[[bytes], None]) -> int:
    """Forward a chunked body verbatim (framing included); returns its size on the wire."""
    total = 0
    while True:
        size_line = source.readline()
        send(size_line)
        total += len(size_line)
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            break
        remaining = size + 2  # the chunk and its CRLF
        while remaining:
            chunk = source.read(min(_CHUNK, remaining))
            send(chunk)
            total += len(chunk)
            remaining -= len(chunk)
    while True:  # trailers, up to the empty line
        line = source.readline()
        send(line)
        total += len(line)
        if line in (b"\r\n", b"\n", b""):
            return total


def _chunks(response: http.client.HTTPResponse) -> Iterator[bytes]:
    while chunk := response.read(_CHUNK):
        yield chunk


@contextlib.contextmanager
def counting_proxy(upstream: str) -> Iterator[ProxyServer]:
    """A proxy to `upstream` that counts; `.url` to point clients at, `.take()` the counts."""
    with _serve(ProxyServer(upstream)) as server:
        yield server


class _FrontServer(CountingServer):
    def __init__(self, client: Any, bucket: str, json_pages: bool) -> None:
        super().__init__(_FrontHandler)
        self.client = client
        self.bucket = bucket
        self.json_pages = json_pages


class _FrontHandler(_Handler):
    """GET `/NAME/` -> the object `NAME/` (or `NAME/index.json` when JSON is asked for and
    the index has JSON pages), as CloudFront with the project's routing serves a bucket."""

    server: _FrontServer

    def do_GET(self) -> None:
        accept = self.headers.get("Accept") if self.server.json_pages else None
        key = object_key(self.path, accept)
        try:
            response = self.server.client.get_object(Bucket=self.server.bucket, Key=key)
        except self.server.client.exceptions.NoSuchKey:
            sent = self._send(404, "Not Found", [("Content-Length", "0")], iter([]))
        else:
            headers = [
                ("Content-Type", response["ContentType"]),
                ("Content-Length", str(response["ContentLength"])),
            ]
            body = response["Body"]
            sent = self._send(200, "OK", headers, iter(lambda: body.read(_CHUNK), b""))
        received = len(self.requestline) + 2 + len(self.headers.as_bytes())
        self.server.record(_kind(key), received, sent)


def _kind(key: str) -> str:
    if key.endswith(".metadata"):
        return "metadata files"
    if key.endswith((".whl", ".tar.gz", ".zip")):
        return "distributions"
    return "pages"


@contextlib.contextmanager
def index_front(client: Any, bucket: str, *, json_pages: bool) -> Iterator[CountingServer]:
    """An HTTP index over `bucket`, read with the boto3 `client`: pip's `--index-url` is
    `.url + '/'`."""
    with _serve(_FrontServer(client, bucket, json_pages)) as server:
        yield server


S = TypeVar("S", bound=CountingServer)


@contextlib.contextmanager
def _serve(server: S) -> Iterator[S]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
