"""The index as an HTTP application without a framework: a `Request` in, a `Response` out.

Everything a client can observe is decided here: which object answers a path (the rule of the
edge, `s3pypi_core.routing`: pages negotiated between HTML and JSON on `Accept`), ranges and
conditional requests, basic auth, redirects, the health endpoint, uploads (`upload`: who may,
and where) and the answer to every malformed request. The HTTP server
(`s3pypi_core.serve.server`) only translates bytes on the wire to a `Request` and a `Response`
back, so it can be replaced without touching this.
"""

from __future__ import annotations

import email.utils
import hashlib
import io
import json
import logging
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timezone
from http import HTTPStatus
from typing import BinaryIO

from packaging.utils import canonicalize_name

from s3pypi_core import __prog__, auth
from s3pypi_core.exceptions import StorageError
from s3pypi_core.index import RootIndex
from s3pypi_core.layout import (
    FILE_CACHE_CONTROL,
    HTML_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    PAGE_CACHE_CONTROL,
    IndexLayout,
    content_type_for,
)
from s3pypi_core.routing import BROWSE_PAGE, JSON_TYPE, is_browser, pypi_json_path, wants_json
from s3pypi_core.serve.access_log import escape
from s3pypi_core.serve.gate import Gate
from s3pypi_core.serve.upload import Uploads
from s3pypi_core.storage import Storage, StoredObject

log = logging.getLogger(__prog__)

HEALTH_PATH = "/-/health"
"""Outside every index: a PEP 503 name cannot start with `-`, a prefix is unlikely to."""

MAX_SEGMENT_BYTES = 255  # a file name on every common filesystem
MAX_KEY_BYTES = 1024  # an S3 key
ROOT_LISTING_TTL = 10.0
"""How long a root page built from a listing is reused: a listing costs one request per
thousand objects, and `/` is what browsers and health checks hit."""

_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_BEYOND_ANY_SIZE = 10**18  # a position with more digits than this is past every object
_PROJECT_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_HTML_ACCEPTED = ("text/html", "application/vnd.pypi.simple.v1+html", "*/*", "text/*")


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    """The request-target as received (percent-encoded path and query)."""
    headers: Mapping[str, str]
    """Lower-case names."""
    client: str = "-"
    body: BinaryIO | None = field(default=None, repr=False, compare=False)
    """The request body, received in full (in memory, or a temporary file when large)."""

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass
class Response:
    status: HTTPStatus
    headers: list[tuple[str, str]]
    body: Iterable[bytes] = ()
    length: int = 0
    """Bytes of body to send (0 for HEAD and bodiless answers)."""
    key: str = "-"
    """The object (or page) that answered, for the access log."""
    user: str | None = None
    close: Callable[[], None] | None = field(default=None, repr=False)
    """Releases the body's stream when the server is done with it."""
    reason: str | None = None
    """The status line's reason phrase, when not the standard one (uploads put the error
    there, as PyPI does: twine shows it)."""


