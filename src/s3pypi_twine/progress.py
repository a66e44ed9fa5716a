"""Progress as twine shows it: an "Uploading FILE" line and a rich progress bar per file."""

from __future__ import annotations

import sys
import threading
from types import TracebackType

import rich.progress
from rich.console import Console

from s3pypi_core._progress import transfer_bars
from s3pypi_core.distribution import Distribution
from s3pypi_core.publishing import UploadObserver


class ProgressObserver(UploadObserver):
    """Shows the files the core uploads (several at a time, so each bar carries its name)."""

    def __init__(self, console: Console, *, disable: bool) -> None:
        self.console = console
        self._bars = transfer_bars(console, disable=disable)
        self._tasks: dict[str, rich.progress.TaskID] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> ProgressObserver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._tasks:
            self._bars.stop()

    def starting(self, dist: Distribution) -> None:
        with self._lock:
            # Started with the first file: when every file is skipped, nothing is drawn.
            if not self._tasks:
                self._bars.start()
            self._bars.console.print(f"Uploading {dist.filename}", markup=False, soft_wrap=True)
            self._tasks[dist.filename] = self._bars.add_task(dist.filename, total=dist.size)

    def progress(self, dist: Distribution, nbytes: int) -> None:
        self._bars.advance(self._task(dist), nbytes)

    def finished(self, dist: Distribution) -> None:
        self._bars.update(self._task(dist), completed=dist.size)

    def skipped(self, dist: Distribution, reason: str) -> None:
        warn(f"Skipping {dist.filename} because it appears to already exist")

    def _task(self, dist: Distribution) -> rich.progress.TaskID:
        with self._lock:
            return self._tasks[dist.filename]


def warn(message: str) -> None:
    # Plain text on stderr: one line however long, never mixed into the bars on stdout.
    print(f"warning: {message}", file=sys.stderr, flush=True)
