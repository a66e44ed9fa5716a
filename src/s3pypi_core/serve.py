"""`s3pypi serve`: a local HTTP front for an index, answering as the deployed CloudFront does.

A request path becomes an object key by the rule the edge uses (`s3pypi_core.routing`): pages
are negotiated between HTML and JSON on `Accept`, everything else is the object at that key.
Objects are read through `Storage`, so a bucket and a local directory are served alike, with
the headers they were stored with (a directory stores none: they are derived from the key).

It is how a user previews a bucket before pointing pip at CloudFront, and how an on-premises
index (MinIO, a directory) is served. Each request is logged as one line:
`GET /hello-world/ -> hello-world/index.json 200 1234 bytes`.
"""

from __future__ import annotations

import email.utils
import logging
import re
import socket
import socketserver
from collections.abc import Callable, Iterable
from datetime import timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from s3pypi_core import __prog__, __version__, auth
from s3pypi_core.exceptions import S3PyPIError, StorageError
from s3pypi_core.layout import IndexLayout, cache_control_for, content_type_for
from s3pypi_core.routing import object_key
from s3pypi_core.storage import LocalStorage, Storage, StoredObject

log = logging.getLogger(__prog__)

Authenticate = Callable[[str], bool]
"""Whether an `Authorization` header carries valid credentials."""

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class IndexServer(ThreadingHTTPServer):
    """Serves the objects of one index over HTTP, one thread per connection."""

    def __init__(
        self,
        address: tuple[str, int],
        storage: Storage,
        layout: IndexLayout,
        *,
        authenticate: Authenticate | None = None,
    ) -> None:
        self.storage = storage
        self.layout = layout
        self.authenticate = authenticate
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    @property
    def url(self) -> str:
        """The index URL: what to give pip as `--index-url`."""
        host = self.server_name
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.server_port}/{self.layout.files_prefix()}"

    def serves(self, key: str) -> bool:
        """Only the index's own objects: under its prefix, and none of the hidden ones
        (a directory's lock and temporary files, probes)."""
        parts = key.split("/")
        return key.startswith(self.layout.files_prefix()) and not any(
            p.startswith(".") for p in parts
        )


def open_server(
    storage: Storage,
    layout: IndexLayout,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    users_file: Path | None = None,
) -> IndexServer:
    """Check that the index can be read, then bind (port 0: any free port)."""
    _check_readable(storage, layout)
    authenticate = users_file_authenticator(users_file) if users_file is not None else None
    try:
        return IndexServer((host, port), storage, layout, authenticate=authenticate)
    except OSError as e:
        raise S3PyPIError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e


def users_file_authenticator(path: Path) -> Authenticate:
    """Basic auth for the users of a file written by `put_user.py --file` (the same records and
    checks as the Lambda@Edge function)."""
    try:
        users = auth.load_users_file(path)
    except (OSError, ValueError) as e:
        raise S3PyPIError(f"cannot read users file {path}: {e}") from e
    return auth.Authenticator(users.get).check


def _check_readable(storage: Storage, layout: IndexLayout) -> None:
    """Fail at start, with one line, rather than on every request (no bucket, no credentials)."""
    if isinstance(storage, LocalStorage):
        if not storage.root.is_dir():
            raise StorageError(f"not a directory: {storage.root}")
        return
    storage.get(layout.root_json())