class IndexApp:
    """Answers requests for the objects of one index, and takes uploads when `uploads` is
    given (anyone may upload when it allows anonymous uploads; with a `gate`, the users
    with the publish permission)."""

    def __init__(
        self,
        storage: Storage,
        layout: IndexLayout,
        *,
        gate: Gate | None = None,
        uploads: Uploads | None = None,
    ):
        self.storage = storage
        self.layout = layout
        self.gate = gate
        self.uploads = uploads
        prefix = "/" + layout.files_prefix()
        # PyPI's `/legacy/`, and the index URL itself, with the prefix or without: one
        # server is one index, so every spelling a user may try publishes to it.
        self.upload_paths = frozenset(
            path for base in {"/", prefix} for path in (base, base + "legacy/", base + "legacy")
        )
        self._root_lock = threading.Lock()
        self._root_listing: tuple[float, RootIndex] | None = None

    def __call__(self, request: Request) -> Response:
        try:
            return self._handle(request)
        except StorageError as e:
            log.warning("%s %s: %s", request.method, escape(request.target), e)
            return _error(HTTPStatus.BAD_GATEWAY)

    def _handle(self, request: Request) -> Response:
        if request.method == "POST" and self.uploads is not None:
            return self._upload(request)
        if request.method not in ("GET", "HEAD"):
            return _error(HTTPStatus.METHOD_NOT_ALLOWED, {"Allow": "GET, HEAD"})
        path = _request_path(request.target)
        if isinstance(path, HTTPStatus):
            return _error(path)
        if path == HEALTH_PATH:
            return self._health(request)
        user = None
        if self.gate is not None:
            verdict = self.gate.check(request.header("authorization"))
            if verdict.busy:
                return _error(HTTPStatus.SERVICE_UNAVAILABLE, {"Retry-After": "1"})
            if verdict.user is None:
                return _error(HTTPStatus.UNAUTHORIZED, {"WWW-Authenticate": auth.CHALLENGE})
            user = verdict.user
        response = self._route(request, path)
        response.user = user
        if request.method == "HEAD":
            if response.close:
                response.close()
            response.body, response.length, response.close = (), 0, None
        return response

    def before_body(self, method: str, target: str, authorization: str | None) -> Response | bool:
        """Decided from the request line and headers alone, before the body is received:
        whether the request is an upload (its body may be up to the upload limit), or the
        answer that refuses it at once (uploads are off, or no credentials were sent), so an
        anonymous client cannot make the server receive a large body. Cheap: no password is
        checked here."""
        if method != "POST" or self.uploads is None or not self._is_upload_path(target):
            return False
        if self.gate is None:
            return True if self.uploads.settings.anonymous else _uploads_off()
        if auth.parse_basic_auth(authorization) is None:
            return _error(HTTPStatus.UNAUTHORIZED, {"WWW-Authenticate": auth.CHALLENGE})
        return True

    def _is_upload_path(self, target: str) -> bool:
        path = _request_path(target)
        return isinstance(path, str) and path in self.upload_paths

    def _upload(self, request: Request) -> Response:
        assert self.uploads is not None
        path = _request_path(request.target)
        if isinstance(path, HTTPStatus):
            return _error(path)
        if path not in self.upload_paths:
            return _error(HTTPStatus.METHOD_NOT_ALLOWED, {"Allow": "GET, HEAD"})
        refusal = self.before_body(request.method, request.target, request.header("authorization"))
        if isinstance(refusal, Response):
            return refusal
        user = None
        if self.gate is not None:
            verdict = self.gate.check(request.header("authorization"))
            if verdict.busy:
                return _error(HTTPStatus.SERVICE_UNAVAILABLE, {"Retry-After": "1"})
            if verdict.user is None:
                return _error(HTTPStatus.UNAUTHORIZED, {"WWW-Authenticate": auth.CHALLENGE})
            user = verdict.user
            if not self.gate.may_publish(user):
                response = _error(
                    HTTPStatus.FORBIDDEN,
                    reason=f"{user} may not publish: only users added with --publish may",
                )
                response.user = user
                return response
        outcome = self.uploads.handle(request.header("content-type"), request.body or _empty())
        if outcome.status == HTTPStatus.OK:
            with self._root_lock:
                self._root_listing = None  # a new project shows on a built root page at once
        response = _error(outcome.status, reason=outcome.reason, key=outcome.key)
        response.user = user
        return response

    def _route(self, request: Request, path: str) -> Response:
        if not path.endswith("/"):
            key = pypi_json_path(path)[1:]
            if not self._serves(key):
                return _error(HTTPStatus.NOT_FOUND, key=key)
            found = self._object(request, key, vary=False)
            if found.status == HTTPStatus.NOT_FOUND:
                return self._redirect_to_project(key) or found
            return found
        directory = path[1:]
        json_first = wants_json(request.header("accept"))
        keys = [directory + "index.json"] if json_first else []
        if not json_first and is_browser(request.header("accept")):
            # The human view; a project published before it existed shows its simple page.
            keys.append(directory + BROWSE_PAGE)
        if not json_first or _accepts_html(request.header("accept")):
            # A bucket written by s3pypi 2.x (no JSON pages) still answers pip with HTML.
            keys.append(self._html_key(directory))
        if not self._serves(directory):
            return _error(HTTPStatus.NOT_FOUND, key=keys[0], vary=True)
        for key in keys:
            found = self._object(request, key, vary=True)
            if found.status != HTTPStatus.NOT_FOUND:
                return found
        if directory == self.layout.files_prefix():
            return self._built_root(request, json_first)
        return self._redirect_to_project(directory.rstrip("/"), only_renamed=True) or _error(
            HTTPStatus.NOT_FOUND, key=keys[0], vary=True
        )

    def _serves(self, key: str) -> bool:
        """Only the index's own objects: under its prefix, and none of the hidden ones
        (a directory's lock and temporary files, probes)."""
        parts = key.split("/")
        return key.startswith(self.layout.files_prefix()) and not any(
            p.startswith(".") or (not p and i < len(parts) - 1) for i, p in enumerate(parts)
        )

    def _html_key(self, directory: str) -> str:
        """The HTML page of `directory` (`[P/]NAME/`, `[P/]` or ``)."""
        return directory + "index.html" if self.layout.index_html or not directory else directory

    def _object(self, request: Request, key: str, *, vary: bool) -> Response:
        wanted = _parse_range(request.header("range"))
        if_none_match = request.header("if-none-match")
        if request.method == "GET" and wanted is None and not if_none_match:
            return self._stream(key, None, vary)  # the common case: one read from the store
        info = self.storage.head(key)
        if info is None:
            return _error(HTTPStatus.NOT_FOUND, key=key, vary=vary)
        if _etag_matches(if_none_match, info.etag):
            return Response(HTTPStatus.NOT_MODIFIED, _headers(key, info, vary), key=key)
        if request.method == "HEAD":
            return Response(HTTPStatus.OK, _headers(key, info, vary, length=info.size), key=key)
        if wanted is None:
            return self._stream(key, None, vary)
        byte_range = _satisfiable(wanted, info.size)
        if byte_range is None:
            return _error(
                HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
                {"Content-Range": f"bytes */{info.size}"},
                key=key,
            )
        return self._stream(key, byte_range, vary)

    def _stream(self, key: str, byte_range: tuple[int, int] | None, vary: bool) -> Response:
        stream = self.storage.stream(key, byte_range)
        if stream is None:  # missing, or deleted since it was described
            return _error(HTTPStatus.NOT_FOUND, key=key, vary=vary)
        info = stream.info
        status, length, extra = HTTPStatus.OK, info.size, []
        if byte_range is not None:
            first, last = byte_range
            status, length = HTTPStatus.PARTIAL_CONTENT, last - first + 1
            extra = [("Content-Range", f"bytes {first}-{last}/{info.size}")]
        close = getattr(stream.body, "close", None)
        return Response(
            status,
            _headers(key, info, vary, length=length) + extra,
            stream.body,
            length=length,
            key=key,
            close=close,
        )

    def _redirect_to_project(self, name: str, *, only_renamed: bool = False) -> Response | None:
        """`/NAME` to `/NAME/`, and `/Not_Normalized/` to `/not-normalized/` (PEP 503), when
        that project exists."""
        prefix = self.layout.files_prefix()
        name = name.removeprefix(prefix)
        if "/" in name or not _PROJECT_NAME.fullmatch(name):
            return None
        project = canonicalize_name(name)
        if only_renamed and project == name:
            return None
        directory = prefix + project + "/"
        if self.storage.head(directory + "index.json") is None and (
            self.storage.head(self._html_key(directory)) is None
        ):
            return None
        location = "/" + urllib.parse.quote(directory)
        return _error(HTTPStatus.MOVED_PERMANENTLY, {"Location": location}, key=directory)

    def _built_root(self, request: Request, json_first: bool) -> Response:
        """The root page when none was published (`--put-root-index` never used, or only one
        of its two forms is there): from the other form, or from the projects' pages."""
        root = None
        for key, parse in [
            (self.layout.root_json(), RootIndex.from_json),
            (self.layout.root_html(), lambda b: RootIndex.parse(b.decode("utf-8", "replace"))),
        ]:
            blob = self.storage.get(key)
            if blob is not None:
                try:
                    root = parse(blob.body)
                    break
                except ValueError:
                    log.warning("%s: not a root page", self.storage.url(key))
        if root is None:
            root = self._listed_root()
        body = (root.to_json() if json_first else root.to_html()).encode()
        content_type = JSON_CONTENT_TYPE if json_first else HTML_CONTENT_TYPE
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = [
            ("Content-Type", content_type),
            ("Cache-Control", PAGE_CACHE_CONTROL),
            ("ETag", etag),
            ("Vary", "Accept"),
        ]
        key = "(built root page)"
        if _etag_matches(request.header("if-none-match"), etag):
            return Response(HTTPStatus.NOT_MODIFIED, headers, key=key)
        headers.append(("Content-Length", str(len(body))))
        return Response(HTTPStatus.OK, headers, [body], length=len(body), key=key)

    def _listed_root(self) -> RootIndex:
        with self._root_lock:
            now = time.monotonic()
            if self._root_listing and now - self._root_listing[0] < ROOT_LISTING_TTL:
                return self._root_listing[1]
            prefix = self.layout.files_prefix()
            projects: set[str] = set()
            for info in self.storage.list(prefix):
                name, slash, rest = info.key.removeprefix(prefix).partition("/")
                is_page = slash and rest in ("", "index.html", "index.json")
                if is_page and _PROJECT_NAME.fullmatch(name):
                    projects.add(str(canonicalize_name(name)))
            root = RootIndex(projects=projects)
            self._root_listing = (now, root)
            return root

    def _health(self, request: Request) -> Response:
        status: dict[str, object] = {"status": "ok"}
        if self.gate is not None:
            status["auth"] = self.gate.stats()
        body = (json.dumps(status, sort_keys=True) + "\n").encode()
        headers = [
            ("Content-Type", "application/json"),
            ("Cache-Control", "no-store"),
            ("Content-Length", str(len(body))),
        ]
        return Response(HTTPStatus.OK, headers, [body], length=len(body), key="-")


