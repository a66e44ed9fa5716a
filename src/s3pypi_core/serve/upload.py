"""The upload API of `s3pypi serve`: PyPI's legacy `file_upload`, which twine, `uv publish`,
Poetry, PDM and flit speak.

A request is a `multipart/form-data` POST with `:action=file_upload`, the file as the `content`
part (its filename is the distribution's), at least one digest (`sha256_digest`, `md5_digest`,
`blake2_256_digest`) and metadata fields. The body, which the HTTP server has received in full
(spooled to a temporary file past 512 KiB), is parsed as a stream: the file goes to a temporary
file under its own name, and only the few fields used here are kept, each of a bounded size.
So a 1 GiB upload costs disk, not memory.

The file's own metadata is the truth, as for `s3pypi upload`: the form's `name` and `version`
only have to agree with it, and the other fields are not read. The file is then published by
the one path every front end takes: `read_distributions` (read in full, validated) and
`Config.publisher().upload(...)` (files before pages, compare-and-swap, the lock table).

Answers are PyPI's, so that clients behave: 200 when published; 400 with the reason in the
status line for a bad request or file; for a file already in the index, 200 when it is the
same bytes (PyPI's answer too: a retried upload succeeds) and 400 "File already exists" when
it is not (what `twine upload --skip-existing` and Poetry's and PDM's look for).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import tempfile
import threading
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from packaging.utils import InvalidName, canonicalize_name
from packaging.version import InvalidVersion, Version
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from s3pypi_core import __prog__
from s3pypi_core.distribution import Distribution
from s3pypi_core.exceptions import (
    InvalidDistribution,
    LockTimeout,
    S3PyPIError,
    StorageError,
    one_line,
)
from s3pypi_core.layout import IndexLayout
from s3pypi_core.publishing import (
    Publisher,
    UploadObserver,
    read_distributions,
    same_distribution,
)

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

    from s3pypi_core.config import Config

log = logging.getLogger(__prog__)

DEFAULT_MAX_UPLOAD = 100 * 1024 * 1024
"""PyPI's default limit for one file, so clients and users know it already."""

_CHUNK = 256 * 1024
_MAX_FIELD = 4096
"""The fields kept are names, versions and digests: short."""
_MAX_HEADERS = 16 * 1024
"""All the header bytes of one part."""
_MAX_FILENAME_BYTES = 255
_KEPT = frozenset(
    {":action", "protocol_version", "name", "version", "sha256_digest", "md5_digest"}
    | {"blake2_256_digest"}
)
_DIGESTS = {"sha256_digest": "sha256", "md5_digest": "md5", "blake2_256_digest": "blake2_256"}
_HEX = re.compile(r"[0-9a-fA-F]+")
_UNSAFE_IN_REASON = re.compile(r"[^\x20-\x7e]")
_MAX_REASON = 300


@dataclass(frozen=True)
class UploadSettings:
    max_size: int = DEFAULT_MAX_UPLOAD
    """The largest request body an upload may have, in bytes (the file plus its form)."""
    put_root_index: bool = False
    """List new projects on the root page, as `s3pypi upload --put-root-index` does."""
    anonymous: bool = False
    """Without `--users`: whether anyone who can reach the server may upload."""


@dataclass(frozen=True)
class Outcome:
    """How an upload ended: the status, its reason phrase (PyPI puts the message there, and
    twine shows it), and the object it concerned, for the access log."""

    status: HTTPStatus
    reason: str
    key: str = "-"


class Refused(Exception):
    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Form:
    """What was kept of an upload form: the short fields, and the file."""

    fields: dict[str, str] = field(default_factory=dict)
    file: Path | None = None
    digests: dict[str, str] = field(default_factory=dict)
    """The file's digests by algorithm: md5 and blake2_256 computed while it was received
    (when asked for before it came), sha256 from reading the distribution."""


