"""The HTTP side of `s3pypi serve`: waitress, translating to and from `IndexApp`.

Why waitress (figures in `bench/http_servers.py` and docs/serve.md): pure Python, no build
step, in maintenance for 20 years, and it already does what an index exposed to a team needs:
HTTP/1.1 keep-alive with TCP_NODELAY, a listen backlog of 1024, request bodies read in full
(spooled to a temporary file past 512 KiB, refused with 413 past `max_body`) before the
application runs, a 4xx for malformed requests, connections handled by one event loop and
requests by a fixed pool of threads.

What is added here: a deadline for receiving a whole request (a client trickling a header byte
by byte is closed, not only an idle one), a graceful stop on SIGTERM (stop accepting, let the
requests under way finish, then exit), and a body limit decided per request once its headers
are in: an upload may send up to the upload limit, every other request `max_body`, and an
upload the application refuses from its headers alone (no credentials, uploads off) is answered
before its body is received, so an anonymous client cannot make the server store a large one.
"""

from __future__ import annotations

import copy
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher
from waitress.utilities import Error

from s3pypi_core import __prog__, __version__
from s3pypi_core.serve import access_log
from s3pypi_core.serve.app import IndexApp, Request, Response

log = logging.getLogger(__prog__)
access = logging.getLogger(f"{__prog__}.access")

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    threads: int = 16
    """Requests handled at once (reading the store, checking passwords)."""
    timeout: int = 30
    """Seconds a connection may stay idle, or take to send one whole request."""
    log_format: str = "s3pypi"
    max_body: int = 1024 * 1024
    """Request bodies past this are refused (413) before they are read; uploads have their
    own limit (`UploadSettings.max_size`)."""
    connection_limit: int = 1000
    backlog: int = 1024
    shutdown_grace: float = 10.0
    """On SIGTERM, how long requests under way may take to finish."""


class _TimedParser(HTTPRequestParser):  # type: ignore[misc]
    """Remembers when the first byte of its request arrived, and sets the body limit of its
    request from the application's `before_body` once the headers are in."""

    app: IndexApp
    content_length: int
    upload_adj: Adjustments
    """The server's adjustments with the upload limit as the body limit."""

    def __init__(self, adj: Adjustments) -> None:
        super().__init__(adj)
        self.started = time.monotonic()
        self.uploading = False
        """An upload's body may take longer than the deadline (a large wheel on a slow
        link); idle connections are still closed."""

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        verdict = self.app.before_body(
            self.command, self.request_uri, self.headers.get("AUTHORIZATION")
        )
        if verdict is True:
            self.adj = self.upload_adj  # read by waitress for this request's body limit
            self.uploading = True
        elif isinstance(verdict, Response) and (
            self.chunked or self.content_length >= self.adj.max_request_body_size
        ):
            # Answered now and the connection closed (what waitress does for a 413): the body
            # is never received. A small one is left to the application, which answers the
            # same on a connection kept alive.
            self.error = _EarlyAnswer(verdict)
            self.completed = True
            self.content_length = 0


class _EarlyAnswer(Error):  # type: ignore[misc]
    """An application's answer given from waitress's error path, before the body."""

    def __init__(self, response: Response) -> None:
        super().__init__("")
        self.response = response

    def to_response(self, ident: str | None = None) -> tuple[str, list[tuple[str, str]], bytes]:
        response = self.response
        headers = [(k, v) for k, v in response.headers if k.lower() != "content-length"]
        return _status_line(response), headers, b"".join(response.body)


class _Channel(HTTPChannel):  # type: ignore[misc]
    parser_class = _TimedParser


class _Listener(TcpWSGIServer):  # type: ignore[misc]
    channel_class = _Channel

    def maintenance(self, now: float) -> None:
        super().maintenance(now)  # idle connections
        deadline = time.monotonic() - self.adj.channel_timeout
        for channel in list(self.active_channels.values()):
            partial = channel.request
            if (
                partial is not None
                and not partial.completed
                and not partial.uploading
                and partial.started < deadline
            ):
                channel.will_close = True  # a request trickling in for too long


