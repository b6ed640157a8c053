"""Every route refuses what it must not use before it uses it: ids and thing names that are not AWS IoT's (path
traversal, percent-encoded and control characters, Unicode look-alikes, too long) and bodies over their limit get
the family's 4xx naming the field, and no AWS call is made."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from commands_core import dependencies
from commands_core.adapters import aws as clients
from commands_core.api.http import MAX_BODY_BYTES, MAX_FORM_BYTES
from commands_core.wiring import ROUTES, Route
from local.api import proxy_event
from tests.conftest import HandlerClient
from tests.integration.conftest import multipart

# The family's status for a request it refuses; the status API answers an id that cannot exist as unknown.
REFUSED = {"v1": {400}, "jobs": {422}, "status": {400}}
REFUSED_ID = REFUSED | {"status": {400, 404}}
THING_NAMES = {"thingName"}
VALID = {"thingName": "thing-1", "id": "c1.thing-1"}  # any other parameter is an id

BAD_IDS = {
    "dot-dot": "..",
    "traversal": "../other",
    "percent-encoded-traversal": "..%2F..%2Fother",
    "percent-encoded-dots": "%2e%2e",
    "backslash": "a\\b",
    "nul": "a\x00b",
    "newline": "a\nb",
    "fullwidth-dots": "\uff0e\uff0e",  # NFKC: ".."
    "division-slash": "a\u2215b",  # looks like "/"
    "fullwidth-letters": "\uff41\uff42",  # NFKC: "ab"
    "space": "a b",
}


def _parameters(route: Route) -> list[str]:
    return re.findall(r"\{(\w+)\}", route.path)


ID_PARAMETERS = [
    pytest.param(route, name, id=f"{route.function}-{name}") for route in ROUTES for name in _parameters(route)
]


@pytest.fixture
def aws_calls(api: HandlerClient) -> Iterator[list[str]]:
    """The AWS operations the service's clients make from now on."""
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(f"{model.service_model.service_name}:{model.name}")

    events = clients.session().events
    events.register("provide-client-params.*.*", record, unique_id="input-limits")
    dependencies.reset()  # clients made from now on copy the session's handlers
    try:
        yield calls
    finally:
        events.unregister("provide-client-params.*.*", unique_id="input-limits")
        dependencies.reset()


def _ordinary_body(route: Route) -> tuple[bytes, str]:
    """A body the route takes: a small file for the upload, a state for the status API, else an empty object."""
    if route.function == "files_upload":
        body, headers = multipart("file", b"firmware")
        return body, headers["Content-Type"]
    taken = {
        "status_update": {"state": "Command Success"},
        "jobs_update": {"description": "d"},
        "jobs_associate": {"targets": ["thing-1"]},
    }
    if route.function in taken:
        return json.dumps(taken[route.function]).encode(), "application/json"
    return (b"{}" if route.method in ("POST", "PUT", "PATCH") else b""), "application/json"


def _call(
    api: HandlerClient, route: Route, values: dict[str, str], body: bytes | None = None, content_type: str = ""
) -> tuple[int, str]:
    """Invokes the route's function with `values` as its path parameters, as API Gateway gives them: in the
    decoded path and in pathParameters (a body it takes unless given). The status and the family's message."""
    if body is None:
        body, content_type = _ordinary_body(route)
    plain = {name: VALID.get(name, "c1") for name in _parameters(route)}
    match = api.api.router.match(route.method, route.path.format(**plain))
    assert not isinstance(match, list)
    event = proxy_event(
        match, method=route.method, raw_path="/", query="", headers={"Content-Type": content_type}, body=body
    )
    path = route.path.format(**(plain | values))
    event["path"] = event["requestContext"]["path"] = path
    event["pathParameters"] = plain | values
    reply = api.api.invoke(match, event)
    data = json.loads(reply["body"] or "{}")
    return reply["statusCode"], str(data.get("error") or data.get("message") or "")


@pytest.mark.parametrize(("route", "name"), ID_PARAMETERS)
def test_a_path_parameter_that_is_no_id_is_refused_before_any_aws_call(
    api: HandlerClient, aws_calls: list[str], route: Route, name: str
) -> None:
    for kind, value in BAD_IDS.items():
        # Given a path parameter holding traversal, encoded, control or look-alike characters
        # When the route is called
        status, message = _call(api, route, {name: value})

        # Then the family refuses it naming the parameter (the status API: as an id that cannot exist)
        assert status in REFUSED_ID[route.family], (kind, message)
        assert message.startswith(f"{name}:") or (route.family == "status" and "not found" in message), kind
    # And nothing reached AWS: no key, no S3 object, no AWS IoT call was made of any of them
    assert aws_calls == []


