"""The options of the Hatch publisher, from three places, checked and merged.

Hatch hands a publisher `[publish.s3pypi]` of its config, `[tool.hatch.publish.s3pypi]` of the
project and the `-o key=value` options. TOML values arrive typed; `-o` values are strings, so
booleans, numbers and tables are parsed from text here. Later sources win: Hatch's config, then
the project, then `-o`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from s3pypi_core.config import Config
from s3pypi_core.exceptions import OptionError
from s3pypi_core.storage import parse_put_args

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}

_IGNORED = {"disable", "no-prompt", "initialize-auth"}
"""Read by Hatch itself (`disable`), or passed by Hatch to every publisher."""


def _string(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value.strip()


def _prefix(value: object) -> str:
    """A key prefix; empty means the root of the bucket."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value.strip().strip("/")


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("must be a boolean (true or false)")


def _seconds(value: object) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError("must be a number of seconds") from None
    if seconds < 0:
        raise ValueError("must not be negative")
    return seconds


def _table(value: object) -> dict[str, str]:
    """A TOML table, or the `KEY=VALUE,KEY=VALUE` text of `s3pypi upload --s3-put-args`."""
    if isinstance(value, Mapping):
        if not all(isinstance(v, str | int | float) for v in value.values()):
            raise ValueError("must be a table of strings")
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, str):
        return parse_put_args(value)
    raise ValueError("must be a table, or KEY=VALUE[,KEY=VALUE...]")


_PARSERS: dict[str, Callable[[object], Any]] = {
    "repository-url": _string,
    "bucket": _string,
    "prefix": _prefix,
    "profile": _string,
    "region": _string,
    "endpoint-url": _string,
    "locks-table": _string,
    "lock-timeout": _seconds,
    "no-sign-request": _boolean,
    "index-html": _boolean,
    "s3-put-args": _table,
    "put-root-index": _boolean,
    "strict": _boolean,
    "force": _boolean,
}


def parse(options: Mapping[str, object], where: str) -> dict[str, Any]:
    """Check and convert the options of one source; `where` names it in messages."""
    parsed = {}
    for raw_key, value in options.items():
        key = raw_key.replace("_", "-")
        if key in _IGNORED:
            continue
        if key not in _PARSERS:
            known = ", ".join(_PARSERS)
            raise OptionError(f"unknown option `{raw_key}` in {where} (known: {known})")
        try:
            parsed[key] = _PARSERS[key](value)
        except ValueError as e:
            raise OptionError(f"option `{raw_key}` in {where} {e}") from None
    if "repository-url" in parsed and {"bucket", "prefix"} & parsed.keys():
        raise OptionError(f"{where} sets both `repository-url` and `bucket`/`prefix`: keep one")
    return parsed


_HATCH_NAMES = {
    "repository_url": "`repository-url`",
    "bucket": "`bucket`",
    "prefix": "`prefix`",
    "profile": "`profile`",
    "region": "`region`",
    "endpoint_url": "`endpoint-url`",
    "no_sign_request": "`no-sign-request`",
    "put_args": "`s3-put-args`",
    "index_html": "`index-html`",
    "locks_table": "`locks-table`",
    "lock_timeout": "`lock-timeout`",
}
"""How the options of `Config.from_options` are spelled here, for its messages."""


@dataclass
class Settings:
    """Everything the publisher needs, merged from its sources."""

    repository: dict[str, Any] = field(default_factory=dict)
    """The options that say where the index is and how to reach it (parsed, dashed keys)."""
    put_root_index: bool = False
    strict: bool = False
    force: bool = False

    @classmethod
    def merge(cls, *sources: dict[str, Any]) -> Settings:
        """Merge parsed sources, the last winning.

        `repository-url` and `bucket` both say where the index is: the latest source that says
        it decides, whichever key it uses, and the `prefix` of earlier sources goes with the
        location it was meant for. A `prefix` alone (say, per project) applies to the bucket
        set earlier (say, in Hatch's config).
        """
        merged: dict[str, Any] = {}
        for source in sources:
            if {"repository-url", "bucket"} & source.keys():
                for key in ("repository-url", "bucket", "prefix"):
                    merged.pop(key, None)
            merged.update(source)
        flags = {key: merged.pop(key, False) for key in ("put-root-index", "strict", "force")}
        return cls(
            repository=merged,
            put_root_index=flags["put-root-index"],
            strict=flags["strict"],
            force=flags["force"],
        )

    def config(self) -> Config:
        if not {"repository-url", "bucket"} & self.repository.keys():
            raise OptionError(
                "no repository: set `repository-url` (s3://BUCKET[/PREFIX] or file:///PATH) or "
                "`bucket` in [tool.hatch.publish.s3pypi], in [publish.s3pypi] of Hatch's "
                "config, or with -o"
            )
        if self.strict and self.force:
            raise OptionError("`strict` and `force` exclude each other")
        options = {key.replace("-", "_"): value for key, value in self.repository.items()}
        if "s3_put_args" in options:
            options["put_args"] = options.pop("s3_put_args")
        return Config.from_options(**options, names=_HATCH_NAMES)
