"""`s3pypi-twine upload dist/*`: twine's upload command, for an index in S3.

The flags are twine's where they mean something for S3, plus those of `s3pypi upload`. The
same command is registered with twine, as `twine s3pypi-upload`.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from s3pypi_core import (
    Config,
    __version__,
    existing_files,
    find_distributions,
    read_distributions,
    upload_packages,
)
from s3pypi_core._logging import log_to_stderr
from s3pypi_core.exceptions import ExistingFiles, S3PyPIError
from s3pypi_core.storage import parse_put_args
from s3pypi_twine.pypirc import DEFAULT_CONFIG_FILE, Repository, read_repository

PROG = "s3pypi-twine"
DEFAULT_REPOSITORY = "s3pypi"
"""The .pypirc section used when neither -r nor --repository-url is given."""


def main(argv: list[str] | None = None) -> None:
    """The `s3pypi-twine` console script: `upload` or `check`, dispatched as twine does."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Publish to a Python package index in S3, the way twine does."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("command", choices=["upload", "check"])
    parser.add_argument("args", help=argparse.SUPPRESS, nargs=argparse.REMAINDER)
    parsed = parser.parse_args(argv)
    if missing := _missing_requirements():
        print(
            f"{PROG}: error: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
            "not installed: pip install 's3pypi[twine]'",
            file=sys.stderr,
        )
        sys.exit(1)
    if parsed.command == "check":
        sys.exit(_check(parsed.args))
    sys.exit(_upload(parsed.args, prog=f"{PROG} upload"))


def _missing_requirements() -> list[str]:
    """What `s3pypi[twine]` brings (twine, rich) and this environment lacks."""
    import importlib.util

    return [name for name in ("twine", "rich") if importlib.util.find_spec(name) is None]


def twine_upload(args: list[str]) -> bool:
    """`twine s3pypi-upload ...`: twine calls this with the arguments after the command name.

    Like twine's own commands, a true result means failure (twine then exits with status 1).
    """
    return _upload(args, prog="twine s3pypi-upload") != 0


def upload_parser(prog: str) -> argparse.ArgumentParser:
    from twine.utils import EnvironmentDefault, EnvironmentFlag

    from s3pypi_core.locking import DEFAULT_TIMEOUT

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Upload distributions to a package index in an S3 bucket (or a directory).",
    )
    parser.add_argument(
        "dists",
        nargs="+",
        metavar="dist",
        help="The distribution files to upload, usually dist/*.",
    )
    parser.add_argument(
        "-r",
        "--repository",
        action=EnvironmentDefault,
        env="TWINE_REPOSITORY",
        default=DEFAULT_REPOSITORY,
        help="The .pypirc section to upload to; its `repository` is s3://BUCKET[/PREFIX] or "
        "file:///PATH [default: %(default)s]. (Can also be set via %(env)s.)",
    )
    parser.add_argument(
        "--repository-url",
        action=EnvironmentDefault,
        env="TWINE_REPOSITORY_URL",
        default=None,
        required=False,
        help="s3://BUCKET[/PREFIX] or file:///PATH; overrides --repository. "
        "(Can also be set via %(env)s.)",
    )
    parser.add_argument(
        "--config-file",
        default=DEFAULT_CONFIG_FILE,
        help="The .pypirc file to use [default: %(default)s].",
    )
    parser.add_argument(
        "--skip-existing",
        action="store_true",
        help="Skip files that already exist in the index instead of failing.",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="Show verbose output and tracebacks."
    )
    parser.add_argument(
        "--disable-progress-bar", action="store_true", help="Disable the progress bar."
    )
    parser.add_argument(
        "--non-interactive",
        action=EnvironmentFlag,
        env="TWINE_NON_INTERACTIVE",
        help="Never prompt (s3pypi-twine never does; accepted for twine compatibility).",
    )
    s3 = parser.add_argument_group("S3 options (as in `s3pypi upload`)")
    s3.add_argument("--prefix", help="Key prefix inside the bucket; replaces the URL's prefix.")
    s3.add_argument("--profile", help="AWS profile (overrides `profile` of .pypirc).")
    s3.add_argument("--region", help="AWS region (overrides `region` of .pypirc).")
    s3.add_argument(
        "--s3-endpoint-url",
        metavar="URL",
        help="Custom S3 endpoint, e.g. MinIO (overrides `endpoint_url` of .pypirc).",
    )
    s3.add_argument(
        "--no-sign-request", action="store_true", help="Do not sign requests (public bucket)."
    )
    s3.add_argument(
        "--s3-put-args",
        metavar="ARGS",
        type=_put_args,
        help="Extra PutObject arguments, e.g. 'ServerSideEncryption=aws:kms,SSEKMSKeyId=...'.",
    )
    s3.add_argument(
        "--index.html",
        dest="index_html",
        action="store_true",
        help="Store pages as NAME/index.html instead of NAME/ (S3 website endpoints).",
    )
    s3.add_argument(
        "--locks-table",
        metavar="TABLE",
        help="DynamoDB lock table (overrides `locks_table` of .pypirc; "
        "default: BUCKET-locks, when it exists).",
    )
    s3.add_argument(
        "--lock-timeout",
        metavar="SECONDS",
        type=_seconds,
        help="How long to wait for a lock held by another publisher "
        f"[default: {DEFAULT_TIMEOUT:g}].",
    )
    s3.add_argument(
        "--put-root-index", action="store_true", help="Also list new projects on the root page."
    )
    return parser


