"""How a request path maps to an object key: the one rule of `s3pypi serve` and the edge.

Standard library only: this module also runs inside the Lambda@Edge package, and the
CloudFront Function (JavaScript) implements the same rule, checked against the same cases
(`tests/routing_cases.json`).

- `/[P/]NAME/` is a project page, `/[P/]` (or `/`) the root page: HTML by default, JSON
  (`[P/]NAME/index.json`) when the `Accept` header prefers the PEP 691 JSON type;
- without a prefix the root page is `index.html` (an object key cannot be empty); with
  `--index.html` every page is `.../index.html`;
- any other path is an object key as is (distributions, `.metadata` files).
"""

from __future__ import annotations

import urllib.parse

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPES = ("application/vnd.pypi.simple.v1+html", "text/html")
_JSON_ALIASES = (JSON_TYPE, "application/vnd.pypi.simple.latest+json")
_HTML_ALIASES = (*HTML_TYPES, "application/vnd.pypi.simple.latest+html")


def wants_json(accept: str | None) -> bool:
    """Whether an `Accept` header prefers the JSON simple API over HTML (PEP 691).

    JSON wins only when its quality is strictly higher than the best HTML type's: a header
    that names neither, or `*/*`, gets HTML, which every client understands.
    """
    if not accept:
        return False
    json_q = html_q = 0.0
    wildcard_q = 0.0
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
        media_type = media_type.lower()
        if media_type in _JSON_ALIASES:
            json_q = max(json_q, quality)
        elif media_type in _HTML_ALIASES:
            html_q = max(html_q, quality)
        elif media_type in ("*/*", "text/*"):
            wildcard_q = max(wildcard_q, quality)
    return json_q > max(html_q, wildcard_q)


def object_key(path: str, accept: str | None = None, *, index_html: bool = False) -> str:
    """The object key that answers a GET of `path` (URL-encoded, starting with `/`)."""
    path = urllib.parse.unquote(path.split("?", 1)[0].split("#", 1)[0])
    if not path.startswith("/"):
        path = "/" + path
    if path.endswith("/"):
        if wants_json(accept):
            path += "index.json"
        elif index_html or path == "/":
            path += "index.html"
    return path[1:]
