"""The local runtime as a user meets it: HTTP on loopback, the README's flow, clean shutdown."""

from __future__ import annotations

import json

from commands_core.wiring import ROUTES
from tests.e2e.conftest import Runtime, start, stop


def test_the_templates_flow_of_the_readme_works_over_http(local_runtime: Runtime) -> None:
    document = json.dumps({"action": "reboot", "delaySeconds": "${delay}"})
    template = {
        "templateId": "e2e-reboot",
        "operation": "reboot",
        "document": document,
        "requiredDocumentParameters": ["delay"],
    }

    status, headers, _ = local_runtime.request("POST", "/templates", template)
    assert (status, headers["location"]) == (201, "/templates/e2e-reboot")

    status, headers, body = local_runtime.request("GET", "/templates/e2e-reboot")
    assert status == 200
    assert headers["content-type"] == "application/vnd.aws-cdf-v1.0+json"
    assert body["document"] == document

    status, _, body = local_runtime.request("GET", "/templates?maxResults=100")
    assert status == 200
    assert "e2e-reboot" in [summary["templateId"] for summary in body["results"]]

    status, _, _ = local_runtime.request("PATCH", "/templates/e2e-reboot", {"description": "Reboots later"})
    assert status == 204
    assert local_runtime.request("GET", "/templates/e2e-reboot")[2]["description"] == "Reboots later"

    assert local_runtime.request("DELETE", "/templates/e2e-reboot")[0] == 204
    assert local_runtime.request("GET", "/templates/e2e-reboot")[0] == 404


def test_paths_are_served_with_and_without_a_trailing_slash(local_runtime: Runtime) -> None:
    assert local_runtime.request("GET", "/templates/")[0] == 200
    assert local_runtime.request("GET", "/templates/absent/")[0] == 404


def test_every_declared_route_reaches_its_handler(local_runtime: Runtime) -> None:
    for route in ROUTES:
        path = route.path.replace("{templateId}", "probe")
        status, _, body = local_runtime.request(route.method, path, {} if route.method in ("POST", "PATCH") else None)
        assert status != 405, route
        assert status < 500, route
        assert not (body or {}).get("error", "").startswith("no route"), route


def test_unknown_paths_are_404_and_wrong_methods_405_with_json_bodies(local_runtime: Runtime) -> None:
    status, _, body = local_runtime.request("GET", "/nowhere")
    assert status == 404
    assert "error" in body

    status, headers, body = local_runtime.request("PUT", "/templates")
    assert status == 405
    assert set(headers["allow"].split(", ")) == {"GET", "POST"}
    assert "error" in body


def test_invalid_input_never_gives_a_5xx(local_runtime: Runtime) -> None:
    for body in ([1], "text", {"templateId": None}, {"document": 3}):
        assert local_runtime.request("POST", "/templates", body)[0] == 400


def test_ctrl_c_stops_the_runtime_cleanly_and_each_request_is_logged() -> None:
    runtime = start({})
    runtime.request("GET", "/templates")

    code, output = stop(runtime)

    assert code == 0
    assert '"GET /templates" 200' in output
    assert "Traceback" not in output
