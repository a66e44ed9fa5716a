"""The upload API of `s3pypi serve` on the wire: who may upload, what is refused (and that a
refusal writes nothing), files that exist already, races, size limits and memory. The real
clients (twine, uv, Poetry, PDM, flit) are in test_upload_clients.py."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
import urllib.parse
import zipfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from click.testing import Result

from s3pypi_core import auth
from s3pypi_core.locking import lock_id
from tests.conftest import REGION, Bucket
from tests.distributions import SampleProject
from tests.serving import Server, serving
from tests.uploading import Answer, basic, multipart, post, upload, upload_fields

Run = Callable[..., Result]
PASSWORD = "s3cret:pw"


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    """`ci` may publish, `dev` may only install."""
    path = tmp_path / "users.json"
    ci = {**auth.hash_password(PASSWORD), "publish": True}
    path.write_text(json.dumps({"ci": ci, "dev": auth.hash_password(PASSWORD)}))
    return path


@pytest.fixture
def index(tmp_path: Path) -> Path:
    path = tmp_path / "index"
    path.mkdir()
    return path


def files_in(index: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(index)): p.read_bytes()
        for p in sorted(index.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


CI = basic("ci", PASSWORD)


def test_who_may_upload(
    index: Path, users_file: Path, tmp_path: Path, projects: Callable[..., SampleProject]
) -> None:
    wheel = projects().wheel("1.0.0")
    with serving("--repository-url", index.as_uri(), "--users", users_file, log_dir=tmp_path) as s:
        anonymous = upload(s.url, wheel)
        wrong = upload(s.url, wheel, auth=basic("ci", "nope"))
        reader = upload(s.url, wheel, auth=basic("dev", PASSWORD))
        assert files_in(index) == {}
        publisher = upload(s.url, wheel, auth=CI)
        page = s.get("/hello-world/", authorization=CI)
        log = s.requests()
    for refused in (anonymous, wrong):
        assert refused.status == 401
        assert refused.headers["www-authenticate"] == auth.CHALLENGE
    assert (reader.status, reader.reason) == (
        403,
        "dev may not publish: only users added with --publish may",
    )
    assert (publisher.status, publisher.reason) == (200, "OK")
    assert wheel.name in page.body.decode()
    assert (index / "hello-world" / wheel.name).read_bytes() == wheel.read_bytes()
    assert [(r.user, r.status) for r in log[:4]] == [
        ("-", 401),
        ("-", 401),
        ("dev", 403),
        ("ci", 200),
    ]
    assert log[3].key == f"hello-world/{wheel.name}"


def test_a_permission_taken_away_holds_at_once(
    index: Path, users_file: Path, tmp_path: Path, projects: Callable[..., SampleProject]
) -> None:
    project = projects()
    with serving("--repository-url", index.as_uri(), "--users", users_file, log_dir=tmp_path) as s:
        assert upload(s.url, project.wheel("1.0.0"), auth=CI).status == 200
        users = json.loads(users_file.read_text())
        del users["ci"]["publish"]
        users_file.write_text(json.dumps(users))
        assert upload(s.url, project.wheel("1.0.1"), auth=CI).status == 403


def test_every_upload_url(
    bucket: Bucket, users_file: Path, tmp_path: Path, projects: Callable[..., SampleProject]
) -> None:
    """One server is one index: `/`, `/legacy/` and both under the prefix publish to it."""
    project = projects()
    args = ("--bucket", bucket.name, "--prefix", "team", "--users", users_file)
    paths = ["/", "/legacy/", "/legacy", "/team/", "/team/legacy/"]
    with serving(*args, log_dir=tmp_path) as s:
        assert s.url.endswith("/team/")
        answers = [
            upload(s.url, project.wheel(f"1.{n}"), auth=CI, path=p) for n, p in enumerate(paths)
        ]
        elsewhere = upload(s.url, project.wheel("2.0"), auth=CI, path="/team/hello-world/")
    assert [a.status for a in answers] == [200] * len(paths)
    assert elsewhere.status == 405
    names = {key.rsplit("/", 1)[-1] for key in bucket.keys() if key.endswith(".whl")}
    assert names == {f"hello_world-1.{n}-py3-none-any.whl" for n in range(len(paths))}
    assert all(key.startswith("team/") for key in bucket.keys())


def test_uploads_are_off_without_users_unless_allowed(
    index: Path, tmp_path: Path, run: Run, projects: Callable[..., SampleProject]
) -> None:
    wheel = projects().wheel("1.0.0")
    with serving("--repository-url", index.as_uri(), log_dir=tmp_path) as s:
        off = upload(s.url, wheel)
        assert "uploads are off (no --users FILE)" in s.log_path.read_text()
    assert off.status == 403
    assert off.reason.startswith("uploads are off: start s3pypi serve with --users FILE")
    assert files_in(index) == {}

    with serving(
        "--repository-url", index.as_uri(), "--allow-anonymous-uploads", log_dir=tmp_path
    ) as s:
        assert upload(s.url, wheel).status == 200

    both = run(
        "serve",
        "--repository-url",
        index.as_uri(),
        "--users",
        tmp_path / "users.json",
        "--allow-anonymous-uploads",
    )
    assert both.exit_code == 2


def _damaged(path: Path) -> bytes:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    return bytes(data)


def test_bad_uploads_get_400_with_the_reason_and_write_nothing(
    bucket: Bucket, users_file: Path, tmp_path: Path, projects: Callable[..., SampleProject]
) -> None:
    project = projects()
    wheel = project.wheel("1.0.0")
    other = SampleProject("other", tmp_path / "other").wheel("1.0.0")
    lying = tmp_path / "lying" / "hello_world-2.0-py3-none-any.whl"  # its METADATA says 1.0.0
    lying.parent.mkdir()
    lying.write_bytes(wheel.read_bytes())
    bad_metadata = project.wheel(
        "3.0",
        metadata="Metadata-Version: 2.1\nName: hello-world\nVersion: 3.0\nRequires-Python: ><\n",
    )
    good = upload_fields(wheel)
    ct, two_files = multipart(good, [("content", wheel.name, b"a"), ("content", wheel.name, b"b")])
    ct_truncated, whole = multipart(good, [("content", wheel.name, wheel.read_bytes())])

    def form(
        fields: list[tuple[str, str]], content: bytes, name: str = wheel.name
    ) -> tuple[str, bytes]:
        return multipart(fields, [("content", name, content)])

    cases: list[tuple[tuple[str, bytes], str]] = [
        (form(upload_fields(wheel), _damaged(wheel)), "blake2_256_digest does not match the file"),
        (  # uv sends sha256 only: the damage is found by reading the file
            form(upload_fields(wheel, blake2_256_digest=None), _damaged(wheel)),
            "hello_world-1.0.0-py3-none-any.whl: corrupt archive: Bad CRC-32",
        ),
        (
            form(upload_fields(wheel, sha256_digest="0" * 64), wheel.read_bytes()),
            "sha256_digest does not match the file",
        ),
        (
            form(upload_fields(wheel, sha256_digest=None, blake2_256_digest=None), _damaged(wheel)),
            "no digest: send sha256_digest",
        ),
        (
            form(
                upload_fields(
                    wheel, sha256_digest=None, blake2_256_digest=None, md5_digest="0" * 32
                ),
                wheel.read_bytes(),
            ),
            "md5_digest does not match the file",
        ),
        (
            form(upload_fields(lying), lying.read_bytes(), lying.name),
            "filename says hello-world 2.0 but its metadata says hello-world 1.0.0",
        ),
        (
            form(upload_fields(bad_metadata), bad_metadata.read_bytes(), bad_metadata.name),
            "invalid metadata",
        ),
        (
            form(upload_fields(other, name="hello-world"), other.read_bytes(), other.name),
            "the form says hello-world 1.0.0 but other-1.0.0-py3-none-any.whl is other 1.0.0",
        ),
        (
            form(upload_fields(wheel, **{":action": "submit"}), wheel.read_bytes()),
            "unsupported :action 'submit'",
        ),
        (form(upload_fields(wheel, **{":action": None}), wheel.read_bytes()), "no :action"),
        (multipart(good), "no file: expected it as the 'content' part"),
        (form(good, wheel.read_bytes(), "../" + wheel.name), "not a plain file name"),
        (form(good, wheel.read_bytes(), ".hidden.whl"), "not a plain file name"),
        (form(good, wheel.read_bytes(), "hello.exe"), "unknown file type"),
        ((ct, two_files), "one file per upload"),
        ((ct_truncated, whole[: len(whole) // 2]), "malformed multipart body (it ends early)"),
        (("application/json", b"{}"), "expected a multipart/form-data body"),
        (("multipart/form-data", whole), "expected a multipart/form-data body with a boundary"),
    ]
    with serving("--bucket", bucket.name, "--users", users_file, log_dir=tmp_path) as s:
        answers = [
            post(s.url, "/legacy/", body, {"Content-Type": content_type, "Authorization": CI})
            for (content_type, body), _reason in cases
        ]
        log = s.log_path.read_text()
    for answer, (_form, expected) in zip(answers, cases, strict=True):
        assert answer.status == 400, (answer, expected)
        assert expected in answer.reason, (answer.reason, expected)
        assert answer.body.decode() == f"400 {answer.reason}\n"
        assert "s3pypi-upload-" not in answer.reason  # no temporary path
    assert bucket.keys() == []
    assert "Traceback" not in log


def test_a_file_that_exists(
    bucket: Bucket, users_file: Path, tmp_path: Path, projects: Callable[..., SampleProject]
) -> None:
    """The same bytes again: 200, as PyPI answers (a retried upload succeeds); other bytes
    under that name: 400 "File already exists", what twine --skip-existing looks for."""
    wheel = projects().wheel("1.0.0")
    rebuilt = SampleProject("hello-world", tmp_path / "rebuilt").wheel("1.0.0", payload=b"# new\n")
    renamed = SampleProject("hello-world", tmp_path / "renamed").wheel(
        "1.0.0", filename="hello_world-1.0-py3-none-any.whl"
    )
    with serving("--bucket", bucket.name, "--users", users_file, log_dir=tmp_path) as s:
        first = upload(s.url, wheel, auth=CI)
        before = bucket.snapshot()
        same = upload(s.url, wheel, auth=CI)
        other = upload(s.url, rebuilt, auth=CI)
        other_name = upload(s.url, renamed, auth=CI, version="1.0")
    assert first.status == same.status == 200
    assert same.reason == "OK, already there with the same content"
    assert other.status == 400
    assert other.reason == (
        f"File already exists: {wheel.name} is in the index with other content; "
        "publish a new version instead"
    )
    assert "already exist" in other.reason.lower()  # twine's test, and Poetry's and PDM's
    assert (other_name.status, other_name.reason) == (
        400,
        f"File already exists: {renamed.name} is in the index as {wheel.name}; publish a new "
        "version instead",
    )
    assert bucket.snapshot() == before


def _at_once(server: Server, dists: list[Path]) -> list[Answer]:
    """Upload `dists` together, one thread each, released at the same moment."""
    go = threading.Barrier(len(dists))
    answers: list[Answer | None] = [None] * len(dists)

    def send(n: int) -> None:
        go.wait()
        answers[n] = upload(server.url, dists[n], auth=CI)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(dists))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [a for a in answers if a is not None]


def test_two_uploads_of_one_filename_at_once(
    bucket: Bucket, users_file: Path, tmp_path: Path
) -> None:
    """Different bytes under one name, sent together: exactly one is published, the other
    gets "File already exists", and the page names the winner's bytes. The same bytes sent
    together: both succeed, and the page lists the file once."""
    a = SampleProject("race", tmp_path / "a").wheel("1.0", payload=b"# a\n")
    b = SampleProject("race", tmp_path / "b").wheel("1.0", payload=b"# b\n")
    same = SampleProject("same", tmp_path / "same").wheel("1.0")
    with serving("--bucket", bucket.name, "--users", users_file, log_dir=tmp_path) as s:
        different = _at_once(s, [a, b])
        identical = _at_once(s, [same, same])
    assert sorted(answer.status for answer in different) == [200, 400]
    [winner] = [d for d, answer in zip([a, b], different, strict=True) if answer.status == 200]
    [loser] = [answer for answer in different if answer.status == 400]
    assert loser.reason.startswith("File already exists")
    assert bucket.read(f"race/{a.name}") == winner.read_bytes()
    listed = json.loads(bucket.read("race/index.json"))["files"]
    assert [f["hashes"]["sha256"] for f in listed] == [
        hashlib.sha256(winner.read_bytes()).hexdigest()
    ]
    assert [answer.status for answer in identical] == [200, 200]
    assert [f["filename"] for f in json.loads(bucket.read("same/index.json"))["files"]] == [
        same.name
    ]


def _headers_only(server: Server, headers: dict[str, str], length: int = 50_000_000) -> bytes:
    """Send the headers of an upload announcing a large body, but no body: a server that
    answers refused it before reading the body."""
    parts = urllib.parse.urlsplit(server.url)
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=10) as sock:
        sock.sendall(
            f"POST /legacy/ HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
            f"boundary=b\r\nContent-Length: {length}\r\n{lines}\r\n".encode()
        )
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_large_anonymous_bodies_are_refused_before_they_are_read(
    index: Path, users_file: Path, tmp_path: Path
) -> None:
    with serving("--repository-url", index.as_uri(), "--users", users_file, log_dir=tmp_path) as s:
        anonymous = _headers_only(s, {})
        garbage = _headers_only(s, {"Authorization": "Basic !!"})
        oversized = _headers_only(s, {"Authorization": CI}, length=101 * 1024 * 1024)
        assert s.get("/-/health").status == 200
    for refused in (anonymous, garbage):
        assert refused.startswith(b"HTTP/1.1 401 Unauthorized\r\n")
        assert b"www-authenticate: " + auth.CHALLENGE.lower().encode() in refused.lower()
    # Credentials are checked once the body is in; over the upload limit (100 MiB by
    # default) it is refused from its length alone.
    assert oversized.startswith(b"HTTP/1.1 413 ")

    with serving("--repository-url", index.as_uri(), log_dir=tmp_path) as s:
        off = _headers_only(s, {})
    assert off.startswith(b"HTTP/1.1 403 uploads are off")


def test_an_upload_over_the_limit_gets_413(
    index: Path, users_file: Path, tmp_path: Path, projects: Callable[..., SampleProject]
) -> None:
    big = projects().wheel("1.0", payload=b"#" + bytes(200_000))
    small = projects().wheel("1.1")
    args = ("--repository-url", index.as_uri(), "--users", users_file, "--max-upload-size", "64K")
    with serving(*args, log_dir=tmp_path) as s:
        try:
            refused = upload(s.url, big, auth=CI).status
        except (ConnectionResetError, BrokenPipeError):
            refused = 413  # answered and closed while the body was still being sent
        accepted = upload(s.url, small, auth=CI)
    assert refused == 413
    assert accepted.status == 200
    wheels = {name for name in files_in(index) if name.endswith(".whl")}
    assert wheels == {f"hello-world/{small.name}"}


def big_wheel(directory: Path, size: int) -> Path:
    """A valid wheel of about `size` bytes: one stored member of zeros (what a wheel carrying
    a large data file looks like on the wire), written without holding it in memory."""
    path = directory / "big-1.0-py3-none-any.whl"
    directory.mkdir(parents=True, exist_ok=True)
    metadata = b"Metadata-Version: 2.1\nName: big\nVersion: 1.0\nSummary: big\n"
    wheel_file = b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    zeros = bytes(1024 * 1024)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        with archive.open(
            zipfile.ZipInfo("big/data.bin", (2020, 1, 1, 0, 0, 0)), "w", force_zip64=True
        ) as member:
            for _ in range(size // len(zeros)):
                member.write(zeros)
        archive.writestr("big-1.0.dist-info/METADATA", metadata)
        archive.writestr("big-1.0.dist-info/WHEEL", wheel_file)
        archive.writestr("big-1.0.dist-info/RECORD", "")
    return path


def peak_rss_mib(pid: int) -> float:
    """The peak resident memory of a running process (VmHWM: since its exec)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_a_large_upload_is_streamed_to_disk(index: Path, users_file: Path, tmp_path: Path) -> None:
    """64 MiB through the whole path (received, parsed, hashed, read in full, published) adds
    far less than 64 MiB to the server's peak memory. bench/upload_api.py --size 1GiB does
    the same at 1 GiB."""
    wheel = big_wheel(tmp_path / "big", 64 * 1024 * 1024)
    content_type, head = multipart(upload_fields(wheel, name="big", version="1.0"), [])
    boundary = content_type.split("boundary=")[1]
    body = tmp_path / "body"
    with open(body, "wb") as out, open(wheel, "rb") as data:
        out.write(head.removesuffix(f"--{boundary}--\r\n".encode()))
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
            f'filename="{wheel.name}"\r\n\r\n'.encode()
        )
        while chunk := data.read(1024 * 1024):
            out.write(chunk)
        out.write(f"\r\n--{boundary}--\r\n".encode())
    small = SampleProject("small", tmp_path / "small").wheel("1.0")
    with serving("--repository-url", index.as_uri(), "--users", users_file, log_dir=tmp_path) as s:
        assert upload(s.url, small, auth=CI).status == 200  # every code path loaded
        before = peak_rss_mib(s.process.pid)
        with open(body, "rb") as stream:
            headers = {
                "Content-Type": content_type,
                "Authorization": CI,
                "Content-Length": str(body.stat().st_size),
            }
            answer = post(s.url, "/legacy/", stream, headers)
        after = peak_rss_mib(s.process.pid)
    assert answer.status == 200, answer
    assert (index / "big" / wheel.name).stat().st_size == wheel.stat().st_size
    assert after - before < 24, f"peak RSS grew from {before:.0f} to {after:.0f} MiB"


