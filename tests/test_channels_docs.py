"""docs/channels.md against what it documents: its commands parse as the CLI reads them, its
policy file is read as it says, its workflow parses, and its Python example prints what the
page shows."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from click.testing import Result

from s3pypi_core.channels import RetentionPolicy
from s3pypi_core.cli import cli
from tests.conftest import REGION
from tests.distributions import SampleProject

ROOT = Path(__file__).parent.parent
DOC = (ROOT / "docs" / "channels.md").read_text()

Run = Callable[..., Result]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, re.DOTALL)


def workflow() -> Any:
    [block] = blocks("yaml")
    return yaml.safe_load(block)


def commands() -> list[str]:
    """Every s3pypi command line on the page: in console and bash blocks, in the text, and in
    the workflow's steps."""
    lines = [
        line.removeprefix("$ ")
        for block in blocks("console") + blocks("bash")
        for line in block.splitlines()
        if line.startswith(("$ s3pypi ", "s3pypi "))
    ]
    lines += re.findall(r"`(s3pypi (?:promote|prune) [^`]*)`", DOC)
    for job in workflow()["jobs"].values():
        for step in job["steps"]:
            lines += step.get("run", "").splitlines()
    return [line.strip() for line in lines if line.strip().startswith("s3pypi ")]


def test_the_page_documents_both_commands() -> None:
    found = {shlex.split(c)[1] for c in commands()}

    assert {"promote", "prune", "upload"} <= found


@pytest.mark.parametrize("command", commands())
def test_every_command_parses(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    [policy] = blocks("toml")
    (tmp_path / "retention.toml").write_text(policy)
    _s3pypi, name, *args = shlex.split(command)

    subcommand = cli.commands[name]

    subcommand.make_context(name, args)  # raises on an unknown or bad option, a missing file


def test_the_policy_file_reads_as_the_page_says(tmp_path: Path) -> None:
    [block] = blocks("toml")
    path = tmp_path / "retention.toml"
    path.write_text(block)

    policy = RetentionPolicy.from_file(path)

    assert (policy.keep, policy.older_than, policy.only_prereleases) == (
        20,
        timedelta(days=30),
        True,
    )
    core = policy.for_project("acme-core")
    assert (core.keep, core.older_than, core.only_prereleases) == (1, timedelta(0), True)


def test_the_workflow_runs_each_job_on_its_event() -> None:
    jobs = workflow()["jobs"]

    assert {name: job["if"] for name, job in jobs.items()} == {
        "dev": "github.event_name == 'push'",
        "promote": "github.event_name == 'release'",
        "prune": "github.event_name == 'schedule'",
    }
    assert workflow()["permissions"]["id-token"] == "write"


@pytest.fixture
def acme_pypi(moto_endpoint: str) -> Iterator[str]:
    """The page's bucket, on the test server, for the length of one test."""
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION)
    client.create_bucket(Bucket="acme-pypi")
    yield "acme-pypi"
    pages = client.get_paginator("list_objects_v2").paginate(Bucket="acme-pypi")
    for page in pages:
        for item in page.get("Contents", []):
            client.delete_object(Bucket="acme-pypi", Key=item["Key"])
    client.delete_bucket(Bucket="acme-pypi")


def test_the_python_example_prints_what_the_page_shows(
    run: Run, acme_pypi: str, tmp_path: Path
) -> None:
    project = SampleProject("acme-core", tmp_path / "dist")
    for version in ("1.3.0", "1.4.0rc1", "1.4.0"):
        project.wheel(version, requires_python=">=3.9")
    result = run("upload", project.root / "*", "--bucket", acme_pypi, "--prefix", "dev")
    assert result.exit_code == 0, result.output
    python = next(b for b in blocks("python") if "promote_release" in b)
    after = DOC.split(python + "```\n", 1)[1]
    shown = re.match(r"\s*```\n(.*?)```", after, re.DOTALL)
    assert shown is not None

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(python, "docs/channels.md", "exec"), {})

    assert printed.getvalue() == shown.group(1)
