"""Indexes that are not ours, to mirror from: a static PEP 503 tree behind Python's
`http.server`, and pypiserver. Both on 127.0.0.1, on free ports."""

from __future__ import annotations

import functools
import hashlib
import html
import http.server
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from s3pypi_core.distribution import parse_filename

BIN = Path(sys.executable).parent


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_simple_tree(
    root: Path,
    dists: Iterable[Path],
    *,
    yanked: dict[str, str] | None = None,
    requires_python: dict[str, str] | None = None,
    hashes: dict[str, str] | None = None,
) -> Path:
    """A PEP 503 tree as a static web server holds it: `simple/NAME/index.html` pages whose links
    (with sha256 fragments, PEP 592 `data-yanked`, PEP 503 `data-requires-python`) point at
    `files/FILE`. No JSON, no metadata files, no sizes or upload times. `hashes` replaces the
    hash a page gives for a file (a tampering index)."""
    yanked, requires_python, hashes = yanked or {}, requires_python or {}, hashes or {}
    files = root / "files"
    files.mkdir(parents=True)
    by_project: dict[str, list[Path]] = {}
    for dist in dists:
        copy = files / dist.name
        copy.write_bytes(dist.read_bytes())
        by_project.setdefault(parse_filename(dist.name)[0], []).append(copy)
    for project, paths in by_project.items():
        links = []
        for path in sorted(paths):
            attrs = f'href="../../files/{path.name}#sha256={hashes.get(path.name, sha256(path))}"'
            if path.name in requires_python:
                attrs += f' data-requires-python="{html.escape(requires_python[path.name])}"'
            if path.name in yanked:
                attrs += f' data-yanked="{html.escape(yanked[path.name])}"'
            links.append(f"<a {attrs}>{path.name}</a><br>")
        page = root / "simple" / project / "index.html"
        page.parent.mkdir(parents=True)
        page.write_text("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n")
    (root / "simple" / "index.html").write_text(
        "".join(f'<a href="{name}/">{name}</a><br>\n' for name in sorted(by_project))
    )
    return root


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def static_server(root: Path) -> Iterator[str]:
    """`http.server` serving `root`; yields its origin, `http://127.0.0.1:PORT`."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"pypi-server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)  # nothing to wait on but the port itself
    raise AssertionError(f"pypi-server did not listen on {port} within {timeout} s")


@contextmanager
def pypiserver(packages: Path, log_file: Path) -> Iterator[str]:
    """pypiserver serving the distributions in `packages`, with no fallback to PyPI and no
    authentication; yields its index URL, `http://127.0.0.1:PORT/simple/`."""
    port = _free_port()
    with open(log_file, "wb") as log:
        command = [
            str(BIN / "pypi-server"), "run", "--host", "127.0.0.1", "--port", str(port),
            "--disable-fallback", "--authenticate", ".", "--passwords", ".",
            "--server", "wsgiref", str(packages),
        ]  # fmt: skip
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, process, timeout=60)
        yield f"http://127.0.0.1:{port}/simple/"
    finally:
        process.terminate()
        process.wait(timeout=30)
