"""MkDocs hook: `<!-- argparse-help: MODULE:FUNCTION PROG -->` becomes that parser's --help.

`FUNCTION(PROG)` returns an `argparse.ArgumentParser`; its help is rendered at a fixed width,
so the page does not depend on the terminal that builds the site.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
from typing import Any

MARKER = re.compile(r"^<!-- argparse-help: (?P<target>[\w.]+:\w+) (?P<prog>[^>]+?) -->$", re.M)
WIDTH = "100"


def _help(match: re.Match[str]) -> str:
    module, function = match["target"].split(":")
    build = getattr(importlib.import_module(module), function)
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH  # argparse wraps to the terminal's width
    try:
        parser: argparse.ArgumentParser = build(match["prog"])
        text = parser.format_help()
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    return f"```text\n{text.rstrip()}\n```"


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return MARKER.sub(_help, markdown)
