"""The page logic alone, fast, against a local directory: compare-and-swap updates, pages a
killed publisher or another tool left behind, and the plans reindex makes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from s3pypi_core._inventory import take_inventory
from s3pypi_core._pages import PageStore
from s3pypi_core._reindex import CLOCK_SKEW, _apply, _Plan, _plan, _why_read
from s3pypi_core.index import Hash, Index, IndexFile
from s3pypi_core.layout import HTML_CONTENT_TYPE, PAGE_CACHE_CONTROL, IndexLayout
from s3pypi_core.storage import LocalStorage, StoredObject
from tests.distributions import SampleProject

LAYOUT = IndexLayout()
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def record(filename: str, **fields: Any) -> IndexFile:
    """A record as publishing writes it (hash, size, upload time, metadata file)."""
    complete = IndexFile(
        filename,
        hash=Hash("sha256", "ab" * 32),
        size=100,
        upload_time=T0,
        core_metadata=Hash("sha256", "cd" * 32),
    )
    return replace(complete, **fields)


def add(*records: IndexFile) -> Callable[[Index], bool]:
    def change(index: Index) -> bool:
        new = [r for r in records if index.files.get(r.filename) != r]
        index.files.update((r.filename, r) for r in new)
        return bool(new)

    return change


def test_a_new_page_is_written_in_both_forms_with_one_serial(tmp_path: Path) -> None:
    pages = PageStore(LocalStorage(tmp_path), LAYOUT)

    pages.update_project("hello", add(record("hello-1.0.tar.gz")))

    html = (tmp_path / "hello" / "index.html").read_text()
    as_json = Index.from_json((tmp_path / "hello" / "index.json").read_bytes())
    assert list(as_json.files) == ["hello-1.0.tar.gz"]
    assert as_json.serial == 1
    assert html.endswith("<!--SERIAL 1-->\n")
    again = pages.read_project("hello")
    assert again.html_current
    assert again.json_current


def test_an_unchanged_page_is_not_written_again(tmp_path: Path) -> None:
    pages = PageStore(LocalStorage(tmp_path), LAYOUT)
    pages.update_project("hello", add(record("hello-1.0.tar.gz")))
    before = (tmp_path / "hello" / "index.json").stat().st_mtime_ns

    pages.update_project("hello", add(record("hello-1.0.tar.gz")))

    assert (tmp_path / "hello" / "index.json").stat().st_mtime_ns == before
    assert pages.read_project("hello").page.serial == 1


def test_racing_updates_all_land(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    filenames = [f"hello-1.{n}.tar.gz" for n in range(16)]
    start = threading.Barrier(len(filenames))

    def publish(filename: str) -> None:
        pages = PageStore(storage, LAYOUT)  # each its own reader, as separate processes
        start.wait()
        pages.update_project("hello", add(record(filename)))

    threads = [threading.Thread(target=publish, args=(f,)) for f in filenames]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    page = PageStore(storage, LAYOUT).read_project("hello")
    assert sorted(page.page.files) == sorted(filenames)
    assert page.html_current
    assert page.json_current


def test_an_html_page_behind_its_json_page_is_mended_by_the_next_update(tmp_path: Path) -> None:
    """A publisher killed between its two page writes leaves the HTML page one serial behind."""
    storage = LocalStorage(tmp_path)
    pages = PageStore(storage, LAYOUT)
    pages.update_project("hello", add(record("hello-1.0.tar.gz")))
    stale_html = (tmp_path / "hello" / "index.html").read_bytes()
    pages.update_project("hello", add(record("hello-1.1.tar.gz")))
    (tmp_path / "hello" / "index.html").write_bytes(stale_html)

    behind = pages.read_project("hello")
    assert behind.json_current
    assert not behind.html_current

    pages.update_project("hello", add())

    html = Index.parse((tmp_path / "hello" / "index.html").read_text())
    assert sorted(html.files) == ["hello-1.0.tar.gz", "hello-1.1.tar.gz"]


def test_a_page_rewritten_by_another_tool_is_merged_not_overwritten(tmp_path: Path) -> None:
    """s3pypi 2.x rewrites the HTML page (no serial) with a file it added: the file is kept, and
    what the JSON page knew of the others too."""
    storage = LocalStorage(tmp_path)
    pages = PageStore(storage, LAYOUT)
    ours = record("hello-1.0.tar.gz", yanked="broken")
    pages.update_project("hello", add(ours))
    foreign = Index({"hello-1.0.tar.gz": ours.hash, "hello-2.0.tar.gz": None}, name="hello")
    storage.put(
        "hello/",
        foreign.to_html().split("<!--SERIAL")[0].encode(),
        content_type=HTML_CONTENT_TYPE,
        cache_control=PAGE_CACHE_CONTROL,
    )

    merged = pages.read_project("hello")

    assert not merged.json_current
    assert merged.page.files["hello-1.0.tar.gz"] == ours
    assert merged.page.files["hello-2.0.tar.gz"] == IndexFile("hello-2.0.tar.gz")


def test_an_emptied_page_is_deleted(tmp_path: Path) -> None:
    pages = PageStore(LocalStorage(tmp_path), LAYOUT)
    pages.update_project("hello", add(record("hello-1.0.tar.gz")))

    def remove_all(index: Index) -> bool:
        index.files.clear()
        return True

    page = pages.update_project("hello", remove_all, create=False, delete_if_empty=True)

    assert not page.exists
    assert not (tmp_path / "hello" / "index.json").exists()
    assert not (tmp_path / "hello" / "index.html").exists()


# What reindex reads again, and how its plan meets a page that changed meanwhile.


def stored(size: int = 100, modified: datetime = T0) -> StoredObject:
    return StoredObject(key="hello/hello-1.0.tar.gz", etag='"x"', size=size, last_modified=modified)


def test_a_complete_record_needs_no_download() -> None:
    assert _why_read(record("hello-1.0.tar.gz"), stored(), has_metadata=True) is None


def test_what_makes_reindex_read_a_file_again() -> None:
    known = record("hello-1.0.tar.gz")
    assert _why_read(None, stored(), True) == "not on the page"
    assert _why_read(IndexFile("hello-1.0.tar.gz"), stored(), True) == (
        "listed without size or upload time, e.g. by s3pypi 2.x"
    )
    assert _why_read(known, stored(size=99), True) == "99 bytes, the page says 100"
    late = T0 + CLOCK_SKEW + timedelta(seconds=1)
    assert _why_read(known, stored(modified=late), True) == "replaced after it was listed"
    assert _why_read(known, stored(modified=T0 + CLOCK_SKEW), True) is None  # clock skew
    assert _why_read(known, stored(), has_metadata=False) == "its .metadata file is missing"


def test_a_plan_is_made_without_writing(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "index")
    wheel = SampleProject("hello", tmp_path / "dist").wheel("1.0")
    (tmp_path / "index" / "hello").mkdir(parents=True)
    (tmp_path / "index" / "hello" / wheel.name).write_bytes(wheel.read_bytes())
    before = sorted(p.name for p in (tmp_path / "index" / "hello").iterdir())
    objects = take_inventory(storage, LAYOUT).project("hello")

    plan = _plan(storage, LAYOUT, objects, Index(name="hello"), rehash=False)

    assert sorted(p.name for p in (tmp_path / "index" / "hello").iterdir()) == before
    assert list(plan.records) == [wheel.name]
    assert plan.records[wheel.name].core_metadata is not None
    assert list(plan.metadata) == [wheel.name]
    assert plan.changes == [f"listed {wheel.name}"]


def test_applying_a_plan_keeps_what_publishers_did_meanwhile() -> None:
    planned = record("hello-1.0.tar.gz", size=100)
    plan = _Plan(
        records={"hello-1.0.tar.gz": planned, "hello-1.1.tar.gz": record("hello-1.1.tar.gz")},
        based_on={},
        gone={"hello-0.9.tar.gz"},
    )
    # Meanwhile a publisher listed 1.1 with other bytes (--force), and 0.9 is still listed.
    theirs = record("hello-1.1.tar.gz", hash=Hash("sha256", "ef" * 32))
    page = Index(
        {"hello-1.1.tar.gz": theirs, "hello-0.9.tar.gz": record("hello-0.9.tar.gz")},
        name="hello",
    )

    assert _apply(page, plan)
    assert page.files == {"hello-1.0.tar.gz": planned, "hello-1.1.tar.gz": theirs}
    assert not _apply(page, plan)  # idempotent, as compare-and-swap retries need


def test_a_yank_made_meanwhile_stands() -> None:
    planned = record("hello-1.0.tar.gz")
    plan = _Plan(records={"hello-1.0.tar.gz": planned}, based_on={"hello-1.0.tar.gz": planned})
    page = Index({"hello-1.0.tar.gz": record("hello-1.0.tar.gz", yanked="bad")}, name="hello")

    assert not _apply(page, plan)
    assert page.files["hello-1.0.tar.gz"].yanked == "bad"
