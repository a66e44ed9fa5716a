"""Publishing through a proxy that fails requests on purpose: it still succeeds, pages stay right.

The faults are the ones S3 really answers with (503 SlowDown, 500 InternalError, 409
ConditionalRequestConflict) and connections dropped before the request reached the store or
after (the write happened; the client never heard of it, retries, and finds its own write).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from s3pypi_core.core import Config, verify_index
from s3pypi_core.storage import S3Config
from tests.conftest import Bucket
from tests.distributions import SampleProject
from tests.fault_proxy import Fault, FaultProxy
from tests.publishers import assert_project_lists, assert_root_lists, hashes

Run = Callable[..., Result]

# Faults that botocore retries by itself cost a backoff of up to seconds each, so they are
# put on a few kinds of request; the ones our code must handle go on every kind.
FAULTS = {
    "503 SlowDown": Fault(status=503, code="SlowDown"),
    "500 InternalError": Fault(status=500, code="InternalError"),
    "409 ConditionalRequestConflict": Fault(status=409, code="ConditionalRequestConflict"),
    "connection dropped before the store saw it": Fault(drop="before"),
    "connection dropped after the store wrote": Fault(drop="after"),
}


def targets(bucket: str) -> list[tuple[str, str]]:
    """Every kind of request a publish makes: (method, path pattern)."""
    return [
        ("PUT", r"/hello_world-1\.1-py3-none-any\.whl$"),  # a distribution, If-None-Match
        ("PUT", r"/hello_world-1\.1\.tar\.gz$"),
        ("PUT", r"/hello_world-1\.1-py3-none-any\.whl\.metadata$"),
        ("GET", r"/hello-world/index\.json$"),
        ("PUT", r"/hello-world/index\.json$"),  # the project's pages, If-Match
        ("PUT", r"/hello-world/$"),
        ("PUT", r"/other/index\.json$"),  # a new project's pages, If-None-Match
        ("PUT", rf"^/{bucket}/index\.json$"),  # the root pages, If-Match
        ("PUT", rf"^/{bucket}/index\.html$"),
    ]


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_publishing_survives_faults_on_every_kind_of_request(
    run: Run,
    bucket: Bucket,
    fault_proxy: FaultProxy,
    projects: Callable[..., SampleProject],
    fault: Fault,
) -> None:
    first = [projects().wheel("1.0", requires_python=">=3.8"), projects().sdist("1.0")]
    assert run("upload", *first, "--bucket", bucket.name, "--put-root-index").exit_code == 0
    second = [projects().wheel("1.1"), projects().sdist("1.1"), projects("other").wheel("0.1")]
    chosen = targets(bucket.name)
    if fault.status == 409:
        chosen = [(method, path) for method, path in chosen if method == "PUT"]  # writes only
    elif fault.drop != "after":
        chosen = [chosen[0], chosen[2], chosen[3], chosen[7]]
    rules = [fault_proxy.add(method, path, fault) for method, path in chosen]

    result = run(
        "upload", *second, "--bucket", bucket.name, "--put-root-index",
        "--s3-endpoint-url", fault_proxy.url,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert [(r.method, r.path.pattern, r.fired) for r in rules] == [
        (r.method, r.path.pattern, 1) for r in rules
    ]
    assert_project_lists(bucket, "hello-world", hashes([*first, *second[:2]]))
    assert_project_lists(bucket, "other", hashes(second[2:]))
    assert_root_lists(bucket, {"hello-world", "other"})
    assert verify_index(Config(s3=S3Config(bucket=bucket.name))) == []


def test_a_refused_write_stops_the_upload_before_any_page_names_the_file(
    run: Run, bucket: Bucket, fault_proxy: FaultProxy, projects: Callable[..., SampleProject]
) -> None:
    fault_proxy.add("PUT", r"\.metadata$", Fault(status=403, code="AccessDenied"), times=None)

    result = run(
        "upload", projects().wheel("1.0"), "--bucket", bucket.name,
        "--s3-endpoint-url", fault_proxy.url,
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"s3pypi: error: s3://{bucket.name}/hello-world/hello_world-1.0-py3-none-any.whl.metadata:"
        " AccessDenied: injected AccessDenied"
    )
    assert "Traceback" not in result.output
    # The distribution is there, no page names it yet; verify says so, reindex repairs it.
    assert bucket.keys() == ["hello-world/hello_world-1.0-py3-none-any.whl"]
    problems = verify_index(Config(s3=S3Config(bucket=bucket.name)))
    assert [p.kind for p in problems] == ["unlisted-file"]
    assert run("reindex", "--bucket", bucket.name).exit_code == 0
    assert verify_index(Config(s3=S3Config(bucket=bucket.name))) == []


def test_a_store_that_ignores_conditional_writes_is_refused_without_a_lock_table(
    run: Run, bucket: Bucket, fault_proxy: FaultProxy, projects: Callable[..., SampleProject]
) -> None:
    fault_proxy.add("*", ".", Fault(strip_conditions=True), times=None)
    wheel = projects().wheel("1.0")

    result = run("upload", wheel, "--bucket", bucket.name, "--s3-endpoint-url", fault_proxy.url)

    assert result.exit_code == 1
    assert result.stderr == (
        f"s3pypi: error: {fault_proxy.url} ignores conditional writes (If-None-Match), so "
        "concurrent publishers could overwrite each other: use a DynamoDB lock table "
        "(--locks-table)\n"
    )
    # Only the marker the check wrote twice: nothing of the upload.
    assert bucket.all_keys() == [".s3pypi-conditional-writes"]

    table = bucket.create_locks_table()
    result = run(
        "upload", wheel, "--bucket", bucket.name, "--s3-endpoint-url", fault_proxy.url,
        "--locks-table", table,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert_project_lists(bucket, "hello-world", hashes([wheel]))


def test_the_conditional_write_check_keeps_one_marker_and_deletes_nothing(
    run: Run, bucket: Bucket, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    project = SampleProject("hello-world", tmp_path)
    endpoint = ("--s3-endpoint-url", fault_proxy.url)
    marker = ".s3pypi-conditional-writes"

    first = run("upload", project.wheel("1.0"), "--bucket", bucket.name, *endpoint)

    assert first.exit_code == 0, first.output
    assert f"Checked that {fault_proxy.url} honours conditional writes ({marker})" in first.stderr
    assert [p.status for p in fault_proxy.requests("PUT", marker)] == [200, 412]

    second = run("upload", project.wheel("1.1"), "--bucket", bucket.name, *endpoint)

    assert second.exit_code == 0, second.output
    assert "conditional writes" not in second.stderr
    # From then on, one request that an honest store refuses without writing.
    assert [p.status for p in fault_proxy.requests("PUT", marker)] == [200, 412, 412]
    assert fault_proxy.requests("DELETE") == []
    assert marker in bucket.all_keys()
    assert verify_index(Config(s3=S3Config(bucket=bucket.name))) == []
