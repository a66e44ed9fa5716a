"""The request-to-key rule of `s3pypi serve` and Lambda@Edge, on the cases the CloudFront
Function is checked against too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from s3pypi_core.routing import object_key, wants_json

CASES: dict[str, Any] = json.loads((Path(__file__).parent / "routing_cases.json").read_text())


@pytest.mark.parametrize(
    "case", CASES["cases"], ids=lambda c: f"{c['path']}-{c['accept']}-{c.get('index_html', False)}"
)
def test_object_key(case: dict[str, Any]) -> None:
    accept = CASES["accept"][case["accept"]]
    assert object_key(case["path"], accept, index_html=case.get("index_html", False)) == case["key"]


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (CASES["accept"]["pip"], True),
        (CASES["accept"]["uv"], True),
        (CASES["accept"]["browser"], False),
        ("application/vnd.pypi.simple.v1+json;q=0", False),
        ("application/vnd.pypi.simple.v1+json;q=bogus, text/html", False),
        ("APPLICATION/VND.PYPI.SIMPLE.V1+JSON", True),
        ("", False),
    ],
)
def test_wants_json(accept: str, expected: bool) -> None:
    assert wants_json(accept) is expected