class Uploads:
    """Publishes the files POSTed to one index, with one publisher for the server's life."""

    def __init__(self, cfg: Config, layout: IndexLayout, settings: UploadSettings) -> None:
        if cfg.s3 is not None:  # the page layout found in the bucket, not only the flag's
            cfg = replace(cfg, s3=replace(cfg.s3, index_html=layout.index_html))
        self.cfg = cfg
        self.layout = layout
        self.settings = settings
        self._publisher: Publisher | None = None
        self._lock = threading.Lock()

    def publisher(self) -> Publisher:
        """Opened on the first upload: a server nobody publishes through writes nothing (the
        conditional-writes probe) and needs no lock table."""
        with self._lock:
            if self._publisher is None:
                self._publisher = self.cfg.publisher()
            return self._publisher

    def handle(self, content_type: str | None, body: BinaryIO) -> Outcome:
        with tempfile.TemporaryDirectory(prefix="s3pypi-upload-") as directory:
            try:
                return self._publish(content_type, body, Path(directory))
            except Refused as e:
                return Outcome(e.status, _reason(e.reason, directory))
            except InvalidDistribution as e:
                return Outcome(HTTPStatus.BAD_REQUEST, _reason(str(e), directory))
            except LockTimeout as e:
                return Outcome(HTTPStatus.SERVICE_UNAVAILABLE, _reason(str(e), directory))
            except StorageError as e:
                log.warning("upload: %s", e)
                return Outcome(HTTPStatus.BAD_GATEWAY, _reason(str(e), directory))
            except S3PyPIError as e:
                log.warning("upload: %s", e)
                return Outcome(HTTPStatus.INTERNAL_SERVER_ERROR, _reason(str(e), directory))

    def _publish(self, content_type: str | None, body: BinaryIO, directory: Path) -> Outcome:
        form = read_form(content_type, body, directory)
        action = form.fields.get(":action")
        if action != "file_upload":
            raise Refused(
                HTTPStatus.BAD_REQUEST,
                f"unsupported :action {action!r}: only file_upload (the upload API of PyPI)"
                if action
                else "no :action: expected :action=file_upload (the upload API of PyPI)",
            )
        if form.file is None:
            raise Refused(HTTPStatus.BAD_REQUEST, "no file: expected it as the 'content' part")
        if not any(form.fields.get(name) for name in _DIGESTS):
            raise Refused(
                HTTPStatus.BAD_REQUEST, "no digest: send sha256_digest (or md5_digest) of the file"
            )
        check_digests(form, ("md5_digest", "blake2_256_digest"))  # computed as it came
        [dist] = read_distributions(self.cfg, [form.file])
        form.digests["sha256"] = dist.sha256  # reading it in full hashed it
        check_digests(form, ("sha256_digest",))
        check_name_and_version(form, dist)
        key = self.layout.file(dist.project, dist.filename)
        publisher = self.publisher()
        result = publisher.upload(
            [dist], put_root_index=self.settings.put_root_index, observer=_Quiet()
        )
        if result.uploaded:
            log.info("Published %s", dist.filename)
            return Outcome(HTTPStatus.OK, "OK", key)
        page = publisher.pages.read_project(dist.project).page
        same = same_distribution(page, dist.filename)
        listed = page.files.get(dist.filename)
        if listed is not None and listed.hash is not None and listed.hash.value == dist.sha256:
            return Outcome(HTTPStatus.OK, "OK, already there with the same content", key)
        # The same distribution under another name, or this name with other bytes.
        renamed = bool(same) and same[0] != dist.filename
        where = f"as {same[0]}" if renamed else "with other content"
        return Outcome(
            HTTPStatus.BAD_REQUEST,
            f"File already exists: {dist.filename} is in the index {where}; publish a new "
            "version instead",
            key,
        )


def read_form(content_type: str | None, body: BinaryIO, directory: Path) -> Form:
    """Parse a multipart/form-data body from `body`, a chunk at a time, writing the `content`
    part to `directory` under its filename."""
    media_type, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise Refused(
            HTTPStatus.BAD_REQUEST,
            "expected a multipart/form-data body with a boundary (the upload API of PyPI)",
        )
    reader = _FormReader(directory)
    try:
        parser = MultipartParser(boundary, reader.callbacks())
        while chunk := body.read(_CHUNK):
            parser.write(chunk)
    except (MultipartParseError, ValueError) as e:
        raise Refused(HTTPStatus.BAD_REQUEST, f"malformed multipart body ({one_line(e)})") from e
    finally:
        reader.close()
    if not reader.ended:
        raise Refused(HTTPStatus.BAD_REQUEST, "malformed multipart body (it ends early)")
    return reader.form


def check_digests(form: Form, names: tuple[str, ...]) -> None:
    """Each of these digests, when the client sent it, must be the received file's."""
    sent = {name: form.fields[name] for name in names if form.fields.get(name)}
    assert form.file is not None
    missing = [_DIGESTS[name] for name in sent if _DIGESTS[name] not in form.digests]
    if missing:  # sent after the file: hash it again
        form.digests.update(_hash_file(form.file, missing))
    for name, value in sent.items():
        actual = form.digests[_DIGESTS[name]]
        if not _HEX.fullmatch(value) or not hmac.compare_digest(value.lower(), actual):
            raise Refused(
                HTTPStatus.BAD_REQUEST,
                f"{name} does not match the file received (the upload was damaged, or the "
                "form describes another file)",
            )


def check_name_and_version(form: Form, dist: Distribution) -> None:
    """The form's name and version, when sent and valid, must be the file's."""
    name, version = form.fields.get("name"), form.fields.get("version")
    try:
        name_differs = bool(name) and canonicalize_name(name or "", validate=True) != dist.project
    except InvalidName:
        name_differs = False
    try:
        version_differs = bool(version) and Version(version or "") != dist.version
    except InvalidVersion:
        version_differs = False
    if name_differs or version_differs:
        raise Refused(
            HTTPStatus.BAD_REQUEST,
            f"the form says {name} {version} but {dist.filename} is {dist.project} {dist.version}",
        )


