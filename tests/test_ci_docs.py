"""docs/publish-from-ci.md against what it documents: its workflow files parse, use the action's
real inputs and the module's real names, and ask for the OIDC token the roles trust."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tests.terraform_eval import Plan
from tests.test_github_action import ACTION_FILE, INPUTS

ROOT = Path(__file__).parent.parent
DOC = (ROOT / "docs" / "publish-from-ci.md").read_text()
MODULE = ROOT / "terraform" / "modules" / "s3pypi"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, re.DOTALL)


def yaml_blocks() -> list[Any]:
    return [yaml.safe_load(block) for block in blocks("yaml")]


def example_plan() -> Plan:
    """The module as the page's example configures it."""
    return Plan(
        MODULE,
        {
            "bucket": "my-pypi-bucket",
            "domain": "pypi.example.com",
            "enable_dynamodb_locking": True,
            "github_publishers": [{"repository": "my-org/my-package", "environment": "release"}],
            "gitlab_publishers": [
                {"project_path": "my-group/my-package", "ref_type": "tag", "ref": "v*"}
            ],
        },
    )


def test_the_example_configuration_is_the_one_the_page_shows() -> None:
    (module_call,) = [b for b in blocks("hcl") if 'module "s3pypi"' in b]
    assert '{ repository = "my-org/my-package", environment = "release" }' in module_call
    assert '{ project_path = "my-group/my-package", ref_type = "tag", ref = "v*" }' in module_call
    plan = example_plan()
    assert plan.validation_errors() == []
    for name in ("github_publisher_role_arn", "gitlab_publisher_role_arn", "repository_url"):
        assert f'{name} = "{plan.output(name)}"' in DOC


def test_github_workflow() -> None:
    (workflow,) = [b for b in yaml_blocks() if isinstance(b, dict) and "jobs" in b]
    publish = workflow["jobs"]["publish"]
    assert publish["permissions"]["id-token"] == "write"
    assert publish["environment"] == "release"
    for job in workflow["jobs"].values():
        if job is not publish:
            assert "id-token" not in job.get("permissions", {})
    (step,) = [s for s in publish["steps"] if s.get("uses", "").startswith("gorilla-co/s3pypi@")]
    assert re.fullmatch(r"gorilla-co/s3pypi@v\d+\.\d+\.\d+", step["uses"])  # pinned by tag
    assert set(step["with"]) <= set(INPUTS)
    assert {n for n, spec in INPUTS.items() if spec.get("required")} <= set(step["with"])
    plan = example_plan()
    assert step["with"]["role-to-assume"] == plan.output("github_publisher_role_arn")
    assert step["with"]["repository-url"] == plan.output("repository_url")


def test_the_documented_inputs_are_the_action_s() -> None:
    documented = set(re.findall(r"^\| `([a-z-]+)`(?:, `([a-z-]+)`)? \|", DOC, re.MULTILINE))
    names = {name for pair in documented for name in pair if name}
    assert names == set(INPUTS)


def test_configure_aws_credentials_is_the_action_s_commit() -> None:
    pinned = re.findall(r"aws-actions/configure-aws-credentials@([0-9a-f]{40}) # (v[\d.]+)", DOC)
    assert pinned
    for sha, tag in pinned:
        assert f"configure-aws-credentials@{sha} # {tag}" in ACTION_FILE.read_text()


def test_gitlab_job() -> None:
    (pipeline,) = [b for b in yaml_blocks() if isinstance(b, dict) and "publish" in b]
    job = pipeline["publish"]
    plan = example_plan()
    (token,) = job["id_tokens"].values()
    assert token["aud"] == plan.var["gitlab_audience"]
    assert job["variables"]["AWS_ROLE_ARN"] == plan.output("gitlab_publisher_role_arn")
    script = "\n".join(job["script"])
    assert 'AWS_WEB_IDENTITY_TOKEN_FILE="$(mktemp)"' in script
    (name,) = job["id_tokens"]
    assert f'"${name}" > "$AWS_WEB_IDENTITY_TOKEN_FILE"' in script
    assert "s3pypi upload 'dist/*' --repository-url s3://my-pypi-bucket" in script