def _longest(name: str, more: int = 0) -> str:
    """As many characters as AWS IoT takes for the parameter (64 for ids, 128 for thing names), plus `more`;
    for a status id, its thing name's."""
    if name == "id":
        return "c1." + "a" * (128 + more)
    return "a" * ((128 if name in THING_NAMES else 64) + more)


@pytest.mark.parametrize(("route", "name"), ID_PARAMETERS)
def test_a_path_parameter_one_over_its_aws_iot_length_is_refused_but_its_longest_gets_past_the_check(
    api: HandlerClient, aws_calls: list[str], route: Route, name: str
) -> None:
    # Given one character more than AWS IoT takes: the route refuses it, and nothing reaches AWS
    status, message = _call(api, route, {name: _longest(name, 1)})
    assert status in REFUSED_ID[route.family], message
    assert aws_calls == []

    # Given exactly as many: the request is not refused for that parameter, it gets as far as AWS
    _, message = _call(api, route, {name: _longest(name)})
    assert not message.startswith(f"{name}:"), message
    assert aws_calls != []


# The routes that read a request body (the upload: a form; the others: a JSON object).
READS_BODY = {
    "templates_create",
    "templates_update",
    "commands_create",
    "commands_update",
    "files_upload",
    "jobs_create",
    "jobs_update",
    "jobs_associate",
    "jobs_cancel",
    "jobs_delete",
    "job_executions_cancel",
    "job_executions_delete",
    "job_templates_create",
    "status_update",
}
BODY_ROUTES = [pytest.param(route, id=route.function) for route in ROUTES if route.function in READS_BODY]


def test_every_route_said_to_read_a_body_exists() -> None:
    assert {param.values[0].function for param in BODY_ROUTES} == READS_BODY  # type: ignore[union-attr]


@pytest.mark.parametrize("route", BODY_ROUTES)
def test_a_body_over_its_route_limit_is_refused_before_any_aws_call(
    api: HandlerClient, aws_calls: list[str], route: Route
) -> None:
    # Given a body one byte over the route's limit (a JSON object; for the upload, the whole form)
    if route.function == "files_upload":
        body, headers = multipart("file", b"x" * MAX_FORM_BYTES)
        content_type = headers["Content-Type"]
    else:
        padding = MAX_BODY_BYTES + 1 - len(json.dumps({"a": ""}))
        body, content_type = json.dumps({"a": "x" * padding}).encode(), "application/json"

    # When the route is called with it
    status, message = _call(api, route, {}, body, content_type)

    # Then the family refuses it naming the body and its limit, and nothing reached AWS
    assert status in REFUSED[route.family], message
    limit = MAX_FORM_BYTES if route.function == "files_upload" else MAX_BODY_BYTES
    assert message.startswith(f"body: must be at most {limit} bytes"), message
    assert aws_calls == []


def test_a_body_of_exactly_the_limit_is_read(api: HandlerClient) -> None:
    # Given a template whose body, padded with spaces, is exactly the limit
    body = json.dumps({"templateId": "big", "operation": "x", "document": "{}"})
    padded = body[:-1] + " " * (MAX_BODY_BYTES - len(body)) + "}"
    assert len(padded.encode()) == MAX_BODY_BYTES

    # When it is registered
    reply = api.post("/templates", padded)

    # Then it is created
    assert reply.status == 201, reply.body


def test_an_upload_too_large_for_the_api_points_to_the_upload_url(api: HandlerClient) -> None:
    body, headers = multipart("file", b"x" * MAX_FORM_BYTES)

    reply = api.request("PUT", "/commands/c1/files/firmware", body, headers=headers)

    assert reply.status == 400
    assert "upload-url" in reply.json()["error"]


def test_an_uploaded_file_whose_content_type_is_not_a_media_type_is_refused(
    api: HandlerClient, aws_calls: list[str]
) -> None:
    # Given a form whose file part has a Content-Type that is no type/subtype (it would become an S3 header)
    body, headers = multipart("file", b"firmware")
    body = body.replace(b"Content-Type: application/octet-stream", b"Content-Type: " + b"a" * 300 + b"/x")

    # When it is uploaded
    reply = api.request("PUT", "/commands/c1/files/firmware", body, headers=headers)

    # Then it is refused naming the file, before any AWS call
    assert reply.status == 400
    assert reply.json()["error"].startswith("file: has a Content-Type that is not a media type")
    assert aws_calls == []
