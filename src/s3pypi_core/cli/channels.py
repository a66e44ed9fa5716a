"""`s3pypi promote` and `s3pypi prune`: channels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from s3pypi_core._logging import format_size
from s3pypi_core.cli._options import (
    handle_errors,
    repository_option_values,
    repository_options,
    verbose_option,
)
from s3pypi_core.config import Config
from s3pypi_core.exceptions import OptionError


@click.command()
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


@click.command()
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
        f"({format_size(size)}) from {cfg.location}"
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
