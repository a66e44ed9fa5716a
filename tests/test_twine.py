"""`s3pypi-twine upload` and `twine s3pypi-upload`: the real console scripts, against moto."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import Bucket, run_console_script
from tests.distributions import SampleProject
from tests.frontends import bytecode_cache, contents, new_bucket, stored_metadata

__all__ = ["bytecode_cache"]  # an autouse fixture: faster console scripts

Run = Callable[..., Result]


def twine_upload(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_console_script("s3pypi-twine", "upload", "--disable-progress-bar", *args)


def write_pypirc(path: Path, section: str, **keys: str) -> Path:
    lines = ["[distutils]", f"index-servers = {section}", "", f"[{section}]"]
    lines += [f"{key} = {value}" for key, value in keys.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def dists(dist_dir: Path) -> list[Path]:
    return sorted(dist_dir.iterdir())


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_upload_with_pypirc_writes_what_s3pypi_upload_writes(
    bucket: Bucket, dist_dir: Path, tmp_path: Path, run: Run
) -> None:
    pypirc = write_pypirc(
        tmp_path / "pypirc",
        "private",
        repository=f"s3://{bucket.name}/packages",
        username="ignored-by-s3pypi",
    )

    result = twine_upload("-r", "private", "--config-file", pypirc, *dists(dist_dir))

    assert result.returncode == 0, result.stderr
    assert f"Uploading distributions to s3://{bucket.name}/packages" in result.stdout
    assert "Uploading hello_world-1.0.0.tar.gz" in result.stdout
    assert f"View at:\ns3://{bucket.name}/packages/hello-world/\n" in result.stdout
    reference = new_bucket(bucket.endpoint)
    expected = run("upload", *dists(dist_dir), "--bucket", reference.name, "--prefix", "packages")
    assert expected.exit_code == 0, expected.output
    assert contents(bucket) == contents(reference)
    assert stored_metadata(bucket) == stored_metadata(reference)
    assert "packages/hello-world/hello_world-1.0.0-py3-none-any.whl" in bucket.keys()


def test_twine_subcommand_uploads(bucket: Bucket, dist_dir: Path, run: Run) -> None:
    result = run_console_script(
        "twine",
        "s3pypi-upload",
        "--repository-url",
        f"s3://{bucket.name}",
        "--put-root-index",
        *dists(dist_dir),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    reference = new_bucket(bucket.endpoint)
    expected = run("upload", *dists(dist_dir), "--bucket", reference.name, "--put-root-index")
    assert expected.exit_code == 0, expected.output
    assert contents(bucket) == contents(reference)
    assert "index.json" in bucket.keys()


def test_twine_subcommand_failure_is_twines_exit_status(bucket: Bucket, dist_dir: Path) -> None:
    url = f"s3://{bucket.name}"
    first = run_console_script("twine", "s3pypi-upload", "--repository-url", url, dist_dir / "*")
    assert first.returncode == 0, first.stdout + first.stderr
    again = run_console_script("twine", "s3pypi-upload", "--repository-url", url, dist_dir / "*")

    assert_one_line_error(again, "twine s3pypi-upload: error:", "already exist")


def test_pypirc_s3_keys_are_used(
    bucket: Bucket, dist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # S3 through the default endpoint would fail: only the .pypirc's endpoint_url reaches moto.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    table = bucket.create_locks_table("team-locks")
    pypirc = write_pypirc(
        tmp_path / "pypirc",
        "private",
        repository=f"s3://{bucket.name}",
        profile="production",
        region="us-east-1",
        endpoint_url=bucket.endpoint,
        locks_table=table,
    )

    result = twine_upload("-r", "private", "--config-file", pypirc, *dists(dist_dir))

    assert result.returncode == 0, result.stderr
    assert "hello-world/hello_world-1.1-py3-none-any.whl" in bucket.keys()


def test_pypirc_locks_table_that_does_not_exist_is_an_error(
    bucket: Bucket, dist_dir: Path, tmp_path: Path
) -> None:
    pypirc = write_pypirc(
        tmp_path / "pypirc", "private", repository=f"s3://{bucket.name}", locks_table="nope"
    )

    result = twine_upload("-r", "private", "--config-file", pypirc, *dists(dist_dir))

    assert_one_line_error(result, "lock table does not exist: nope")
    assert bucket.keys() == []


def test_flags_override_the_pypirc(bucket: Bucket, dist_dir: Path, tmp_path: Path) -> None:
    pypirc = write_pypirc(
        tmp_path / "pypirc", "private", repository="s3://no-such-bucket/old", profile="missing"
    )

    result = twine_upload(
        "-r",
        "private",
        "--config-file",
        pypirc,
        "--repository-url",
        f"s3://{bucket.name}/ignored",
        "--prefix",
        "team",
        "--profile",
        "production",
        "--index.html",
        *dists(dist_dir),
    )

    assert result.returncode == 0, result.stderr
    assert "team/hello-world/index.html" in bucket.keys()


def test_default_repository_is_the_s3pypi_section_of_home_pypirc(
    bucket: Bucket, dist_dir: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    write_pypirc(home / ".pypirc", "s3pypi", repository=f"s3://{bucket.name}")

    result = run_console_script(
        "s3pypi-twine", "upload", dist_dir / "*", cwd=tmp_path, env={"HOME": str(home)}
    )

    assert result.returncode == 0, result.stderr
    assert "hello-world/hello_world-1.0.0.tar.gz" in bucket.keys()


def test_existing_file_is_an_error_and_nothing_is_written(
    bucket: Bucket, projects: Callable[..., SampleProject], tmp_path: Path
) -> None:
    project = projects("hello-world")
    first = project.wheel("1.0")
    assert twine_upload("--repository-url", f"s3://{bucket.name}", first).returncode == 0
    before = bucket.snapshot()
    new = project.wheel("2.0")

    result = twine_upload("--repository-url", f"s3://{bucket.name}", first, new)

    assert_one_line_error(result, "1 file(s) already exist", first.name, "--skip-existing")
    assert bucket.snapshot() == before


def test_skip_existing_skips_and_uploads_the_rest(
    bucket: Bucket, projects: Callable[..., SampleProject]
) -> None:
    project = projects("hello-world")
    first = project.wheel("1.0")
    assert twine_upload("--repository-url", f"s3://{bucket.name}", first).returncode == 0
    new = project.wheel("2.0")

    result = twine_upload("--repository-url", f"s3://{bucket.name}", "--skip-existing", first, new)

    assert result.returncode == 0, result.stderr
    assert f"Skipping {first.name} because it appears to already exist" in result.stderr
    assert f"Uploading {new.name}" in result.stdout
    assert f"hello-world/{new.name}" in bucket.keys()


def test_skip_existing_with_every_file_existing_succeeds(bucket: Bucket, dist_dir: Path) -> None:
    url = f"s3://{bucket.name}"
    assert twine_upload("--repository-url", url, *dists(dist_dir)).returncode == 0
    before = bucket.snapshot()

    result = run_console_script(
        "s3pypi-twine", "upload", "--repository-url", url, "--skip-existing", *dists(dist_dir)
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Uploading distributions to {url}/\n"
    assert bucket.snapshot() == before


def test_what_twine_check_rejects_is_refused_before_anything_is_written(
    bucket: Bucket, dist_dir: Path, projects: Callable[..., SampleProject]
) -> None:
    broken = projects("broken-docs").wheel("1.0", description="Title\n==\n\nSome `text\n")
    assert run_console_script("twine", "check", broken).returncode == 1

    result = twine_upload("--repository-url", f"s3://{bucket.name}", *dists(dist_dir), broken)

    assert_one_line_error(result, broken.name, "the long description has reStructuredText errors")
    assert bucket.keys() == []


def test_metadata_twine_rejects_is_refused(
    bucket: Bucket, projects: Callable[..., SampleProject]
) -> None:
    metadata = "Metadata-Version: 2.1\nName: odd\nVersion: 1.0\nRequires-Dist: not valid !!\n"
    odd = projects("odd").wheel("1.0", metadata=metadata)

    result = twine_upload("--repository-url", f"s3://{bucket.name}", odd)

    assert_one_line_error(result, odd.name, "invalid metadata: ")
    assert bucket.keys() == []


def test_not_a_distribution_is_refused(bucket: Bucket, tmp_path: Path) -> None:
    junk = tmp_path / "hello_world-1.0-py3-none-any.whl"
    junk.write_bytes(b"not a zip")

    result = twine_upload("--repository-url", f"s3://{bucket.name}", junk)

    assert_one_line_error(result, "corrupt archive")
    assert bucket.keys() == []


@pytest.mark.parametrize(
    ("pypirc", "section", "message"),
    [
        ("[private]\nrepository = s3://b\n", "other", "no [other] section in"),
        ("[private]\nusername = me\n", "private", "has no repository = s3://"),
        (
            "[private]\nrepository = https://upload.pypi.org/legacy/\n",
            "private",
            "not an s3:// or file:// repository",
        ),
        ("[private\nrepository = s3://b\n", "private", "not a valid .pypirc"),
    ],
)
def test_bad_pypirc_is_one_line(tmp_path: Path, pypirc: str, section: str, message: str) -> None:
    path = tmp_path / "pypirc"
    path.write_text(pypirc)
    dist = SampleProject("hello-world", tmp_path / "dist").wheel("1.0")

    result = twine_upload("-r", section, "--config-file", path, dist)

    assert_one_line_error(result, message)


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    dist = SampleProject("hello-world", tmp_path / "dist").wheel("1.0")

    result = twine_upload("--config-file", tmp_path / "nope", dist)

    assert_one_line_error(result, "config file not found")


def test_unknown_pypirc_key_is_warned_about(bucket: Bucket, dist_dir: Path, tmp_path: Path) -> None:
    pypirc = write_pypirc(
        tmp_path / "pypirc", "private", repository=f"s3://{bucket.name}", endpoint="x"
    )

    result = twine_upload("-r", "private", "--config-file", pypirc, *dists(dist_dir))

    assert result.returncode == 0, result.stderr
    assert "warning: ignoring unknown key 'endpoint' in [private]" in result.stderr


def test_verbose_shows_the_traceback(bucket: Bucket, tmp_path: Path) -> None:
    junk = tmp_path / "hello_world-1.0-py3-none-any.whl"
    junk.write_bytes(b"not a zip")

    result = twine_upload("--repository-url", f"s3://{bucket.name}", "--verbose", junk)

    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert result.stderr.rstrip().endswith("corrupt archive: File is not a zip file")


def test_missing_bucket_is_one_line(dist_dir: Path, moto_endpoint: str) -> None:
    result = twine_upload("--repository-url", "s3://no-such-bucket-here", *dists(dist_dir))

    assert_one_line_error(result, "no-such-bucket-here")


def test_twine_flags_without_meaning_for_s3_are_refused(dist_dir: Path) -> None:
    result = twine_upload("-u", "__token__", *dists(dist_dir))

    assert result.returncode == 2
    assert "unrecognized arguments: -u" in result.stderr


def test_prefix_with_a_directory_index_is_an_error(dist_dir: Path, tmp_path: Path) -> None:
    url = (tmp_path / "index").as_uri()

    result = twine_upload("--repository-url", url, "--prefix", "x", *dists(dist_dir))

    assert_one_line_error(result, "--prefix applies to S3 repositories only")
    assert not (tmp_path / "index").exists()


def test_progress_bar_is_shown_per_file(bucket: Bucket, dist_dir: Path) -> None:
    result = run_console_script(
        "s3pypi-twine", "upload", "--repository-url", f"s3://{bucket.name}", *dists(dist_dir)
    )

    assert result.returncode == 0, result.stderr
    bars = [line for line in result.stdout.splitlines() if "100%" in line]
    assert sorted(line.split()[0] for line in bars) == sorted(p.name for p in dists(dist_dir))


def test_check_is_twines_check(projects: Callable[..., SampleProject]) -> None:
    good = projects("good").wheel("1.0", description="Fine *text*.\n")
    broken = projects("broken-docs").wheel("1.0", description="Title\n==\n\nSome `text\n")

    passed = run_console_script("s3pypi-twine", "check", good)
    failed = run_console_script("s3pypi-twine", "check", good, broken)

    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "PASSED" in passed.stdout
    assert failed.returncode == 1
    assert "FAILED" in failed.stdout