class _FormReader:
    """The callbacks of python-multipart's streaming parser: part headers, then data."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.form = Form()
        self.ended = False
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._header_bytes = 0
        self._headers: dict[str, bytes] = {}
        self._field: str | None = None
        self._value = bytearray()
        self._file: BinaryIO | None = None
        self._hashes: dict[str, Any] = {}

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _part_begin(self) -> None:
        self._headers = {}
        self._header_bytes = 0
        self._field = None
        self._value = bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_value += data[start:end]

    def _count_header(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > _MAX_HEADERS:
            raise Refused(HTTPStatus.BAD_REQUEST, "malformed multipart body (headers too long)")

    def _header_end(self) -> None:
        name = bytes(self._header_name).decode("latin-1").strip().lower()
        self._headers[name] = bytes(self._header_value).strip()
        self._header_name, self._header_value = bytearray(), bytearray()

    def _headers_finished(self) -> None:
        disposition, params = parse_options_header(self._headers.get("content-disposition"))
        if disposition != b"form-data" or b"name" not in params:
            raise Refused(HTTPStatus.BAD_REQUEST, "malformed multipart body (a part has no name)")
        name = params[b"name"].decode("latin-1")
        if name == "content":
            self._open_file(params.get(b"filename"))
        elif name in _KEPT:
            self._field = name

    def _open_file(self, raw_filename: bytes | None) -> None:
        if self.form.file is not None:
            raise Refused(HTTPStatus.BAD_REQUEST, "one file per upload: two 'content' parts")
        if not raw_filename:
            raise Refused(HTTPStatus.BAD_REQUEST, "the 'content' part has no filename")
        try:
            filename = raw_filename.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(HTTPStatus.BAD_REQUEST, "the filename is not UTF-8") from None
        if not _plain_filename(filename):
            raise Refused(HTTPStatus.BAD_REQUEST, f"not a plain file name: {filename!r}")
        path = self.directory / filename
        self._file = open(path, "xb")  # noqa: SIM115 (closed on the part's end, or by close())
        self.form.file = path
        # The digests already sent are computed in this pass; any sent later, in another.
        # sha256 is not: reading the distribution in full computes it anyway.
        self._hashes = {}
        if self.form.fields.get("md5_digest"):
            self._hashes["md5"] = hashlib.md5(usedforsecurity=False)
        if self.form.fields.get("blake2_256_digest"):
            self._hashes["blake2_256"] = hashlib.blake2b(digest_size=32)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            chunk = data[start:end]
            self._file.write(chunk)
            for digest in self._hashes.values():
                digest.update(chunk)
        elif self._field is not None:
            if len(self._value) + end - start > _MAX_FIELD:
                raise Refused(HTTPStatus.BAD_REQUEST, f"the field {self._field} is too long")
            self._value += data[start:end]

    def _part_end(self) -> None:
        if self._file is not None:
            self.close()
            self.form.digests = {name: h.hexdigest() for name, h in self._hashes.items()}
        elif self._field is not None:
            try:
                value = self._value.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise Refused(
                    HTTPStatus.BAD_REQUEST, f"the field {self._field} is not UTF-8"
                ) from None
            if self.form.fields.setdefault(self._field, value) != value:
                raise Refused(HTTPStatus.BAD_REQUEST, f"the field {self._field} is given twice")
        self._field = None

    def _end(self) -> None:
        self.ended = True


class _Quiet(UploadObserver):
    """No log lines naming the temporary file: the access log has the request."""

    def starting(self, dist: Distribution) -> None:
        pass

    def skipped(self, dist: Distribution, reason: str) -> None:
        pass


def _plain_filename(filename: str) -> bool:
    return (
        bool(filename)
        and not filename.startswith(".")
        and not any(c in filename for c in "/\\")
        and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in filename)
        and len(filename.encode("utf-8")) <= _MAX_FILENAME_BYTES
    )


def _hash_file(path: Path, algorithms: list[str]) -> dict[str, str]:
    hashes = {name: _new_hash(name) for name in algorithms}
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            for digest in hashes.values():
                digest.update(chunk)
    return {name: h.hexdigest() for name, h in hashes.items()}


def _new_hash(name: str) -> Any:
    if name == "blake2_256":
        return hashlib.blake2b(digest_size=32)
    if name == "md5":
        return hashlib.md5(usedforsecurity=False)
    return hashlib.new(name)


def _reason(message: str, directory: str | Path) -> str:
    """A message as a reason phrase: one line of printable ASCII, without the temporary
    directory the file was read from, and not too long for a status line."""
    text = one_line(message).replace(f"{directory}/", "")
    text = _UNSAFE_IN_REASON.sub("?", text)
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 4].rstrip() + " ..."
