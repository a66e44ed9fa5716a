"""The Terraform module, read as a security review would: every file parses (python-hcl2),
and the resources have the settings that matter. No provider is downloaded."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest

ROOT = Path(__file__).parent.parent
TERRAFORM = ROOT / "terraform"
MODULE = TERRAFORM / "modules" / "s3pypi"
TF_FILES = sorted(TERRAFORM.rglob("*.tf"))

_OPTIONS = hcl2.SerializationOptions(
    with_comments=False, explicit_blocks=False, strip_string_quotes=True
)


@cache
def parse(path: Path) -> dict[str, Any]:
    with path.open() as f:
        parsed: dict[str, Any] = hcl2.load(f, serialization_options=_OPTIONS)
    return parsed


@cache
def module(directory: Path = MODULE) -> dict[str, Any]:
    """All blocks of a module's files: {"resource": {TYPE: {NAME: BODY}}, "variable": ...}."""
    merged: dict[str, Any] = {}
    for path in sorted(directory.glob("*.tf")):
        for kind, blocks in parse(path).items():
            for block in blocks:
                if kind in ("resource", "data"):
                    for type_, named in block.items():
                        merged.setdefault(kind, {}).setdefault(type_, {}).update(named)
                elif kind in ("variable", "output", "module", "provider"):
                    merged.setdefault(kind, {}).update(
                        block if kind != "provider" else {repr(block): block}
                    )
                else:  # terraform, locals, moved
                    merged.setdefault(kind, []).append(block)
    return merged


def resource(type_: str, name: str) -> dict[str, Any]:
    body: dict[str, Any] = module()["resource"][type_][name]
    return body


def data(type_: str, name: str) -> dict[str, Any]:
    body: dict[str, Any] = module()["data"][type_][name]
    return body


def local(name: str) -> Any:
    for block in module()["locals"]:
        if name in block:
            return block[name]
    raise KeyError(name)


def lambda_package_sources() -> dict[str, Path | None]:
    """The files Terraform zips into the Lambda@Edge package: name -> source (None: generated)."""
    root = (MODULE / local("repository_root").replace("${path.module}/", "")).resolve()
    files: dict[str, Path | None] = {}
    for source in data("archive_file", "basic_auth")["source"]:
        match = re.fullmatch(
            r'\$\{file\("\$\{local\.repository_root\}/(.+)"\)\}', source["content"]
        )
        files[source["filename"]] = root / match.group(1) if match else None
    return files


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_file_parses(path: Path) -> None:
    assert parse(path)


def test_terraform_fmt() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("no terraform binary")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_checkov_skips_give_reasons() -> None:
    for path in TF_FILES:
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                assert re.search(r"#checkov:skip=CKV2?_AWS_\d+:\S.{20,}", line), line


# Variables, providers, outputs


@pytest.mark.parametrize(
    ("name", "type_"),
    [
        ("bucket", "string"),
        ("domain", "string"),
        ("use_wildcard_certificate", "bool"),
        ("enable_dynamodb_locking", "bool"),
        ("enable_basic_auth", "bool"),
    ],
)
def test_seed_variables(name: str, type_: str) -> None:
    variable = module()["variable"][name]
    assert variable["type"] == type_
    assert variable["description"]
    if type_ == "bool":
        assert variable["default"] is False


@pytest.mark.parametrize("directory", [MODULE, TERRAFORM], ids=["module", "example-root"])
def test_every_variable_and_output_is_typed_described_and_documented(directory: Path) -> None:
    readme = (directory / "README.md").read_text()
    for kind in ("variable", "output"):
        for name, body in module(directory)[kind].items():
            assert body.get("description"), f"{kind} {name}"
            assert f"| `{name}` |" in readme, f"{kind} {name} missing from {directory}/README.md"
    for name, body in module(directory)["variable"].items():
        assert "type" in body, name


def test_outputs() -> None:
    outputs = module()["output"]
    assert {
        "bucket",
        "distribution_id",
        "domain",
        "index_url",
        "locks_table",
        "repository_url",
        "publisher_policy_arn",
        "publisher_policy_json",
        "maintainer_policy_arn",
        "maintainer_policy_json",
        "github_publisher_role_arn",
        "gitlab_publisher_role_arn",
    } <= set(outputs)
    assert outputs["index_url"]["value"] == "https://${var.domain}/${local.index_key_prefix}"
    assert outputs["locks_table"]["value"] == "${one(aws_dynamodb_table.locks[*].name)}"


