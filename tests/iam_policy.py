"""A small IAM policy evaluator, for the policies the Terraform module renders.

It decides one request against one policy the way IAM does for a single identity-based (or
trust) policy: an explicit Deny wins, otherwise any matching Allow allows, otherwise the
request is denied. A statement matches when its Action (or NotAction), Resource (or
NotResource), Principal (trust policies) and every Condition match. Actions match
case-insensitively, resources case-sensitively, both with the `*` and `?` wildcards.

Conditions: the operators the module uses (StringEquals, StringLike, StringNotEquals,
StringNotLike, Bool). All operators of a statement must hold, all keys of an operator, and
one of a key's values. A key missing from the request fails every positive operator, as in
IAM. Any other operator (or an ...IfExists, ForAnyValue: form) raises, so a policy this
evaluator cannot judge fails the test instead of passing it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any


class UnsupportedPolicy(Exception):
    pass


@dataclass(frozen=True)
class Request:
    action: str
    resource: str = "*"
    context: Mapping[str, str] = field(default_factory=dict)
    """Condition keys of the request, e.g. {"s3:prefix": "team/hello-world/"}."""
    principal: tuple[str, str] | None = None
    """For a trust policy: the principal's type and identifier, e.g. ("Federated", ARN)."""

    def __str__(self) -> str:
        context = f" {dict(self.context)}" if self.context else ""
        return f"{self.action} {self.resource}{context}"


@cache
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _wildcard(pattern, ignore_case).fullmatch(value) is not None


def _any_match(patterns: Any, value: str, *, ignore_case: bool = False) -> bool:
    return any(wildcard_match(p, value, ignore_case=ignore_case) for p in _as_list(patterns))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_holds(
    operator: str, key: str, values: list[str], context: Mapping[str, str]
) -> bool:
    if key not in context:
        if operator in ("StringEquals", "StringLike", "Bool"):
            return False
        raise UnsupportedPolicy(f"{operator} on a missing key {key}")
    actual = context[key]
    if operator == "StringEquals":
        return actual in values
    if operator == "StringNotEquals":
        return actual not in values
    if operator == "StringLike":
        return any(wildcard_match(v, actual) for v in values)
    if operator == "StringNotLike":
        return not any(wildcard_match(v, actual) for v in values)
    if operator == "Bool":
        return actual.lower() in [v.lower() for v in values]
    raise UnsupportedPolicy(f"condition operator {operator}")


def _matches(statement: Mapping[str, Any], request: Request) -> bool:
    known = {
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "Condition",
    }
    if set(statement) - known:
        raise UnsupportedPolicy(f"statement elements {set(statement) - known}")
    if "Action" not in statement and "NotAction" not in statement:
        raise UnsupportedPolicy("a statement without Action or NotAction")
    action, resource = request.action, request.resource
    if "Action" in statement and not _any_match(statement["Action"], action, ignore_case=True):
        return False
    if "NotAction" in statement and _any_match(statement["NotAction"], action, ignore_case=True):
        return False
    if "Resource" in statement and not _any_match(statement["Resource"], resource):
        return False
    if "NotResource" in statement and _any_match(statement["NotResource"], resource):
        return False
    if "Principal" in statement:
        if request.principal is None:
            raise UnsupportedPolicy("a Principal in a policy evaluated without a principal")
        type_, identifier = request.principal
        if not _any_match(statement["Principal"].get(type_, []), identifier):
            return False
    for operator, keys in statement.get("Condition", {}).items():
        for key, values in keys.items():
            if not _condition_holds(operator, key, _as_list(values), request.context):
                return False
    return True


def is_allowed(policy: Mapping[str, Any], request: Request) -> bool:
    allowed = False
    for statement in _as_list(policy["Statement"]):
        if not _matches(statement, request):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") != "Allow":
            raise UnsupportedPolicy(f"effect {statement.get('Effect')!r}")
        allowed = True
    return allowed
