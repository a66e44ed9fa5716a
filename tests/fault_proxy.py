"""A small HTTP proxy between boto3 and the moto server that injects faults on chosen requests.

Point a client at it (`--s3-endpoint-url`, or `AWS_ENDPOINT_URL_DYNAMODB`) and add rules: a rule
matches requests by method and a regular expression on the path (and query), and for its next
`times` matches answers with an error status, drops the connection before or after the request
reached the server, strips the conditional headers, holds the request until released, or kills a
process. Everything that passes through is logged, so a test can assert that its faults fired.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


@dataclass
class Fault:
    """What to do with a matching request; exactly one kind is set."""

    status: int | None = None
    code: str = ""
    drop: str | None = None
    """"before": close the connection without forwarding; "after": forward, then close without
    answering (the write happened, the client never hears of it)."""
    strip_conditions: bool = False
    hold: threading.Event | None = None
    kill: int | None = None
    """A process id to SIGKILL; with `drop="after"` once the request reached the server."""
    json_error: bool = False
    """Answer in the JSON protocol (DynamoDB) instead of S3's XML."""


@dataclass
class Rule:
    method: str
    path: re.Pattern[str]
    fault: Fault
    times: int | None = 1
    """How many matches it applies to; None for all."""
    skip: int = 0
    """How many matches to let through untouched first."""
    fired: int = 0
    seen: int = 0


@dataclass
class Exchange:
    method: str
    path: str
    status: int | None
    fault: Fault | None
    target: str = ""
    """The X-Amz-Target header: the operation of a JSON-protocol request (DynamoDB)."""
    copy_source: str = ""
    """The x-amz-copy-source header: the object a CopyObject request reads (`bucket/key`)."""


@dataclass
class FaultProxy:
    upstream: str
    url: str = ""
    rules: list[Rule] = field(default_factory=list)
    log: list[Exchange] = field(default_factory=list)
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _held: threading.Condition = field(default_factory=threading.Condition)
    holding: int = 0
    """Requests being held right now."""

    def add(
        self, method: str, path: str, fault: Fault, *, times: int | None = 1, skip: int = 0
    ) -> Rule:
        """`path` is a regular expression searched in the request path with its query."""
        rule = Rule(method.upper(), re.compile(path), fault, times, skip)
        with self._lock:
            self.rules.append(rule)
        return rule

    def wait_until_holding(self, count: int = 1, timeout: float = 30) -> None:
        with self._held:
            if not self._held.wait_for(lambda: self.holding >= count, timeout):
                raise TimeoutError(f"no request was held within {timeout}s")

    def fired(self, fault: Fault) -> int:
        return sum(1 for e in self.log if e.fault is fault)

    def requests(self, method: str = "", path: str = "") -> list[Exchange]:
        pattern = re.compile(path)
        return [
            e for e in self.log if (not method or e.method == method) and pattern.search(e.path)
        ]

    def _match(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for rule in self.rules:
                if rule.method in (method, "*") and rule.path.search(path):
                    rule.seen += 1
                    if rule.seen <= rule.skip:
                        continue
                    if rule.times is not None and rule.fired >= rule.times:
                        continue
                    rule.fired += 1
                    return rule.fault
        return None

    def wait_for(self, seen: Callable[[Exchange], bool], timeout: float = 30) -> None:
        """Until a request that `seen` accepts has been answered."""
        with self._lock:
            if not self._lock.wait_for(lambda: any(map(seen, self.log)), timeout):
                raise TimeoutError(f"no such request within {timeout}s")

    def _record(
        self,
        method: str,
        path: str,
        status: int | None,
        fault: Fault | None,
        target: str = "",
        copy_source: str = "",
    ) -> None:
        with self._lock:
            self.log.append(Exchange(method, path, status, fault, target, copy_source))
            self._lock.notify_all()


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    upstream = urllib.parse.urlsplit(proxy.upstream)
    local = threading.local()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _body(self) -> bytes | None:
            """The request's body; None when the client went away before sending all of it."""
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            return body if len(body) == length else None

        def _drop(self) -> None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        def _error(self, fault: Fault) -> None:
            assert fault.status is not None
            if fault.json_error:
                body = json.dumps(
                    {
                        "__type": f"com.amazonaws.dynamodb.v20120810#{fault.code}",
                        "message": f"injected {fault.code}",
                    }
                ).encode()
                content_type = "application/x-amz-json-1.0"
            else:
                body = (
                    f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{fault.code}</Code>"
                    f"<Message>injected {fault.code}</Message></Error>"
                ).encode()
                content_type = "application/xml"
            self.send_response(fault.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _forward(self, body: bytes, strip: bool) -> tuple[int, list[tuple[str, str]], bytes]:
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in _HOP_BY_HOP and k.lower() != "host"
            }
            if strip:
                headers = {
                    k: v
                    for k, v in headers.items()
                    if k.lower() not in ("if-match", "if-none-match")
                }
            headers["Host"] = upstream.netloc
            headers["Content-Length"] = str(len(body))
            for attempt in (1, 2):
                conn = getattr(local, "conn", None)
                if conn is None:
                    conn = local.conn = http.client.HTTPConnection(
                        upstream.hostname or "127.0.0.1", upstream.port, timeout=60
                    )
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                    return response.status, response.getheaders(), data
                except (http.client.HTTPException, OSError):
                    conn.close()
                    local.conn = None
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")

        def _handle(self) -> None:
            body = self._body()
            if body is None:
                return self._drop()  # like S3, never act on an incomplete request
            fault = proxy._match(self.command, self.path)
            if fault and fault.hold is not None:
                with proxy._held:
                    proxy.holding += 1
                    proxy._held.notify_all()
                fault.hold.wait(60)
                with proxy._held:
                    proxy.holding -= 1
            if fault and fault.kill is not None and fault.drop != "after":
                os.kill(fault.kill, signal.SIGKILL)
                proxy._record(self.command, self.path, None, fault)
                return self._drop()
            if fault and fault.drop == "before":
                proxy._record(self.command, self.path, None, fault)
                return self._drop()
            if fault and fault.status is not None:
                proxy._record(self.command, self.path, fault.status, fault)
                return self._error(fault)
            status, headers, data = self._forward(body, bool(fault and fault.strip_conditions))
            proxy._record(
                self.command,
                self.path,
                status,
                fault,
                self.headers.get("X-Amz-Target", ""),
                self.headers.get("x-amz-copy-source", ""),
            )
            if fault and fault.kill is not None:
                os.kill(fault.kill, signal.SIGKILL)
            if fault and fault.drop == "after":
                return self._drop()
            self.send_response_only(status)
            for name, value in headers:
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            if not any(name.lower() == "content-length" for name, _ in headers):
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

    return Handler


def start_proxy(upstream: str) -> Iterator[FaultProxy]:
    """Run a proxy in a thread for the duration of a fixture; its URL is `proxy.url`."""
    proxy = FaultProxy(upstream)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    proxy.url = f"http://127.0.0.1:{port}"
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
