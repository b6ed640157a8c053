"""The Templates API through the real handlers, against moto."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import HandlerClient

V1 = "application/vnd.aws-cdf-v1.0+json"


def template(template_id: str = "reboot", **overrides: Any) -> dict[str, Any]:
    return {
        "templateId": template_id,
        "operation": "reboot",
        "description": "Reboots a device",
        "document": json.dumps({"action": "reboot", "delay": "${delay}", "firmware": "${cdf:file:image}"}),
        "requiredDocumentParameters": ["delay"],
        "requiredFiles": ["image"],
    } | overrides


def test_create_returns_201_with_location_and_the_template_reads_back(api: HandlerClient) -> None:
    created = api.post("/templates", template(), headers={"Content-Type": V1})

    assert created.status == 201
    assert created.headers["location"] == "/templates/reboot"
    read = api.get("/templates/reboot")
    assert read.status == 200
    assert read.headers["content-type"] == V1
    body = read.json()
    assert {key: body[key] for key in template()} == template()
    assert body["delivery"] == "job"
    assert body["presignedUrlExpiresInSeconds"] == 3600
    assert body["createdAt"] == body["updatedAt"]


def test_creating_an_existing_id_is_a_409_and_keeps_the_first(api: HandlerClient) -> None:
    api.post("/templates", template())

    again = api.post("/templates", template(operation="other"))

    assert again.status == 409
    assert "reboot" in again.json()["error"]
    assert api.get("/templates/reboot").json()["operation"] == "reboot"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({k: v for k, v in template().items() if k != "templateId"}, "templateId"),
        ({k: v for k, v in template().items() if k != "operation"}, "operation"),
        ({k: v for k, v in template().items() if k != "document"}, "document"),
        (template("bad id"), "templateId"),
        (template("x" * 65), "templateId"),
        (template(document={"action": "reboot"}), "document"),
        (template(document="{not json"), "document"),
        (template(requiredDocumentParameters=[]), "requiredDocumentParameters"),
        (template(requiredFiles=["image", "unused"]), "requiredFiles"),
        (template(presignedUrlExpiresInSeconds=30), "presignedUrlExpiresInSeconds"),
        (template(presignedUrlExpiresInSeconds=7200), "presignedUrlExpiresInSeconds"),
        (template(delivery="smoke-signal"), "delivery"),
    ],
)
def test_invalid_templates_are_400s_naming_the_field(api: HandlerClient, body: dict[str, Any], field: str) -> None:
    reply = api.post("/templates", body)

    assert reply.status == 400
    assert reply.json()["error"].startswith(f"{field}:")


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "null", "{not json", "", "42"])
def test_a_body_that_is_not_a_json_object_is_a_400_not_a_500(api: HandlerClient, body: str) -> None:
    reply = api.post("/templates", body)

    assert reply.status == 400
    assert reply.json()["error"].startswith("body:")


def test_get_of_an_unknown_template_is_a_404_error(api: HandlerClient) -> None:
    reply = api.get("/templates/absent")

    assert reply.status == 404
    assert reply.json() == {"error": "template 'absent' not found"}


def test_list_pages_through_every_template_in_order_with_opaque_tokens(api: HandlerClient) -> None:
    ids = [f"t{number:02d}" for number in range(23)]
    for template_id in reversed(ids):
        assert api.post("/templates", template(template_id)).status == 201

    seen: list[str] = []
    pages = 0
    target = "/templates?maxResults=10"
    while True:
        reply = api.get(target)
        assert reply.status == 200
        body = reply.json()
        assert body["pagination"]["maxResults"] == 10
        seen += [summary["templateId"] for summary in body["results"]]
        assert all(summary["description"] == "Reboots a device" for summary in body["results"])
        pages += 1
        if "nextToken" not in body["pagination"]:
            break
        target = f"/templates?maxResults=10&nextToken={body['pagination']['nextToken']}"

    assert seen == ids
    assert pages == 3


def test_a_full_last_page_carries_no_token(api: HandlerClient) -> None:
    for number in range(4):
        api.post("/templates", template(f"t{number}"))

    body = api.get("/templates?maxResults=4").json()

    assert len(body["results"]) == 4
    assert "nextToken" not in body["pagination"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("maxResults=0", "maxResults"),
        ("maxResults=101", "maxResults"),
        ("maxResults=ten", "maxResults"),
        ("nextToken=garbage!", "nextToken"),
    ],
)
def test_list_rejects_bad_paging_with_a_400(api: HandlerClient, query: str, field: str) -> None:
    reply = api.get(f"/templates?{query}")

    assert reply.status == 400
    assert reply.json()["error"].startswith(f"{field}:")


def test_patch_merges_validates_and_answers_204(api: HandlerClient) -> None:
    api.post("/templates", template())

    reply = api.patch("/templates/reboot", {"description": "Restarts", "presignedUrlExpiresInSeconds": 600})

    assert reply.status == 204
    assert reply.body == ""
    body = api.get("/templates/reboot").json()
    assert (body["description"], body["presignedUrlExpiresInSeconds"], body["operation"]) == ("Restarts", 600, "reboot")
    assert body["updatedAt"] > body["createdAt"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"templateId": "other"}, "templateId"),
        ({"document": json.dumps({"action": "${undeclared}"})}, "requiredDocumentParameters"),
        ({"operation": None}, "operation"),
        ({"createdAt": "2020-01-01T00:00:00Z"}, "createdAt"),
    ],
)
def test_patch_that_would_make_the_template_invalid_is_a_400_and_changes_nothing(
    api: HandlerClient, change: dict[str, Any], field: str
) -> None:
    api.post("/templates", template())

    reply = api.patch("/templates/reboot", change)

    assert reply.status == 400
    assert reply.json()["error"].startswith(f"{field}:")
    assert api.get("/templates/reboot").json()["operation"] == "reboot"


def test_patch_of_an_unknown_template_is_a_404(api: HandlerClient) -> None:
    assert api.patch("/templates/absent", {"description": "x"}).status == 404


def test_delete_answers_204_and_a_retry_after_it_404(api: HandlerClient) -> None:
    api.post("/templates", template())

    assert api.delete("/templates/reboot").status == 204
    assert api.get("/templates/reboot").status == 404
    again = api.delete("/templates/reboot")
    assert (again.status, again.json()) == (404, {"error": "template 'reboot' not found"})


def test_delete_of_a_template_that_never_existed_is_a_404(api: HandlerClient) -> None:
    reply = api.delete("/templates/never")

    assert (reply.status, reply.json()) == (404, {"error": "template 'never' not found"})


@pytest.mark.parametrize("accept", [V1, "application/json", "*/*", "application/*", f"text/html, {V1};q=0.9"])
def test_acceptable_media_types_are_served(api: HandlerClient, accept: str) -> None:
    api.post("/templates", template())

    assert api.get("/templates/reboot", headers={"Accept": accept}).status == 200


def test_a_client_asking_for_plain_json_gets_plain_json(api: HandlerClient) -> None:
    api.post("/templates", template())

    reply = api.get("/templates/reboot", headers={"Accept": "application/json"})

    assert reply.headers["content-type"] == "application/json"


def test_an_accept_the_api_cannot_produce_is_a_415(api: HandlerClient) -> None:
    reply = api.get("/templates", headers={"Accept": "application/xml"})

    assert reply.status == 415
    assert reply.json()["error"].startswith("Accept:")


def test_a_body_in_another_media_type_is_a_415(api: HandlerClient) -> None:
    reply = api.post("/templates", "templateId=x", headers={"Content-Type": "application/x-www-form-urlencoded"})

    assert reply.status == 415
    assert reply.json()["error"].startswith("Content-Type:")


def test_an_aws_failure_is_a_500_without_internals(api: HandlerClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPLATES_TABLE", "no-such-table")
    from commands_core import dependencies

    dependencies.reset()

    reply = api.get("/templates/reboot")

    assert reply.status == 500
    error = reply.json()["error"]
    assert error.startswith("internal error (request ")
    assert "Traceback" not in reply.body
    assert "no-such-table" not in reply.body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("[" * 5000 + "]" * 5000, "body"),
        (b"\xff\xfe{}", "body"),
        ('{"a": NaN}', "body"),
        (json.dumps(template(document="[" * 5000 + "]" * 5000)), "document"),
        (json.dumps(template(document='{"a": NaN}', requiredDocumentParameters=[], requiredFiles=[])), "document"),
    ],
)
def test_pathological_bodies_are_400s_naming_what_is_wrong(api: HandlerClient, body: str | bytes, field: str) -> None:
    reply = api.post("/templates", body)

    assert reply.status == 400
    assert reply.json()["error"].startswith(f"{field}:")


@pytest.mark.parametrize(
    ("accept", "status", "served"),
    [
        (f"{V1};q=0, application/xml", 415, None),
        (f"application/json, {V1};q=0.1", 200, "application/json"),
        (f"application/json;q=0.5, {V1}", 200, V1),
        ("*/*;q=0", 415, None),
    ],
)
def test_accept_qualities_are_honoured(api: HandlerClient, accept: str, status: int, served: str | None) -> None:
    api.post("/templates", template())

    reply = api.get("/templates/reboot", headers={"Accept": accept})

    assert reply.status == status
    if served:
        assert reply.headers["content-type"] == served


@pytest.mark.parametrize("template_id", ['"', "%22", "🚀", "a%2Fb"])
def test_ids_with_characters_no_route_matches_are_400s_naming_the_id(api: HandlerClient, template_id: str) -> None:
    for reply in (api.get(f"/templates/{template_id}"), api.delete(f"/templates/{template_id}")):
        assert reply.status == 400
        assert reply.json()["error"].startswith("templateId:")


def test_the_location_includes_the_stage_the_client_called(api: HandlerClient) -> None:
    from local.api import proxy_event

    match = api.api.router.match("POST", "/templates")
    assert not isinstance(match, list)
    event = proxy_event(
        match,
        method="POST",
        raw_path="/templates",
        query="",
        headers={"Content-Type": "application/json"},
        body=json.dumps(template()).encode(),
    )
    event["requestContext"]["path"] = "/v1/templates"  # as API Gateway sends it for https://<api>/v1/templates

    response = api.api.invoke(match, event)

    assert response["statusCode"] == 201
    assert response["multiValueHeaders"]["location"] == ["/v1/templates/reboot"]
