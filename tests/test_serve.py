"""`s3pypi serve`: the console script in front of a moto bucket or a directory, answering as
CloudFront does (pages negotiated on Accept, HEAD, Range, 404, the stored headers)."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from s3pypi_core.layout import (
    FILE_CACHE_CONTROL,
    HTML_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    PAGE_CACHE_CONTROL,
)
from tests.conftest import Bucket, run_console_script
from tests.serving import JSON_ACCEPT, PIP_ACCEPT, Request, serving

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
WHEEL = "hello_world-1.0.0-py3-none-any.whl"

Run = Callable[..., Result]


def test_prints_the_index_url_and_negotiates_pages_like_the_edge(
    published: Bucket, tmp_path: Path
) -> None:
    with serving("--bucket", published.name, log_dir=tmp_path) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.url.endswith("/")

        html = server.get("/hello-world/", accept=BROWSER_ACCEPT)
        as_json = server.get("/hello-world/", accept=PIP_ACCEPT)
        no_accept = server.get("/hello-world/")
        root_html = server.get("/")
        root_json = server.get("/", accept=JSON_ACCEPT)

        assert server.requests() == [
            # A browser gets the human view; anything else the simple API.
            Request("GET", "/hello-world/", "hello-world/browse.html", 200, len(html.body)),
            Request("GET", "/hello-world/", "hello-world/index.json", 200, len(as_json.body)),
            Request("GET", "/hello-world/", "hello-world/", 200, len(no_accept.body)),
            Request("GET", "/", "index.html", 200, len(root_html.body)),
            Request("GET", "/", "index.json", 200, len(root_json.body)),
        ]
    assert html.body == published.read("hello-world/browse.html")
    assert no_accept.body == published.read("hello-world/")
    assert as_json.body == published.read("hello-world/index.json")
    assert root_html.body == published.read("index.html")
    assert root_json.body == published.read("index.json")
    for page in (html, no_accept, root_html):
        assert page.headers["content-type"] == HTML_CONTENT_TYPE
    for page in (as_json, root_json):
        assert page.headers["content-type"] == JSON_CONTENT_TYPE
    for page in (html, as_json, no_accept, root_html, root_json):
        assert page.status == 200
        assert page.headers["cache-control"] == PAGE_CACHE_CONTROL
        assert page.headers["vary"] == "Accept"
        assert page.headers["etag"].startswith('"')
        assert page.headers["last-modified"].endswith(" GMT")
    assert json.loads(root_json.body)["projects"] == [{"name": "hello-world"}]


def test_files_with_head_and_ranges(published: Bucket, dist_dir: Path, tmp_path: Path) -> None:
    content = (dist_dir / WHEEL).read_bytes()
    size = len(content)
    path = f"/hello-world/{WHEEL}"
    with serving("--bucket", published.name, log_dir=tmp_path) as server:
        whole = server.get(path)
        head = server.head(path)
        first = server.get(path, range="bytes=0-9")
        middle = server.get(path, range="bytes=10-19")
        tail = server.get(path, range="bytes=-16")
        rest = server.get(path, range=f"bytes={size - 5}-")
        past_end = server.get(path, range=f"bytes={size - 3}-{size + 100}")
        beyond = server.get(path, range=f"bytes={size}-")
        empty_suffix = server.get(path, range="bytes=-0")
        several = server.get(path, range="bytes=0-1,5-6")
        metadata = server.get(path + ".metadata")

    assert whole.status == 200

    assert whole.body == content
    assert whole.headers["content-type"] == "application/zip"
    assert whole.headers["cache-control"] == FILE_CACHE_CONTROL
    assert whole.headers["etag"] == f'"{hashlib.md5(content).hexdigest()}"'
    assert whole.headers["accept-ranges"] == "bytes"
    assert "vary" not in whole.headers
    assert head.status == 200
    assert head.body == b""
    assert {k: v for k, v in head.headers.items() if k != "date"} == {
        k: v for k, v in whole.headers.items() if k != "date"
    }
    assert head.headers["content-length"] == str(size)

    for response, (lo, hi) in [
        (first, (0, 9)),
        (middle, (10, 19)),
        (tail, (size - 16, size - 1)),
        (rest, (size - 5, size - 1)),
        (past_end, (size - 3, size - 1)),
    ]:
        assert response.status == 206
        assert response.body == content[lo : hi + 1]
        assert response.headers["content-range"] == f"bytes {lo}-{hi}/{size}"
        assert response.headers["content-length"] == str(hi - lo + 1)
        assert response.headers["content-type"] == "application/zip"
    for response in (beyond, empty_suffix):
        assert response.status == 416
        assert response.headers["content-range"] == f"bytes */{size}"
    # Several ranges in one request: ignored, as S3 does; the whole file.
    assert several.status == 200
    assert several.body == content

    assert metadata.status == 200
    assert metadata.headers["content-type"] == "text/plain; charset=utf-8"
    assert metadata.headers["cache-control"] == FILE_CACHE_CONTROL
    assert metadata.body.startswith(b"Metadata-Version: ")


def test_missing_keys_are_404(published: Bucket, tmp_path: Path) -> None:
    with serving("--bucket", published.name, log_dir=tmp_path) as server:
        responses = {
            path: server.get(path, accept=accept)
            for path, accept in [
                ("/no-such-project/", PIP_ACCEPT),
                ("/no-such-project/", BROWSER_ACCEPT),
                ("/hello-world/hello_world-9.9-py3-none-any.whl", "*/*"),
                ("/hello-world/hello_world-1.0.0.tar.gz.asc", "*/*"),
            ]
        }
        missing_head = server.head("/no-such-project/x-1.0.tar.gz")
        log = server.requests()
    for response in [*responses.values(), missing_head]:
        assert response.status == 404
        assert response.headers["cache-control"] == "no-store"
    assert missing_head.body == b""
    assert [(r.method, r.key, r.status) for r in log] == [
        ("GET", "no-such-project/index.json", 404),
        ("GET", "no-such-project/browse.html", 404),
        ("GET", "hello-world/hello_world-9.9-py3-none-any.whl", 404),
        ("GET", "hello-world/hello_world-1.0.0.tar.gz.asc", 404),
        ("HEAD", "no-such-project/x-1.0.tar.gz", 404),
    ]


def test_conditional_get_answers_304(published: Bucket, tmp_path: Path) -> None:
    with serving("--bucket", published.name, log_dir=tmp_path) as server:
        page = server.get("/hello-world/", accept=PIP_ACCEPT)
        again = server.get("/hello-world/", accept=PIP_ACCEPT, if_none_match=page.headers["etag"])
        other = server.get("/hello-world/", accept=PIP_ACCEPT, if_none_match='"other"')
    assert again.status == 304
    assert again.body == b""
    assert again.headers["etag"] == page.headers["etag"]
    assert again.headers["cache-control"] == PAGE_CACHE_CONTROL
    assert other.status == 200
    assert other.body == page.body


def test_prefix_serves_that_index_only(
    bucket: Bucket, run: Run, dist_dir: Path, tmp_path: Path
) -> None:
    for prefix in ("team-a", "team-b"):
        result = run(
            "upload", dist_dir / "*", "--bucket", bucket.name, "--prefix", prefix,
            "--put-root-index",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    with serving("--repository-url", f"s3://{bucket.name}/team-a", log_dir=tmp_path) as server:
        assert server.url.endswith("/team-a/")
        root = server.get("/team-a/")
        root_json = server.get("/team-a/", accept=JSON_ACCEPT)
        page = server.get("/team-a/hello-world/", accept=PIP_ACCEPT)
        wheel = server.get(f"/team-a/hello-world/{WHEEL}")
        other = server.get("/team-b/hello-world/", accept=PIP_ACCEPT)
        top = server.get("/")
        keys = [r.key for r in server.requests()]
    assert root.body == bucket.read("team-a/")
    assert root_json.body == bucket.read("team-a/index.json")
    assert page.body == bucket.read("team-a/hello-world/index.json")
    assert wheel.body == bucket.read(f"team-a/hello-world/{WHEEL}")
    assert (other.status, top.status) == (404, 404)
    assert keys == [
        "team-a/",
        "team-a/index.json",
        "team-a/hello-world/index.json",
        f"team-a/hello-world/{WHEEL}",
        "team-b/hello-world/index.json",
        "index.html",
    ]


def test_index_html_layout(bucket: Bucket, run: Run, dist_dir: Path, tmp_path: Path) -> None:
    result = run(
        "upload", dist_dir / "*", "--bucket", bucket.name, "--index.html", "--put-root-index"
    )
    assert result.exit_code == 0, result.output
    with serving("--bucket", bucket.name, "--index.html", log_dir=tmp_path) as server:
        page = server.get("/hello-world/", accept=BROWSER_ACCEPT)
        as_json = server.get("/hello-world/", accept=PIP_ACCEPT)
        root = server.get("/")
    assert page.body == bucket.read("hello-world/browse.html")  # a browser's: the human view
    assert page.headers["content-type"] == HTML_CONTENT_TYPE
    assert as_json.body == bucket.read("hello-world/index.json")
    assert root.body == bucket.read("index.html")


def test_serves_a_local_directory(run: Run, dist_dir: Path, tmp_path: Path) -> None:
    """A directory keeps no headers: they follow from the key, as publishing stores them."""
    index = tmp_path / "index"
    result = run("upload", dist_dir / "*", "--repository-url", index.as_uri(), "--put-root-index")
    assert result.exit_code == 0, result.output
    wheel = (dist_dir / WHEEL).read_bytes()
    with serving("--repository-url", index.as_uri(), log_dir=tmp_path) as server:
        page = server.get("/hello-world/")
        as_json = server.get("/hello-world/", accept=PIP_ACCEPT)
        root_json = server.get("/", accept=JSON_ACCEPT)
        file = server.get(f"/hello-world/{WHEEL}")
        part = server.get(f"/hello-world/{WHEEL}", range="bytes=2-5")
        head = server.head(f"/hello-world/{WHEEL}")
        sdist = server.get("/hello-world/hello_world-1.0.0.tar.gz")
        metadata = server.get(f"/hello-world/{WHEEL}.metadata")
        lock = server.get("/.s3pypi.lock")
    assert page.body == (index / "hello-world" / "index.html").read_bytes()
    assert (page.headers["content-type"], page.headers["cache-control"]) == (
        HTML_CONTENT_TYPE,
        PAGE_CACHE_CONTROL,
    )
    for response in (as_json, root_json):
        assert response.headers["content-type"] == JSON_CONTENT_TYPE
        assert response.headers["cache-control"] == PAGE_CACHE_CONTROL
    assert file.body == wheel
    assert (file.headers["content-type"], file.headers["cache-control"]) == (
        "application/zip",
        FILE_CACHE_CONTROL,
    )
    assert (part.status, part.body) == (206, wheel[2:6])
    assert head.headers["content-length"] == str(len(wheel))
    assert head.headers["etag"] == file.headers["etag"]
    assert sdist.headers["content-type"] == "application/gzip"
    assert metadata.headers["content-type"] == "text/plain; charset=utf-8"
    assert metadata.headers["cache-control"] == FILE_CACHE_CONTROL
    assert lock.status == 404  # the directory's own lock file is not part of the index


def test_fixed_port_and_host(published: Bucket, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with serving(
        "--bucket", published.name, "--port", str(port), "--host", "127.0.0.1", log_dir=tmp_path
    ) as server:
        assert server.url == f"http://127.0.0.1:{port}/"
        assert server.get("/hello-world/").status == 200


def test_port_in_use_is_one_line(published: Bucket) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_console_script("s3pypi", "serve", "--bucket", published.name, "--port", port)
    assert result.returncode == 1
    assert result.stderr.startswith(f"s3pypi: error: cannot listen on 127.0.0.1:{port}: ")
    assert len(result.stderr.splitlines()) == 1


def test_missing_bucket_is_one_line(moto_endpoint: str) -> None:
    result = run_console_script("s3pypi", "serve", "--bucket", "no-such-bucket", "--port", "0")
    assert result.returncode == 1
    assert result.stderr == "s3pypi: error: bucket does not exist: no-such-bucket\n"
    assert result.stdout == ""


def test_missing_directory_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = run_console_script("s3pypi", "serve", "--repository-url", missing.as_uri())
    assert result.returncode == 1
    assert result.stderr == f"s3pypi: error: not a directory: {missing}\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "missing --bucket (or --repository-url)"),
        (["--bucket", "b", "--repository-url", "s3://b"], "--repository-url replaces"),
        (["--bucket", "b", "--port", "70000"], "Invalid value for '--port'"),
    ],
)
def test_usage_errors(run: Run, args: list[str], message: str) -> None:
    result = run("serve", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_nothing_outside_the_index_directory_is_served(
    run: Run, dist_dir: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    assert run("upload", dist_dir / "*", "--repository-url", index.as_uri()).exit_code == 0
    (tmp_path / "secret.txt").write_text("password")
    with serving("--repository-url", index.as_uri(), log_dir=tmp_path) as server:
        responses = [
            server.get(path)
            for path in (
                "/../secret.txt",
                "/%2e%2e/secret.txt",
                "/hello-world/..%2f..%2fsecret.txt",
                "/hello-world/%2e%2e/%2e%2e/secret.txt",
                "//etc/passwd",
            )
        ]
    assert [r.status for r in responses] == [404] * len(responses)
    assert not any(b"password" in r.body or b"root:" in r.body for r in responses)


def test_s3_flags_reach_the_client(
    published: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without AWS_ENDPOINT_URL: endpoint, profile and region come from the flags."""
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    args = ["--bucket", published.name, "--s3-endpoint-url", published.endpoint]
    with serving(*args, "--profile", "production", "--region", "eu-west-1", log_dir=tmp_path) as s:
        page = s.get("/hello-world/", accept=PIP_ACCEPT)
    assert page.body == published.read("hello-world/index.json")

    # --no-sign-request: anonymous, so refused by a private bucket, served by a public one.
    refused = run_console_script("s3pypi", "serve", *args, "--no-sign-request", "--port", "0")
    assert refused.returncode == 1
    assert refused.stderr == f"s3pypi: error: s3://{published.name}/index.json: 403: Forbidden\n"
    public_read = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{published.name}/*",
            }
        ],
    }
    published.client.put_bucket_policy(Bucket=published.name, Policy=json.dumps(public_read))
    with serving(*args, "--no-sign-request", log_dir=tmp_path) as server:
        wheel = server.get(f"/hello-world/{WHEEL}")
    assert wheel.status == 200
    assert wheel.body == published.read(f"hello-world/{WHEEL}")
