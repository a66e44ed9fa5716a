"""The CloudFront Function, executed for real with node on viewer-request events, against the
routing cases `s3pypi_core.routing` (and so `s3pypi serve` and Lambda@Edge) is tested on."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.parse
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from s3pypi_core.routing import is_browser, wants_json
from tests.test_routing import CASES
from tests.test_terraform import MODULE, resource

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

# Loads the function as CloudFront would (a script defining `handler`) and runs it on events.
_HARNESS = """
const vm = require("vm");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const context = vm.createContext({});
vm.runInContext(input.code, context);
const output = {
  requests: input.events.map((event) => context.handler(event)),
  wantsJson: input.accepts.map((accept) => context.wantsJson(accept)),
  isBrowser: input.accepts.map((accept) => context.isBrowser(accept)),
};
process.stdout.write(JSON.stringify(output));
"""


@cache
def function_code(index_html: bool) -> str:
    """viewer_request.js with the `index_html` setting applied the way Terraform applies it."""
    expression = resource("aws_cloudfront_function", "viewer_request")["code"]
    match = re.fullmatch(
        r'\$\{replace\(file\("\$\{path\.module\}/(\w+\.js)"\), "(.+?)", "(.+?)"\)\}', expression
    )
    assert match, expression
    path, old, new = match.groups()
    new = new.replace("${var.index_html}", json.dumps(index_html))
    return (MODULE / path).read_text().replace(old, new)


def viewer_request(path: str, accept: str | None) -> dict[str, Any]:
    """A CloudFront Functions event (version 1.0) as pip, uv or a browser would cause it."""
    uri, _, query = path.partition("?")
    headers = {"host": {"value": "pypi.example.com"}}
    if accept is not None:
        headers["accept"] = {"value": accept}
    return {
        "version": "1.0",
        "context": {"eventType": "viewer-request", "distributionDomainName": "d1.cloudfront.net"},
        "viewer": {"ip": "192.0.2.1"},
        "request": {
            "method": "GET",
            "uri": uri,
            "querystring": {
                k: {"value": v} for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)
            },
            "headers": headers,
            "cookies": {},
        },
    }


def run_function(
    events: list[dict[str, Any]], accepts: Sequence[str | None] = (), *, index_html: bool = False
) -> dict[str, Any]:
    assert NODE is not None
    payload = {"code": function_code(index_html), "events": events, "accepts": list(accepts)}
    result = subprocess.run(
        [NODE, "-e", _HARNESS],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    output: dict[str, Any] = json.loads(result.stdout)
    return output


def key_of(request: dict[str, Any]) -> str:
    """The S3 key CloudFront asks the origin for (S3 decodes the URI path)."""
    uri = request["uri"]
    assert uri.startswith("/")
    assert "+" not in uri  # S3 would read it as a space
    return urllib.parse.unquote(uri[1:])


@pytest.mark.parametrize("index_html", [False, True])
def test_routing_cases(index_html: bool) -> None:
    cases = [c for c in CASES["cases"] if c.get("index_html", False) == index_html]
    assert cases
    events = [viewer_request(c["path"], CASES["accept"][c["accept"]]) for c in cases]
    requests = run_function(events, index_html=index_html)["requests"]
    for case, request in zip(cases, requests, strict=True):
        assert key_of(request) == case["key"], case
        # Everything but the URI passes through untouched.
        original = viewer_request(case["path"], CASES["accept"][case["accept"]])["request"]
        assert {**request, "uri": original["uri"]} == original


def test_pages_for_pip_uv_and_a_browser_with_index_html_layout() -> None:
    accept = CASES["accept"]
    events = [
        viewer_request("/", accept["browser"]),
        viewer_request("/hello-world/", accept["browser"]),
        viewer_request("/hello-world/", accept["uv"]),
        viewer_request("/hello-world/hello_world-1.0.0.tar.gz", accept["browser"]),
    ]
    keys = [key_of(r) for r in run_function(events, index_html=True)["requests"]]
    assert keys == [
        "browse.html",
        "hello-world/browse.html",
        "hello-world/index.json",
        "hello-world/hello_world-1.0.0.tar.gz",
    ]


def test_a_literal_plus_reaches_s3_encoded() -> None:
    events = [viewer_request("/hello-world/hello_world-1.0+local-py3-none-any.whl", None)]
    (request,) = run_function(events)["requests"]
    assert request["uri"] == "/hello-world/hello_world-1.0%2Blocal-py3-none-any.whl"


ACCEPT_HEADERS: list[str | None] = [
    *CASES["accept"].values(),
    None,
    "",
    "application/vnd.pypi.simple.v1+json;q=0",
    "application/vnd.pypi.simple.v1+json;q=bogus, text/html",
    "application/vnd.pypi.simple.v1+json;q=0.5abc, text/html;q=0.1",
    "APPLICATION/VND.PYPI.SIMPLE.V1+JSON",
    "application/vnd.pypi.simple.v1+json ; q = 0.9 , text/html ; q = 0.8",
    "application/vnd.pypi.simple.v1+json;q=.5, text/*;q=0.4",
    "application/vnd.pypi.simple.v1+json;q=1., */*",
    "application/vnd.pypi.simple.v1+json;q=1e0, text/html;q=0.5",
    "application/vnd.pypi.simple.v1+json;q=-1",
    "application/vnd.pypi.simple.v1+json;q=+0.7, text/html;q=0.6",
    "application/vnd.pypi.simple.v1+json;level=1, text/html;q=0.2",
    "application/vnd.pypi.simple.latest+html, application/vnd.pypi.simple.v1+json;q=0.9",
    "application/vnd.pypi.simple.v1+json;q",
    "image/png, application/json",
    ",,;",
    "application/xhtml+xml",
    "application/xhtml+xml;q=0",
    "application/xhtml+xml;q=bogus, text/html",
    "APPLICATION/XHTML+XML, TEXT/HTML",
    "text/html, application/xhtml+xml, application/vnd.pypi.simple.v1+html;q=0",
    "text/html, application/xhtml+xml, application/vnd.pypi.simple.latest+json;q=0.01",
    "application/xhtml+xml ; q = 0.5",
]


def test_accept_negotiation_agrees_with_routing_py() -> None:
    output = run_function([], ACCEPT_HEADERS)
    for accept, json_first, browser in zip(
        ACCEPT_HEADERS, output["wantsJson"], output["isBrowser"], strict=True
    ):
        assert json_first is wants_json(accept), accept
        assert browser is is_browser(accept), accept


def test_function_source_stays_within_cloudfront_js() -> None:
    """No Node-only API: cloudfront-js-2.0 has no require, process or module system."""
    code = Path(MODULE / "viewer_request.js").read_text()
    for forbidden in ("require(", "process.", "module.exports", "import ", "export "):
        assert forbidden not in code
    assert re.search(r"^function handler\(event\) \{$", code, re.MULTILINE)