def _request_path(target: str) -> str | HTTPStatus:
    """The decoded path of a request-target, or the 4xx that refuses it."""
    if not target.startswith("/"):  # absolute-form (`http://host/path`) or `*`
        parts = urllib.parse.urlsplit(target)
        if not parts.scheme or not parts.path.startswith("/"):
            return HTTPStatus.BAD_REQUEST
        target = parts.path
    path = target.split("?", 1)[0].split("#", 1)[0]
    if _BAD_PERCENT.search(path):
        return HTTPStatus.BAD_REQUEST
    try:
        raw = urllib.parse.unquote_to_bytes(path)
        decoded = raw.decode("utf-8")
    except UnicodeError:
        return HTTPStatus.BAD_REQUEST
    if _CONTROL.search(decoded):
        return HTTPStatus.BAD_REQUEST
    if len(raw) > MAX_KEY_BYTES or any(len(s) > MAX_SEGMENT_BYTES for s in raw.split(b"/")):
        return HTTPStatus.REQUEST_URI_TOO_LONG
    return decoded


def _accepts_html(accept: str | None) -> bool:
    """Whether a client that prefers JSON takes HTML too (pip and uv do, with a lower q)."""
    if not accept:
        return True
    for item in accept.split(","):
        media_type, *params = (part.strip() for part in item.split(";"))
        if media_type.lower() in _HTML_ACCEPTED and not any(
            p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params
        ):
            return True
    return False


