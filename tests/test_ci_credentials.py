"""The GitLab CI recipe's credentials (docs/publish-from-ci.md): a file holding the job's ID token
and the role's ARN in the environment are all `s3pypi upload` needs. boto3 exchanges the token
for the role's credentials (sts:AssumeRoleWithWebIdentity) by itself: no AWS CLI, no keys.
Here the STS is moto's, which accepts any token; the trust policy that decides on AWS is tested
in test_terraform_iam.py."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.conftest import Bucket, run_console_script

ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/s3pypi-pypi-example-com-gitlab-publisher"
# A GitLab ID token's shape (header.claims.signature); moto does not check it, AWS does.
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwcm9qZWN0X3BhdGg6Z3JvdXAvcHJvamVjdCJ9.c2lnbmF0dXJl"


def assumed_roles() -> list[tuple[str, str]]:
    """(role ARN, session name) of every role moto's STS handed out (the server runs in this
    process, with moto's own backends)."""
    from moto.sts.models import sts_backends

    return [(r.role_arn, r.session_name) for r in sts_backends[ACCOUNT]["aws"].assumed_roles]


def test_a_web_identity_token_file_and_a_role_arn_are_enough(
    bucket: Bucket, dist_dir: Path, tmp_path: Path
) -> None:
    token_file = tmp_path / "web-identity-token"
    token_file.write_text(TOKEN)
    no_keys = tmp_path / "no-credentials"
    no_keys.write_text("")
    session = f"gitlab-{uuid.uuid4().hex[:8]}"
    result = run_console_script(
        "s3pypi",
        "upload",
        f"{dist_dir}/*",
        "--repository-url",
        f"s3://{bucket.name}",
        env={
            "AWS_ROLE_ARN": ROLE_ARN,
            "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
            "AWS_ROLE_SESSION_NAME": session,
            "AWS_SHARED_CREDENTIALS_FILE": str(no_keys),  # nothing else to fall back on
        },
    )
    assert result.returncode == 0, result.stderr
    assert "hello-world/hello_world-1.1-py3-none-any.whl" in bucket.keys()
    assert (ROLE_ARN, session) in assumed_roles()


def test_without_the_token_there_are_no_credentials(
    bucket: Bucket, dist_dir: Path, tmp_path: Path
) -> None:
    no_keys = tmp_path / "no-credentials"
    no_keys.write_text("")
    result = run_console_script(
        "s3pypi",
        "upload",
        f"{dist_dir}/*",
        "--repository-url",
        f"s3://{bucket.name}",
        env={"AWS_SHARED_CREDENTIALS_FILE": str(no_keys), "AWS_CONFIG_FILE": str(no_keys)},
    )
    assert result.returncode == 1
    assert result.stderr.startswith("s3pypi: error: no AWS credentials found")
    assert bucket.keys() == []
