"""action.yml, the composite GitHub Action: its inputs, the pinned action that assumes the role,
the install step as written, and its upload step run for real with bash (GitHub runs composite
`run:` steps with `bash --noprofile --norc -eo pipefail`) against the moto server."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import BIN, Bucket

ROOT = Path(__file__).parent.parent
ACTION_FILE = ROOT / "action.yml"
ACTION: dict[str, Any] = yaml.safe_load(ACTION_FILE.read_text())
INPUTS: dict[str, dict[str, Any]] = ACTION["inputs"]
STEPS: list[dict[str, Any]] = ACTION["runs"]["steps"]
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def step(name: str) -> dict[str, Any]:
    (found,) = [s for s in STEPS if s.get("name") == name]
    return found


def render(value: str, inputs: dict[str, str]) -> str:
    """A step's `${{ inputs.NAME }}` expressions, as the runner fills them in."""

    def replace(match: re.Match[str]) -> str:
        expression = match.group(1)
        assert expression.startswith("inputs."), expression
        return inputs[expression.removeprefix("inputs.")]

    return EXPRESSION.sub(replace, value)


def upload_step(cwd: Path, **given: str) -> subprocess.CompletedProcess[str]:
    """Run the upload step with these inputs (by their names with `_` for `-`)."""
    inputs = {name: str(spec.get("default", "")) for name, spec in INPUTS.items()}
    inputs.update({name.replace("_", "-"): value for name, value in given.items()})
    assert set(inputs) == set(INPUTS)
    upload = step("Publish with s3pypi upload")
    script = cwd / ".upload-step.sh"
    script.write_text(upload["run"])
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",  # as the install step leaves it
        **{name: render(value, inputs) for name, value in upload["env"].items()},
    }
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def workspace(tmp_path: Path, dist_dir: Path) -> Path:
    """A checkout whose build left dist/ (hello-world 1.0.0 wheel and sdist, 1.1 wheel)."""
    assert dist_dir == tmp_path / "dist"
    return tmp_path


DISTRIBUTIONS = {
    "hello-world/hello_world-1.0.0-py3-none-any.whl",
    "hello-world/hello_world-1.0.0.tar.gz",
    "hello-world/hello_world-1.1-py3-none-any.whl",
}


# As written


def test_inputs() -> None:
    assert set(INPUTS) == {
        "role-to-assume",
        "aws-region",
        "repository-url",
        "bucket",
        "prefix",
        "packages-dir",
        "skip-existing",
        "put-root-index",
    }
    assert {name for name, spec in INPUTS.items() if spec.get("required")} == {
        "role-to-assume",
        "aws-region",
    }
    assert INPUTS["packages-dir"]["default"] == "dist/"
    assert INPUTS["skip-existing"]["default"] == "false"
    assert INPUTS["put-root-index"]["default"] == "false"
    for name, spec in INPUTS.items():
        assert spec["description"].strip(), name
    used = {m for s in STEPS for m in EXPRESSION.findall(yaml.safe_dump(s))}
    assert {f"inputs.{name}" for name in INPUTS} <= used


def test_a_composite_action_of_three_steps() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert [s["name"] for s in STEPS] == [
        "Assume the publisher role",
        "Install s3pypi",
        "Publish with s3pypi upload",
    ]


def test_assumes_the_role_with_the_official_action_pinned_by_commit() -> None:
    assume = step("Assume the publisher role")
    name, _, ref = assume["uses"].partition("@")
    assert name == "aws-actions/configure-aws-credentials"
    assert re.fullmatch(r"[0-9a-f]{40}", ref)  # a tag can be moved; a commit cannot
    (line,) = [line for line in ACTION_FILE.read_text().splitlines() if ref in line]
    assert re.search(r"# v\d+\.\d+\.\d+$", line)  # which release that commit is
    assert assume["with"] == {
        "role-to-assume": "${{ inputs.role-to-assume }}",
        "aws-region": "${{ inputs.aws-region }}",
        "role-session-name": "s3pypi-upload",
    }
    uses = [s["uses"] for s in STEPS if "uses" in s]
    assert uses == [assume["uses"]]


