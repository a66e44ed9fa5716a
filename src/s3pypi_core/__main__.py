"""`python -m s3pypi_core`, and `main(*args)` as s3pypi 2.x's `s3pypi.__main__.main` is called
from Python: `main("upload", "dist/*", "--bucket", "my-pypi-bucket")` returns when the command
succeeded and raises `SystemExit` (non-zero) when it failed."""

from __future__ import annotations

from s3pypi_core import __prog__
from s3pypi_core.cli import cli


def main(*args: str) -> None:
    """Run one `s3pypi` command; with no arguments, the command line's (`sys.argv[1:]`)."""
    code = cli.main(args=list(args) or None, prog_name=__prog__, standalone_mode=False)
    if code:  # a command that decided its own exit status (verify finds problems: 1)
        raise SystemExit(code)


if __name__ == "__main__":
    main()