def test_module_takes_the_us_east_1_provider_from_its_caller() -> None:
    (terraform,) = module()["terraform"]
    aws = terraform["required_providers"][0]["aws"]
    assert aws["configuration_aliases"] == ["${aws.us_east_1}"]
    assert "provider" not in module()  # providers are configured by the caller


def test_example_root_as_in_the_seed() -> None:
    root = module(TERRAFORM)
    call = root["module"]["s3pypi"]
    assert call["source"] == "./modules/s3pypi"
    assert call["providers"] == {"${aws.us_east_1}": "${aws.us_east_1}"}
    seed_variables = {
        "bucket",
        "domain",
        "use_wildcard_certificate",
        "enable_dynamodb_locking",
        "enable_basic_auth",
    }
    for name in seed_variables:
        assert call[name] == f"${{var.{name}}}"
    assert {"region", *seed_variables} <= set(root["variable"])
    tfvars = parse(TERRAFORM / "config.auto.tfvars")
    assert set(tfvars) == {"region", "bucket", "domain"}
    aliases = [p["aws"].get("alias") for p in root["provider"].values()]
    assert "us_east_1" in aliases


def test_example_root_passes_the_ci_publishers_through() -> None:
    root = module(TERRAFORM)
    call = root["module"]["s3pypi"]
    for name in ("github_publishers", "gitlab_publishers", "gitlab_url"):
        assert call[name] == f"${{var.{name}}}"
        assert root["variable"][name]["type"] == module()["variable"][name]["type"]
        assert root["variable"][name]["default"] == module()["variable"][name]["default"]
    for name in (
        "repository_url",
        "publisher_policy_arn",
        "maintainer_policy_arn",
        "github_publisher_role_arn",
        "gitlab_publisher_role_arn",
    ):
        assert root["output"][name]["value"] == f"${{module.s3pypi.{name}}}"


# The bucket


def test_bucket_is_private_and_encrypted() -> None:
    block = resource("aws_s3_bucket_public_access_block", "pypi")
    for setting in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert block[setting] is True
    ownership = resource("aws_s3_bucket_ownership_controls", "pypi")
    assert ownership["rule"][0]["object_ownership"] == "BucketOwnerEnforced"
    sse = resource("aws_s3_bucket_server_side_encryption_configuration", "pypi")
    algorithm = sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"]
    # SSE-S3, or SSE-KMS with the customer key (both evaluated in test_terraform_iam.py)
    assert algorithm == '${var.kms_key_arn == null ? "AES256" : "aws:kms"}'
    assert "acl" not in resource("aws_s3_bucket", "pypi")


def test_bucket_versioning_is_optional() -> None:
    versioning = resource("aws_s3_bucket_versioning", "pypi")
    assert versioning["count"] == "${var.enable_versioning ? 1 : 0}"
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"


def test_bucket_policy_lets_only_this_distribution_read_and_only_over_tls() -> None:
    assert resource("aws_s3_bucket_policy", "s3_policy")["policy"] == (
        "${data.aws_iam_policy_document.bucket.json}"
    )
    statements = {s["sid"]: s for s in data("aws_iam_policy_document", "bucket")["statement"]}
    for sid in ("CloudFrontReadsObjects", "CloudFrontSeesMissingKeys"):
        statement = statements[sid]
        assert statement.get("effect", "Allow") == "Allow"
        assert statement["principals"][0] == {
            "type": "Service",
            "identifiers": ["cloudfront.amazonaws.com"],
        }
        assert statement["condition"][0]["variable"] == "AWS:SourceArn"
        assert statement["condition"][0]["values"] == ["${aws_cloudfront_distribution.cdn.arn}"]
    assert statements["CloudFrontReadsObjects"]["actions"] == ["s3:GetObject"]
    assert statements["CloudFrontSeesMissingKeys"]["actions"] == ["s3:ListBucket"]
    tls = statements["DenyInsecureTransport"]
    assert tls["effect"] == "Deny"
    assert tls["condition"][0] == {
        "test": "Bool",
        "variable": "aws:SecureTransport",
        "values": ["false"],
    }
    allowed = [s for s in statements.values() if s.get("effect", "Allow") == "Allow"]
    assert all(s["principals"][0]["identifiers"] != ["*"] for s in allowed)


# CloudFront


def test_cloudfront_uses_origin_access_control_not_oai() -> None:
    assert "aws_cloudfront_origin_access_identity" not in module()["resource"]
    oac = resource("aws_cloudfront_origin_access_control", "pypi")
    assert oac["origin_access_control_origin_type"] == "s3"
    assert oac["signing_behavior"] == "always"
    assert oac["signing_protocol"] == "sigv4"
    (origin,) = resource("aws_cloudfront_distribution", "cdn")["origin"]
    assert origin["origin_access_control_id"] == "${aws_cloudfront_origin_access_control.pypi.id}"
    assert origin["domain_name"] == "${aws_s3_bucket.pypi.bucket_regional_domain_name}"
    assert "s3_origin_config" not in origin


