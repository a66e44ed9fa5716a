"""The core's log lines as a command line shows them: plain lines on stderr."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

from s3pypi_core import __prog__


class LogFormatter(logging.Formatter):
    """Messages as they are; warnings and errors prefixed with their level, in lower case."""

    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        if record.levelno >= logging.WARNING:
            return f"{record.levelname.lower()}: {message}"
        return message


@contextlib.contextmanager
def log_to_stderr(verbose: bool) -> Iterator[None]:
    """While a command runs: the `s3pypi` logger's lines on stderr (debug with `verbose`)."""
    logger = logging.getLogger(__prog__)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogFormatter("%(message)s"))
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False  # a handler on the root logger (twine's) would print them twice
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
