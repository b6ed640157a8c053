from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from local import aws as local_aws
from tests.conftest import HandlerClient

ACCOUNT = "123456789012"
REGION = "us-east-1"


def thing_arn(name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/{name}"


def group_arn(name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/{name}"


@pytest.fixture
def iot(aws: dict[str, str]) -> Any:
    return local_aws.client("iot", aws)


@pytest.fixture
def things(iot: Any) -> Callable[..., list[str]]:
    """Creates things (optionally in a group, with attributes or a type); their names."""

    def create(
        *names: str, group: str | None = None, attributes: dict[str, str] | None = None, type_name: str | None = None
    ) -> list[str]:
        if type_name:
            iot.create_thing_type(thingTypeName=type_name)
        for name in names:
            arguments: dict[str, Any] = {"thingName": name}
            if attributes:
                arguments["attributePayload"] = {"attributes": attributes}
            if type_name:
                arguments["thingTypeName"] = type_name
            iot.create_thing(**arguments)
            if group:
                iot.add_thing_to_thing_group(thingGroupName=group, thingName=name)
        return list(names)

    return create


@pytest.fixture
def template(api: HandlerClient) -> Callable[..., dict[str, Any]]:
    """Registers a template (a parameter and a file unless told otherwise); its body."""

    def register(template_id: str = "ota", **overrides: Any) -> dict[str, Any]:
        body = {
            "templateId": template_id,
            "operation": "ota",
            "document": json.dumps(
                {"version": "${version}", "again": "${cdf:parameter:version}", "url": "${cdf:file:firmware}"}
            ),
            "requiredDocumentParameters": ["version"],
            "requiredFiles": ["firmware"],
        } | overrides
        reply = api.post("/templates", body)
        assert reply.status == 201, reply.body
        return body

    return register


def multipart(field: str, content: bytes, filename: str = "firmware.bin") -> tuple[bytes, dict[str, str]]:
    boundary = "----boundary7MA4YWxkTrZu0gW"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def upload(api: HandlerClient, command_id: str, file_id: str = "firmware", content: bytes = b"\x00\x01firmware") -> int:
    body, headers = multipart("file", content)
    return api.request("PUT", f"/commands/{command_id}/files/{file_id}", body, headers=headers).status


@pytest.fixture
def draft(api: HandlerClient, template: Callable[..., dict[str, Any]], things: Callable[..., list[str]]) -> str:
    """A draft command of template ota with its parameter, targeting two things; its id."""
    template()
    things("dev-1", "dev-2")
    reply = api.post(
        "/commands",
        {
            "commandId": "cmd-1",
            "templateId": "ota",
            "targets": ["dev-1", thing_arn("dev-2")],
            "documentParameters": {"version": "2.0"},
        },
    )
    assert reply.status == 201, reply.body
    return "cmd-1"


def publish(api: HandlerClient, command_id: str, **query: str) -> int:
    suffix = "?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else ""
    return api.patch(f"/commands/{command_id}{suffix}", {"status": "in_progress"}).status
