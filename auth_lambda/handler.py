"""Lambda@Edge viewer-request handler: HTTP basic auth in front of a private s3pypi index.

Users are SSM parameters `/s3pypi/DOMAIN/users/USER` (SecureString, a JSON record of
`s3pypi_core.auth`), DOMAIN being the request's `Host`. Every failure answers the same 401.

CloudFront runs one viewer-request function per cache behavior, so after a successful check
this handler also does what the CloudFront Function does without auth: it rewrites the URI to
the object that answers it (`s3pypi_core.routing`), JSON pages for clients that prefer them.

In the deployment package (built by Terraform) this file sits next to `auth.py`, `routing.py`
and `config.json`: Lambda@Edge has no environment variables, so settings are baked in there.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

try:  # the source tree (tests, put_user.py)
    from s3pypi_core import auth, routing
except ImportError:  # the Lambda package: top-level modules next to this file
    import auth  # type: ignore[no-redef, import-not-found]
    import routing  # type: ignore[no-redef, import-not-found]

log = logging.getLogger()

CONFIG_FILE = Path(__file__).with_name("config.json")
DEFAULT_REGION = "us-east-1"  # where s3pypi 2.x kept its users


@dataclass(frozen=True)
class Config:
    """What Terraform bakes into `config.json`."""

    domains: tuple[str, ...]
    region: str = DEFAULT_REGION
    cache_ttl: float = 300.0
    index_html: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Config:
        return cls(
            domains=tuple(str(d).lower() for d in data["domains"]),
            region=str(data.get("region", DEFAULT_REGION)),
            cache_ttl=float(data.get("cache_ttl", 300.0)),
            index_html=bool(data.get("index_html", False)),
        )


def parameter_name(domain: str, user: str) -> str:
    return f"/s3pypi/{domain}/users/{user}"


def ssm_lookup(ssm: Any, domain: str) -> Callable[[str], dict[str, Any] | None]:
    """Finds a user's record in SSM; None if there is no such user."""

    def lookup(user: str) -> dict[str, Any] | None:
        try:
            response = ssm.get_parameter(Name=parameter_name(domain, user), WithDecryption=True)
        except ssm.exceptions.ParameterNotFound:
            return None
        try:
            record = json.loads(response["Parameter"]["Value"])
        except ValueError:
            record = None
        if not isinstance(record, dict):
            log.error("Not a user record: %s", parameter_name(domain, user))
            return None
        return record

    return lookup


class EdgeAuth:
    """The handler: checks credentials, then routes the request, or answers 401."""

    def __init__(
        self, config: Config, ssm: Any, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._config = config
        # One authenticator per allowed domain: a Host naming another domain (the
        # distribution's *.cloudfront.net name, say) has no users.
        self._authenticators = {
            domain: auth.Authenticator(
                ssm_lookup(ssm, domain), cache_ttl=config.cache_ttl, clock=clock
            )
            for domain in config.domains
        }

    def __call__(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        request: dict[str, Any] = event["Records"][0]["cf"]["request"]
        headers = request.get("headers", {})
        authenticator = self._authenticators.get((_header(headers, "host") or "").lower())
        try:
            allowed = authenticator is not None and authenticator.check(
                _header(headers, "authorization")
            )
        except Exception:  # SSM unreachable, throttled, misconfigured: fail closed
            log.exception("Cannot look up basic auth users")
            return _response("503", "Service Unavailable")
        if not allowed:
            return _response("401", "Unauthorized", {"WWW-Authenticate": auth.CHALLENGE})
        key = routing.object_key(
            request["uri"], _header(headers, "accept"), index_html=self._config.index_html
        )
        # Re-encoded: S3 would read a literal '+' in a path as a space.
        request["uri"] = "/" + urllib.parse.quote(key, safe="/")
        return request


def load_handler(config_file: Path = CONFIG_FILE) -> EdgeAuth:
    """The handler of the Lambda package, set up from its baked `config.json`."""
    config = Config.from_json(json.loads(config_file.read_text()))
    # Short timeouts and one retry: a viewer request has 5 seconds in all.
    boto_config = BotoConfig(
        connect_timeout=1, read_timeout=1, retries={"max_attempts": 2, "mode": "standard"}
    )
    ssm = boto3.client("ssm", region_name=config.region, config=boto_config)
    return EdgeAuth(config, ssm)


# In the Lambda package, set up while Lambda initialises the function, before the first request.
_handler: EdgeAuth | None = load_handler() if CONFIG_FILE.exists() else None


def handle(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point (`handler.handle`)."""
    global _handler
    if _handler is None:
        _handler = load_handler()
    return _handler(event, context)


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    values = headers.get(name) or []
    return str(values[0]["value"]) if values else None


def _response(
    status: str, description: str, extra_headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    headers = {
        "Cache-Control": "no-store",
        "Content-Type": "text/plain; charset=utf-8",
        **(extra_headers or {}),
    }
    return {
        "status": status,
        "statusDescription": description,
        "headers": {
            name.lower(): [{"key": name, "value": value}] for name, value in headers.items()
        },
        "body": f"{status} {description}\n",
    }