def _put_args(value: str) -> dict[str, str]:
    try:
        return parse_put_args(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}")
    return seconds


def _upload(argv: list[str], *, prog: str) -> int:
    args = upload_parser(prog).parse_args(argv)
    # twine's handler on the root logger prints records too: not twice.
    with log_to_stderr(args.verbose, propagate=False):
        try:
            upload(args)
        except S3PyPIError as e:
            if args.verbose:
                traceback.print_exc()
            print(f"{prog}: error: {e}", file=sys.stderr, flush=True)
            return 1
    return 0


def upload(args: argparse.Namespace) -> None:
    """Validate every file, refuse existing ones (unless --skip-existing), then publish.

    The validation is the core's, shared with `s3pypi upload` and the Hatch publisher: it
    refuses what `twine check` and `twine upload` refuse, and damaged archives.
    """
    import rich

    from s3pypi_twine.progress import ProgressObserver

    console = rich.get_console()
    cfg = _config(args)
    console.print(f"Uploading distributions to {cfg.location}", markup=False, soft_wrap=True)

    paths = find_distributions(args.dists)
    dists = read_distributions(cfg, paths)
    if args.verbose:
        for dist in dists:
            size_kb = dist.size / 1024
            console.print(f"{dist.path} ({size_kb:.1f} KB)", markup=False, soft_wrap=True)

    if not args.skip_existing:
        existing = existing_files(cfg, paths)
        if existing:
            names = ", ".join(path.name for path in existing)
            raise ExistingFiles(
                f"{len(existing)} file(s) already exist in {cfg.location}: {names} "
                "(use --skip-existing to skip them)"
            )

    with ProgressObserver(console, disable=args.disable_progress_bar) as observer:
        # strict: a file another publisher adds meanwhile is still an error, as in twine.
        result = upload_packages(
            cfg,
            dists,
            put_root_index=args.put_root_index,
            strict=not args.skip_existing,
            observer=observer,
        )
    if result.pages:
        console.print("\n[green]View at:")
        for page in result.pages:
            console.print(page, markup=False, soft_wrap=True)


def _config(args: argparse.Namespace) -> Config:
    """The core's Config: the repository (URL, or .pypirc section) with the flags on top."""
    repository = (
        Repository(url=args.repository_url)
        if args.repository_url
        else read_repository(args.config_file, args.repository)
    )
    return Config.from_options(
        repository_url=repository.url,
        prefix=args.prefix,
        profile=args.profile or repository.profile,
        region=args.region or repository.region,
        endpoint_url=args.s3_endpoint_url or repository.endpoint_url,
        locks_table=args.locks_table or repository.locks_table,
        no_sign_request=args.no_sign_request,
        put_args=args.s3_put_args,
        index_html=args.index_html,
        lock_timeout=args.lock_timeout,
    )


def _check(argv: list[str]) -> int:
    """`s3pypi-twine check dist/*` is `twine check dist/*`."""
    from twine.cli import configure_output
    from twine.commands.check import main as twine_check
    from twine.exceptions import TwineException

    configure_output()
    try:
        return 1 if twine_check(argv) else 0
    except TwineException as e:
        print(f"{PROG} check: error: {e}", file=sys.stderr, flush=True)
        return 1