class _Handler(BaseHTTPRequestHandler):
    server: IndexServer
    protocol_version = "HTTP/1.1"  # keep-alive: pip and uv make many small requests
    server_version = f"{__prog__}/{__version__}"

    def do_GET(self) -> None:
        self._handle(send_body=True)

    def do_HEAD(self) -> None:
        self._handle(send_body=False)

    def _handle(self, *, send_body: bool) -> None:
        layout = self.server.layout
        key = object_key(self.path, self.headers.get("Accept"), index_html=layout.index_html)
        if not self._authorized():
            self._send_error(
                HTTPStatus.UNAUTHORIZED,
                key,
                {"WWW-Authenticate": auth.CHALLENGE},
            )
            return
        if not self.server.serves(key):
            self._send_error(HTTPStatus.NOT_FOUND, key)
            return
        try:
            self._send_object(key, send_body)
        except StorageError as e:
            log.warning("%s %s: %s", self.command, self.path, e)
            self._send_error(HTTPStatus.BAD_GATEWAY, key)

    def _authorized(self) -> bool:
        if self.server.authenticate is None:
            return True
        header = self.headers.get("Authorization")
        return header is not None and self.server.authenticate(header)

    def _send_object(self, key: str, send_body: bool) -> None:
        wanted = _parse_range(self.headers.get("Range", ""))
        if send_body and wanted is None and not self.headers.get("If-None-Match"):
            self._send_stream(key, None)  # the common case: one read from the store
            return
        info = self.server.storage.head(key)
        if info is None:
            self._send_error(HTTPStatus.NOT_FOUND, key)
        elif _etag_matches(self.headers.get("If-None-Match"), info.etag):
            self._send_head(HTTPStatus.NOT_MODIFIED, key, info, length=None)
        elif not send_body:
            self._send_head(HTTPStatus.OK, key, info, length=info.size)
        elif wanted is None:
            self._send_stream(key, None)
        elif (byte_range := _satisfiable(wanted, info.size)) is None:
            self._send_error(
                HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
                key,
                {"Content-Range": f"bytes */{info.size}"},
            )
        else:
            self._send_stream(key, byte_range)

    def _send_stream(self, key: str, byte_range: tuple[int, int] | None) -> None:
        stream = self.server.storage.stream(key, byte_range)
        if stream is None:  # missing, or deleted since it was described
            self._send_error(HTTPStatus.NOT_FOUND, key)
            return
        info = stream.info
        if byte_range is None:
            status, length, extra = HTTPStatus.OK, info.size, {}
        else:
            first, last = byte_range
            status, length = HTTPStatus.PARTIAL_CONTENT, last - first + 1
            extra = {"Content-Range": f"bytes {first}-{last}/{info.size}"}
        self._send_head(status, key, info, length=length, extra=extra)
        sent = self._write(stream.body)
        if sent != length:
            log.debug("%s %s: sent %d of %d bytes", self.command, self.path, sent, length)
            self.close_connection = True

    def _send_head(
        self,
        status: HTTPStatus,
        key: str,
        info: StoredObject,
        *,
        length: int | None,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", info.content_type or content_type_for(key))
        self.send_header("Cache-Control", info.cache_control or cache_control_for(key))
        self.send_header("ETag", info.etag)
        if info.last_modified:
            self.send_header(
                "Last-Modified",
                email.utils.format_datetime(
                    info.last_modified.astimezone(timezone.utc), usegmt=True
                ),
            )
        self.send_header("Accept-Ranges", "bytes")
        if self._is_negotiated():
            self.send_header("Vary", "Accept")
        if length is not None:
            self.send_header("Content-Length", str(length))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self._log(status, key, 0 if self.command == "HEAD" or length is None else length)
        self.end_headers()

    def _send_error(
        self, status: HTTPStatus, key: str, extra: dict[str, str] | None = None
    ) -> None:
        body = f"{status.value} {status.phrase}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        if self._is_negotiated():
            self.send_header("Vary", "Accept")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        sending = self.command != "HEAD"
        self._log(status, key, len(body) if sending else 0)
        self.end_headers()
        if sending:
            self._write([body])

    def _write(self, chunks: Iterable[bytes]) -> int:
        sent = 0
        try:
            for chunk in chunks:
                self.wfile.write(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away mid-file
        return sent

    def _is_negotiated(self) -> bool:
        """Page URLs (`.../`) answer HTML or JSON depending on `Accept`."""
        return self.path.split("?", 1)[0].endswith("/")

    def _log(self, status: HTTPStatus, key: str, size: int) -> None:
        # Logged before the response is sent: once a client has it, its line is in the log.
        log.info("%s %s -> %s %d %d bytes", self.command, self.path, key, status, size)

    def log_message(self, format: str, *args: object) -> None:
        # Requests are logged by `_log`; this is only called for malformed requests.
        log.debug("%s - %s", self.address_string(), format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _parse_range(header: str) -> tuple[int | None, int | None] | None:
    """`bytes=FIRST-LAST`, `bytes=FIRST-` or `bytes=-SUFFIX`; anything else (no header,
    several ranges, other units, nonsense) is ignored and the whole object served, as S3 does."""
    match = _RANGE.fullmatch(header.strip())
    if not match or not (match.group(1) or match.group(2)):
        return None
    first = int(match.group(1)) if match.group(1) else None
    last = int(match.group(2)) if match.group(2) else None
    if first is not None and last is not None and last < first:
        return None
    return first, last


def _satisfiable(wanted: tuple[int | None, int | None], size: int) -> tuple[int, int] | None:
    """The inclusive byte range to send, or None when none of it exists (416)."""
    first, last = wanted
    if first is None:  # the last `last` bytes
        suffix = last or 0
        return (max(0, size - suffix), size - 1) if suffix and size else None
    if first >= size:
        return None
    return first, size - 1 if last is None else min(last, size - 1)


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag.removeprefix("W/") in tags
