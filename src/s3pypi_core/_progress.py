"""Progress bars drawn by rich (which `s3pypi[twine]` brings): `s3pypi mirror`'s downloads, and
the bars `s3pypi-twine` shows for uploads.

Imported only when rich is installed and stderr is a terminal; otherwise the mirror logs one
line per file (`MirrorObserver`).
"""

from __future__ import annotations

import threading

import rich.progress
from rich.console import Console

from s3pypi_core.mirroring import MirroredFile, MirrorObserver


def transfer_bars(console: Console, *, disable: bool = False) -> rich.progress.Progress:
    """Bars for files moving (twine's columns), each named by its task's description: several
    files move at once. Uploads (`s3pypi-twine`) and downloads (`s3pypi mirror`) alike."""
    return rich.progress.Progress(
        rich.progress.TextColumn("{task.description}"),
        "[progress.percentage]{task.percentage:>3.0f}%",
        rich.progress.BarColumn(),
        rich.progress.DownloadColumn(),
        "•",
        rich.progress.TimeRemainingColumn(compact=True, elapsed_when_finished=True),
        "•",
        rich.progress.TransferSpeedColumn(),
        console=console,
        disable=disable,
    )


class DownloadBars(MirrorObserver):
    """One bar per file being downloaded (several at a time, so each carries its name)."""

    def __init__(self, console: Console | None = None) -> None:
        self._bars = transfer_bars(console or Console(stderr=True))
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
