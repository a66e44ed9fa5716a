"""Damaged distributions already in an index (written by s3pypi 2.x, or damaged since):
`verify --deep` finds them, `reindex` takes them off the pages (pip cannot install them) and
never stops at one, and `verify` then says exactly what is left and why. Metadata is read with
its bound, so a 256 MB `.metadata` object costs no command its size in memory."""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from click.testing import Result

from s3pypi_core.distribution import MAX_METADATA_SIZE, sha256_of
from s3pypi_core.index import Hash, Index, IndexFile
from tests.conftest import Bucket
from tests.damaged import flip_byte, metadata_bomb, patch_zip_member
from tests.distributions import SampleProject, core_metadata
from tests.measure import MIB, run_measured

Run = Callable[..., Result]

MEMORY_BOUND = 200 * MIB


def page_by_2x(files: list[Path]) -> str:
    """A project page as s3pypi 2.x writes it: links with sha256 fragments, nothing else."""
    links = "<br>\n".join(
        f'    <a href="{urllib.parse.quote(f.name)}#sha256={sha256_of(f)[0]}">{f.name}</a>'
        for f in files
    )
    return (
        '<!DOCTYPE html>\n<html>\n  <head>\n    <meta charset="UTF-8">\n'
        f"    <title>Package Index</title>\n  </head>\n  <body>\n{links}\n  </body>\n</html>"
    )


