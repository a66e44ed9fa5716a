"""One line per request, in s3pypi's own format or in the common/combined log formats.

Everything a client chose (the target, its user agent, a referer) is escaped: control
characters, spaces, quotes, backslashes and bytes outside ASCII become `\\xHH`, so no request
can forge or split a line, or colour a terminal.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from s3pypi_core.serve.app import Request, Response

FORMATS = ("s3pypi", "common", "combined")

_UNSAFE = re.compile(r'[^\x21-\x7e]|["\\]')


def escape(text: str) -> str:
    """`text` with nothing that could end a field or a line (spaces too: `\\x20`). What a
    server read as Latin-1 (targets, header values) shows its bytes as they were sent."""
    return _UNSAFE.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}"


def line(fmt: str, request: Request, response: Response, protocol: str = "HTTP/1.1") -> str:
    """The access log line of one answered request."""
    user = response.user or "-"
    target = escape(request.target)
    if fmt == "s3pypi":
        # METHOD TARGET -> KEY STATUS SIZE bytes: what was asked, and what answered it.
        return (
            f"{request.client} {user} {request.method} {target} -> {escape(response.key)} "
            f"{response.status.value} {response.length} bytes"
        )
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S %z")
    common = (
        f'{request.client} - {user} [{stamp}] "{request.method} {target} {escape(protocol)}" '
        f"{response.status.value} {response.length if response.length else '-'}"
    )
    if fmt == "common":
        return common
    referer = escape(request.header("referer") or "-")
    agent = escape(request.header("user-agent") or "-")
    return f'{common} "{referer}" "{agent}"'
