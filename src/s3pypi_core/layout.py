"""Where the objects of an index live, and how they are served.

The same keys as s3pypi 2.x, so a bucket it wrote is upgraded in place: `[P/]NAME/FILE`,
`[P/]NAME/FILE.metadata`, project pages at `[P/]NAME/` (or `[P/]NAME/index.html`), the root
page at `P/` (or `P/index.html`, and `index.html` without a prefix), and the JSON pages beside
them. Each object is stored with the Content-Type and Cache-Control it is served with: pages
fresh, distributions and metadata files immutable.
"""

from __future__ import annotations

from dataclasses import dataclass

from s3pypi_core.routing import BROWSE_PAGE

JSON_CONTENT_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"
PYPI_JSON_CONTENT_TYPE = "application/json"

PAGE_CACHE_CONTROL = "public, max-age=0, must-revalidate"
FILE_CACHE_CONTROL = "public, max-age=31536000, immutable"

_CONTENT_TYPES = {
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".tar.gz": "application/gzip",
    ".tar.bz2": "application/x-bzip2",
    ".tar.xz": "application/x-xz",
    ".metadata": "text/plain; charset=utf-8",
    ".json": JSON_CONTENT_TYPE,
    ".html": HTML_CONTENT_TYPE,
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
_PAGE_NAMES = ("index.html", "index.json", BROWSE_PAGE, "json")
"""Objects rewritten in place (besides the `NAME/` pages): served fresh, never as immutable."""


def content_type_for(key: str) -> str:
    """The Content-Type an index object is served with (pages are keys ending in `/`)."""
    if key.endswith("/") or not key:
        return HTML_CONTENT_TYPE
    if key.rsplit("/", 1)[-1] == "json":  # PyPI's JSON API, `[P/]NAME[/VERSION]/json`
        return PYPI_JSON_CONTENT_TYPE
    for extension, content_type in _CONTENT_TYPES.items():
        if key.endswith(extension):
            return content_type
    return "application/octet-stream"


def cache_control_for(key: str) -> str:
    """The Cache-Control an index object is served with: pages fresh, files immutable."""
    name = key.rsplit("/", 1)[-1]
    is_page = not name or name in _PAGE_NAMES
    return PAGE_CACHE_CONTROL if is_page else FILE_CACHE_CONTROL


@dataclass(frozen=True)
class IndexLayout:
    """Where the pages and files of an index live, relative to the bucket (or directory) root.

    The same keys as s3pypi 2.x: `[P/]NAME/FILE`, project pages at `[P/]NAME/` (or
    `[P/]NAME/index.html`), the root page at `P/` (or `P/index.html`, and `index.html` without a
    prefix), plus the JSON pages and `.metadata` files beside them.
    """

    prefix: str = ""
    index_html: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefix", self.prefix.strip("/"))

    def _join(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def project_dir(self, project: str) -> str:
        return self._join(project) + "/"

    def file(self, project: str, filename: str) -> str:
        return self._join(project, filename)

    def metadata(self, project: str, filename: str) -> str:
        return self.file(project, filename) + ".metadata"

    def project_html(self, project: str) -> str:
        return self._join(project, "index.html") if self.index_html else self._join(project) + "/"

    def project_json(self, project: str) -> str:
        return self._join(project, "index.json")

    def root_html(self) -> str:
        if self.index_html or not self.prefix:
            return self._join("index.html")
        return self.prefix + "/"

    def root_json(self) -> str:
        return self._join("index.json")

    def browse_page(self, project: str | None = None) -> str:
        """The human view of a project (`[P/]NAME/browse.html`) or of the index
        (`[P/]browse.html`): what a browser gets for the page's URL (`routing`)."""
        return self._join(*([project] if project else []), BROWSE_PAGE)

    def view_asset(self, name: str) -> str:
        """A script or style of the human view: a file beside the root page (a directory
        there would be taken for a project by s3pypi 2.x's --put-root-index)."""
        return self._join(name)

    def pypi_project(self, project: str) -> str:
        """PyPI's project JSON (served at `/pypi/NAME/json` too): in the project's directory,
        where Renovate and Dependabot look when given the index URL."""
        return self._join(project, "json")

    def pypi_release(self, project: str, version: str) -> str:
        """PyPI's release JSON (served at `/pypi/NAME/VERSION/json` too)."""
        return self._join(project, version, "json")

    def files_prefix(self) -> str:
        """The key prefix under which all projects live."""
        return self.prefix + "/" if self.prefix else ""