def test_damaged_archives_written_by_2x_are_found_taken_off_and_named(
    run: Run, bucket: Bucket, tmp_path: Path
) -> None:
    project = SampleProject("hello-world", tmp_path / "dist")
    good = project.wheel("1.0")
    encrypted = patch_zip_member(project.wheel("1.1"), "hello_world/__init__.py", flags=0x1)
    deflate64 = patch_zip_member(project.wheel("1.2"), "hello_world/__init__.py", method=9)
    xz = project.sdist("1.3", extension=".tar.xz")
    flip_byte(xz, xz.stat().st_size // 2)
    files = [good, encrypted, deflate64, xz]
    for f in files:
        bucket.client.put_object(
            Bucket=bucket.name, Key=f"hello-world/{f.name}", Body=f.read_bytes()
        )
    bucket.client.put_object(Bucket=bucket.name, Key="hello-world/", Body=page_by_2x(files))
    url = f"s3://{bucket.name}/hello-world/"

    # The hashes match what 2.x listed: only reading the archives tells.
    deep = run("verify", "--bucket", bucket.name, "--deep", "--json")
    assert deep.exit_code == 1
    invalid = {
        p["key"]: p["message"] for p in json.loads(deep.stdout) if p["kind"] == "invalid-file"
    }
    assert invalid == {
        url + encrypted.name: "archive member 'hello_world/__init__.py' is encrypted: pip "
        "cannot install it: run reindex --rehash to take it off the page",
        url + deflate64.name: "archive member 'hello_world/__init__.py' uses compression method "
        "9 (deflate64), which pip cannot read: pip cannot install it: run reindex --rehash to "
        "take it off the page",
        url + xz.name: invalid[url + xz.name],
    }
    assert invalid[url + xz.name].startswith("corrupt archive: ")

    mended = run("reindex", "--bucket", bucket.name)
    assert mended.exit_code == 0, mended.output
    taken_off = [line for line in mended.stdout.splitlines() if "off the page" in line]
    assert [line.split()[2] for line in taken_off] == [encrypted.name, deflate64.name, xz.name]
    assert list(Index.from_json(bucket.read("hello-world/index.json")).files) == [good.name]

    left = json.loads(run("verify", "--bucket", bucket.name, "--json").stdout)
    assert [(p["kind"], p["key"]) for p in left] == [
        ("invalid-file", url + encrypted.name),
        ("invalid-file", url + deflate64.name),
        ("invalid-file", url + xz.name),
    ]
    assert all(
        p["message"].startswith("on no page: ")
        and p["message"].endswith(
            ": pip cannot install it: delete it, or upload a sound file of that name with --force"
        )
        for p in left
    )

    # What the message says to do mends it.
    sound = SampleProject("hello-world", tmp_path / "sound").wheel("1.1")
    assert run("upload", sound, "--bucket", bucket.name, "--force").exit_code == 0
    for f in (deflate64, xz):
        bucket.client.delete_object(Bucket=bucket.name, Key=f"hello-world/{f.name}")
    final = run("verify", "--bucket", bucket.name, "--deep")
    assert final.exit_code == 0, final.output


def test_a_listed_file_damaged_later_is_found_by_its_hash_and_taken_off_by_rehash(
    run: Run, bucket: Bucket, projects: Callable[..., SampleProject]
) -> None:
    wheels = [projects().wheel("1.0"), projects().wheel("1.1")]
    assert run("upload", *wheels, "--bucket", bucket.name).exit_code == 0
    key = f"hello-world/{wheels[1].name}"
    body = bytearray(bucket.read(key))
    body[len(body) // 3] ^= 0xFF  # same size: nothing but the bytes tells
    bucket.client.put_object(Bucket=bucket.name, Key=key, Body=bytes(body))

    kinds = [p["kind"] for p in json.loads(run("verify", "--bucket", bucket.name, "--json").stdout)]
    assert kinds == ["hash-mismatch"]
    deep = json.loads(run("verify", "--bucket", bucket.name, "--deep", "--json").stdout)
    assert [p["kind"] for p in deep] == ["invalid-file"]

    mended = run("reindex", "--bucket", bucket.name, "--rehash")
    assert mended.exit_code == 0, mended.output
    assert f"took {wheels[1].name} off the page: not a valid distribution" in mended.stdout

    left = json.loads(run("verify", "--bucket", bucket.name, "--json").stdout)
    assert [(p["kind"], p["key"]) for p in left] == [("invalid-file", f"s3://{bucket.name}/{key}")]
    assert list(Index.from_json(bucket.read("hello-world/index.json")).files) == [wheels[0].name]


def write_large_metadata(path: Path, size: int) -> str:
    """A `.metadata` object of `size` bytes, as an upload before the bound wrote it; its sha256."""
    digest = hashlib.sha256()
    head = core_metadata("bomb", "1.0").encode() + b"\n"
    chunk = b" " * MIB
    with open(path, "wb") as f:
        f.write(head)
        digest.update(head)
        written = len(head)
        while written < size:
            part = chunk[: size - written]
            f.write(part)
            digest.update(part)
            written += len(part)
    return digest.hexdigest()


def test_a_256_mb_metadata_object_costs_verify_and_reindex_no_memory(
    tmp_path: Path,
) -> None:
    """The state an upload before the metadata bound left: a wheel whose METADATA inflates to
    256 MB, its 256 MB `.metadata` object, and pages naming both."""
    size = 256 * MIB
    wheel = metadata_bomb(tmp_path / "dist", size)
    index = tmp_path / "index"
    project = index / "bomb"
    project.mkdir(parents=True)
    (project / wheel.name).write_bytes(wheel.read_bytes())
    metadata_hash = write_large_metadata(project / f"{wheel.name}.metadata", size)
    record = IndexFile(
        filename=wheel.name,
        hash=Hash("sha256", sha256_of(wheel)[0]),
        core_metadata=Hash("sha256", metadata_hash),
        size=wheel.stat().st_size,
        upload_time=datetime.now(timezone.utc),
    )
    page = Index({wheel.name: record}, name="bomb", serial=1)
    (project / "index.json").write_text(page.to_json())
    (project / "index.html").write_text(page.to_html())
    url = index.as_uri()
    metadata_url = f"{url}/bomb/{wheel.name}.metadata"
    wheel_url = f"{url}/bomb/{wheel.name}"

    verify = run_measured("s3pypi", "verify", "--repository-url", url, "--json", tmp=tmp_path)
    assert verify.returncode == 1, verify.stderr
    assert verify.max_rss < MEMORY_BOUND
    assert [(p["kind"], p["key"], p["message"]) for p in json.loads(verify.stdout)] == [
        (
            "invalid-file",
            metadata_url,
            f"{size} bytes, larger than the {MAX_METADATA_SIZE} bytes of metadata read: reindex "
            "and verify read it with a larger --max-metadata-size, or delete it",
        )
    ]

    deep = run_measured(
        "s3pypi", "verify", "--repository-url", url, "--deep", "--json", tmp=tmp_path
    )
    assert deep.max_rss < MEMORY_BOUND
    assert [(p["kind"], p["key"]) for p in json.loads(deep.stdout)] == [
        ("invalid-file", wheel_url),
        ("invalid-file", metadata_url),
    ]

    reindex = run_measured("s3pypi", "reindex", "--repository-url", url, "--rehash", tmp=tmp_path)
    assert reindex.returncode == 0, reindex.stderr
    assert reindex.max_rss < MEMORY_BOUND
    # pip can install it (slowly): it stays listed, as it was, and verify keeps saying why.
    assert f"bomb: kept {wheel.name} as it is: not read" in reindex.stdout
    assert Index.from_json((project / "index.json").read_bytes()).files == page.files
