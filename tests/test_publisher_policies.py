"""The module's publisher and maintainer policies against the requests `s3pypi` really makes.

Each command runs for real against the moto server, through the recording proxy; every request
it sent becomes the IAM request AWS would authorize (`authorizations`), and is judged against
the policy the module renders for the same configuration (tests/terraform_eval.py,
tests/iam_policy.py). A publisher may make every request of `s3pypi upload`; only a maintainer
may make those of `s3pypi delete`.

What this run does that one on AWS does not: with a custom S3 endpoint and no lock, s3pypi
checks that the store honours conditional writes by creating a marker object,
PREFIX/.s3pypi-conditional-writes (`S3Storage.check_conditional_writes`); on *.amazonaws.com it
trusts S3. Those requests are judged too, so the set judged here is a superset of an AWS run.
The look-up of the default lock table (BUCKET-locks) happens here as on AWS: the DynamoDB
endpoint is the proxy.
"""

from __future__ import annotations

import random
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result

from s3pypi_core.storage import MULTIPART_THRESHOLD
from tests.conftest import REGION, Bucket
from tests.distributions import SampleProject
from tests.fault_proxy import Exchange, FaultProxy
from tests.iam_policy import Request, is_allowed
from tests.terraform_eval import Plan

MODULE = Path(__file__).parent.parent / "terraform" / "modules" / "s3pypi"
ACCOUNT = "123456789012"  # moto's, and the plan's
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MARKER = ".s3pypi-conditional-writes"


