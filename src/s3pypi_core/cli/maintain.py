"""`s3pypi verify`, `reindex` and `force-unlock`: looking after an index."""

from __future__ import annotations

import json
import sys

import click

from s3pypi_core.cli._options import (
    aws_options,
    handle_errors,
    log,
    metadata_size_option,
    repository_options,
    verbose_option,
)
from s3pypi_core.config import Config
from s3pypi_core.maintenance import force_unlock as release_lock
from s3pypi_core.maintenance import reindex as reindex_index
from s3pypi_core.maintenance import verify_index
from s3pypi_core.storage import S3Config


@click.command()
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


@click.command()
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


@click.command("force-unlock")
@click.argument("table")
@click.argument("lock_id")
@aws_options
@verbose_option
@handle_errors
def force_unlock(table: str, lock_id: str, profile: str | None, region: str | None) -> None:
    """Release a DynamoDB lock left behind by an interrupted publisher."""
    release_lock(Config(s3=S3Config(bucket="", profile=profile, region=region)), table, lock_id)
