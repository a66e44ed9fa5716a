"""The module's IAM, for given inputs: the publisher and maintainer policies and the CI roles'
trust policies, rendered from the module's own HCL (tests/terraform_eval.py) and judged by a
small IAM evaluator (tests/iam_policy.py). The requests a real `s3pypi` run makes are judged in
test_publisher_policies.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.iam_policy import Request, is_allowed
from tests.terraform_eval import Plan

ROOT = Path(__file__).parent.parent
MODULE = ROOT / "terraform" / "modules" / "s3pypi"
BUCKET = "my-pypi-bucket"
ACCOUNT = "123456789012"
GITHUB = "token.actions.githubusercontent.com"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def plan(partition: str = "aws", /, **variables: Any) -> Plan:
    return Plan(
        MODULE, {"bucket": BUCKET, "domain": "pypi.example.com", **variables}, partition=partition
    )


def statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = policy["Statement"]
    return result


def actions(policy: dict[str, Any], service: str) -> set[str]:
    return {a for s in statements(policy) for a in s["Action"] if a.startswith(f"{service}:")}


def s3(action: str, key: str | None = None, **context: str) -> Request:
    resource = f"arn:aws:s3:::{BUCKET}" + ("" if key is None else f"/{key}")
    return Request(f"s3:{action}", resource, context)


# Publisher and maintainer policies


@pytest.mark.parametrize("prefix", ["", "team", "teams/web"])
def test_s3_access_stays_inside_the_index(prefix: str) -> None:
    objects = f"arn:aws:s3:::{BUCKET}/{prefix + '/' if prefix else ''}*"
    for name in ("publisher", "maintainer"):
        policy = plan(prefix=prefix).policy(name)
        for statement in statements(policy):
            assert statement["Effect"] == "Allow"
            assert all("*" not in action for action in statement["Action"])
            assert "*" not in statement["Resource"]
            if not any(a.startswith("s3:") for a in statement["Action"]):
                continue
            if statement["Action"] == ["s3:ListBucket"]:
                assert statement["Resource"] == [f"arn:aws:s3:::{BUCKET}"]
                expected = {"StringLike": {"s3:prefix": [f"{prefix}/*"]}} if prefix else None
                assert statement.get("Condition") == expected
            else:
                assert statement["Resource"] == [objects]
                assert "Condition" not in statement
    publisher = {"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListBucket"}
    assert actions(plan(prefix=prefix).policy("publisher"), "s3") == publisher
    assert actions(plan(prefix=prefix).policy("maintainer"), "s3") == publisher | {
        "s3:DeleteObject"
    }


@pytest.mark.parametrize("prefix", ["", "team"])
def test_a_publisher_cannot_delete_and_a_maintainer_can(prefix: str) -> None:
    base = f"{prefix}/" if prefix else ""
    publisher = plan(prefix=prefix).policy("publisher")
    maintainer = plan(prefix=prefix).policy("maintainer")
    for key in (f"{base}hello-world/hello_world-1.0-py3-none-any.whl", f"{base}hello-world/"):
        assert not is_allowed(publisher, s3("DeleteObject", key))
        assert is_allowed(maintainer, s3("DeleteObject", key))
        for policy in (publisher, maintainer):
            assert is_allowed(policy, s3("PutObject", key))
            assert is_allowed(policy, s3("GetObject", key))
            # "Is it there?" answers 404 rather than 403 (S3 asks ListBucket, prefix = the key).
            assert is_allowed(policy, s3("ListBucket", **{"s3:prefix": key}))


def test_nothing_outside_the_prefix() -> None:
    for name in ("publisher", "maintainer"):
        policy = plan(prefix="team").policy(name)
        for key in ("other/x.whl", "team2/x.whl", "teamx", "index.html", "team"):
            for action in ("GetObject", "PutObject", "DeleteObject", "AbortMultipartUpload"):
                assert not is_allowed(policy, s3(action, key)), (name, action, key)
        for listed in ("", "other/", "team2/", "team"):
            assert not is_allowed(policy, s3("ListBucket", **{"s3:prefix": listed}))
        assert not is_allowed(policy, s3("ListBucket"))  # a listing without a prefix
        assert is_allowed(policy, s3("ListBucket", **{"s3:prefix": "team/"}))
        assert not is_allowed(
            policy, Request("s3:GetObject", f"arn:aws:s3:::other-{BUCKET}/team/x")
        )


@pytest.mark.parametrize("locking", [True, False])
def test_the_lock_table_and_nothing_else_in_dynamodb(locking: bool) -> None:
    table = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/{BUCKET}-locks"
    for name in ("publisher", "maintainer"):
        policy = plan(enable_dynamodb_locking=locking).policy(name)
        (statement,) = [s for s in statements(policy) if s["Sid"] == "Lock"]
        assert statement["Resource"] == [table]
        # locking.py: GetItem (look for the table, name a lock's holder), PutItem (take and
        # refresh, conditionally), DeleteItem (release, force-unlock). Without the table, only
        # the look-up, so that s3pypi does not warn that it cannot read it.
        expected = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
        assert statement["Action"] == (expected if locking else expected[:1])
        assert not is_allowed(policy, Request("dynamodb:GetItem", table + "-other"))
        assert not is_allowed(policy, Request("dynamodb:Scan", table))


def test_kms_only_with_a_customer_key() -> None:
    assert not actions(plan().policy("maintainer"), "kms")
    for name in ("publisher", "maintainer"):
        policy = plan(kms_key_arn=KEY_ARN).policy(name)
        (statement,) = [
            s for s in statements(policy) if s["Sid"] == "EncryptAndDecryptIndexObjects"
        ]
        assert statement["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
        assert statement["Resource"] == [KEY_ARN]
        assert not is_allowed(policy, Request("kms:Decrypt", KEY_ARN.replace("1234abcd", "ffff")))


def _encryption(p: Plan) -> dict[str, Any]:
    body = p.module.resources[("aws_s3_bucket_server_side_encryption_configuration", "pypi")]
    (rule,) = body.nested("rule")
    (default,) = rule.nested("apply_server_side_encryption_by_default")
    values = {k: p.evaluate(v, {}) for k, v in default.attributes.items()}
    values["bucket_key_enabled"] = p.evaluate(rule.attributes["bucket_key_enabled"], {})
    return values


def test_bucket_encryption_follows_kms_key_arn() -> None:
    assert _encryption(plan()) == {
        "sse_algorithm": "AES256",
        "kms_master_key_id": None,
        "bucket_key_enabled": False,
    }
    assert _encryption(plan(kms_key_arn=KEY_ARN)) == {
        "sse_algorithm": "aws:kms",
        "kms_master_key_id": KEY_ARN,
        "bucket_key_enabled": True,
    }


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
@pytest.mark.parametrize("locking", [True, False])
def test_publishers_delete_nothing_in_any_partition(partition: str, locking: bool) -> None:
    """Off *.amazonaws.com (the China partition's endpoints end in .amazonaws.com.cn), s3pypi
    checks conditional writes by creating a marker object it keeps: a PutObject, no delete."""
    p = plan(partition, prefix="team", enable_dynamodb_locking=locking)
    assert "s3:DeleteObject" not in actions(p.policy("publisher"), "s3")
    marker = f"arn:{partition}:s3:::{BUCKET}/team/.s3pypi-conditional-writes"
    assert is_allowed(p.policy("publisher"), Request("s3:PutObject", marker))


def test_policy_outputs() -> None:
    p = plan(prefix="team")
    assert (
        p.output("publisher_policy_json")
        == p.data_source("aws_iam_policy_document", "publisher", None)["json"]
    )
    assert p.output("publisher_policy_arn") == (
        f"arn:aws:iam::{ACCOUNT}:policy/s3pypi-pypi-example-com-publisher"
    )
    assert p.output("maintainer_policy_arn").endswith(":policy/s3pypi-pypi-example-com-maintainer")
    assert p.output("repository_url") == f"s3://{BUCKET}/team"
    assert p.output("index_url") == "https://pypi.example.com/team/"
    assert plan().output("repository_url") == f"s3://{BUCKET}"
    assert plan().output("index_url") == "https://pypi.example.com/"
    for name in ("publisher", "maintainer"):
        policy = p.module.resources[("aws_iam_policy", name)]
        assert (
            p.evaluate(policy.attributes["policy"], {})
            == (p.data_source("aws_iam_policy_document", name, None)["json"])
        )


# CI roles: who may assume them


GITHUB_SUBJECT = re.compile(
    r"repo:[A-Za-z0-9-]+/[A-Za-z0-9._-]+:"
    r"(environment:[^*?]+|ref:refs/heads/[^*?]+|ref:refs/tags/[^*?]+|ref:refs/tags/[^*?]*\*)"
)
GITLAB_SUBJECT = re.compile(
    r"project_path:[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+:"
    r"(ref_type:branch:ref:[^*?]+|ref_type:tag:ref:[^*?]+|ref_type:tag:ref:[^*?]*\*)"
)


def pinned(subject: str, platform: str) -> bool:
    """Whether a trusted `sub` names one repository (project) literally: wildcards may only end
    a tag ref, after the repository, the ref type and the fixed part of the tag."""
    pattern = GITHUB_SUBJECT if platform == "github" else GITLAB_SUBJECT
    return pattern.fullmatch(subject) is not None


@pytest.mark.parametrize(
    ("subject", "platform"),
    [
        ("*", "github"),
        ("repo:*", "github"),
        ("repo:org/*", "github"),
        ("repo:org/*:ref:refs/heads/main", "github"),
        ("repo:*/repo:environment:release", "github"),
        ("repo:org/re?o:environment:release", "github"),
        ("repo:org/repo:*", "github"),
        ("repo:org/repo:ref:*", "github"),
        ("repo:org/repo:ref:refs/heads/*", "github"),
        ("repo:org/repo:environment:*", "github"),
        ("repo:org/repo:pull_request", "github"),
        ("project_path:group/*:ref_type:branch:ref:main", "gitlab"),
        ("project_path:*", "gitlab"),
        ("project_path:group/project:*", "gitlab"),
        ("project_path:group/project:ref_type:branch:ref:*", "gitlab"),
        ("project_path:group/project:ref_type:*:ref:v1", "gitlab"),
    ],
)
def test_the_pinning_check_rejects_wide_subjects(subject: str, platform: str) -> None:
    assert not pinned(subject, platform)


def github_token(sub: str, aud: str = "sts.amazonaws.com", provider: str = GITHUB) -> Request:
    return Request(
        "sts:AssumeRoleWithWebIdentity",
        context={f"{GITHUB}:aud": aud, f"{GITHUB}:sub": sub},
        principal=("Federated", f"arn:aws:iam::{ACCOUNT}:oidc-provider/{provider}"),
    )


GITHUB_PUBLISHERS = [
    {"repository": "org/repo", "environment": "release"},
    {"repository": "org/lib", "ref": "refs/heads/main"},
    {"repository": "org/repo", "ref": "refs/tags/v*"},
]


def test_no_ci_roles_unless_asked() -> None:
    p = plan()
    for type_, name in [
        ("aws_iam_openid_connect_provider", "github"),
        ("aws_iam_openid_connect_provider", "gitlab"),
        ("aws_iam_role", "github_publisher"),
        ("aws_iam_role", "gitlab_publisher"),
        ("aws_iam_role_policy_attachment", "github_publisher"),
        ("aws_iam_role_policy_attachment", "gitlab_publisher"),
    ]:
        assert p.count("resource", type_, name) == 0
    assert p.output("github_publisher_role_arn") is None
    assert p.output("gitlab_publisher_role_arn") is None


def test_github_role_trusts_exactly_its_publishers() -> None:
    p = plan(github_publishers=GITHUB_PUBLISHERS)
    assert p.validation_errors() == []
    (statement,) = statements(p.policy("github_publisher_trust", 0))
    provider = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{GITHUB}"
    assert statement["Action"] == ["sts:AssumeRoleWithWebIdentity"]
    assert statement["Principal"] == {"Federated": [provider]}
    subjects = statement["Condition"]["StringLike"][f"{GITHUB}:sub"]
    assert statement["Condition"] == {
        "StringEquals": {f"{GITHUB}:aud": ["sts.amazonaws.com"]},
        "StringLike": {f"{GITHUB}:sub": subjects},
    }
    assert subjects == [
        "repo:org/repo:environment:release",
        "repo:org/lib:ref:refs/heads/main",
        "repo:org/repo:ref:refs/tags/v*",
    ]
    assert all(pinned(subject, "github") for subject in subjects)
    trust = p.policy("github_publisher_trust", 0)
    for sub in [*subjects[:2], "repo:org/repo:ref:refs/tags/v1.2.3"]:
        assert is_allowed(trust, github_token(sub)), sub
    for sub in [
        "repo:org/repo-fork:environment:release",
        "repo:org/rep:environment:release",
        "repo:other/repo:environment:release",
        "repo:org/repo:environment:release-2",
        "repo:org/repo:environment:staging",
        "repo:org/lib:ref:refs/heads/main2",
        "repo:org/lib:ref:refs/heads/feature",
        "repo:org/lib:pull_request",
        "repo:org/repo:ref:refs/heads/v1",
        "repo:org/lib:ref:refs/tags/v1",
        "repo:org/repo-fork:ref:refs/tags/v1",
    ]:
        assert not is_allowed(trust, github_token(sub)), sub
    assert not is_allowed(trust, github_token(subjects[0], aud="https://github.com/org"))
    assert not is_allowed(trust, github_token(subjects[0], provider="gitlab.com"))
    # The provider the module creates: GitHub's issuer, for STS.
    (url,) = [p.argument("resource", "aws_iam_openid_connect_provider", "github", "url", 0)]
    assert url == f"https://{GITHUB}"
    assert p.argument(
        "resource", "aws_iam_openid_connect_provider", "github", "client_id_list", 0
    ) == ["sts.amazonaws.com"]


def test_github_role_gets_the_publisher_policy_and_is_an_output() -> None:
    p = plan(github_publishers=GITHUB_PUBLISHERS[:1])
    role = "s3pypi-pypi-example-com-github-publisher"
    assert p.output("github_publisher_role_arn") == f"arn:aws:iam::{ACCOUNT}:role/{role}"
    assert (
        p.argument("resource", "aws_iam_role", "github_publisher", "assume_role_policy", 0)
        == (p.data_source("aws_iam_policy_document", "github_publisher_trust", 0)["json"])
    )
    attachment = ("resource", "aws_iam_role_policy_attachment", "github_publisher")
    assert p.argument(*attachment, "role", 0) == role
    assert p.argument(*attachment, "policy_arn", 0) == p.output("publisher_policy_arn")
    assert (
        p.argument("resource", "aws_iam_role", "github_publisher", "max_session_duration", 0)
        == 3600
    )


def test_github_role_with_an_existing_provider() -> None:
    existing = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{GITHUB}"
    p = plan(github_publishers=GITHUB_PUBLISHERS, github_oidc_provider_arn=existing)
    assert p.count("resource", "aws_iam_openid_connect_provider", "github") == 0
    (statement,) = statements(p.policy("github_publisher_trust", 0))
    assert statement["Principal"] == {"Federated": [existing]}


def gitlab_token(sub: str, host: str = "gitlab.com", aud: str = "sts.amazonaws.com") -> Request:
    return Request(
        "sts:AssumeRoleWithWebIdentity",
        context={f"{host}:aud": aud, f"{host}:sub": sub},
        principal=("Federated", f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"),
    )


@pytest.mark.parametrize(
    ("url", "host"),
    [("https://gitlab.com", "gitlab.com"), ("https://gitlab.example.com", "gitlab.example.com")],
)
def test_gitlab_role_trusts_exactly_its_publishers(url: str, host: str) -> None:
    p = plan(
        gitlab_url=url,
        gitlab_publishers=[
            {"project_path": "group/project", "ref_type": "branch", "ref": "main"},
            {"project_path": "group/sub/lib", "ref_type": "tag", "ref": "v*"},
        ],
    )
    assert p.validation_errors() == []
    assert p.argument("resource", "aws_iam_openid_connect_provider", "gitlab", "url", 0) == url
    assert p.argument(
        "resource", "aws_iam_openid_connect_provider", "gitlab", "client_id_list", 0
    ) == ["sts.amazonaws.com"]
    trust = p.policy("gitlab_publisher_trust", 0)
    (statement,) = statements(trust)
    assert statement["Principal"] == {"Federated": [f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"]}
    subjects = [
        "project_path:group/project:ref_type:branch:ref:main",
        "project_path:group/sub/lib:ref_type:tag:ref:v*",
    ]
    assert statement["Condition"] == {
        "StringEquals": {f"{host}:aud": ["sts.amazonaws.com"]},
        "StringLike": {f"{host}:sub": subjects},
    }
    assert all(pinned(subject, "gitlab") for subject in subjects)
    for sub in [subjects[0], "project_path:group/sub/lib:ref_type:tag:ref:v2.0.0"]:
        assert is_allowed(trust, gitlab_token(sub, host)), sub
    for sub in [
        "project_path:group/project-fork:ref_type:branch:ref:main",
        "project_path:group/project:ref_type:branch:ref:main2",
        "project_path:group/project:ref_type:tag:ref:main",
        "project_path:group/sub/lib:ref_type:branch:ref:v2",
        "project_path:group/sub/lib2:ref_type:tag:ref:v2",
        "project_path:other/project:ref_type:branch:ref:main",
    ]:
        assert not is_allowed(trust, gitlab_token(sub, host)), sub
    assert not is_allowed(trust, gitlab_token(subjects[0], host, aud="https://gitlab.com"))
    other = "gitlab.example.com" if host == "gitlab.com" else "gitlab.com"
    assert not is_allowed(trust, gitlab_token(subjects[0], other))
    assert p.output("gitlab_publisher_role_arn") == (
        f"arn:aws:iam::{ACCOUNT}:role/s3pypi-pypi-example-com-gitlab-publisher"
    )


def test_gitlab_audience_and_existing_provider() -> None:
    existing = f"arn:aws:iam::{ACCOUNT}:oidc-provider/gitlab.com"
    p = plan(
        gitlab_publishers=[{"project_path": "group/project", "ref_type": "branch", "ref": "main"}],
        gitlab_audience="https://gitlab.com",
        gitlab_oidc_provider_arn=existing,
    )
    assert p.count("resource", "aws_iam_openid_connect_provider", "gitlab") == 0
    (statement,) = statements(p.policy("gitlab_publisher_trust", 0))
    assert statement["Principal"] == {"Federated": [existing]}
    assert statement["Condition"]["StringEquals"] == {"gitlab.com:aud": ["https://gitlab.com"]}


# Inputs that would widen a policy are refused


@pytest.mark.parametrize(
    ("publisher", "platform"),
    [
        ({"repository": "org/*", "environment": "release"}, "github"),
        ({"repository": "*", "ref": "refs/heads/main"}, "github"),
        ({"repository": "org/repo", "ref": "refs/heads/*"}, "github"),
        ({"repository": "org/repo", "ref": "*"}, "github"),
        ({"repository": "org/repo", "environment": "*"}, "github"),
        ({"repository": "org/re?o", "environment": "release"}, "github"),
        ({"project_path": "group/*", "ref_type": "branch", "ref": "main"}, "gitlab"),
        ({"project_path": "group/project", "ref_type": "branch", "ref": "*"}, "gitlab"),
        ({"project_path": "group/project", "ref_type": "*", "ref": "v1"}, "gitlab"),
        ({"project_path": "project", "ref_type": "branch", "ref": "main"}, "gitlab"),
    ],
)
def test_wide_publishers_are_refused_and_would_be_caught(
    publisher: dict[str, str], platform: str
) -> None:
    p = plan(**{f"{platform}_publishers": [publisher]})
    assert p.validation_errors()
    # Had Terraform let it through, the trust policy's check above would catch it.
    (statement,) = statements(p.policy(f"{platform}_publisher_trust", 0))
    (subjects,) = statement["Condition"]["StringLike"].values()
    assert not all(pinned(subject, platform) for subject in subjects)


@pytest.mark.parametrize(
    "publisher",
    [
        {"repository": "org/repo"},
        {"repository": "org/repo", "ref": "refs/heads/main", "environment": "release"},
        {"repository": "org/repo", "ref": "main"},
    ],
)
def test_a_github_publisher_names_a_ref_or_an_environment(publisher: dict[str, str]) -> None:
    assert plan(github_publishers=[publisher]).validation_errors()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("prefix", "/team"),
        ("prefix", "team/"),
        ("prefix", "te*m"),
        ("prefix", "a//b"),
        ("prefix", "a?"),
        ("gitlab_url", "http://gitlab.com"),
        ("gitlab_url", "https://gitlab.com/"),
        ("gitlab_url", "https://gitlab.com:8443"),
        ("kms_key_arn", "alias/s3pypi"),
    ],
)
def test_bad_inputs_are_refused(name: str, value: str) -> None:
    assert plan(**{name: value}).validation_errors()


def test_good_inputs_pass() -> None:
    assert plan(prefix="teams/web-1", kms_key_arn=KEY_ARN).validation_errors() == []
