"""`s3pypi serve`: an index over HTTP."""

from __future__ import annotations

from pathlib import Path

import click

from s3pypi_core.cli._options import (
    handle_errors,
    log,
    parse_size,
    repository_options,
    verbose_option,
)
from s3pypi_core.config import Config


@click.command()
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
    callback=parse_size,
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
