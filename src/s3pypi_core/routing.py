"""How a request path maps to an object key: the one rule of `s3pypi serve` and the edge.

Standard library only: this module also runs inside the Lambda@Edge package, and the
CloudFront Function (JavaScript) implements the same rule, checked against the same cases
(`tests/routing_cases.json`).

- `/[P/]NAME/` is a project page, `/[P/]` (or `/`) the root page: HTML by default, JSON
  (`[P/]NAME/index.json`) when the `Accept` header prefers the PEP 691 JSON type, and the human
  view (`[P/]NAME/browse.html`, `[P/]browse.html`) for a browser;
- without a prefix the root page is `index.html` (an object key cannot be empty); with
  `--index.html` every page is `.../index.html`;
- `/[P/]pypi/NAME/json` and `/[P/]pypi/NAME/VERSION/json` are PyPI's JSON API, kept in the
  project's directory (`[P/]NAME/json`, where tools given the index URL look: Renovate,
  Dependabot);
- any other path is an object key as is (distributions, `.metadata` files).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPES = ("application/vnd.pypi.simple.v1+html", "text/html")
BROWSE_PAGE = "browse.html"
"""The human view of a page directory, next to its simple API pages."""

_JSON_ALIASES = (JSON_TYPE, "application/vnd.pypi.simple.latest+json")
_HTML_ALIASES = (*HTML_TYPES, "application/vnd.pypi.simple.latest+html")
_SIMPLE_API_PREFIX = "application/vnd.pypi.simple."
_XHTML = "application/xhtml+xml"
# `/[P/]pypi/NAME/json` and `/[P/]pypi/NAME/VERSION/json`, for a normalized NAME.
_PYPI_JSON_API = re.compile(
    r"(/(?:[^/]+/)*?)pypi/([a-z0-9](?:[a-z0-9-]*[a-z0-9])?/(?:[^/]+/)?json)"
)


def _accepted(accept: str) -> Iterator[tuple[str, float]]:
    """(media type in lower case, quality) for each item of an `Accept` header; an
    unparsable quality counts as 0."""
    for item in accept.split(","):
        media_type, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        yield media_type.lower(), quality


def wants_json(accept: str | None) -> bool:
    """Whether an `Accept` header prefers the JSON simple API over HTML (PEP 691).

    JSON wins only when its quality is strictly higher than the best HTML type's: a header
    that names neither, or `*/*`, gets HTML, which every client understands.
    """
    if not accept:
        return False
    json_q = html_q = 0.0
    wildcard_q = 0.0
    for media_type, quality in _accepted(accept):
        if media_type in _JSON_ALIASES:
            json_q = max(json_q, quality)
        elif media_type in _HTML_ALIASES:
            html_q = max(html_q, quality)
        elif media_type in ("*/*", "text/*"):
            wildcard_q = max(wildcard_q, quality)
    return json_q > max(html_q, wildcard_q)


def is_browser(accept: str | None) -> bool:
    """Whether a page request is a browser's: it accepts XHTML and no simple API type.

    Every browser names `application/xhtml+xml` when it loads a page (Chrome, Firefox, Safari,
    Edge); no installer does: pip, uv, PDM and pip-tools name the simple API types, Poetry
    JSON and `*/*`, old pip `text/html`, requests, curl and wget `*/*`. So installers keep
    getting the simple API byte for byte, whatever else they accept.
    """
    if not accept:
        return False
    xhtml_q = simple_q = 0.0
    for media_type, quality in _accepted(accept):
        if media_type == _XHTML:
            xhtml_q = max(xhtml_q, quality)
        elif media_type.startswith(_SIMPLE_API_PREFIX):
            simple_q = max(simple_q, quality)
    return xhtml_q > 0 and simple_q <= 0


def object_key(path: str, accept: str | None = None, *, index_html: bool = False) -> str:
    """The object key that answers a GET of `path` (URL-encoded, starting with `/`)."""
    path = urllib.parse.unquote(path.split("?", 1)[0].split("#", 1)[0])
    if not path.startswith("/"):
        path = "/" + path
    if path.endswith("/"):
        if wants_json(accept):
            path += "index.json"
        elif is_browser(accept):
            path += BROWSE_PAGE
        elif index_html or path == "/":
            path += "index.html"
    else:
        path = pypi_json_path(path)
    return path[1:]


def pypi_json_path(path: str) -> str:
    """PyPI's JSON API path (`/[P/]pypi/NAME[/VERSION]/json`) as the path of the object that
    answers it (`/[P/]NAME[/VERSION]/json`); any other path as it is."""
    if match := _PYPI_JSON_API.fullmatch(path):
        return match.group(1) + match.group(2)
    return path
