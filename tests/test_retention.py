"""Which versions a retention policy removes (property-based), and the policy file."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

from s3pypi_core.channels import RetentionPolicy, VersionInfo, select_versions
from s3pypi_core.exceptions import OptionError

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


@st.composite
def versions(draw: st.DrawFn) -> Version:
    release = ".".join(map(str, draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))))
    pre = draw(st.none() | st.tuples(st.sampled_from(["a", "b", "rc"]), st.integers(0, 2)))
    post = draw(st.none() | st.integers(0, 2))
    dev = draw(st.none() | st.integers(0, 2))
    text = release + (f"{pre[0]}{pre[1]}" if pre else "")
    text += f".post{post}" if post is not None else ""
    text += f".dev{dev}" if dev is not None else ""
    return Version(text)


version_infos = st.dictionaries(
    versions(),
    st.tuples(st.none() | st.integers(0, 90), st.booleans()),
    max_size=12,
).map(
    lambda found: [
        VersionInfo(v, None if days is None else NOW - timedelta(days=days), yanked)
        for v, (days, yanked) in found.items()
    ]
)

policies = st.builds(
    RetentionPolicy,
    keep=st.integers(1, 6),
    older_than=st.none() | st.integers(0, 60).map(lambda d: timedelta(days=d)),
    only_prereleases=st.booleans(),
)


def newest(infos: list[VersionInfo]) -> Version | None:
    return max((i.version for i in infos), default=None)


@given(version_infos, policies)
def test_never_selects_what_an_installer_would_pick(
    infos: list[VersionInfo], policy: RetentionPolicy
) -> None:
    selected = set(select_versions(infos, policy, NOW))

    finals = [i for i in infos if not i.version.is_prerelease]
    installable = [i for i in infos if not i.yanked]
    installable_finals = [i for i in finals if not i.yanked]
    for kind in (infos, finals, installable, installable_finals):
        assert newest(kind) not in selected
    if infos:
        assert len(selected) < len(infos)


@given(version_infos, policies)
def test_selects_only_beyond_the_newest_n_and_by_the_filters(
    infos: list[VersionInfo], policy: RetentionPolicy
) -> None:
    selected = select_versions(infos, policy, NOW)

    by_version = {i.version: i for i in infos}
    assert len(set(selected)) == len(selected)
    assert set(selected) <= set(by_version)
    assert selected == sorted(selected, reverse=True)
    candidates = sorted(
        (i.version for i in infos if i.version.is_prerelease or not policy.only_prereleases),
        reverse=True,
    )
    assert not set(selected) & set(candidates[: policy.keep])
    for version in selected:
        if policy.only_prereleases:
            assert version.is_prerelease
        if policy.older_than is not None:
            uploaded = by_version[version].uploaded
            assert uploaded is not None
            assert uploaded < NOW - policy.older_than


@given(version_infos, policies)
def test_selects_every_version_the_policy_allows(
    infos: list[VersionInfo], policy: RetentionPolicy
) -> None:
    selected = set(select_versions(infos, policy, NOW))

    candidates = sorted(
        (i for i in infos if i.version.is_prerelease or not policy.only_prereleases),
        key=lambda i: i.version,
        reverse=True,
    )
    protected = {
        newest(kind)
        for kind in (
            infos,
            [i for i in infos if not i.version.is_prerelease],
            [i for i in infos if not i.yanked],
            [i for i in infos if not i.yanked and not i.version.is_prerelease],
        )
    }
    for info in candidates[policy.keep :]:
        old = policy.older_than is None or (
            info.uploaded is not None and info.uploaded < NOW - policy.older_than
        )
        if old and info.version not in protected:
            assert info.version in selected


@given(version_infos, policies)
def test_keeping_more_never_removes_more(infos: list[VersionInfo], policy: RetentionPolicy) -> None:
    fewer = RetentionPolicy(policy.keep + 1, policy.older_than, policy.only_prereleases)

    assert set(select_versions(infos, fewer, NOW)) <= set(select_versions(infos, policy, NOW))


def info(version: str, days: int | None = 100, yanked: bool = False) -> VersionInfo:
    uploaded = None if days is None else NOW - timedelta(days=days)
    return VersionInfo(Version(version), uploaded, yanked)


def test_keeps_the_newest_pre_release_and_the_newest_final_release() -> None:
    infos = [info("1.0"), info("1.1"), info("2.0rc1"), info("2.0.dev3")]

    assert select_versions(infos, RetentionPolicy(keep=1), NOW) == [
        Version("2.0.dev3"),
        Version("1.0"),
    ]


def test_a_yanked_newest_release_also_keeps_the_one_pip_installs() -> None:
    infos = [info("2.0", yanked=True), info("1.9"), info("1.8")]

    assert select_versions(infos, RetentionPolicy(keep=1), NOW) == [Version("1.8")]


def test_versions_of_unknown_age_are_never_old() -> None:
    infos = [info("3.0"), info("2.0", days=None), info("1.0", days=40)]
    policy = RetentionPolicy(keep=1, older_than=timedelta(days=30))

    assert select_versions(infos, policy, NOW) == [Version("1.0")]


# The policy file


def write(tmp_path: Path, text: str, name: str = "pyproject.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_policy_from_pyproject_with_per_project_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[project]\nname = "acme"\n\n'
        "[tool.s3pypi.retention]\nkeep = 10\nolder-than = 30\nonly-prereleases = true\n\n"
        "[tool.s3pypi.retention.projects.Acme_Core]\nkeep = 50\n\n"
        '[tool.s3pypi.retention.projects."acme.legacy"]\nonly-prereleases = false\n'
        "older-than = 0.5\n",
    )

    policy = RetentionPolicy.from_file(path)

    assert (policy.keep, policy.older_than, policy.only_prereleases) == (
        10,
        timedelta(days=30),
        True,
    )
    core = policy.for_project("acme-core")
    assert (core.keep, core.older_than, core.only_prereleases) == (50, timedelta(days=30), True)
    legacy = policy.for_project("ACME_legacy")
    assert (legacy.keep, legacy.older_than, legacy.only_prereleases) == (
        10,
        timedelta(hours=12),
        False,
    )
    assert policy.for_project("acme-app") is policy


def test_policy_from_a_file_of_its_own_with_the_defaults(tmp_path: Path) -> None:
    policy = RetentionPolicy.from_file(write(tmp_path, "[tool.s3pypi.retention]\nkeep = 3\n", "r"))

    assert (policy.keep, policy.older_than, policy.only_prereleases, policy.projects) == (
        3,
        None,
        False,
        {},
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tool.s3pypi]\nx = 1\n", "has no [tool.s3pypi.retention] table"),
        ("tool = 3\n", "has no [tool.s3pypi.retention] table"),
        ("[tool.s3pypi.retention\n", "is not valid TOML"),
        ("[tool.s3pypi.retention]\nolder-than = 3\n", "keep is required"),
        ("[tool.s3pypi.retention]\nkeep = 0\n", "keep must be a whole number of at least 1"),
        ("[tool.s3pypi.retention]\nkeep = true\n", "keep must be a whole number"),
        ("[tool.s3pypi.retention]\nkeep = 2.5\n", "keep must be a whole number"),
        ("[tool.s3pypi.retention]\nkeep = 2\nkep = 3\n", "unknown key 'kep'"),
        ("[tool.s3pypi.retention]\nkeep = 2\nolder-than = -1\n", "older-than must be a number"),
        ("[tool.s3pypi.retention]\nkeep = 2\nolder-than = 'a'\n", "older-than must be a number"),
        ("[tool.s3pypi.retention]\nkeep = 2\nolder-than = nan\n", "older-than must be a number"),
        ("[tool.s3pypi.retention]\nkeep = 2\nonly-prereleases = 1\n", "must be true or false"),
        ("[tool.s3pypi.retention]\nkeep = 2\nprojects = 1\n", "projects must be a table"),
        (
            "[tool.s3pypi.retention]\nkeep = 2\n[tool.s3pypi.retention.projects.a]\nkeep = -1\n",
            "projects.a: keep must be a whole number",
        ),
    ],
)
def test_a_bad_policy_file_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)

    with pytest.raises(OptionError, match=message.replace("[", r"\[").replace(".", r"\.")):
        RetentionPolicy.from_file(path)


def test_a_policy_in_code_is_checked_too() -> None:
    with pytest.raises(OptionError, match="keep must be"):
        RetentionPolicy(keep=0)
    with pytest.raises(OptionError, match="older-than must not be negative"):
        RetentionPolicy(keep=1, older_than=timedelta(days=-1))
