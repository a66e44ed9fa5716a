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
def log_to_stderr(verbose: bool, *, propagate: bool = True) -> Iterator[None]:
    """While a command runs: the `s3pypi` logger's lines on stderr (debug with `verbose`).

    Records still reach the root logger (an embedding program's handlers, pytest's capture),
    unless `propagate` is false (for a front end whose root handler prints them itself). When
    the root logger already prints to stderr (`logging.basicConfig()`, as s3pypi 2.x called),
    no second handler is added, so each line is printed once.
    """
    logger = logging.getLogger(__prog__)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogFormatter("%(message)s"))
    install = not propagate or not _root_prints_to_stderr()
    saved = logger.level, logger.propagate
    if install:
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = propagate
    try:
        yield
    finally:
        if install:
            logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def _root_prints_to_stderr() -> bool:
    return any(
        type(handler) is logging.StreamHandler and handler.stream in (sys.stderr, sys.__stderr__)
        for handler in logging.getLogger().handlers
    )


def format_size(size: int) -> str:
    """A size as a person reads it: `512 bytes`, `1.5 kB`, `2.3 MB` (decimal units, as pip)."""
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
