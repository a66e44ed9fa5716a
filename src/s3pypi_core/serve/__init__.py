"""`s3pypi serve`: an HTTP front for an index, answering as the deployed CloudFront does, fit to
run on-premises in place of pypiserver.

- `app`: the application (request in, response out): routing, negotiation, auth, errors;
- `gate`: basic auth against a users file, re-read on change, with bounded password checks;
- `upload`: the upload API (PyPI's legacy `file_upload`), publishing as `s3pypi upload` does;
- `server`: the HTTP server (waitress) that carries requests to the application;
- `access_log`: the request log's formats.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from s3pypi_core.exceptions import S3PyPIError, StorageError
from s3pypi_core.layout import IndexLayout
from s3pypi_core.serve.app import HEALTH_PATH, IndexApp, Request, Response
from s3pypi_core.serve.gate import Gate, WatchedUsersFile
from s3pypi_core.serve.server import IndexServer, ServerOptions
from s3pypi_core.serve.upload import DEFAULT_MAX_UPLOAD, Uploads, UploadSettings
from s3pypi_core.storage import LocalStorage, Storage

if TYPE_CHECKING:
    from s3pypi_core.config import Config

__all__ = [
    "DEFAULT_MAX_UPLOAD",
    "HEALTH_PATH",
    "IndexApp",
    "IndexServer",
    "Request",
    "Response",
    "ServerOptions",
    "Serving",
    "UploadSettings",
    "open_server",
]

# How many objects are looked at to tell the page layout of an index.
_LAYOUT_SAMPLE = 1000


@dataclass
class Serving:
    server: IndexServer
    url: str
    """The index URL: what to give pip as `--index-url`."""
    auth: str
    """Whether basic auth is on, for the startup line."""
    upload_url: str | None
    """Where clients upload (`twine upload --repository-url`), when uploads are on."""
    notes: list[str]
    """What else a user should know: a page layout that differs from the flags."""


def open_server(
    storage: Storage,
    layout: IndexLayout,
    options: ServerOptions,
    *,
    users_file: Path | None = None,
    upload_to: Config | None = None,
    upload_settings: UploadSettings | None = None,
) -> Serving:
    """Check that the index can be read, then bind (port 0: any free port).

    With `upload_to` (the Config of the same index) the server takes uploads: from the users
    with the publish permission in `users_file`, or from anyone when there is no users file
    and `upload_settings.anonymous`; otherwise POSTs are answered 403 (uploads off)."""
    _check_readable(storage, layout)
    notes = []
    detected = detect_layout(storage, layout)
    if detected != layout:
        flag = "with" if detected.index_html else "without"
        notes.append(
            f"pages are stored as {'NAME/index.html' if detected.index_html else 'NAME/'} "
            f"(published {flag} --index.html): serving them from there"
        )
        layout = detected
    gate = None
    auth = "no auth: anyone who can reach it can install"
    if users_file is not None:
        gate = Gate(WatchedUsersFile(users_file))
        auth = f"basic auth: {len(gate.users.current()[1])} user(s) in {users_file}"
    uploads = None
    if upload_to is not None:
        uploads = Uploads(upload_to, layout, upload_settings or UploadSettings())
    try:
        server = IndexServer(IndexApp(storage, layout, gate=gate, uploads=uploads), options)
    except OSError as e:
        raise S3PyPIError(
            f"cannot listen on {options.host}:{options.port}: {e.strerror or e}"
        ) from e
    host, port = server.address
    host = f"[{host}]" if ":" in host else host
    url = f"http://{host}:{port}/{layout.files_prefix()}"
    upload_url = None
    if uploads is not None:
        if gate is not None:
            upload_url = url + "legacy/"
            notes.append(f"uploads: {upload_url} (users with the publish permission)")
        elif uploads.settings.anonymous:
            upload_url = url + "legacy/"
            notes.append(f"uploads: {upload_url} (anyone: --allow-anonymous-uploads)")
        else:
            notes.append("uploads are off (no --users FILE)")
    return Serving(server, url, auth, upload_url, notes)


def detect_layout(storage: Storage, layout: IndexLayout) -> IndexLayout:
    """The layout the index's pages were published in, where it differs from the flags: a
    bucket written with `--index.html` holds `NAME/index.html` pages and no `NAME/` ones (a
    directory stores both the same way, so there is nothing to tell)."""
    if isinstance(storage, LocalStorage):
        return layout
    prefix = layout.files_prefix()
    directory_pages = index_html_pages = 0
    for n, info in enumerate(storage.list(prefix)):
        if n >= _LAYOUT_SAMPLE:
            break
        name, slash, rest = info.key.removeprefix(prefix).partition("/")
        if name and slash and rest == "":
            directory_pages += 1
        elif name and rest == "index.html":
            index_html_pages += 1
    if index_html_pages and not directory_pages:
        return dataclasses.replace(layout, index_html=True)
    if directory_pages and not index_html_pages:
        return dataclasses.replace(layout, index_html=False)
    return layout


def _check_readable(storage: Storage, layout: IndexLayout) -> None:
    """Fail at start, with one line, rather than on every request (no bucket, no credentials)."""
    if isinstance(storage, LocalStorage):
        if not storage.root.is_dir():
            raise StorageError(f"not a directory: {storage.root}")
        return
    storage.get(layout.root_json())
