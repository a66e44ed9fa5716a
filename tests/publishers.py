"""Helpers for the safety tests: publishers as real processes, and what a correct index holds."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from s3pypi_core.distribution import sha256_of
from s3pypi_core.index import Index, RootIndex
from s3pypi_core.layout import IndexLayout
from tests.conftest import Bucket

ROOT = Path(__file__).parent.parent


@dataclass
class Finished:
    args: Sequence[str]
    returncode: int
    """Negative: killed by that signal."""
    stdout: str
    stderr: str


class Publishers:
    """`s3pypi` processes that start their commands together, on `release()`.

    They are forked by one `tests.publisher_process`, which imports boto3 once for all.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.commands: list[tuple[list[str], dict[str, str]]] = []
        self.pids: list[int] = []
        self._server: subprocess.Popen[str] | None = None

    def add(self, *args: str | Path, env: dict[str, str] | None = None) -> int:
        """Add a command (`upload ...`); returns its number."""
        self.commands.append(([str(a) for a in args], env or {}))
        return len(self.commands) - 1

    def start(self) -> list[int]:
        """Fork a process per command, each waiting for `release()`; their process ids."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        server = self._server = subprocess.Popen(
            [sys.executable, "-m", "tests.publisher_process"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdin is not None
        assert server.stdout is not None
        for i, (argv, env) in enumerate(self.commands):
            spec = {"argv": argv, "env": env, "out": str(self.workdir / f"publisher-{i}")}
            server.stdin.write(json.dumps(spec) + "\n")
        server.stdin.write("\n")
        server.stdin.flush()
        self.pids = [int(server.stdout.readline().split()[1]) for _ in self.commands]
        assert server.stdout.readline() == "ready\n"
        return self.pids

    def release(self) -> None:
        if not self.pids:
            self.start()
        assert self._server is not None
        assert self._server.stdin is not None
        self._server.stdin.write("go\n")
        self._server.stdin.flush()

    def wait(self, timeout: float = 120) -> list[Finished]:
        assert self._server is not None
        output, _ = self._server.communicate(timeout=timeout)
        codes = {}
        for line in output.splitlines():
            _exit, pid, code = line.split()
            codes[int(pid)] = int(code)
        finished = []
        for i, (argv, _env) in enumerate(self.commands):
            out = self.workdir / f"publisher-{i}"
            finished.append(
                Finished(
                    argv,
                    codes[self.pids[i]],
                    Path(f"{out}.stdout").read_text(),
                    Path(f"{out}.stderr").read_text(),
                )
            )
        return finished


def hashes(paths: Sequence[Path]) -> dict[str, str]:
    """Filename -> sha256 of local distribution files."""
    return {path.name: sha256_of(path)[0] for path in paths}


def read_pages(
    bucket: Bucket, project: str, layout: IndexLayout | None = None
) -> tuple[Index, Index]:
    """The HTML and JSON pages of a project, parsed."""
    layout = layout or IndexLayout()
    html = Index.parse(bucket.text(layout.project_html(project)))
    json_page = Index.from_json(bucket.read(layout.project_json(project)))
    return html, json_page


def assert_project_lists(
    bucket: Bucket, project: str, expected: dict[str, str], layout: IndexLayout | None = None
) -> None:
    """Both pages list exactly `expected` (filename -> sha256), agree, and name real objects."""
    layout = layout or IndexLayout()
    html, json_page = read_pages(bucket, project, layout)
    for page in (html, json_page):
        assert {f.filename: f.hash.value if f.hash else None for f in page.files.values()} == (
            expected
        )
    assert html.serial == json_page.serial
    for f in json_page.files.values():
        assert html.files[f.filename].core_metadata == f.core_metadata
        assert html.files[f.filename].requires_python == f.requires_python
    keys = set(bucket.keys())
    for filename in expected:
        assert layout.file(project, filename) in keys


def assert_root_lists(
    bucket: Bucket, projects: set[str], layout: IndexLayout | None = None
) -> None:
    layout = layout or IndexLayout()
    html = RootIndex.parse(bucket.text(layout.root_html()))
    json_page = RootIndex.from_json(bucket.read(layout.root_json()))
    assert html.projects == json_page.projects == projects
    assert html.serial == json_page.serial


def dangling_entries(bucket: Bucket, layout: IndexLayout | None = None) -> list[str]:
    """Everything a page names that is not in the bucket: files, metadata files, projects."""
    layout = layout or IndexLayout()
    keys = set(bucket.keys())
    dangling = []
    projects = {key.split("/")[0] for key in keys if "/" in key}
    for project in sorted(projects):
        pages = [
            Index.parse(bucket.text(key))
            if key.endswith("/")
            else Index.from_json(bucket.read(key))
            for key in (layout.project_html(project), layout.project_json(project))
            if key in keys
        ]
        for page in pages:
            for f in page.files.values():
                if layout.file(project, f.filename) not in keys:
                    dangling.append(layout.file(project, f.filename))
                if f.core_metadata and layout.metadata(project, f.filename) not in keys:
                    dangling.append(layout.metadata(project, f.filename))
    roots = []
    if layout.root_html() in keys:
        roots.append(RootIndex.parse(bucket.text(layout.root_html())))
    if layout.root_json() in keys:
        roots.append(RootIndex.from_json(bucket.read(layout.root_json())))
    for root in roots:
        for project in root.projects:
            if layout.project_json(project) not in keys:
                dangling.append(layout.project_dir(project))
    return sorted(set(dangling))


def unlisted_files(bucket: Bucket, layout: IndexLayout | None = None) -> list[str]:
    """Distribution files that no page of their project names."""
    layout = layout or IndexLayout()
    keys = set(bucket.keys())
    unlisted = []
    for key in sorted(keys):
        project, _, filename = key.rpartition("/")
        if not project or not filename.endswith((".whl", ".tar.gz")):
            continue
        listed: set[str] = set()
        if layout.project_html(project) in keys:
            listed |= set(Index.parse(bucket.text(layout.project_html(project))).files)
        if layout.project_json(project) in keys:
            listed |= set(Index.from_json(bucket.read(layout.project_json(project))).files)
        if filename not in listed:
            unlisted.append(key)
    return unlisted
