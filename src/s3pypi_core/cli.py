"""`s3pypi`: the command line. Each command only turns flags into a call of the core."""

from __future__ import annotations

import functools
import json
import logging
import sys
import traceback
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, TypeVar

import click

from s3pypi_core import __prog__, __version__
from s3pypi_core._logging import log_to_stderr
from s3pypi_core._upstream import PYPI
from s3pypi_core.config import Config
from s3pypi_core.distribution import MAX_METADATA_SIZE
from s3pypi_core.exceptions import OptionError, S3PyPIError
from s3pypi_core.locking import DEFAULT_TIMEOUT
from s3pypi_core.maintenance import force_unlock as release_lock
from s3pypi_core.maintenance import reindex as reindex_index
from s3pypi_core.maintenance import verify_index
from s3pypi_core.publishing import delete_package, unyank_package, upload_packages, yank_package
from s3pypi_core.storage import S3Config

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger(__prog__)


def _parse_put_args(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> dict[str, str] | None:
    from s3pypi_core.storage import parse_put_args

    try:
        return parse_put_args(value) if value else None
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def _parse_size(ctx: click.Context, param: click.Parameter, value: str | int) -> int:
    """`1048576`, `512K`, `100MiB`, `2G`: binary units (a KB is 1024 bytes here, as in
    `du -h`)."""
    text = str(value).strip().lower().removesuffix("b").removesuffix("i")
    number, unit = (text[:-1], text[-1]) if text[-1:] in "kmgt" and text else (text, "")
    try:
        size = int(number) * _SIZE_UNITS[unit]
    except ValueError:
        raise click.BadParameter(f"not a size: {value!r} (e.g. 100MiB, 2GiB)") from None
    if size < 1:
        raise click.BadParameter("must be at least 1 byte")
    return size


def verbose_option(f: F) -> F:
    def set_verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            ctx.find_root().meta["verbose"] = True
            logging.getLogger(__prog__).setLevel(logging.DEBUG)

    return click.option(
        "-v",
        "--verbose",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=set_verbose,
        help="Show debug output and tracebacks.",
    )(f)


def aws_options(f: F) -> F:
    for option in reversed(
        [
            click.option("--profile", help="AWS profile to use (default: AWS_PROFILE)."),
            click.option("--region", help="AWS region (default: AWS_REGION / the profile's)."),
        ]
    ):
        f = option(f)
    return f


_REPOSITORY_OPTIONS = [
    click.option("-b", "--bucket", help="The S3 bucket of the index."),
    click.option("--prefix", help="Key prefix of the index inside the bucket."),
    click.option(
        "--repository-url",
        metavar="URL",
        help="s3://BUCKET[/PREFIX] or file:///PATH, instead of --bucket and --prefix.",
    ),
    click.option(
        "--s3-endpoint-url",
        "endpoint_url",
        metavar="URL",
        help="Custom S3 endpoint (MinIO, LocalStack, ...).",
    ),
    click.option("--no-sign-request", is_flag=True, help="Do not sign requests (public bucket)."),
    click.option(
        "--s3-put-args",
        "put_args",
        metavar="ARGS",
        callback=_parse_put_args,
        help="Extra PutObject arguments, e.g. 'ServerSideEncryption=aws:kms,SSEKMSKeyId=...'.",
    ),
    click.option(
        "--index.html",
        "index_html",
        is_flag=True,
        help="Store pages as NAME/index.html instead of NAME/ (S3 website endpoints).",
    ),
    click.option(
        "--locks-table",
        metavar="TABLE",
        help="DynamoDB table for locking (default: BUCKET-locks, when it exists).",
    ),
    click.option(
        "--lock-timeout",
        type=click.FloatRange(min=0),
        metavar="SECONDS",
        help="How long to wait for a lock held by another publisher "
        f"[default: {DEFAULT_TIMEOUT:g}].",
    ),
    click.option("--profile", help="AWS profile to use (default: AWS_PROFILE)."),
    click.option("--region", help="AWS region (default: AWS_REGION / the profile's)."),
]
_REPOSITORY_PARAMETERS = (
    "bucket",
    "prefix",
    "repository_url",
    "endpoint_url",
    "no_sign_request",
    "put_args",
    "index_html",
    "locks_table",
    "lock_timeout",
    "profile",
    "region",
)


def repository_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The options that say which index to work on (the seed's S3 flags), handed to the
    command as one checked `cfg` (with `dry_run` when the command has that flag)."""

    @functools.wraps(f)
    def with_config(*args: Any, **kwargs: Any) -> Any:
        from s3pypi_core.config import Config

        options = _pop_repository_options(kwargs)
        try:
            kwargs["cfg"] = Config.from_options(**options, dry_run=kwargs.get("dry_run", False))
        except OptionError as e:
            raise click.UsageError(str(e)) from None
        return f(*args, **kwargs)

    for option in reversed(_REPOSITORY_OPTIONS):
        with_config = option(with_config)
    return with_config


def metadata_size_option(help: str) -> Callable[[F], F]:
    return click.option(
        "--max-metadata-size",
        type=click.IntRange(min=1),
        metavar="BYTES",
        default=MAX_METADATA_SIZE,
        show_default=True,
        help=help,
    )


def _pop_repository_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    options = {name: kwargs.pop(name) for name in _REPOSITORY_PARAMETERS}
    if options["repository_url"] and (options["bucket"] or options["prefix"]):
        raise click.UsageError(
            "--repository-url replaces --bucket and --prefix; give one or the other"
        )
    return options


def repository_option_values(f: Callable[..., Any]) -> Callable[..., Any]:
    """The same options, handed to the command unchecked as `repository` (the arguments of
    `Config.from_options`), for a command that opens two indexes (promote)."""

    @functools.wraps(f)
    def with_options(*args: Any, **kwargs: Any) -> Any:
        kwargs["repository"] = _pop_repository_options(kwargs)
        return f(*args, **kwargs)

    for option in reversed(_REPOSITORY_OPTIONS):
        with_options = option(with_options)
    return with_options


def handle_errors(f: F) -> F:
    """User errors become one line on stderr and exit 1; tracebacks only with --verbose."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except S3PyPIError as e:
            if click.get_current_context().find_root().meta.get("verbose"):
                traceback.print_exc()
            message = " ".join(str(e).split())  # one line, whatever the cause said
            click.echo(f"{__prog__}: error: {message}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name=__prog__)
@verbose_option
@click.pass_context
def cli(ctx: click.Context) -> None:
    """A private Python package index in an S3 bucket."""
    ctx.with_resource(log_to_stderr(verbose=bool(ctx.meta.get("verbose"))))


@cli.command()
@click.argument("dist", nargs=-1, required=True, type=click.Path(path_type=Path))
@repository_options
@click.option("--put-root-index", is_flag=True, help="Also list new projects on the root page.")
@click.option("--strict", is_flag=True, help="Fail when any file already exists.")
@click.option("-f", "--force", is_flag=True, help="Overwrite files that already exist.")
@click.option("--dry-run", is_flag=True, help="Print what would be written; write nothing.")
@metadata_size_option("Refuse a distribution whose METADATA or PKG-INFO is larger.")
@verbose_option
@handle_errors
def upload(
    cfg: Config,
    dist: tuple[Path, ...],
    put_root_index: bool,
    strict: bool,
    force: bool,
    dry_run: bool,
    max_metadata_size: int,
) -> None:
    """Publish distributions (wheels and sdists), e.g. `s3pypi upload dist/* --bucket B`."""
    if strict and force:
        raise click.UsageError("--strict and --force exclude each other")
    cfg.max_metadata_size = max_metadata_size
    result = upload_packages(cfg, dist, put_root_index=put_root_index, strict=strict, force=force)
    for page in result.pages:
        log.debug("Updated %s", page)


@cli.command()
@click.argument("name")
@click.argument("version")
@repository_options
@click.option("--dry-run", is_flag=True, help="Print what would be changed; change nothing.")
@verbose_option
@handle_errors
def delete(cfg: Config, name: str, version: str, dry_run: bool) -> None:
    """Delete every file of one version of a project."""
    delete_package(cfg, name, version)


@cli.command()
@click.argument("name")
@click.argument("version")
@click.option("--reason", default="", help="Why the version was yanked (shown by pip).")
@repository_options
@verbose_option
@handle_errors
def yank(cfg: Config, name: str, version: str, reason: str) -> None:
    """Yank a version (PEP 592): installers skip it unless it is pinned with ==."""
    for filename in yank_package(cfg, name, version, reason):
        log.info("Yanked %s", filename)


@cli.command()
@click.argument("name")
@click.argument("version")
@repository_options
@verbose_option
@handle_errors
def unyank(cfg: Config, name: str, version: str) -> None:
    """Undo `yank`."""
    for filename in unyank_package(cfg, name, version):
        log.info("Unyanked %s", filename)


@cli.command()
@click.argument("name")
@click.argument("version")
@click.option(
    "--to",
    required=True,
    metavar="URL",
    help="The index to promote to: s3://BUCKET[/PREFIX] or file:///PATH.",
)
@repository_option_values
@click.option(
    "--put-root-index",
    is_flag=True,
    help="List a new project on the destination's root page (done anyway when it has one).",
)
@click.option("--dry-run", is_flag=True, help="Print what would be copied; write nothing.")
@verbose_option
@handle_errors
def promote(
    repository: dict[str, Any],
    name: str,
    version: str,
    to: str,
    put_root_index: bool,
    dry_run: bool,
) -> None:
    """Copy a release to another index (dev to prod), its files first, then its page entries.

    The source is given by the usual options, e.g. `s3pypi promote acme 1.2 --bucket B
    --prefix dev --to s3://B/prod`. The AWS options apply to both indexes. Running it again
    writes nothing.
    """
    from s3pypi_core.channels import promote_release, promotion_configs

    try:
        source, destination = promotion_configs(to, dry_run=dry_run, **repository)
    except OptionError as e:
        raise click.UsageError(str(e)) from None
    result = promote_release(source, name, version, to=destination, put_root_index=put_root_index)
    release = f"{result.project} {result.version}"
    if not result.changed:
        click.echo(f"{release} is already in {result.destination}: nothing to do")
        return
    files = f"{len(result.copied)} file(s) copied, {len(result.listed)} listed"
    verb = "Would promote" if dry_run else "Promoted"
    click.echo(f"{verb} {release} from {result.source} to {result.destination}: {files}")


@cli.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--all", "all_projects", is_flag=True, help="Prune every project of the index.")
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    metavar="N",
    help="Keep the N newest versions of each project (PEP 440 order).",
)
@click.option(
    "--older-than",
    type=click.FloatRange(min=0),
    metavar="DAYS",
    help="Remove only versions uploaded more than DAYS days ago.",
)
@click.option(
    "--only-prereleases",
    is_flag=True,
    help="Remove only pre-releases (dev, a, b, rc); --keep then counts pre-releases.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="The policy from the [tool.s3pypi.retention] table of FILE (e.g. pyproject.toml); "
    "without NAMEs, for every project.",
)
@repository_options
@click.option("--dry-run", is_flag=True, help="Print what would be removed; change nothing.")
@verbose_option
@handle_errors
def prune(
    cfg: Config,
    names: tuple[str, ...],
    all_projects: bool,
    keep: int | None,
    older_than: float | None,
    only_prereleases: bool,
    config_file: Path | None,
    dry_run: bool,
) -> None:
    """Remove old versions: beyond the N newest, optionally only old ones or pre-releases.

    The newest release is never removed (nor what pip would install). Pages are updated
    before files are deleted, so installs never see a missing file. Prints a table of the
    versions removed and the bytes freed.
    """
    from datetime import timedelta

    from s3pypi_core.channels import RetentionPolicy
    from s3pypi_core.channels import prune as prune_versions

    if names and all_projects:
        raise click.UsageError("give project names or --all, not both")
    if config_file is not None:
        if keep is not None or older_than is not None or only_prereleases:
            raise click.UsageError(
                "--config gives the policy: leave out --keep, --older-than and --only-prereleases"
            )
        try:
            policy = RetentionPolicy.from_file(config_file)
        except OptionError as e:
            raise click.UsageError(str(e)) from None
    else:
        if keep is None:
            raise click.UsageError("missing --keep N (or --config FILE)")
        if not names and not all_projects:
            raise click.UsageError("name the projects to prune, or use --all")
        days = timedelta(days=older_than) if older_than is not None else None
        policy = RetentionPolicy(keep, days, only_prereleases)
    removals = prune_versions(cfg, names or None, policy)
    if not removals:
        click.echo(f"Nothing to remove in {cfg.location}")
        return
    click.echo(_removal_table(removals))
    files = sum(len(r.files) for r in removals)
    size = sum(r.size for r in removals)
    verb = "Would remove" if dry_run else "Removed"
    click.echo(
        f"{verb} {len(removals)} version(s), {files} file(s), {size:,} bytes "
        f"({_human_size(size)}) from {cfg.location}"
    )


def _removal_table(removals: list[Any]) -> str:
    rows = [("PROJECT", "VERSION", "FILES", "BYTES", "UPLOADED")]
    for r in removals:
        uploaded = r.uploaded.strftime("%Y-%m-%d %H:%M") if r.uploaded else "unknown"
        rows.append((r.project, r.version, str(len(r.files)), f"{r.size:,}", uploaded))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if i in (2, 3) else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


@cli.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@repository_options
@click.option("--json", "as_json", is_flag=True, help="Print the problems as a JSON list.")
@click.option(
    "--quick",
    is_flag=True,
    help="Compare pages with the listing and sizes only; download no distribution.",
)
@click.option(
    "--deep",
    is_flag=True,
    help="Also read every distribution in full, as publishing does (finds damaged archives).",
)
@metadata_size_option("Read at most this much metadata of a distribution or .metadata file.")
@verbose_option
@handle_errors
def verify(
    cfg: Config,
    names: tuple[str, ...],
    as_json: bool,
    quick: bool,
    deep: bool,
    max_metadata_size: int,
) -> None:
    """Check pages against the objects of the index; exit 1 when anything is wrong.

    By default every listed distribution is downloaded (streamed) and its sha256 compared with
    the page's; files on no page are read in full. --quick downloads nothing; --deep reads
    every distribution in full (CRCs, the whole tar stream, the metadata), as publishing does.
    """
    if quick and deep:
        raise click.UsageError("--quick and --deep exclude each other")
    cfg.max_metadata_size = max_metadata_size
    problems = verify_index(cfg, names, hashes=not quick, deep=deep)
    if as_json:
        click.echo(json.dumps([p.to_dict() for p in problems], indent=2))
    else:
        for problem in problems:
            click.echo(str(problem))
        if problems:
            log.info("%d problem(s) in %s", len(problems), cfg.location)
        else:
            log.info("No problems in %s", cfg.location)
    sys.exit(1 if problems else 0)


@cli.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@repository_options
@click.option(
    "--rehash",
    is_flag=True,
    help="Read every file again in full, also those the pages fully describe.",
)
@click.option(
    "--put-root-index",
    is_flag=True,
    help="Write the root page (the project list) if the index has none.",
)
@click.option("--dry-run", is_flag=True, help="Print what would be changed; change nothing.")
@metadata_size_option("Read at most this much metadata of a distribution.")
@verbose_option
@handle_errors
def reindex(
    cfg: Config,
    names: tuple[str, ...],
    rehash: bool,
    put_root_index: bool,
    dry_run: bool,
    max_metadata_size: int,
) -> None:
    """Rebuild the pages (all, or the named projects') from the objects in the index.

    Also writes missing .metadata files and what the human view needs (PyPI's JSON, READMEs,
    browse pages), rebuilds damaged pages, takes files pip cannot install off the pages
    (keeping them in the store), removes leftovers of stopped publishers, and upgrades a bucket
    written by s3pypi 2.x or an older s3pypi in place. Exits 1 when something could not be done.
    """
    cfg.max_metadata_size = max_metadata_size
    changes = reindex_index(cfg, names, rehash=rehash, put_root_index=put_root_index)
    for change in changes:
        click.echo(f"{'(dry run) ' if dry_run else ''}{change}")
    if not changes:
        log.info("Nothing to change in %s", cfg.location)
    if failed := [c for c in changes if c.failed]:
        log.error("%d thing(s) could not be done in %s", len(failed), cfg.location)
        sys.exit(1)


@cli.command()
@click.argument("requirements", nargs=-1, metavar="[REQUIREMENT]...")
@click.option(
    "-r",
    "--requirement",
    "requirement_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Also the requirements in FILE (requirements.txt, `uv export`, `pip-compile` output).",
)
@click.option(
    "--upstream",
    default=PYPI,
    show_default=True,
    metavar="URL",
    help="The index to copy from.",
)
@click.option(
    "--python-version",
    "python_versions",
    multiple=True,
    metavar="X.Y",
    help="Mirror what this Python version needs (repeatable; default: the running one).",
)
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    metavar="TAG",
    help="Mirror what this platform needs: a wheel platform tag such as manylinux_2_17_x86_64, "
    "win_amd64 or macosx_11_0_arm64 (repeatable; default: this machine's).",
)
@click.option(
    "--min-age",
    type=click.FloatRange(min=0),
    metavar="DAYS",
    help="Leave out files uploaded less than DAYS ago (a cool-down; needs the upstream's "
    "PEP 700 upload times).",
)
@repository_options
@click.option("--dry-run", is_flag=True, help="Print what would be copied; write nothing.")
@verbose_option
@handle_errors
def mirror(
    cfg: Config,
    requirements: tuple[str, ...],
    requirement_files: tuple[Path, ...],
    upstream: str,
    python_versions: tuple[str, ...],
    platforms: tuple[str, ...],
    min_age: float | None,
    dry_run: bool,
) -> None:
    """Copy the requirements and their whole dependency closure from another index (PyPI).

    Resolved with uv for each Python version and platform, downloaded with the upstream's
    hashes checked, published as `upload` does; a second run copies nothing. A project
    published here as one of ours is never mirrored.
    """
    from s3pypi_core.mirroring import format_size, mirror_packages

    result = mirror_packages(
        cfg,
        requirements,
        requirement_files=requirement_files,
        upstream=upstream,
        python_versions=python_versions,
        platforms=platforms,
        min_age=min_age,
        observer=_download_observer(),
    )
    for file in result.copied:
        size = format_size(file.size) if file.size is not None else "size unknown"
        prefix = "would copy " if dry_run else ""
        click.echo(f"{prefix}{file.project} {file.version} {file.filename} ({size})")
    for filename in result.yanked:
        click.echo(f"{'would mark' if dry_run else 'marked'} {filename} yanked, as upstream")
    closure = f"{_count(result.files, 'file')} of {_count(result.projects, 'project')}"
    copied = (
        f"{_count(result.copied, 'file')} ({format_size(result.copied_bytes)}) of "
        f"{_count({f.project for f in result.copied}, 'project')} from {result.upstream} "
        f"into {result.location}"
    )
    if dry_run:
        log.info("Would mirror %s (closure: %s)", copied, closure)
    elif result.copied:
        log.info("Mirrored %s (closure: %s)", copied, closure)
    else:
        log.info("Nothing to mirror: the closure (%s) is in %s already", closure, result.location)


def _count(items: Collection[object], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _download_observer() -> Any:
    """rich's progress bars on a terminal when rich is installed; else one line per file."""
    if sys.stderr.isatty():
        try:
            from s3pypi_core._progress import DownloadBars

            return DownloadBars()
        except ImportError:
            pass
    return None


@cli.command("force-unlock")
@click.argument("table")
@click.argument("lock_id")
@aws_options
@verbose_option
@handle_errors
def force_unlock(table: str, lock_id: str, profile: str | None, region: str | None) -> None:
    """Release a DynamoDB lock left behind by an interrupted publisher."""
    release_lock(Config(s3=S3Config(bucket="", profile=profile, region=region)), table, lock_id)


@cli.command()
@repository_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--users",
    "users_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Require basic auth for the users in FILE (`s3pypi user add --file FILE`); "
    "re-read when it changes.",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=16,
    show_default=True,
    help="Requests handled at once.",
)
@click.option(
    "--timeout",
    type=click.IntRange(1, 3600),
    default=30,
    show_default=True,
    help="Seconds a connection may stay idle, or take to send a request.",
)
@click.option(
    "--log-format",
    type=click.Choice(["s3pypi", "common", "combined"]),
    default="s3pypi",
    show_default=True,
    help="Access log lines on stderr: s3pypi's, or the common/combined log format.",
)
@click.option(
    "--max-upload-size",
    metavar="SIZE",
    default="100MiB",
    show_default=True,
    callback=_parse_size,
    help="The largest upload accepted (bytes, or with KiB, MiB, GiB).",
)
@click.option("--put-root-index", is_flag=True, help="List new projects uploaded on the root page.")
@click.option(
    "--allow-anonymous-uploads",
    is_flag=True,
    help="Without --users: let anyone who can reach the server upload.",
)
@verbose_option
@handle_errors
def serve(
    cfg: Config,
    host: str,
    port: int,
    users_file: Path | None,
    threads: int,
    timeout: int,
    log_format: str,
    max_upload_size: int,
    put_root_index: bool,
    allow_anonymous_uploads: bool,
) -> None:
    """Serve an index over HTTP as CloudFront does: preview a bucket, or serve one on-premises.

    pip and uv install from the URL it prints, e.g. `pip install --index-url URL NAME`.
    twine, uv, Poetry, PDM and flit publish to URL/legacy/ (users added with --publish).
    Health check: GET /-/health. Stops gracefully on SIGTERM. Put TLS in a reverse proxy.
    """
    from s3pypi_core.serve import ServerOptions, UploadSettings, open_server

    if users_file is not None and allow_anonymous_uploads:
        raise click.UsageError(
            "--allow-anonymous-uploads is for a server without --users (with --users, add "
            "publishers with `s3pypi user add USER --publish`)"
        )
    storage = cfg.open_storage()
    settings = ServerOptions(
        host=host, port=port, threads=threads, timeout=timeout, log_format=log_format
    )
    uploads = UploadSettings(
        max_size=max_upload_size,
        put_root_index=put_root_index,
        anonymous=allow_anonymous_uploads,
    )
    serving = open_server(
        storage,
        cfg.layout,
        settings,
        users_file=users_file,
        upload_to=cfg,
        upload_settings=uploads,
    )
    for note in serving.notes:
        log.info("%s", note)
    # Last: what a supervisor (or a test) waits for before it sends requests.
    click.echo(f"Serving {cfg.location} at {serving.url} ({serving.auth})")
    serving.server.serve_forever()


@cli.group()
def user() -> None:
    """Add, remove and list the basic auth users of an index.

    Users are kept in a JSON file (--file FILE, what `s3pypi serve --users FILE` reads) or in
    SSM Parameter Store under /s3pypi/DOMAIN/users/USER (--domain DOMAIN, what the Lambda@Edge
    function reads).
    """


def users_options(f: F) -> F:
    for option in reversed(
        [
            click.option(
                "--file",
                type=click.Path(dir_okay=False, path_type=Path),
                help="The users file (for s3pypi serve --users FILE).",
            ),
            click.option("--domain", help="The index's domain, for users kept in SSM."),
            click.option("--region", help="SSM region (default: us-east-1)."),
            click.option("--profile", help="AWS profile to use."),
        ]
    ):
        f = option(f)
    return f


def _users(**options: Any) -> Any:
    from s3pypi_core import users

    return users.open_users(**options)


def _aws_errors_as_user_errors(f: F) -> F:
    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from s3pypi_core import users

        try:
            return f(*args, **kwargs)
        except users.aws_errors() as e:
            raise users.UserError(str(e)) from e

    return wrapper  # type: ignore[return-value]


@user.command("add")
@click.argument("name", metavar="USER")
@users_options
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option(
    "--random-password",
    type=int,
    metavar="N",
    help="Generate a random password of N letters and digits and print it.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing user.")
@click.option(
    "--publish",
    is_flag=True,
    help="Allow the user to upload through `s3pypi serve` (without it: install only).",
)
@click.option("--salt-nbytes", type=int, default=32, show_default=True, metavar="N")
@verbose_option
@handle_errors
@_aws_errors_as_user_errors
def user_add(
    name: str,
    password_stdin: bool,
    random_password: int | None,
    overwrite: bool,
    publish: bool,
    salt_nbytes: int,
    **options: Any,
) -> None:
    """Add USER (or replace it, with --overwrite); with --publish, USER may also upload."""
    from s3pypi_core import users

    if password_stdin and random_password is not None:
        raise click.UsageError("--password-stdin and --random-password exclude each other")
    users.check_username(name)
    users.check_salt(salt_nbytes)
    if random_password is not None:
        password = users.random_password(random_password)
    elif password_stdin:
        password = users.password_from(sys.stdin.buffer)
    else:
        password = click.prompt(
            f"Password for {name}", hide_input=True, confirmation_prompt=True, err=True
        )
    store = _users(**options)
    replaced = users.add_user(
        store, name, password, overwrite=overwrite, salt_nbytes=salt_nbytes, publish=publish
    )
    click.echo(f"{'Replaced' if replaced else 'Added'} user {name} in {store.where}", err=True)
    if random_password is not None:
        click.echo(password)


@user.command("remove")
@click.argument("name", metavar="USER")
@users_options
@verbose_option
@handle_errors
@_aws_errors_as_user_errors
def user_remove(name: str, **options: Any) -> None:
    """Remove USER."""
    store = _users(**options)
    store.delete(name)
    click.echo(f"Removed user {name} from {store.where}", err=True)


@user.command("list")
@users_options
@verbose_option
@handle_errors
@_aws_errors_as_user_errors
def user_list(**options: Any) -> None:
    """List the users, their password scheme, and who may publish."""
    from s3pypi_core import users

    records = _users(**options).list()
    for line in users.listing(records):
        click.echo(line)
    old = users.stale(records)
    if old:
        log.warning(
            "%d user(s) with an old password hash (%s): set their password again with "
            "`s3pypi user add USER --overwrite`",
            len(old),
            ", ".join(old),
        )


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name=__prog__)
