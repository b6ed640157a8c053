"""Routes of the local runtime itself, under /_local/: a look at what the service did in the embedded AWS, and
changes to it (a message published, a thing's behaviour, a group's members)."""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from commands_core.errors import InvalidInput
from commands_core.validation import json_body
from local import fleet
from local.api import LocalRoutes


def routes(iot: Any, publish: Callable[[str, dict[str, Any]], list[str]]) -> LocalRoutes:
    def job(method: str, job_id: str, _: bytes) -> tuple[int, Any]:
        """GET /_local/iot/jobs/<jobId>: the job as AWS IoT holds it, its document and executions."""
        if method != "GET":
            return HTTPStatus.METHOD_NOT_ALLOWED, {"error": "only GET"}
        try:
            described = iot.describe_job(jobId=job_id)["job"]
        except iot.exceptions.ResourceNotFoundException:
            return HTTPStatus.NOT_FOUND, {"error": f"job '{job_id}' not found"}
        executions = iot.list_job_executions_for_job(jobId=job_id).get("executionSummaries", [])
        return HTTPStatus.OK, {
            "job": described,
            "document": iot.get_job_document(jobId=job_id).get("document"),
            "executions": [
                {"thingArn": item["thingArn"], "status": item["jobExecutionSummary"]["status"]} for item in executions
            ],
        }

    def command(method: str, command_id: str, _: bytes) -> tuple[int, Any]:
        """GET /_local/iot/commands/<commandId>: the AWS IoT command (delivery command) and its executions."""
        if method != "GET":
            return HTTPStatus.METHOD_NOT_ALLOWED, {"error": "only GET"}
        try:
            described = iot.get_command(commandId=command_id)
        except iot.exceptions.ResourceNotFoundException:
            return HTTPStatus.NOT_FOUND, {"error": f"AWS IoT command '{command_id}' not found"}
        described.pop("ResponseMetadata", None)
        described["payload"]["content"] = described["payload"]["content"].decode()
        executions = iot.list_command_executions(commandArn=described["commandArn"], maxResults=100)
        return HTTPStatus.OK, {
            "command": described,
            "executions": [
                {"targetArn": item["targetArn"], "executionId": item["executionId"], "status": item["status"]}
                for item in executions["commandExecutions"]
            ],
        }

    def publish_message(method: str, _: str, body: bytes) -> tuple[int, Any]:
        """POST /_local/iot/publish {"topic", "payload"}: the message reaches every matching rule, as in AWS IoT."""
        if method != "POST":
            return HTTPStatus.METHOD_NOT_ALLOWED, {"error": "only POST"}
        try:
            message = json_body(body or b"{}")  # the bytes the client sent: a U+FFFD in them is one
        except InvalidInput as error:
            return HTTPStatus.BAD_REQUEST, {"error": error.message}
        try:
            topic, payload = message["topic"], message["payload"]
        except (KeyError, TypeError):
            return HTTPStatus.BAD_REQUEST, {"error": 'body: must be {"topic": "...", "payload": {...}}'}
        if not isinstance(topic, str) or not isinstance(payload, dict):
            return HTTPStatus.BAD_REQUEST, {"error": "topic must be a string and payload an object"}
        return HTTPStatus.OK, {"rules": publish(topic, payload)}

    def behaviour(method: str, thing_name: str, body: bytes) -> tuple[int, Any]:
        """PUT /_local/fleet/<thing> {"simBehavior": "..."}: how a simulated thing answers from now on."""
        if method != "PUT":
            return HTTPStatus.METHOD_NOT_ALLOWED, {"error": "only PUT"}
        try:
            chosen = json.loads(body or b"{}").get("simBehavior")
        except (ValueError, AttributeError):
            chosen = None
        if chosen not in fleet.BEHAVIOURS:
            return HTTPStatus.BAD_REQUEST, {"error": f"simBehavior: one of {', '.join(fleet.BEHAVIOURS)}"}
        try:
            iot.update_thing(
                thingName=thing_name, attributePayload={"attributes": {"simBehavior": chosen}, "merge": True}
            )
        except iot.exceptions.ResourceNotFoundException:
            return HTTPStatus.NOT_FOUND, {"error": f"thing '{thing_name}' not found"}
        return HTTPStatus.OK, {"thingName": thing_name, "simBehavior": chosen}

    return {
        "/_local/iot/jobs/": job,
        "/_local/iot/thing-groups/": _membership(iot),
        "/_local/iot/commands/": command,
        "/_local/iot/publish": publish_message,
        "/_local/fleet/": behaviour,
    }


def _membership(iot: Any) -> Callable[[str, str, bytes], tuple[int, Any]]:
    def membership(method: str, path: str, _: bytes) -> tuple[int, Any]:
        """PUT /_local/iot/thing-groups/<group>/things/<thing>: the thing joins the group (made if new), as
        AddThingToThingGroup does, which publishes its registry event; DELETE: it leaves."""
        group, separator, thing_name = path.partition("/things/")
        if not (group and separator and thing_name) or "/" in group + thing_name:
            return HTTPStatus.NOT_FOUND, {"error": "the path is /_local/iot/thing-groups/<group>/things/<thing>"}
        if method not in ("PUT", "DELETE"):
            return HTTPStatus.METHOD_NOT_ALLOWED, {"error": "only PUT or DELETE"}
        try:
            if method == "DELETE":
                iot.remove_thing_from_thing_group(thingGroupName=group, thingName=thing_name)
                return HTTPStatus.OK, {"thingGroupName": group, "thingName": thing_name, "member": False}
            try:
                iot.describe_thing_group(thingGroupName=group)
            except iot.exceptions.ResourceNotFoundException:
                iot.create_thing_group(thingGroupName=group)
            iot.add_thing_to_thing_group(thingGroupName=group, thingName=thing_name)
        except iot.exceptions.ResourceNotFoundException:
            return HTTPStatus.NOT_FOUND, {"error": f"thing '{thing_name}' or group '{group}' not found"}
        return HTTPStatus.OK, {"thingGroupName": group, "thingName": thing_name, "member": True}

    return membership
