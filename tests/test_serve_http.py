"""`s3pypi serve` on the wire, as an attacker and as a new user would try it: raw sockets where
a client library would hide the problem (kept-alive connections, bodies, malformed and
half-sent requests, forged log lines), redirects, the root page, health, graceful stop."""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from s3pypi_core.layout import HTML_CONTENT_TYPE, JSON_CONTENT_TYPE
from tests.conftest import Bucket
from tests.serving import JSON_ACCEPT, PIP_ACCEPT, Server, serving

Run = Callable[..., Result]
WHEEL = "hello_world-1.0.0-py3-none-any.whl"


@pytest.fixture
def index(run: Run, dist_dir: Path, tmp_path: Path) -> Path:
    """A directory index published without a root page (no --put-root-index)."""
    path = tmp_path / "index"
    result = run("upload", dist_dir / "*", "--repository-url", path.as_uri())
    assert result.exit_code == 0, result.output
    return path


def _address(server: Server) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(server.url)
    return parts.hostname or "", parts.port or 80


def _exchange(server: Server, data: bytes, *, timeout: float = 10) -> bytes:
    """Send raw bytes, then read until the server closes the connection."""
    received = b""
    with socket.create_connection(_address(server), timeout=timeout) as s:
        s.sendall(data)
        while chunk := s.recv(65536):
            received += chunk
    return received


def _statuses(raw: bytes) -> list[int]:
    return [int(m) for m in re.findall(rb"HTTP/1\.[01] (\d{3}) ", raw)]


def test_kept_alive_requests_do_not_stall(index: Path, tmp_path: Path) -> None:
    """Headers and body written apart, with Nagle's algorithm on, wait for the client's
    delayed ACK: at least 40 ms (Linux's minimum) per request on a kept-alive connection, so
    100 requests would take 4 s or more. Unstalled they take milliseconds each."""
    with serving("--repository-url", index.as_uri(), log_dir=tmp_path) as server:
        connection = http.client.HTTPConnection(*_address(server), timeout=10)
        start = time.monotonic()
        for _ in range(100):
            connection.request("GET", "/hello-world/", headers={"Accept": PIP_ACCEPT})
            response = connection.getresponse()
            assert response.status == 200
            response.read()
        elapsed = time.monotonic() - start
        connection.close()
    assert elapsed < 2.0, f"100 kept-alive requests took {elapsed:.2f} s"


def test_a_get_body_is_never_read_as_the_next_request(index: Path, tmp_path: Path) -> None:
    smuggled = b"GET /hello-world/" + WHEEL.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    with serving("--repository-url", index.as_uri(), log_dir=tmp_path) as server:
        raw = _exchange(
            server,
            b"GET /hello-world/ HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(smuggled)
            + smuggled
            + b"GET /-/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        paths = [r.path for r in server.requests()]
    assert _statuses(raw) == [200, 200]
    assert paths == ["/hello-world/", "/-/health"]


def test_an_oversized_body_is_refused_before_it_is_read(index: Path, tmp_path: Path) -> None:
    with serving("--repository-url", index.as_uri(), log_dir=tmp_path) as server:
        raw = _exchange(
            server, b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\nabc"
        )
    assert _statuses(raw) == [413]


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /%00 HTTP/1.1\r\n", 400),
        (b"GET /hello-world/%0a HTTP/1.1\r\n", 400),
        (b"GET /%zz HTTP/1.1\r\n", 400),  # bad percent-encoding
        (b"GET /%4 HTTP/1.1\r\n", 400),
        (b"GET /%c3%28/ HTTP/1.1\r\n", 400),  # not UTF-8
        (b"GET /a\x01b HTTP/1.1\r\n", 400),  # a control character as is
        (b"GET /" + b"a" * 300 + b"/ HTTP/1.1\r\n", 414),  # a segment over 255 bytes
        (b"GET /" + b"a/" * 600 + b" HTTP/1.1\r\n", 414),  # a key over 1024 bytes
        (b"GET * HTTP/1.1\r\n", 400),
        (
            b"GET /hello-world/"
            + WHEEL.encode()
            + b" HTTP/1.1\r\nRange: bytes="
            + b"9" * 5000
            + b"-\r\n",
            416,
        ),
        (b"GET / HTTP/1.1\r\nno colon here\r\n", 400),
        (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 100_000 + b"\r\n", 431),
        (b"GET / HTTP/1.1\r\nContent-Length: -1\r\n", 400),
        (b"HELLO\r\n", 400),
        (b"get / HTTP/1.1\r\n", 400),
        (b"DELETE /hello-world/ HTTP/1.1\r\n", 405),
    ],
    ids=lambda v: v[:30].decode("latin-1") if isinstance(v, bytes) else str(v),
)
def test_every_malformed_request_gets_a_4xx(
    index: Path, tmp_path: Path, request_bytes: bytes, status: int
) -> None:
    with serving("--repository-url", index.as_uri(), log_dir=tmp_path) as server:
        try:
            raw = _exchange(server, request_bytes + b"Host: x\r\nConnection: close\r\n\r\n")
        except ConnectionResetError:
            # Refused before it was read in full: the server answers and closes with bytes
            # unread, so TCP resets, and the client's kernel may drop the answer with it.
            assert len(request_bytes) > 64 * 1024
        else:
            assert _statuses(raw)[:1] == [status]
        assert server.get("/hello-world/").status == 200  # and it still serves
        assert b"Traceback" not in server.log_path.read_bytes()