class IndexServer:
    """`IndexApp` on a listening socket, until `shutdown()` (or SIGTERM)."""

    def __init__(self, app: IndexApp, options: ServerOptions) -> None:
        self.app = app
        self.options = options
        self._map: dict[int, Any] = {}
        self._stopping = threading.Event()
        self._dispatcher = ThreadedTaskDispatcher()
        adj = Adjustments(
            host=options.host,
            port=options.port,
            ipv4=True,
            ipv6=True,
            threads=options.threads,
            backlog=options.backlog,
            connection_limit=options.connection_limit,
            channel_timeout=options.timeout,
            cleanup_interval=1,
            max_request_body_size=options.max_body,
            max_request_header_size=64 * 1024,
            ident=f"{__prog__}/{__version__}",
            asyncore_use_poll=True,  # select() stops at 1024 descriptors
            # No X-Forwarded-* header is read, so none needs clearing (that middleware costs
            # a tenth of a request).
            clear_untrusted_proxy_headers=False,
        )
        upload_adj = copy.copy(adj)
        if app.uploads is not None:
            upload_adj.max_request_body_size = app.uploads.settings.max_size
        parser = type("Parser", (_TimedParser,), {"app": app, "upload_adj": upload_adj})
        channel = type("Channel", (_Channel,), {"parser_class": parser})
        listener = type("Listener", (_Listener,), {"channel_class": channel})
        # One address: the first the host resolves to (localhost: 127.0.0.1 or ::1).
        sockinfo = adj.listen[0]
        self._listener = listener(
            _wsgi(app, options.log_format),
            map=self._map,
            _start=False,
            dispatcher=self._dispatcher,
            adj=adj,
            sockinfo=sockinfo,
        )
        self._dispatcher.set_thread_count(options.threads)
        self._listener.accept_connections()
        _quiet_waitress()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._listener.effective_host, self._listener.effective_port
        return str(host), int(port)

    def serve_forever(self, *, handle_signals: bool = True) -> None:
        """Serve until `shutdown()`, SIGTERM or SIGINT; then finish the requests under way
        (up to `shutdown_grace` seconds) and close."""
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._on_signal)
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=1.0, map=self._map, use_poll=True, count=1)
            self._drain()
        finally:
            self._dispatcher.shutdown(cancel_pending=True, timeout=1)
            wasyncore.close_all(self._map)

    def shutdown(self) -> None:
        """Stop serving (from any thread)."""
        self._stopping.set()
        self._listener.pull_trigger()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("%s: finishing the requests under way", signal.Signals(signum).name)
        self.shutdown()

    def _drain(self) -> None:
        """Accept nothing more; close each connection once it has nothing left to answer."""
        self._listener.accepting = False
        self._listener.del_channel()
        self._listener.socket.close()
        deadline = time.monotonic() + self.options.shutdown_grace
        while time.monotonic() < deadline:
            busy = False
            for channel in list(self._listener.active_channels.values()):
                if channel.requests or channel.total_outbufs_len:
                    busy = True
                else:
                    channel.handle_close()
            if not busy:
                return
            wasyncore.loop(timeout=0.05, map=self._map, use_poll=True, count=1)
        log.warning("stopped with requests still under way")


def _wsgi(app: IndexApp, log_format: str) -> Callable[[dict[str, Any], StartResponse], Any]:
    """The WSGI application that hands each request to `app`."""

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        headers = {
            name[5:].replace("_", "-").lower(): value
            for name, value in environ.items()
            if name.startswith("HTTP_")
        }
        for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(name):
                headers[name.replace("_", "-").lower()] = environ[name]
        request = Request(
            method=environ["REQUEST_METHOD"],
            target=environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/"),
            headers=headers,
            client=environ.get("REMOTE_ADDR") or "-",
            body=environ.get("wsgi.input"),
        )
        response = app(request)
        # Logged before a byte is sent: once a client has its answer, the line is written.
        access.info(
            access_log.line(log_format, request, response, environ.get("SERVER_PROTOCOL", "-"))
        )
        start_response(_status_line(response), response.headers)
        return _Body(response)

    return application


def _status_line(response: Response) -> str:
    return f"{response.status.value} {response.reason or response.status.phrase}"


class _Body:
    """A response body for waitress: the chunks, and `close` for the store's stream."""

    def __init__(self, response: Response) -> None:
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        return (chunk for chunk in self._response.body if chunk)

    def close(self) -> None:
        if self._response.close:
            self._response.close()


def _quiet_waitress() -> None:
    """waitress's own messages through s3pypi's log; its queue depth warnings are what the
    auth gate and the thread pool are for, not news."""
    ours = logging.getLogger(__prog__)
    waitress_log = logging.getLogger("waitress")
    waitress_log.handlers = list(ours.handlers)
    waitress_log.propagate = not ours.handlers
    waitress_log.setLevel(logging.WARNING)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