@dataclass
class Index:
    """One configuration of the module, and the bucket it describes."""

    bucket: Bucket
    prefix: str = ""
    locks_table: str | None = None
    kms_key_arn: str | None = None

    def plan(self, partition: str = "aws") -> Plan:
        return Plan(
            MODULE,
            {
                "bucket": self.bucket.name,
                "domain": "pypi.example.com",
                "prefix": self.prefix,
                "enable_dynamodb_locking": self.locks_table is not None,
                "kms_key_arn": self.kms_key_arn,
            },
            region=REGION,
            partition=partition,
        )

    def table_arn(self, partition: str = "aws") -> str:
        name = self.locks_table or f"{self.bucket.name}-locks"
        return f"arn:{partition}:dynamodb:{REGION}:{ACCOUNT}:table/{name}"

    def key(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path


def authorizations(exchange: Exchange, index: Index, partition: str = "aws") -> list[Request]:
    """What AWS authorizes for one request s3pypi sent (S3 path-style, or DynamoDB)."""
    if exchange.target:
        service, _, operation = exchange.target.partition(".")
        assert service.startswith("DynamoDB_"), exchange
        return [Request(f"dynamodb:{operation}", index.table_arn(partition))]
    url = urllib.parse.urlsplit(exchange.path)
    query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    bucket, _, quoted_key = url.path.lstrip("/").partition("/")
    assert bucket == index.bucket.name, exchange
    key = urllib.parse.unquote(quoted_key)
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    method, params = exchange.method, set(query)

    def s3(action: str, resource: str = f"{bucket_arn}/{key}", **context: str) -> Request:
        return Request(f"s3:{action}", resource, context)

    def kms(action: str) -> list[Request]:
        return [Request(f"kms:{action}", index.kms_key_arn)] if index.kms_key_arn else []

    if not key and method == "GET" and "list-type" in params:
        return [s3("ListBucket", bucket_arn, **{"s3:prefix": query.get("prefix", [""])[0]})]
    if key and method in ("GET", "HEAD") and not params:
        if exchange.status == 404:
            # S3 answers 404 (not 403) only to a caller that may list the key, as its s3:prefix.
            return [s3("GetObject"), s3("ListBucket", bucket_arn, **{"s3:prefix": key})]
        return [s3("GetObject"), *(kms("Decrypt") if method == "GET" else [])]
    if key and method == "PUT" and not params and exchange.copy_source:
        # CopyObject: writes the key, reads the source (`bucket/key`, URL-encoded).
        source = urllib.parse.unquote(exchange.copy_source.lstrip("/"))
        read = s3("GetObject", f"arn:{partition}:s3:::{source}")
        return [s3("PutObject"), *kms("GenerateDataKey"), read, *kms("Decrypt")]
    if key and method == "PUT" and not params:
        return [s3("PutObject"), *kms("GenerateDataKey")]
    if key and method == "PUT" and params == {"partNumber", "uploadId"}:
        return [s3("PutObject"), *kms("GenerateDataKey")]  # UploadPart
    if key and method == "POST" and params == {"uploads"}:
        return [s3("PutObject"), *kms("GenerateDataKey")]  # CreateMultipartUpload
    if key and method == "POST" and params == {"uploadId"}:
        return [s3("PutObject"), *kms("Decrypt")]  # CompleteMultipartUpload reads the parts
    if key and method == "DELETE" and params == {"uploadId"}:
        return [s3("AbortMultipartUpload")]
    if key and method == "DELETE" and not params:
        return [s3("DeleteObject")]
    raise AssertionError(f"no IAM mapping for {method} {exchange.path}")


Run = Callable[..., Result]


def s3pypi(run: Run, proxy: FaultProxy, index: Index, *args: str | Path) -> list[Exchange]:
    """Run an s3pypi command through the proxy; the requests it sent."""
    start = len(proxy.log)
    options = ["--s3-endpoint-url", proxy.url, "--bucket", index.bucket.name]
    if index.prefix:
        options += ["--prefix", index.prefix]
    if index.locks_table:
        options += ["--locks-table", index.locks_table]
    result = run(*args, *options)
    assert result.exit_code == 0, result.output
    return proxy.log[start:]


def judged(exchanges: list[Exchange], index: Index, partition: str = "aws") -> list[Request]:
    """Every authorization of a run; none of them a delete of the conditional-write marker."""
    requests = [r for e in exchanges for r in authorizations(e, index, partition)]
    assert not [r for r in requests if r.action == "s3:DeleteObject" and MARKER in r.resource]
    return requests


def operations(exchanges: list[Exchange]) -> set[str]:
    """Which S3 multipart steps a run made, by their request shapes."""
    shapes = set()
    for e in exchanges:
        query = urllib.parse.urlsplit(e.path).query
        params = set(urllib.parse.parse_qs(query, keep_blank_values=True))
        shape = {
            ("POST", frozenset({"uploads"})): "CreateMultipartUpload",
            ("PUT", frozenset({"partNumber", "uploadId"})): "UploadPart",
            ("POST", frozenset({"uploadId"})): "CompleteMultipartUpload",
            ("DELETE", frozenset({"uploadId"})): "AbortMultipartUpload",
        }.get((e.method, frozenset(params)))
        if shape:
            shapes.add(shape)
    return shapes


@pytest.fixture
def dynamodb_through_proxy(fault_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", fault_proxy.url)


@pytest.mark.usefixtures("dynamodb_through_proxy")
def test_a_publisher_may_upload_and_a_maintainer_may_also_delete(
    bucket: Bucket, fault_proxy: FaultProxy, run: Run, dist_dir: Path
) -> None:
    """The whole bucket, no lock table."""
    index = Index(bucket)
    publisher, maintainer = index.plan().policy("publisher"), index.plan().policy("maintainer")
    upload = s3pypi(run, fault_proxy, index, "upload", f"{dist_dir}/*", "--put-root-index")
    requests = judged(upload, index)
    assert {r.action for r in requests} >= {
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "dynamodb:GetItem",
    }
    for request in requests:
        assert is_allowed(publisher, request), request
        assert is_allowed(maintainer, request), request

    # Maintenance: yank only rewrites pages; delete removes files, then empty pages.
    maintenance = []
    for command in (
        ["yank", "hello-world", "1.1", "--reason", "broken"],
        ["reindex"],
        ["delete", "hello-world", "1.0.0"],
        ["delete", "hello-world", "1.1"],
    ):
        maintenance += judged(s3pypi(run, fault_proxy, index, *command), index)
    deleted = {r.resource.rsplit("/", 2)[-1] for r in maintenance if r.action == "s3:DeleteObject"}
    assert {"hello_world-1.1-py3-none-any.whl", "hello_world-1.0.0.tar.gz.metadata"} <= deleted
    for request in maintenance:
        assert is_allowed(maintainer, request), request
        assert is_allowed(publisher, request) == (request.action != "s3:DeleteObject"), request
    # Only the (empty) root page is left, with the human view's page and assets beside it.
    left = [key for key in index.bucket.keys() if not key.startswith("browse.")]
    assert left == ["index.html", "index.json"]


@pytest.mark.usefixtures("dynamodb_through_proxy")
def test_a_publisher_may_promote_and_a_maintainer_may_also_prune(
    bucket: Bucket, fault_proxy: FaultProxy, run: Run, dist_dir: Path
) -> None:
    """Channels as prefixes of one index: the whole bucket's policies cover both."""
    index = Index(bucket)
    publisher, maintainer = index.plan().policy("publisher"), index.plan().policy("maintainer")
    s3pypi(run, fault_proxy, index, "upload", f"{dist_dir}/*", "--prefix", "dev")

    promote = judged(
        s3pypi(
            run, fault_proxy, index, "promote", "hello-world", "1.0.0", "--prefix", "dev",
            "--to", f"s3://{bucket.name}/prod",
        ),
        index,
    )  # fmt: skip
    copied = f"arn:aws:s3:::{bucket.name}/dev/hello-world/hello_world-1.0.0.tar.gz"
    assert Request("s3:GetObject", copied) in promote  # the copy's read of its source
    for request in promote:
        assert is_allowed(publisher, request), request
    # With one module call per channel, the prod publisher alone may not read dev.
    prod_only = Index(bucket, prefix="prod").plan().policy("publisher")
    assert not is_allowed(prod_only, Request("s3:GetObject", copied))

    prune = judged(
        s3pypi(run, fault_proxy, index, "prune", "hello-world", "--keep", "1", "--prefix", "dev"),
        index,
    )
    deleted = {r.resource.split("/dev/")[-1] for r in prune if r.action == "s3:DeleteObject"}
    assert deleted == {
        "hello-world/hello_world-1.0.0-py3-none-any.whl",
        "hello-world/hello_world-1.0.0-py3-none-any.whl.metadata",
        "hello-world/hello_world-1.0.0.tar.gz",
        "hello-world/hello_world-1.0.0.tar.gz.metadata",
        "hello-world/1.0.0/json",  # the release's PyPI JSON (the human view's)
    }
    for request in prune:
        assert is_allowed(maintainer, request), request
        assert is_allowed(publisher, request) == (request.action != "s3:DeleteObject"), request


@pytest.mark.usefixtures("dynamodb_through_proxy")
def test_a_publisher_of_a_prefix_with_a_lock_and_a_customer_key(
    bucket: Bucket, fault_proxy: FaultProxy, run: Run, tmp_path: Path
) -> None:
    """A prefix, the lock table, SSE-KMS; a large file whose multipart upload is refused at the
    end (another file is at its key) and aborted."""
    index = Index(bucket, prefix="team", kms_key_arn=KEY_ARN)
    index.locks_table = bucket.create_locks_table()
    project = SampleProject(name="big-project", root=tmp_path / "dist")
    project.wheel("1.0")
    big = project.wheel("2.0", payload=random.Random(0).randbytes(MULTIPART_THRESHOLD + 1))
    bucket.client.put_object(
        Bucket=bucket.name, Key=index.key(f"big-project/{big.name}"), Body=b"another file"
    )

    exchanges = s3pypi(run, fault_proxy, index, "upload", f"{tmp_path / 'dist'}/*")
    assert operations(exchanges) == {
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
    }
    requests = judged(exchanges, index)
    assert {r.action for r in requests} >= {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "s3:AbortMultipartUpload",
    }
    assert all(
        r.resource.startswith(f"arn:aws:s3:::{bucket.name}/team/")
        or r.context.get("s3:prefix", "").startswith("team/")
        or not r.action.startswith("s3:")
        for r in requests
    )
    publisher = index.plan().policy("publisher")
    for request in requests:
        assert is_allowed(publisher, request), request
    # Without the prefix's grant, the same requests would not pass: the check has teeth.
    other = Index(bucket, prefix="other", locks_table=index.locks_table, kms_key_arn=KEY_ARN)
    denied = [r for r in requests if not is_allowed(other.plan().policy("publisher"), r)]
    assert {r.action for r in denied} >= {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}


@pytest.mark.usefixtures("dynamodb_through_proxy")
def test_uploads_delete_nothing_where_s3pypi_checks_conditional_writes(
    bucket: Bucket, fault_proxy: FaultProxy, run: Run, dist_dir: Path
) -> None:
    """Endpoints not ending in .amazonaws.com (the China partition's, like this server) get the
    conditional-write check: a marker object, created, never deleted. The run passes the aws-cn
    policy, and no upload request is a delete."""
    index = Index(bucket, prefix="team")
    exchanges = s3pypi(run, fault_proxy, index, "upload", f"{dist_dir}/*")
    marker = [(e.method, e.status) for e in exchanges if MARKER in e.path]
    assert marker == [("PUT", 200), ("PUT", 412)]  # created, then refused: the store is honest
    assert f"team/{MARKER}" in bucket.all_keys()
    requests = judged(exchanges, index, "aws-cn")
    assert not [r for r in requests if r.action == "s3:DeleteObject"]
    china = index.plan("aws-cn").policy("publisher")
    for request in requests:
        assert is_allowed(china, request), request