def test_cloudfront_is_https_only_with_modern_tls() -> None:
    cdn = resource("aws_cloudfront_distribution", "cdn")
    (behavior,) = cdn["default_cache_behavior"]
    assert behavior["viewer_protocol_policy"] == "https-only"
    assert behavior["allowed_methods"] == ["GET", "HEAD"]
    (certificate,) = cdn["viewer_certificate"]
    assert certificate["minimum_protocol_version"] == "TLSv1.2_2021"
    assert certificate["ssl_support_method"] == "sni-only"
    assert cdn["aliases"] == ["${var.domain}"]


def test_one_viewer_request_function_either_way() -> None:
    """The CloudFront Function without auth, Lambda@Edge (which also routes) with it."""
    function = resource("aws_cloudfront_function", "viewer_request")
    assert function["count"] == "${var.enable_basic_auth ? 0 : 1}"
    assert resource("aws_lambda_function", "basic_auth")["count"] == (
        "${var.enable_basic_auth ? 1 : 0}"
    )
    (behavior,) = resource("aws_cloudfront_distribution", "cdn")["default_cache_behavior"]
    dynamic = {name: body for block in behavior["dynamic"] for name, body in block.items()}
    assert set(dynamic) == {"function_association", "lambda_function_association"}
    function_association = dynamic["function_association"]
    assert function_association["for_each"] == "${aws_cloudfront_function.viewer_request}"
    assert function_association["content"][0]["event_type"] == "viewer-request"
    lambda_association = dynamic["lambda_function_association"]
    assert lambda_association["for_each"] == "${aws_lambda_function.basic_auth}"
    content = lambda_association["content"][0]
    assert content["event_type"] == "viewer-request"
    assert content["lambda_arn"] == "${lambda_function_association.value.qualified_arn}"


def test_cloudfront_function_code_is_the_tested_file() -> None:
    function = resource("aws_cloudfront_function", "viewer_request")
    assert function["runtime"] == "cloudfront-js-2.0"
    assert function["publish"] is True
    match = re.fullmatch(
        r'\$\{replace\(file\("\$\{path\.module\}/(\w+\.js)"\), "(.+?)", "(.+?)"\)\}',
        function["code"],
    )
    assert match, function["code"]
    code = (MODULE / match.group(1)).read_text()
    assert code.count(match.group(2)) == 1  # the setting Terraform replaces
    assert match.group(3) == "var INDEX_HTML = ${var.index_html};"


def test_cache_key_is_the_rewritten_uri_and_ttls_follow_the_objects() -> None:
    policy = resource("aws_cloudfront_cache_policy", "pypi")
    assert policy["min_ttl"] == 0
    assert policy["default_ttl"] <= 60
    (parameters,) = policy["parameters_in_cache_key_and_forwarded_to_origin"]
    assert parameters["headers_config"][0]["header_behavior"] == "none"  # no Authorization
    assert parameters["cookies_config"][0]["cookie_behavior"] == "none"
    (behavior,) = resource("aws_cloudfront_distribution", "cdn")["default_cache_behavior"]
    assert behavior["cache_policy_id"] == "${aws_cloudfront_cache_policy.pypi.id}"


# Certificate and DNS


def test_certificate_in_us_east_1_validated_by_dns_or_a_wildcard() -> None:
    certificate = resource("aws_acm_certificate", "viewer")
    assert certificate["provider"] == "${aws.us_east_1}"
    assert certificate["validation_method"] == "DNS"
    assert certificate["domain_name"] == "${var.domain}"
    assert certificate["count"] == "${var.use_wildcard_certificate ? 0 : 1}"
    validation = resource("aws_acm_certificate_validation", "viewer")
    assert validation["provider"] == "${aws.us_east_1}"
    wildcard = data("aws_acm_certificate", "wildcard")
    assert wildcard["provider"] == "${aws.us_east_1}"
    assert wildcard["count"] == "${var.use_wildcard_certificate ? 1 : 0}"
    assert wildcard["domain"] == "*.${local.hosted_zone}"
    (certificate_setting,) = resource("aws_cloudfront_distribution", "cdn")["viewer_certificate"]
    assert certificate_setting["acm_certificate_arn"] == "${local.certificate_arn}"


