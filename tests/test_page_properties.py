"""Property-based tests of the page readers: any bytes give a page or `DamagedPage`, never
another exception, and every page we write reads back as it was."""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from s3pypi_core.exceptions import DamagedPage
from s3pypi_core.index import Hash, Index, IndexFile, RootIndex

READERS: list[Callable[[bytes], object]] = [
    Index.from_json,
    Index.from_html,
    Index.parse,
    RootIndex.from_json,
    RootIndex.from_html,
    RootIndex.parse,
]


def read_all(body: bytes) -> None:
    for read in READERS:
        message = ""
        try:
            read(body)
        except DamagedPage as e:
            message = str(e)
        assert "\n" not in message


@given(st.binary(max_size=2000))
@example(b"[" * 100_000)  # nested past the recursion limit
@example(b'{"files": [{"size": ' + b"9" * 5000 + b"}]}")  # past int's digit limit
@example(b"<a href='x'><!--")
@example(b"\xef\xbb\xbf{}")  # a byte order mark
def test_any_bytes_are_a_page_or_damaged(body: bytes) -> None:
    read_all(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
FILE_KEYS = [
    "filename",
    "hashes",
    "requires-python",
    "core-metadata",
    "dist-info-metadata",
    "yanked",
    "size",
    "upload-time",
    "url",
]


def file_entries() -> st.SearchStrategy[dict[str, Any]]:
    """Entries with the fields of a real one, each of any JSON type (or a plausible value)."""
    plausible = {
        "filename": st.sampled_from(["a-1.0.tar.gz", "", "../x", "a/b", "."]),
        "hashes": st.fixed_dictionaries({"sha256": st.text(string.hexdigits, max_size=70)}),
        "upload-time": st.sampled_from(
            ["2024-01-01T00:00:00.000000Z", "2024-01-01T00:00:00Z", "yesterday"]
        ),
        "core-metadata": st.sampled_from([True, False, {"sha256": "0" * 64}, {"sha256": 1}]),
    }
    return st.dictionaries(
        st.sampled_from(FILE_KEYS),
        st.deferred(lambda: json_values),
        max_size=len(FILE_KEYS),
    ).flatmap(
        lambda entry: st.fixed_dictionaries(
            {
                k: plausible[k] | st.just(v) if k in plausible else st.just(v)
                for k, v in entry.items()
            }
        )
    )


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "files": st.lists(file_entries(), max_size=3) | json_values,
            "projects": st.lists(
                st.fixed_dictionaries({"name": st.text(max_size=10)}) | json_values, max_size=3
            )
            | json_values,
            "name": json_values,
            "meta": st.fixed_dictionaries({"_last-serial": json_values}) | json_values,
        },
    )
    | json_values
)
def test_any_json_is_a_page_or_damaged(data: object) -> None:
    read_all(json.dumps(data).encode())


@given(st.text(max_size=400), st.integers(0, 400), st.sampled_from(["<a href=", "</html>", "#"]))
def test_any_html_is_a_page_or_damaged(text: str, at: int, insert: str) -> None:
    read_all((text[:at] + insert + text[at:]).encode("utf-8", "surrogatepass"))


# Round trips

filenames = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"),
    min_size=1,
    max_size=40,
).filter(lambda name: name not in (".", "..") and name.strip() == name)
hex_digests = st.text("0123456789abcdef", min_size=64, max_size=64)
texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30)
times = st.datetimes(
    min_value=datetime(1980, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)
)


@st.composite
def records(draw: st.DrawFn) -> IndexFile:
    digest = draw(st.none() | hex_digests)
    metadata = draw(st.none() | hex_digests)
    return IndexFile(
        filename=draw(filenames),
        hash=Hash("sha256", digest) if digest else None,
        requires_python=draw(st.none() | texts),
        core_metadata=Hash("sha256", metadata) if metadata else None,
        yanked=draw(st.none() | st.just("") | texts),
        size=draw(st.none() | st.integers(0, 2**40)),
        upload_time=draw(st.none() | times),
    )


@st.composite
def project_pages(draw: st.DrawFn) -> Index:
    files = draw(st.lists(records(), max_size=5, unique_by=lambda r: r.filename))
    name = draw(st.text(string.ascii_lowercase + "-", max_size=20).map(lambda n: n.strip("-")))
    return Index({f.filename: f for f in files}, name=name, serial=draw(st.integers(0, 2**31)))


@settings(max_examples=200)
@given(project_pages())
def test_a_project_page_reads_back_from_json_and_html(page: Index) -> None:
    as_json = Index.from_json(page.to_json().encode())
    assert (as_json.files, as_json.name, as_json.serial) == (page.files, page.name, page.serial)

    as_html = Index.from_html(page.to_html().encode())
    without_json_only = {
        name: IndexFile(
            f.filename, f.hash, f.requires_python, f.core_metadata, f.yanked, None, None
        )
        for name, f in page.files.items()
    }
    assert (as_html.files, as_html.name, as_html.serial) == (
        without_json_only,
        page.name,
        page.serial,
    )


project_names = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True).filter(
    lambda n: "--" not in n
)


@given(st.sets(project_names, max_size=8), st.integers(0, 2**31))
def test_a_root_page_reads_back_from_json_and_html(projects: set[str], serial: int) -> None:
    root = RootIndex(projects=projects, serial=serial)
    assert RootIndex.from_json(root.to_json().encode()) == root
    assert RootIndex.from_html(root.to_html().encode()) == root