def test_uploads_take_the_lock_table(
    bucket: Bucket, users_file: Path, tmp_path: Path, projects: Callable[..., SampleProject]
) -> None:
    """The server publishes as `s3pypi upload` does, lock table included: a lock held by an
    s3pypi 2.x client makes an upload wait, then answer 503 naming the holder, and write
    nothing; once it is released the same upload goes through."""
    table_name = bucket.create_locks_table()
    table = boto3.resource("dynamodb", endpoint_url=bucket.endpoint, region_name=REGION).Table(
        table_name
    )
    held = {
        "LockID": lock_id("hello-world"),
        "AcquiredAt": datetime.now(timezone.utc).isoformat(),
        "Owner": "alice@laptop",
    }
    table.put_item(Item=held)
    wheel = projects().wheel("1.0")
    args = ("--bucket", bucket.name, "--locks-table", table_name, "--lock-timeout", "0")
    with serving(*args, "--users", users_file, log_dir=tmp_path) as s:
        waited = upload(s.url, wheel, auth=CI)
        assert [k for k in bucket.keys() if not k.startswith(".")] == []
        table.delete_item(Key={"LockID": held["LockID"]})
        published = upload(s.url, wheel, auth=CI)
    assert waited.status == 503
    assert "held by alice@laptop" in waited.reason
    assert f"s3pypi force-unlock {table_name} {held['LockID']}" in waited.reason
    assert published.status == 200
    assert f"hello-world/{wheel.name}" in bucket.keys()


