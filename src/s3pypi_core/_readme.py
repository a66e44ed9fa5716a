"""A release's README, rendered once at publish time the way PyPI renders it.

`readme_renderer` (PyPI's own renderer) turns the long description into HTML by its declared
content type (Markdown in the GFM or CommonMark variant, reStructuredText, plain text) and
sanitises the result (nh3): no script, event handler, `javascript:` URL or form survives, so
the view can insert it as it is. Rendering never fails a publish: a description that does not
render as declared is shown as plain text, like PyPI does.
"""

from __future__ import annotations

import email.message
import logging
import warnings

from s3pypi_core import __prog__

log = logging.getLogger(__prog__)

MAX_RENDERED_CHARS = 512 * 1024
"""Longer descriptions are shown as plain text: rendering reStructuredText is slow enough
(a second per few hundred KiB) that a huge README could hold up a publish."""


def render_readme(description: str | None, content_type: str | None) -> str:
    """Sanitised HTML for a long description ("" when there is none)."""
    if not description or not description.strip():
        return ""
    media_type, params = _parse_content_type(content_type)
    if len(description) > MAX_RENDERED_CHARS:
        return _plain(description)
    try:
        rendered = _render(description, media_type, params)
    except Exception as e:  # a renderer's bug must not stop a publish
        log.warning("Cannot render the README (%s): %s; shown as plain text", media_type, e)
        rendered = None
    return rendered if rendered is not None else _plain(description)


def _render(description: str, media_type: str, params: dict[str, str]) -> str | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # readme_renderer warns through `warnings`
        if media_type == "text/markdown":
            from readme_renderer import markdown

            return markdown.render(description, variant=params.get("variant", "GFM"))
        if media_type == "text/plain":
            return _plain(description)
        from readme_renderer import rst

        return rst.render(description)


def _plain(description: str) -> str:
    from readme_renderer import txt

    return txt.render(description) or ""


def _parse_content_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """`text/markdown; variant=GFM` -> ("text/markdown", {"variant": "GFM"}); PyPI's default
    for a description without a content type is reStructuredText."""
    message = email.message.Message()
    message["Content-Type"] = content_type or "text/x-rst"
    params = {k.lower(): str(v) for k, v in message.get_params(failobj=[])[1:]}
    return message.get_content_type(), params
