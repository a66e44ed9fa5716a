"""Buckets that already hold N projects, as each tool would have left them.

Seeding by publishing 2,000 projects with s3pypi 2.x would take minutes, so the objects are
written directly, in each tool's own format: our pages rendered by `s3pypi_core.index` (HTML and
JSON, with the `.metadata` files), 2.x's rendered by 2.x's own `Index.to_html` in its virtual
environment. Every project holds one wheel. Seeding goes straight to moto, around the proxy,
so it is never counted.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.dists import wheel_bytes
from s3pypi_core.distribution import Distribution
from s3pypi_core.index import Hash, Index, IndexFile, RootIndex
from s3pypi_core.layout import FILE_CACHE_CONTROL, PAGE_CACHE_CONTROL, IndexLayout, content_type_for

SEED_VERSION = "1.0.0"
_UPLOAD_TIME = datetime(2026, 1, 1, tzinfo=timezone.utc)

# 2.x's own rendering, run with 2.x's python: {key: {filename: sha256}} on stdin -> {key: html}.
_RENDER_2X = """
import json, sys
from s3pypi.index import Hash, Index
pages = json.load(sys.stdin)
out = {
    key: Index({f: Hash("sha256", h) if h else None for f, h in files.items()}).to_html()
    for key, files in pages.items()
}
json.dump(out, sys.stdout)
"""
_2X_PAGE_CACHE_CONTROL = "public, must-revalidate, proxy-revalidate, max-age=0"


@dataclass(frozen=True)
class Put:
    key: str
    body: bytes
    content_type: str
    cache_control: str


def project_name(i: int) -> str:
    return f"proj-{i:05d}"


def _wheels(count: int, workdir: Path) -> Iterator[tuple[str, Distribution]]:
    """Each project's wheel, read as our tool reads it (so records hold what it would)."""
    workdir.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        name = project_name(i)
        filename, data = wheel_bytes(name, SEED_VERSION)
        path = workdir / filename
        path.write_bytes(data)
        yield name, Distribution.read(path)


def ours(count: int, workdir: Path) -> list[Put]:
    layout = IndexLayout()
    puts = []
    for name, dist in _wheels(count, workdir):
        file_key = layout.file(name, dist.filename)
        record = IndexFile(
            filename=dist.filename,
            hash=Hash("sha256", dist.sha256),
            requires_python=dist.requires_python,
            core_metadata=Hash("sha256", hashlib.sha256(dist.metadata).hexdigest()),
            size=dist.size,
            upload_time=_UPLOAD_TIME,
        )
        page = Index(files={dist.filename: record}, name=name, serial=1)
        puts += [
            Put(file_key, dist.path.read_bytes(), content_type_for(file_key), FILE_CACHE_CONTROL),
            Put(
                layout.metadata(name, dist.filename),
                dist.metadata,
                content_type_for(".metadata"),
                FILE_CACHE_CONTROL,
            ),
            *_pages(layout.project_html(name), layout.project_json(name), page),
        ]
    root = RootIndex(projects={project_name(i) for i in range(count)}, serial=count)
    return puts + _pages(layout.root_html(), layout.root_json(), root)


def _pages(html_key: str, json_key: str, page: Index | RootIndex) -> list[Put]:
    return [
        Put(json_key, page.to_json().encode(), content_type_for(json_key), PAGE_CACHE_CONTROL),
        Put(html_key, page.to_html().encode(), content_type_for(html_key), PAGE_CACHE_CONTROL),
    ]


def theirs(count: int, workdir: Path, python: Path) -> list[Put]:
    """2.x's bucket: `NAME/FILE`, the page `NAME/`, and `index.html` listing `NAME/`s."""
    puts, pages = [], {}
    for name, dist in _wheels(count, workdir):
        puts.append(
            Put(f"{name}/{dist.filename}", dist.path.read_bytes(), "application/x-gzip", "")
        )
        pages[f"{name}/"] = {dist.filename: dist.sha256}
    pages["index.html"] = {f"{project_name(i)}/": "" for i in range(count)}
    rendered = subprocess.run(
        [str(python), "-c", _RENDER_2X],
        input=json.dumps(pages),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for key, html in json.loads(rendered).items():
        puts.append(Put(key, html.encode(), "text/html", _2X_PAGE_CACHE_CONTROL))
    return puts


def write(client: Any, bucket: str, puts: list[Put]) -> None:
    def put(item: Put) -> None:
        args = {"ContentType": item.content_type}
        if item.cache_control:
            args["CacheControl"] = item.cache_control
        client.put_object(Bucket=bucket, Key=item.key, Body=item.body, **args)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, puts))