def _headers(
    key: str, info: StoredObject, vary: bool, *, length: int | None = None
) -> list[tuple[str, str]]:
    headers = [
        ("Content-Type", info.content_type or _content_type(key)),
        ("Cache-Control", info.cache_control or _default_cache_control(key)),
        ("ETag", info.etag),
        ("Accept-Ranges", "bytes"),
    ]
    if info.last_modified:
        modified = info.last_modified.astimezone(timezone.utc)
        headers.append(("Last-Modified", email.utils.format_datetime(modified, usegmt=True)))
    if vary:
        headers.append(("Vary", "Accept"))
    if length is not None:
        headers.append(("Content-Length", str(length)))
    return headers


def _content_type(key: str) -> str:
    if key.endswith("index.json"):
        return JSON_TYPE
    if key.endswith("index.html"):
        return HTML_CONTENT_TYPE
    return content_type_for(key)


def _uploads_off() -> Response:
    return _error(
        HTTPStatus.FORBIDDEN,
        reason="uploads are off: start s3pypi serve with --users FILE (users added with "
        "--publish may upload) or --allow-anonymous-uploads",
    )


def _empty() -> BinaryIO:
    return io.BytesIO()


def _error(
    status: HTTPStatus,
    extra: Mapping[str, str] | None = None,
    *,
    key: str = "-",
    vary: bool = False,
    reason: str | None = None,
) -> Response:
    """A short plain-text answer; `reason` replaces the standard phrase in the status line
    and the body."""
    body = f"{status.value} {reason or status.phrase}\n".encode()
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Cache-Control", "no-store"),
        ("Content-Length", str(len(body))),
        *(extra or {}).items(),
    ]
    if vary:
        headers.append(("Vary", "Accept"))
    return Response(status, headers, [body], length=len(body), key=key, reason=reason)


def _default_cache_control(key: str) -> str:
    """What publishing stores with each kind of object, for stores that keep no headers."""
    name = key.rsplit("/", 1)[-1]
    is_page = not name or name in ("index.html", "index.json")
    return PAGE_CACHE_CONTROL if is_page else FILE_CACHE_CONTROL


def _parse_range(header: str | None) -> tuple[int | None, int | None] | None:
    """`bytes=FIRST-LAST`, `bytes=FIRST-` or `bytes=-SUFFIX`; anything else (no header,
    several ranges, other units, nonsense) is ignored and the whole object served, as S3 does.
    A position too long to be real reads as past the end (416 for a first byte)."""
    match = _RANGE.fullmatch((header or "").strip())
    if not match or not (match.group(1) or match.group(2)):
        return None
    first, last = (_position(g) if g else None for g in match.groups())
    if first is not None and last is not None and last < first:
        return None
    return first, last


def _position(digits: str) -> int:
    return int(digits) if len(digits) < 19 else _BEYOND_ANY_SIZE


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