def test_installs_the_s3pypi_of_this_checkout_into_its_own_environment() -> None:
    install = step("Install s3pypi")
    assert install["env"] == {"ACTION_PATH": "${{ github.action_path }}"}
    script = install["run"]
    assert 'python3 -m venv "$RUNNER_TEMP/s3pypi"' in script
    assert re.search(
        r'"\$RUNNER_TEMP/s3pypi/bin/python" -m pip install .*"\$ACTION_PATH"$', script, re.M
    )
    assert 'echo "$RUNNER_TEMP/s3pypi/bin" >> "$GITHUB_PATH"' in script


def test_inputs_reach_scripts_only_through_the_environment() -> None:
    """`${{ inputs.x }}` pasted into a script would run a crafted input as shell code."""
    for s in STEPS:
        assert "${{" not in s.get("run", ""), s["name"]
        assert s.get("shell", "bash") == "bash"


# Run


def test_publishes_the_packages_dir_and_refuses_existing_files_by_default(
    bucket: Bucket, workspace: Path
) -> None:
    result = upload_step(workspace, repository_url=f"s3://{bucket.name}")
    assert result.returncode == 0, result.stderr
    assert set(bucket.keys()) >= DISTRIBUTIONS
    assert "index.html" not in bucket.keys()  # no root page unless asked

    again = upload_step(workspace, repository_url=f"s3://{bucket.name}")
    assert again.returncode == 1
    assert "3 file(s) already existed" in again.stderr  # --strict


def test_skip_existing_skips_with_a_warning(bucket: Bucket, workspace: Path) -> None:
    url = f"s3://{bucket.name}"
    assert upload_step(workspace, repository_url=url).returncode == 0
    before = bucket.snapshot()
    again = upload_step(workspace, repository_url=url, skip_existing="true")
    assert again.returncode == 0, again.stderr
    assert "already exists" in again.stderr
    assert bucket.snapshot() == before


def test_bucket_prefix_packages_dir_and_root_index(bucket: Bucket, workspace: Path) -> None:
    (workspace / "dist").rename(workspace / "my dist")
    result = upload_step(
        workspace,
        bucket=bucket.name,
        prefix="team",
        packages_dir="my dist",
        put_root_index="true",
    )
    assert result.returncode == 0, result.stderr
    keys = set(bucket.keys())
    assert {f"team/{key}" for key in DISTRIBUTIONS} <= keys
    assert "hello-world" in bucket.text("team/")  # the root page of the prefix
    assert all(key.startswith("team/") for key in keys)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({}, "give repository-url (s3://BUCKET[/PREFIX]) or bucket"),
        ({"repository_url": "s3://x", "bucket": "x"}, "not both"),
        ({"repository_url": "s3://x", "prefix": "p"}, "not both"),
        ({"bucket": "BUCKET", "skip_existing": "yes"}, "skip-existing must be true or false"),
        ({"bucket": "BUCKET", "put_root_index": "1"}, "put-root-index must be true or false"),
        ({"bucket": "BUCKET", "packages_dir": ""}, "packages-dir is empty"),
    ],
)
def test_bad_inputs_fail_with_one_error_and_write_nothing(
    bucket: Bucket, workspace: Path, inputs: dict[str, str], message: str
) -> None:
    given = {k: v.replace("BUCKET", bucket.name) for k, v in inputs.items()}
    result = upload_step(workspace, **given)
    assert result.returncode == 1
    (error,) = result.stdout.splitlines()
    assert error.startswith("::error title=s3pypi upload::")
    assert message in error
    assert bucket.keys() == []


def test_an_input_is_never_run_as_shell_code(bucket: Bucket, workspace: Path) -> None:
    crafted = "$(touch PWNED)`touch PWNED2`;touch PWNED3"
    result = upload_step(workspace, repository_url=crafted)
    assert result.returncode != 0
    assert crafted in result.stderr  # handed to s3pypi as it is, which refuses it
    result = upload_step(workspace, bucket=crafted, prefix=crafted, packages_dir=crafted)
    assert result.returncode != 0
    assert not list(workspace.glob("PWNED*"))
    assert bucket.keys() == []
