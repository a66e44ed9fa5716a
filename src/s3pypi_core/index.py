"""The index: one record per file, rendered as the simple repository API in HTML and JSON.

A project page is an `Index`; the page listing all projects is a `RootIndex`. Both render to
HTML (PEP 503, with the PEP 592/629/658/714 attributes) and to JSON (PEP 691 with the PEP 700
fields) from the same records, so the two never disagree, and both parse back from either form.
Where they live in a bucket is the job of `s3pypi_core.layout`.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import urllib.parse
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar

from packaging.utils import InvalidName, canonicalize_name
from packaging.version import Version

from s3pypi_core.distribution import file_digest, parse_filename
from s3pypi_core.exceptions import DamagedPage, InvalidDistribution, one_line

API_VERSION = "1.1"

# PEP 700's upload-time as other indexes write it: fractions of any length or none, `Z` or an
# offset (ours is always `.ffffffZ`).
_UPLOAD_TIME = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6})\d*)?(Z|[+-]\d\d:\d\d)?", re.ASCII
)
_SERIAL_COMMENT = re.compile(r"<!--\s*SERIAL\s+(\d+)\s*-->")
_HEX = re.compile(r"[0-9a-fA-F]+")
PRIVATE_KEY = "_s3pypi"
"""Our index-specific data in a JSON page (PEP 691 leaves keys starting with `_` to the index)."""
MIRRORED_FROM_META = "s3pypi:mirrored-from"


@dataclass(frozen=True)
class Hash:
    name: str
    value: str

    @classmethod
    def of(cls, name: str, path: Path) -> Hash:
        """The digest of a file, read in chunks."""
        return cls(name, file_digest(path, name)[0])

    @classmethod
    def parse(cls, text: str) -> Hash | None:
        """`sha256=abc` -> Hash("sha256", "abc"); anything else (e.g. `true`) -> None."""
        name, sep, value = text.partition("=")
        return cls(name, value) if sep and name and value else None

    def __str__(self) -> str:
        return f"{self.name}={self.value}"

    def problem(self) -> str | None:
        """What is wrong with the form of a digest of a known algorithm (not hex, or not as
        long as the algorithm's); None when nothing is, or when the algorithm is unknown."""
        if self.name not in hashlib.algorithms_guaranteed or self.name.startswith("shake_"):
            return None
        length = hashlib.new(self.name).digest_size * 2
        if len(self.value) != length or not _HEX.fullmatch(self.value):
            return f"{self.name} digest {self.value[:80]!r} is not {length} hex digits"
        return None


@dataclass(frozen=True)
class IndexFile:
    """Everything the simple API says about one distribution file."""

    filename: str
    hash: Hash | None = None
    requires_python: str | None = None
    core_metadata: Hash | None = None
    """Hash of the `FILE.metadata` object (PEP 658), or None when there is none."""
    yanked: str | None = None
    """None when not yanked; the reason (possibly empty) when yanked (PEP 592)."""
    size: int | None = None
    upload_time: datetime | None = None

    @property
    def version(self) -> Version | None:
        try:
            return parse_filename(self.filename)[1]
        except InvalidDistribution:
            return None

    def _sort_key(self) -> tuple[int, Version, str]:
        version = self.version
        return (0, version, self.filename) if version else (1, Version("0"), self.filename)


class _HashView(MutableMapping[str, "Hash | None"]):
    """`Index.filenames`: filename -> hash, the 2.x view of an index, backed by its records."""

    def __init__(self, files: dict[str, IndexFile]) -> None:
        self._files = files

    def __getitem__(self, filename: str) -> Hash | None:
        return self._files[filename].hash

    def __setitem__(self, filename: str, value: Hash | None) -> None:
        old = self._files.get(filename)
        self._files[filename] = replace(old, hash=value) if old else IndexFile(filename, value)

    def __delitem__(self, filename: str) -> None:
        del self._files[filename]

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def __repr__(self) -> str:
        return repr(dict(self))


@dataclass(init=False)
class Index:
    """A project page: the files of one project.

    `files` maps each filename to its record; as in s3pypi 2.x, it may also map filenames to
    their hash (or None), `Index({"foo-1.0.tar.gz": None})`, and records are made of them.
    """

    files: dict[str, IndexFile]
    name: str
    serial: int
    """Bumped on every change; written into both pages so a stale or foreign page is told apart
    (like PyPI's `_last-serial`)."""
    mirrored_from: str | None = None
    """The index the project is copied from by `s3pypi mirror`; None for a project of ours."""

    def __init__(
        self,
        files: Mapping[str, IndexFile | Hash | None] | None = None,
        name: str = "",
        serial: int = 0,
        mirrored_from: str | None = None,
    ) -> None:
        self.files = {
            filename: value if isinstance(value, IndexFile) else IndexFile(filename, value)
            for filename, value in (files or {}).items()
        }
        self.name = name
        self.serial = serial
        self.mirrored_from = mirrored_from

    @property
    def filenames(self) -> MutableMapping[str, Hash | None]:
        """filename -> hash: s3pypi 2.x's view of a page, backed by the records."""
        return _HashView(self.files)

    @filenames.setter
    def filenames(self, hashes: Mapping[str, Hash | None]) -> None:
        """Replace the list of files (2.x's `index.filenames = {...}`); what the records knew
        about a file that stays, with the same hash, is kept."""
        files = {}
        for filename, value in hashes.items():
            old = self.files.get(filename)
            files[filename] = old if old and old.hash == value else IndexFile(filename, value)
        self.files = files

    def sorted_files(self) -> list[IndexFile]:
        return sorted(self.files.values(), key=IndexFile._sort_key)

    def versions(self) -> list[str]:
        found = {v for f in self.files.values() if (v := f.version) is not None}
        return [str(v) for v in sorted(found)]

    # HTML

    def to_html(self) -> str:
        title = f"Links for {self.name}" if self.name else "Links"
        lines = [_anchor(f) for f in self.sorted_files()]
        meta = {MIRRORED_FROM_META: self.mirrored_from} if self.mirrored_from else {}
        return _html_page(html.escape(title), lines, self.serial, meta)

    @classmethod
    def parse(cls, text: str | bytes) -> Index:
        """Read an HTML project page leniently: ours, s3pypi 2.x's, any PEP 503 page or a part
        of one. Raises `DamagedPage` only for bytes that are not UTF-8 or HTML the parser
        gives up on; `from_html` is the strict reading of a stored page."""
        return cls._from_anchors(_parse_html(text, strict=False))

    @classmethod
    def from_html(cls, body: str | bytes) -> Index:
        """Read a stored HTML project page; `DamagedPage` when it is not a whole, well-formed
        one: not UTF-8, cut short (no `</html>`), a file name that is not a plain name, a
        malformed digest."""
        return cls._from_anchors(_parse_html(body, strict=True))

    @classmethod
    def _from_anchors(cls, parsed: _ParsedHtml) -> Index:
        files: dict[str, IndexFile] = {}
        for attrs, _text in parsed.anchors:
            href = attrs.get("href") or ""
            url, _, fragment = href.partition("#")
            filename = urllib.parse.unquote(url.rstrip("/").rsplit("/", 1)[-1])
            if filename in ("", ".", ".."):
                continue  # a link to a directory, not to a file
            metadata = attrs.get("data-core-metadata") or attrs.get("data-dist-info-metadata")
            yanked = attrs.get("data-yanked")
            record = IndexFile(
                filename=filename,
                hash=Hash.parse(fragment),
                requires_python=attrs.get("data-requires-python"),
                core_metadata=Hash.parse(metadata) if metadata else None,
                yanked=yanked if "data-yanked" in attrs else None,
            )
            if parsed.strict:
                _check_html_record(record, fragment, metadata)
            files[filename] = record
        return cls(
            files=files,
            name=_title_name(parsed.title),
            serial=parsed.serial,
            mirrored_from=parsed.meta.get(MIRRORED_FROM_META),
        )

    # JSON

    def to_json(self) -> str:
        data = {
            "meta": {"api-version": API_VERSION, "_last-serial": self.serial},
            "name": self.name,
            "versions": self.versions(),
            "files": [_file_json(f) for f in self.sorted_files()],
        }
        if self.mirrored_from:
            data[PRIVATE_KEY] = {"mirrored-from": self.mirrored_from}
        return json.dumps(data, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Index:
        """Read a JSON project page (PEP 691, PEP 700); `DamagedPage` for anything that is not
        one: not JSON, the wrong shape, a field of the wrong type, a malformed digest or
        upload time, a file name that is not a plain name."""
        data = _load_json(text)
        files = {}
        for item in _required(data, "files", list):
            if not isinstance(item, dict):
                raise DamagedPage(f"a file entry is {_kind(item)}, not an object")
            filename = _plain_filename(_required(item, "filename", str))
            sha256 = _field(_field(item, "hashes", dict) or {}, "sha256", str)
            metadata = item.get("core-metadata", item.get("dist-info-metadata", False))
            yanked = item.get("yanked", False)
            if not isinstance(yanked, (bool, str)):
                raise DamagedPage(f"{filename}: 'yanked' is {_kind(yanked)}")
            size = item.get("size")
            if size is not None and (type(size) is not int or size < 0):
                raise DamagedPage(f"{filename}: 'size' is {_kind(size)}, not a size in bytes")
            upload_time = _field(item, "upload-time", str)
            record = IndexFile(
                filename=filename,
                hash=_checked_hash(filename, "sha256", sha256) if sha256 else None,
                requires_python=_field(item, "requires-python", str),
                core_metadata=_json_metadata_hash(filename, metadata),
                yanked=(yanked if isinstance(yanked, str) else "") if yanked else None,
                size=size,
                upload_time=_checked_upload_time(filename, upload_time) if upload_time else None,
            )
            files[filename] = record
        private = data.get(PRIVATE_KEY)
        mirrored_from = private.get("mirrored-from") if isinstance(private, dict) else None
        return cls(
            files=files,
            name=_field(data, "name", str) or "",
            serial=_serial_of(data),
            mirrored_from=mirrored_from if isinstance(mirrored_from, str) else None,
        )


@dataclass
class RootIndex:
    """The root page: every project in the index, by normalized name."""

    projects: set[str] = field(default_factory=set)
    serial: int = 0

    def to_html(self) -> str:
        lines = [
            f'<a href="{urllib.parse.quote(name)}/">{html.escape(name)}</a><br>'
            for name in sorted(self.projects)
        ]
        return _html_page("Simple index", lines, self.serial)

    @classmethod
    def parse(cls, text: str | bytes) -> RootIndex:
        """Read an HTML root page leniently (see `Index.parse`)."""
        return cls._from_anchors(_parse_html(text, strict=False))

    @classmethod
    def from_html(cls, body: str | bytes) -> RootIndex:
        """Read a stored HTML root page; `DamagedPage` when it is not UTF-8, cut short, or
        links to something that is not a project name."""
        return cls._from_anchors(_parse_html(body, strict=True))

    @classmethod
    def _from_anchors(cls, parsed: _ParsedHtml) -> RootIndex:
        projects: set[str] = set()
        for attrs, text_ in parsed.anchors:
            href = urllib.parse.unquote((attrs.get("href") or "").partition("#")[0])
            name = href.rstrip("/").rsplit("/", 1)[-1] or text_.strip()
            if name in ("", ".", ".."):
                continue
            if parsed.strict:
                _check_project_name(name)
            projects.add(canonicalize_name(name))
        return cls(projects=projects, serial=parsed.serial)

    def to_json(self) -> str:
        data = {
            "meta": {"api-version": API_VERSION, "_last-serial": self.serial},
            "projects": [{"name": name} for name in sorted(self.projects)],
        }
        return json.dumps(data, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> RootIndex:
        """Read a JSON root page; `DamagedPage` for anything that is not one."""
        data = _load_json(text)
        projects = set()
        for item in _required(data, "projects", list):
            if not isinstance(item, dict):
                raise DamagedPage(f"a project entry is {_kind(item)}, not an object")
            name = _required(item, "name", str)
            projects.add(str(canonicalize_name(_check_project_name(name))))
        return cls(projects=projects, serial=_serial_of(data))


def html_serial(text: str) -> int | None:
    """The serial our HTML pages end with, or None for a page written by another tool."""
    match = _SERIAL_COMMENT.search(text)
    return int(match.group(1)) if match else None


def format_upload_time(value: datetime) -> str:
    """PEP 700's `yyyy-mm-ddThh:mm:ss.ffffffZ`, in UTC (the year always in four digits)."""
    utc = value.astimezone(timezone.utc).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def parse_upload_time(text: str) -> datetime | None:
    """A PEP 700 upload-time as any index writes it, in UTC; None when it is not one."""
    match = _UPLOAD_TIME.fullmatch(text.strip()) if isinstance(text, str) else None
    if not match:
        return None
    seconds, fraction, zone = match.groups()
    offset = "+00:00" if zone in (None, "Z") else zone
    try:
        parsed = datetime.fromisoformat(f"{seconds}.{(fraction or '').ljust(6, '0')}{offset}")
    except ValueError:
        return None
    return parsed.astimezone(timezone.utc)


def _serial_of(data: dict[str, Any]) -> int:
    serial = _field(_field(data, "meta", dict) or {}, "_last-serial", int)
    if serial is None:
        return 0
    if serial < 0:
        raise DamagedPage(f"'_last-serial' is negative ({serial})")
    return serial


# Reading stored pages: every way one can be wrong is a DamagedPage.

_T = TypeVar("_T")


def _load_json(text: str | bytes) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except RecursionError:
        raise DamagedPage("not JSON (nested too deeply)") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        raise DamagedPage(f"not JSON ({one_line(e)})") from None
    if not isinstance(data, dict):
        raise DamagedPage(f"the page is {_kind(data)}, not an object")
    return data


def _kind(value: object) -> str:
    """A JSON value's type, for messages."""
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names |= {list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def _field(data: dict[str, Any], name: str, kind: type[_T]) -> _T | None:
    """`data[name]` when it is a `kind`; None when it is absent or null."""
    value = data.get(name)
    if value is None:
        return None
    # bool is an int to Python, not to JSON
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DamagedPage(f"{name!r} is {_kind(value)}, not {_kind(kind())}")
    return value


def _required(data: dict[str, Any], name: str, kind: type[_T]) -> _T:
    value = _field(data, name, kind)
    if value is None:
        raise DamagedPage(f"no {name!r}")
    return value


def _plain_filename(filename: str) -> str:
    if filename in ("", ".", "..") or any(c in filename for c in "/\\\0"):
        raise DamagedPage(f"{filename[:200]!r} is not a plain file name")
    return filename


def _checked_hash(filename: str, name: str, value: str) -> Hash:
    digest = Hash(name, value)
    if problem := digest.problem():
        raise DamagedPage(f"{filename}: {problem}")
    return digest


def _json_metadata_hash(filename: str, metadata: object) -> Hash | None:
    if isinstance(metadata, bool):
        return None  # true: there is one, with no digest given; false: there is none
    if not isinstance(metadata, dict):
        raise DamagedPage(f"{filename}: 'core-metadata' is {_kind(metadata)}")
    sha256 = _field(metadata, "sha256", str)
    return _checked_hash(filename, "sha256", sha256) if sha256 else None


def _checked_upload_time(filename: str, text: str) -> datetime:
    parsed = parse_upload_time(text)
    if parsed is None:
        raise DamagedPage(f"{filename}: 'upload-time' {text[:80]!r} is not a time (PEP 700)")
    return parsed


def _check_project_name(name: str) -> str:
    try:
        canonicalize_name(name, validate=True)
    except InvalidName:
        raise DamagedPage(f"{name[:200]!r} is not a project name") from None
    return name


def _check_html_record(record: IndexFile, fragment: str, metadata: str | None) -> None:
    filename = _plain_filename(record.filename)
    if fragment and record.hash is None:
        raise DamagedPage(f"{filename}: the link's fragment {fragment[:80]!r} is no digest")
    if record.hash and (problem := record.hash.problem()):
        raise DamagedPage(f"{filename}: {problem}")
    if metadata and metadata != "true":
        if record.core_metadata is None:
            raise DamagedPage(f"{filename}: data-core-metadata {metadata[:80]!r} is no digest")
        if problem := record.core_metadata.problem():
            raise DamagedPage(f"{filename}: data-core-metadata: {problem}")


@dataclass
class _ParsedHtml:
    anchors: list[tuple[dict[str, str], str]]
    title: str
    serial: int
    strict: bool
    meta: dict[str, str]


def _parse_html(body: str | bytes, *, strict: bool) -> _ParsedHtml:
    """The links of an HTML page. Strict (a stored page): it must be UTF-8 and end its
    `<html>` element, as every page s3pypi (any version) writes does; a page cut short
    would otherwise be taken as a list of fewer files."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DamagedPage(f"not UTF-8 ({one_line(e)})") from None
    else:
        text = body
    parser = _AnchorParser()
    try:
        parser.feed(text)
        parser.close()
    except Exception as e:  # whatever html.parser gives up with
        raise DamagedPage(f"not HTML ({type(e).__name__}: {one_line(e)})") from None
    if strict and not parser.ended_html:
        raise DamagedPage("cut short: no </html>")
    return _ParsedHtml(parser.anchors, parser.title, html_serial(text) or 0, strict, parser.meta)


def _anchor(f: IndexFile) -> str:
    href = urllib.parse.quote(f.filename)
    if f.hash:
        href += f"#{f.hash}"
    attrs = [("href", href)]
    if f.requires_python:
        attrs.append(("data-requires-python", f.requires_python))
    if f.yanked is not None:
        attrs.append(("data-yanked", f.yanked))
    if f.core_metadata:
        attrs.append(("data-core-metadata", str(f.core_metadata)))
        attrs.append(("data-dist-info-metadata", str(f.core_metadata)))
    # s3pypi 2.x reads an anchor with the regex `<a href=".+?((\w+)=(\w+))?">(.+)</a>`: the
    # file's hash is a `word=word` right before `">`, or none. So that a 2.x client sharing the
    # bucket keeps every hash when it rewrites the page, the anchor ends with the file's hash
    # (`data-hash`); without one it ends on `rel`, so that no metadata hash is taken for it.
    # (`rel="internal"`: hosted on this index, as in PEP 438.)
    attrs.append(("rel", "internal"))
    if f.hash:
        attrs.append(("data-hash", str(f.hash)))
    rendered = " ".join(f'{name}="{html.escape(value)}"' for name, value in attrs)
    return f"<a {rendered}>{html.escape(f.filename)}</a><br>"


def _html_page(
    title: str, lines: list[str], serial: int, meta: dict[str, str] | None = None
) -> str:
    body = "\n".join(f"    {line}" for line in lines)
    extra = "".join(
        f'    <meta name="{html.escape(name)}" content="{html.escape(value)}">\n'
        for name, value in (meta or {}).items()
    )
    return (
        "<!DOCTYPE html>\n"
        "<html>\n"
        "  <head>\n"
        '    <meta charset="UTF-8">\n'
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        f"{extra}"
        f"    <title>{title}</title>\n"
        "  </head>\n"
        "  <body>\n"
        f"    <h1>{title}</h1>\n"
        f"{body}\n"
        "  </body>\n"
        "</html>\n"
        f"<!--SERIAL {serial}-->\n"
    )


def _file_json(f: IndexFile) -> dict[str, Any]:
    metadata: dict[str, str] | bool = (
        {f.core_metadata.name: f.core_metadata.value} if f.core_metadata else False
    )
    item: dict[str, Any] = {
        "filename": f.filename,
        "url": urllib.parse.quote(f.filename),
        "hashes": {f.hash.name: f.hash.value} if f.hash else {},
        "requires-python": f.requires_python,
        "core-metadata": metadata,
        "dist-info-metadata": metadata,
        "yanked": (f.yanked or True) if f.yanked is not None else False,
    }
    if f.size is not None:
        item["size"] = f.size
    if f.upload_time is not None:
        item["upload-time"] = format_upload_time(f.upload_time)
    return item


def _title_name(title: str) -> str:
    return title.removeprefix("Links for ").strip() if title.startswith("Links for ") else ""


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[dict[str, str], str]] = []
        self.meta: dict[str, str] = {}
        """`<meta name=... content=...>` of the page."""
        self.title = ""
        self._in: str | None = None
        self._attrs: dict[str, str] = {}
        self._text: list[str] = []
        self.ended_html = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            found = dict(attrs)
            if found.get("name") and found.get("content") is not None:
                self.meta[found["name"] or ""] = found["content"] or ""
        if tag in ("a", "title"):
            self._in = tag
            self._attrs = {k: v or "" for k, v in attrs}
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "html":
            self.ended_html = True
        if tag == self._in == "a":
            self.anchors.append((self._attrs, "".join(self._text)))
        elif tag == self._in == "title":
            self.title = "".join(self._text).strip()
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self._text.append(data)
