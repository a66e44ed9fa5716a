"""`s3pypi mirror`: copies of public packages, with their dependencies."""

from __future__ import annotations

import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

import click

from s3pypi_core._upstream import PYPI
from s3pypi_core.cli._options import (
    handle_errors,
    log,
    repository_options,
    verbose_option,
)
from s3pypi_core.config import Config


@click.command()
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
    from s3pypi_core._logging import format_size
    from s3pypi_core.mirroring import mirror_packages

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