def test_half_sent_and_trickled_requests_are_closed(index: Path, tmp_path: Path) -> None:
    with serving("--repository-url", index.as_uri(), "--timeout", "1", log_dir=tmp_path) as s:
        with socket.create_connection(_address(s), timeout=15) as half:
            half.sendall(b"GET /hello-world/ HT")
            assert half.recv(1024) == b""  # closed by the server, no answer

        # One byte every 0.2 s keeps the connection busy, but the request never ends.
        request = b"GET /hello-world/ HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
        with socket.create_connection(_address(s), timeout=15) as slow:
            closed = threading.Event()

            def trickle() -> None:
                for byte in request:
                    if closed.wait(0.2):
                        return
                    try:
                        slow.send(bytes([byte]))
                    except OSError:
                        return

            sender = threading.Thread(target=trickle)
            sender.start()
            try:
                answer = slow.recv(1024)
            except ConnectionResetError:
                answer = b""
            closed.set()
            sender.join()
        assert answer == b""
        assert s.get("/hello-world/").status == 200


def test_no_forged_log_lines(index: Path, tmp_path: Path) -> None:
    with serving(
        "--repository-url", index.as_uri(), "--log-format", "combined", log_dir=tmp_path
    ) as server:
        before = server.log_path.read_text().count("\n")
        _exchange(
            server,
            b"GET /x%0a127.0.0.1%20-%20admin%20[forged] HTTP/1.1\r\nHost: x\r\n\r\n"
            b'GET /a\x1b[31m"b HTTP/1.1\r\nHost: x\r\n\r\n'
            b'GET /hello-world/ HTTP/1.1\r\nHost: x\r\nUser-Agent: pip" \\ x\xff\r\n'
            b"Referer: a\tb\r\nConnection: close\r\n\r\n",
        )
        log = server.log_path.read_text()
    lines = log.splitlines()[before:]
    assert len(lines) == 3, lines
    assert "\x1b" not in log
    assert "\t" not in log
    assert lines[0].startswith("127.0.0.1 - - [")
    assert '"GET /x%0a127.0.0.1%20-%20admin%20[forged] HTTP/1.1" 400 ' in lines[0]
    assert '"GET /a\\x1b[31m\\x22b HTTP/1.1" 400 ' in lines[1]
    assert lines[2].endswith('"a\\x09b" "pip\\x22\\x20\\x5c\\x20x\\xff"')


def test_the_root_page_is_built_when_none_was_published(index: Path, tmp_path: Path) -> None:
    with serving("--repository-url", index.as_uri(), log_dir=tmp_path) as server:
        html = server.get("/")
        as_json = server.get("/", accept=JSON_ACCEPT)
        again = server.get("/", accept=JSON_ACCEPT, if_none_match=as_json.headers["etag"])
    assert html.status == as_json.status == 200
    assert html.headers["content-type"] == HTML_CONTENT_TYPE
    assert '<a href="hello-world/">hello-world</a>' in html.body.decode()
    assert as_json.headers["content-type"] == JSON_CONTENT_TYPE
    assert json.loads(as_json.body)["projects"] == [{"name": "hello-world"}]
    assert again.status == 304


def test_project_urls_redirect_to_their_page(index: Path, tmp_path: Path) -> None:
    with serving("--repository-url", index.as_uri(), log_dir=tmp_path) as server:
        no_slash = server.get("/hello-world")
        unnormalized = server.get("/Hello_World/", accept=PIP_ACCEPT)
        unknown = server.get("/no-such-project")
    assert (no_slash.status, no_slash.headers["location"]) == (301, "/hello-world/")
    assert (unnormalized.status, unnormalized.headers["location"]) == (301, "/hello-world/")
    assert unknown.status == 404


@pytest.mark.parametrize("publish_flag", [True, False])
def test_a_bucket_in_the_other_page_layout_is_detected(
    bucket: Bucket, run: Run, dist_dir: Path, tmp_path: Path, publish_flag: bool
) -> None:
    upload = ["upload", dist_dir / "*", "--bucket", bucket.name, "--prefix", "team"]
    result = run(*upload, *(["--index.html"] if publish_flag else []))
    assert result.exit_code == 0, result.output
    serve_flags = [] if publish_flag else ["--index.html"]
    with serving("--bucket", bucket.name, "--prefix", "team", *serve_flags, log_dir=tmp_path) as s:
        page = s.get("/team/hello-world/", accept="text/html")
        root = s.get("/team/")
        log = s.log_path.read_text()
    stored = "team/hello-world/index.html" if publish_flag else "team/hello-world/"
    assert page.status == 200
    assert page.body == bucket.read(stored)
    assert "hello-world" in root.body.decode()
    assert f"pages are stored as {'NAME/index.html' if publish_flag else 'NAME/'}" in log


def test_health_startup_line_and_graceful_stop(run: Run, dist_dir: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    big = tmp_path / "big"
    big.mkdir()
    assert run("upload", dist_dir / "*", "--repository-url", index.as_uri()).exit_code == 0
    payload = bytes(range(256)) * (64 * 1024)  # 16 MiB, more than any socket buffer holds
    (index / "hello-world" / "big.bin").write_bytes(payload)
    with serving("--repository-url", index.as_uri(), log_dir=tmp_path) as server:
        assert "(no auth: anyone who can reach it can install)" in server.first_line
        health = server.get("/-/health")
        assert (health.status, json.loads(health.body)) == (200, {"status": "ok"})

        downloading = http.client.HTTPConnection(*_address(server), timeout=30)
        downloading.request("GET", "/hello-world/big.bin")
        response = downloading.getresponse()
        first = response.read(1024)
        server.process.send_signal(signal.SIGTERM)
        rest = response.read()  # the download under way finishes
        assert server.process.wait(timeout=30) == 0
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(_address(server), timeout=5)
    assert first + rest == payload
    assert "SIGTERM: finishing the requests under way" in server.log_path.read_text()
