"""`s3pypi upload`, `delete`, `yank`, `unyank`: publishing."""

from __future__ import annotations

from pathlib import Path

import click

from s3pypi_core.cli._options import (
    handle_errors,
    log,
    metadata_size_option,
    repository_options,
    verbose_option,
)
from s3pypi_core.config import Config
from s3pypi_core.publishing import delete_package, unyank_package, upload_packages, yank_package


@click.command()
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


@click.command()
@click.argument("name")
@click.argument("version")
@repository_options
@click.option("--dry-run", is_flag=True, help="Print what would be changed; change nothing.")
@verbose_option
@handle_errors
def delete(cfg: Config, name: str, version: str, dry_run: bool) -> None:
    """Delete every file of one version of a project."""
    delete_package(cfg, name, version)


@click.command()
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


@click.command()
@click.argument("name")
@click.argument("version")
@repository_options
@verbose_option
@handle_errors
def unyank(cfg: Config, name: str, version: str) -> None:
    """Undo `yank`."""
    for filename in unyank_package(cfg, name, version):
        log.info("Unyanked %s", filename)
