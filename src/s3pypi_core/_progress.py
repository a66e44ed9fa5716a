"""Download progress bars for `s3pypi mirror`, drawn by rich (which `s3pypi[twine]` brings).

Imported only when rich is installed and stderr is a terminal; otherwise the mirror logs one
line per file (`MirrorObserver`).
"""

from __future__ import annotations

import threading

import rich.progress
from rich.console import Console

from s3pypi_core.mirroring import MirroredFile, MirrorObserver


class DownloadBars(MirrorObserver):
    """One bar per file being downloaded (several at a time, so each carries its name)."""

    def __init__(self, console: Console | None = None) -> None:
        self._bars = rich.progress.Progress(
            rich.progress.TextColumn("{task.description}"),
            rich.progress.BarColumn(),
            rich.progress.DownloadColumn(),
            "•",
            rich.progress.TimeRemainingColumn(compact=True, elapsed_when_finished=True),
            "•",
            rich.progress.TransferSpeedColumn(),
            console=console or Console(stderr=True),
        )
        self._tasks: dict[str, rich.progress.TaskID] = {}
        self._lock = threading.Lock()

    def starting(self, file: MirroredFile) -> None:
        with self._lock:
            if not self._tasks:
                self._bars.start()
            self._tasks[file.filename] = self._bars.add_task(file.filename, total=file.size)

    def progress(self, file: MirroredFile, nbytes: int) -> None:
        self._bars.advance(self._tasks[file.filename], nbytes)

    def finished(self, file: MirroredFile) -> None:
        task = self._tasks[file.filename]
        total = self._bars.tasks[task].completed if file.size is None else file.size
        self._bars.update(task, total=total, completed=total)

    def close(self) -> None:
        with self._lock:
            if self._tasks:
                self._bars.stop()
