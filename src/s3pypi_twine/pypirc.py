"""Repositories from a `.pypirc` file, with the S3 keys twine's own reader would drop.

[distutils]
index-servers = private

[private]
repository = s3://my-pypi-bucket/packages
profile = production
region = eu-west-1
"""

from __future__ import annotations

import configparser
import logging
import os
from dataclasses import dataclass

from s3pypi_core.exceptions import S3PyPIError

log = logging.getLogger("s3pypi")

DEFAULT_CONFIG_FILE = "~/.pypirc"
"""Where twine looks by default."""

S3_KEYS = ("profile", "region", "endpoint_url", "locks_table")
_TWINE_KEYS = ("username", "password", "ca_cert", "client_cert")
"""Keys twine reads; meaningless for S3, so ignored silently (a section may serve both)."""


class ConfigError(S3PyPIError):
    """The .pypirc file cannot be read, or lacks the repository asked for."""


@dataclass(frozen=True)
class Repository:
    """Where to publish: a repository URL and the AWS settings to reach it."""

    url: str
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    locks_table: str | None = None


def read_repository(config_file: str, name: str) -> Repository:
    """The section `name` of `config_file`; its `repository` must be s3:// or file://."""
    parser = _parse(config_file)
    where = f"[{name}] in {config_file}"
    if not parser.has_section(name):
        raise ConfigError(
            f"no [{name}] section in {config_file}: add one with "
            "repository = s3://BUCKET[/PREFIX], or use --repository-url"
        )
    section = parser[name]
    url = section.get("repository", "").strip()
    if not url:
        raise ConfigError(f"{where} has no repository = s3://BUCKET[/PREFIX]")
    if not url.startswith(("s3://", "file://")):
        raise ConfigError(
            f"{where} is {url}, not an s3:// or file:// repository (publish there with twine)"
        )
    for key in section:
        if key not in ("repository", *S3_KEYS, *_TWINE_KEYS):
            log.warning("ignoring unknown key %r in %s", key, where)

    def value(key: str) -> str | None:
        return section.get(key, "").strip() or None

    return Repository(
        url=url,
        profile=value("profile"),
        region=value("region"),
        endpoint_url=value("endpoint_url"),
        locks_table=value("locks_table"),
    )


def _parse(config_file: str) -> configparser.RawConfigParser:
    # Raw: a value may hold a literal '%' (no interpolation), as twine reads it.
    parser = configparser.RawConfigParser()
    path = os.path.expanduser(config_file)
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except FileNotFoundError:
        if config_file != DEFAULT_CONFIG_FILE:
            raise ConfigError(f"config file not found: {config_file}") from None
        # Like twine: a missing ~/.pypirc is an empty one.
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read {config_file}: {e}") from e
    except configparser.Error as e:
        raise ConfigError(f"{config_file} is not a valid .pypirc: {_one_line(str(e))}") from e
    return parser


def _one_line(text: str) -> str:
    return " ".join(text.split())
