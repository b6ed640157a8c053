"""The OpenAPI document: generated from the wiring and the code's types, committed, and never stale."""

from __future__ import annotations

import dataclasses
import json
from http import HTTPStatus
from typing import Any

import pytest

from commands_core.api import v1
from commands_core.errors import RetryLater
from commands_core.wiring import ROUTES, Header, Reply, route
from local import openapi


def _operation(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"][path][method]
    return operation


def test_the_committed_document_is_the_one_the_code_generates() -> None:
    # Given the document committed in docs/
    committed = openapi.DOCUMENT.read_text()
    # When the code generates it again
    generated = openapi.render()
    # Then they are the same
    assert committed == generated, "docs/openapi.json differs from what the code generates: run `make openapi`"


def test_every_route_and_alias_of_the_wiring_is_an_operation() -> None:
    document = openapi.document()
    declared = {(path, each.method.lower()) for each in ROUTES for path in each.paths}
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert documented == declared
    assert "/jobs-executions/jobs/{jobId}" in document["paths"]


def test_request_limits_are_the_models_limits() -> None:
    # Given the model POST /templates parses its body with
    document = openapi.document()
    body = _operation(document, "/templates", "post")["requestBody"]["content"]["application/json"]["schema"]
    # When the document is generated, then its schema is that model's, limits included
    fields = document["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]["properties"]
    assert fields["presignedUrlExpiresInSeconds"]["maximum"] == 3600
    assert fields["templateId"]["pattern"] == "^[A-Za-z0-9_-]{1,64}$"


def test_each_family_documents_its_own_error_body() -> None:
    document = openapi.document()
    v1_error = _operation(document, "/templates/{templateId}", "get")["responses"]["404"]
    status_error = _operation(document, "/commands/v0/status/{id}", "get")["responses"]["404"]
    assert v1_error["content"]["application/vnd.aws-cdf-v1.0+json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    assert status_error["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Envelope"}
    assert set(document["components"]["schemas"]["Envelope"]["properties"]) == {"code", "message", "content"}


def test_the_status_family_wants_an_api_key_and_the_operator_families_iam() -> None:
    document = openapi.document()
    assert _operation(document, "/commands/v0/status", "get")["security"] == [{"api_key": []}]
    assert "401" in _operation(document, "/commands/v0/status", "get")["responses"]
    assert _operation(document, "/jobs", "post")["security"] == [{"iam": []}]
    assert document["components"]["securitySchemes"]["api_key"]["name"] == "x-api-key"


def test_a_header_and_a_reply_declared_on_a_route_show_up() -> None:
    # Given a route that reads a header and may answer 200 with the resource it made before
    declared = dataclasses.replace(
        route("commands_create"),
        headers=(Header("Idempotency-Key", "Retries with the same key return the first result."),),
        replies=(*route("commands_create").replies, Reply(200, "commands_core.models.responses:CommandView")),
    )
    # When the document is generated
    operation = _operation(openapi.document([declared]), "/commands", "post")
    # Then both are in it
    (header,) = [parameter for parameter in operation["parameters"] if parameter["in"] == "header"]
    assert {"name": "Idempotency-Key", "in": "header"}.items() <= header.items()
    assert {"200", "201"} <= set(operation["responses"])


def test_a_status_code_mapped_in_a_family_shows_up_with_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a family that maps a new error, one to retry later, to a status no family uses yet
    class Locked(RetryLater):
        pass

    monkeypatch.setitem(v1.STATUSES, Locked, HTTPStatus.LOCKED)
    # When the document is generated
    responses = _operation(openapi.document([route("templates_get")]), "/templates/{templateId}", "get")["responses"]
    # Then the status is documented, with its Retry-After header, and so are AWS's 429 and 503
    assert "Retry-After" in responses["423"]["headers"]
    assert "Retry-After" in responses["429"]["headers"]
    assert "Retry-After" in responses["503"]["headers"]


def test_the_document_is_json_that_openapi_tools_load() -> None:
    import schemathesis

    loaded = schemathesis.openapi.from_dict(json.loads(openapi.render()))
    assert len(list(loaded.get_all_operations())) == sum(len(each.paths) for each in ROUTES)
