"""`s3pypi`: the command line. Each command only turns flags into a call of the core; the
commands live in one module per topic (`publish`, `channels`, `maintain`, `mirror`, `serve`,
`users`), the options they share in `_options`."""

from __future__ import annotations

import click

from s3pypi_core import __prog__, __version__
from s3pypi_core._logging import log_to_stderr
from s3pypi_core.cli import channels, maintain, mirror, publish, serve, users
from s3pypi_core.cli._options import verbose_option


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name=__prog__)
@verbose_option
@click.pass_context
def cli(ctx: click.Context) -> None:
    """A private Python package index in an S3 bucket."""
    ctx.with_resource(log_to_stderr(verbose=bool(ctx.meta.get("verbose"))))


for command in (
    publish.upload,
    publish.delete,
    publish.yank,
    publish.unyank,
    channels.promote,
    channels.prune,
    maintain.verify,
    maintain.reindex,
    mirror.mirror,
    maintain.force_unlock,
    serve.serve,
    users.user,
):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name=__prog__)