def test_a_and_aaaa_alias_records() -> None:
    types = set()
    for record in module()["resource"]["aws_route53_record"].values():
        if "alias" in record:
            assert record["name"] == "${var.domain}"
            assert record["alias"][0]["name"] == "${aws_cloudfront_distribution.cdn.domain_name}"
            types.add(record["type"])
    assert types == {"A", "AAAA"}


# Locks


def test_lock_table() -> None:
    table = resource("aws_dynamodb_table", "locks")
    assert table["count"] == "${var.enable_dynamodb_locking ? 1 : 0}"
    assert table["name"] == "${var.bucket}-locks"
    assert table["hash_key"] == "LockID"
    assert table["attribute"] == [{"name": "LockID", "type": "S"}]
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert table["ttl"] == [{"attribute_name": "ExpiresAt", "enabled": True}]
    assert table["point_in_time_recovery"] == [{"enabled": True}]


# Basic auth


def test_lambda_at_edge_function() -> None:
    function = resource("aws_lambda_function", "basic_auth")
    assert function["provider"] == "${aws.us_east_1}"
    assert function["runtime"].startswith("python3.")
    assert function["handler"] == "handler.handle"
    assert function["memory_size"] == 128
    assert function["timeout"] == 5
    assert function["publish"] is True
    assert function["architectures"] == ["x86_64"]
    assert "environment" not in function  # Lambda@Edge has none
    assert function["source_code_hash"] == (
        "${data.archive_file.basic_auth[0].output_base64sha256}"
    )


def test_lambda_package_holds_the_handler_its_modules_and_the_baked_config() -> None:
    sources = lambda_package_sources()
    assert set(sources) == {"handler.py", "auth.py", "routing.py", "config.json"}
    assert sources["handler.py"] == ROOT / "auth_lambda" / "handler.py"
    assert sources["auth.py"] == ROOT / "src" / "s3pypi_core" / "auth.py"
    assert sources["routing.py"] == ROOT / "src" / "s3pypi_core" / "routing.py"
    assert sources["config.json"] is None
    config = next(
        s for s in data("archive_file", "basic_auth")["source"] if s["filename"] == "config.json"
    )
    assert config["content"] == "${jsonencode(local.basic_auth_config)}"
    assert local("basic_auth_config") == {
        "domains": ["${var.domain}"],
        "region": "${var.basic_auth_users_region}",
        "cache_ttl": "${var.basic_auth_cache_ttl}",
        "index_html": "${var.index_html}",
    }


def test_lambda_modules_use_the_standard_library_only() -> None:
    allowed = {"auth", "routing", "s3pypi_core", "boto3", "botocore"}
    for name, path in lambda_package_sources().items():
        if path is None:
            continue
        text = path.read_text()
        imported = set(re.findall(r"^\s*(?:from|import) (\w+)", text, re.MULTILINE))
        outside = imported - allowed - set(sys.stdlib_module_names) - {"__future__"}
        assert not outside, (name, outside)


def test_lambda_role_is_least_privilege() -> None:
    assume = data("aws_iam_policy_document", "basic_auth_assume_role")["statement"][0]
    assert assume["actions"] == ["sts:AssumeRole"]
    assert set(assume["principals"][0]["identifiers"]) == {
        "lambda.amazonaws.com",
        "edgelambda.amazonaws.com",
    }
    statements = {s["sid"]: s for s in data("aws_iam_policy_document", "basic_auth")["statement"]}
    assert set(statements) == {"ReadUsers", "WriteOwnLogs"}
    assert statements["ReadUsers"]["actions"] == ["ssm:GetParameter"]
    assert statements["ReadUsers"]["resources"] == ["${local.users_parameters_arn}"]
    assert local("users_parameters_arn").endswith(":parameter/s3pypi/${var.domain}/users/*")
    assert set(statements["WriteOwnLogs"]["actions"]) == {
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    for arn in statements["WriteOwnLogs"]["resources"]:
        assert "s3pypi-basic-auth-" in arn
    for statement in statements.values():
        assert statement.get("effect", "Allow") == "Allow"
        assert all("*" not in action for action in statement["actions"])
        assert "*" not in statement["resources"]
    policy = resource("aws_iam_role_policy", "basic_auth")
    assert policy["policy"] == "${data.aws_iam_policy_document.basic_auth.json}"


def test_s3pypi_2_basic_auth_function_is_moved_not_replaced() -> None:
    assert {
        "from": "${module.basic_auth[0].aws_lambda_function.basic_auth}",
        "to": "${aws_lambda_function.basic_auth[0]}",
    } in module()["moved"]