def test_a_bad_upload_size_is_a_usage_error(index: Path, run: Run) -> None:
    result = run("serve", "--repository-url", index.as_uri(), "--max-upload-size", "lots")
    assert result.exit_code == 2
    assert "not a size: 'lots' (e.g. 100MiB, 2GiB)" in result.stderr


def test_a_slow_upload_is_not_cut_by_the_request_deadline(
    index: Path, users_file: Path, tmp_path: Path, projects: Callable[..., SampleProject]
) -> None:
    """`--timeout` bounds how long the headers of a request may take, and idle connections;
    an upload's body may take longer as long as it keeps coming (a large wheel on a slow
    link), here 2 s against a timeout of 1 s."""
    wheel = projects().wheel("1.0")
    content_type, body = multipart(
        upload_fields(wheel), [("content", wheel.name, wheel.read_bytes())]
    )
    args = ("--repository-url", index.as_uri(), "--users", users_file, "--timeout", "1")
    with serving(*args, log_dir=tmp_path) as s:
        parts = urllib.parse.urlsplit(s.url)
        with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=10) as sock:
            sock.sendall(
                f"POST /legacy/ HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
                f"Authorization: {CI}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            pieces = [
                body[i : i + len(body) // 5 + 1] for i in range(0, len(body), len(body) // 5 + 1)
            ]
            for piece in pieces:
                time.sleep(0.4)  # a slow client: what is tested is the time it takes
                sock.sendall(piece)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer[:200]
    assert (index / "hello-world" / wheel.name).read_bytes() == wheel.read_bytes()
