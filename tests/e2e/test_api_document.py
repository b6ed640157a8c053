"""The document as a user meets it: served by the local runtime, browsable at /docs, and true of every route
(a small fuzz run; `make fuzz` runs the full one)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bench import fuzz
from commands_core.wiring import ROUTES
from local import openapi
from tests.e2e.conftest import Runtime


def _get(runtime: Runtime, path: str, method: str = "GET") -> tuple[int, str, bytes]:
    request = urllib.request.Request(runtime.url + path, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("content-type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("content-type", ""), error.read()


def test_the_runtime_serves_the_document_the_code_generates(local_runtime: Runtime) -> None:
    status, content_type, body = _get(local_runtime, "/openapi.json")
    assert (status, content_type) == (200, "application/json")
    assert json.loads(body) == openapi.document()


def test_swagger_ui_at_docs_loads_its_assets_from_the_runtime(local_runtime: Runtime) -> None:
    # Given the page at /docs
    status, content_type, page = _get(local_runtime, "/docs")
    assert (status, content_type.split(";")[0]) == (200, "text/html")
    assert b'url: "/openapi.json"' in page
    # Then every script and stylesheet it names is served locally (it works offline)
    for asset in ("/docs/swagger-ui-bundle.js", "/docs/swagger-ui-standalone-preset.js", "/docs/swagger-ui.css"):
        assert asset.encode() in page
        asset_status, _, content = _get(local_runtime, asset)
        assert asset_status == 200
        assert len(content) > 1000


CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium package; `make test` installs it where it can
_HEADLESS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def test_swagger_ui_at_docs_lists_every_operation_of_the_document_offline_in_a_browser(
    local_runtime: Runtime, tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        reason = f"Chromium is not installed ({CHROMIUM}, Debian's chromium package; make test installs it as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    # Given a browser that can reach nothing but this machine (a CDN would not resolve)
    command = [
        str(CHROMIUM),
        *_HEADLESS,
        f"--user-data-dir={tmp_path / 'profile'}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--virtual-time-budget=20000",  # the page's scripts run to the end: the document fetched and rendered
        "--dump-dom",
        local_runtime.url + "/docs",
    ]

    # When it opens /docs
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False).stdout

    # Then Swagger UI read the OpenAPI 3.1 document and shows a block for each of its operations
    assert "Unable to render this definition" not in dom
    shown = set(re.findall(r'class="opblock opblock-(\w+)[^"]*" id="[^"]*".*?data-path="([^"]+)"', dom, re.S))
    documented = {(method, path) for path, item in openapi.document()["paths"].items() for method in item}
    assert ("post", "/templates") in shown
    assert ("post", "/commands") in shown
    assert shown == documented


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "PROPFIND"])
def test_a_method_no_route_has_is_a_405_not_a_server_error(local_runtime: Runtime, method: str) -> None:
    status, _, body = _get(local_runtime, "/templates", method=method)
    assert status == 405
    assert "allowed: GET, POST" in json.loads(body)["error"]


def test_generated_requests_get_no_5xx_and_only_documented_responses(local_runtime: Runtime) -> None:
    # Given a few hundred requests generated from the document, valid and invalid, over every route
    summary = fuzz.run(local_runtime.url, fuzz.SMALL)
    # Then none failed a check, and every operation was tried
    assert fuzz.passed(summary), json.dumps(summary, indent=2)
    assert summary["operations"] == sum(len(route.paths) for route in ROUTES)
    assert summary["requests"] >= 200
