"""Routes of the local runtime itself, under /_local/: a look at what the service did in the embedded AWS (its
jobs, its AWS IoT commands, the lifecycle events it put on its bus), and changes to it (a message published, a
thing's behaviour, a group's members)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from commands_core.errors import InvalidInput
from commands_core.validation import json_body
from local import fleet
from local.api import LocalRoutes

if TYPE_CHECKING:
    from local.eventbridge import EventBridge

EVENTS_LIMIT = 100  # GET /_local/events: the page size unless `limit` says otherwise
EVENTS_MAX_LIMIT = 1000
_WHOLE = re.compile(r"0|[1-9][0-9]{0,17}")


def routes(
    iot: Any, publish: Callable[[str, dict[str, Any]], list[str]], event_bridge: EventBridge | None = None
) -> LocalRoutes:
    def job(method: str, job_id: str, _: bytes, query: str) -> tuple[int, Any]:
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

    def command(method: str, command_id: str, _: bytes, query: str) -> tuple[int, Any]:
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

    def publish_message(method: str, _: str, body: bytes, query: str) -> tuple[int, Any]:
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

    def behaviour(method: str, thing_name: str, body: bytes, query: str) -> tuple[int, Any]:
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

    extra: LocalRoutes = {"/_local/events": _events(event_bridge)} if event_bridge is not None else {}
    return extra | {
        "/_local/iot/jobs/": job,
        "/_local/iot/thing-groups/": _membership(iot),
        "/_local/iot/commands/": command,
        "/_local/iot/publish": publish_message,
        "/_local/fleet/": behaviour,
    }


def _membership(iot: Any) -> Callable[[str, str, bytes, str], tuple[int, Any]]:
    def membership(method: str, path: str, _: bytes, query: str) -> tuple[int, Any]:
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


def _events(event_bridge: EventBridge) -> Callable[[str, str, bytes, str], tuple[int, Any]]:
    def events(method: str, rest: str, _: bytes, query: str) -> tuple[int, Any]:
        """GET /_local/events?since=<seq>&commandId=<id>&limit=<n>: the lifecycle events put on the bus after
        `since` (0 unless given), in the order they were put, only the command's with `commandId`, at most `limit`
        (100 unless given, 1000 at most); `next` is the `since` of the next call."""
        if rest not in ("", "/"):
            return HTTPStatus.NOT_FOUND, {"error": f"no route for /_local/events{rest}"}
        if method != "GET":
            return HTTPStatus.METHOD_NOT_ALLOWED, {"error": "only GET"}
        try:
            since, command_id, limit = _events_query(query)
        except InvalidInput as error:
            return HTTPStatus.BAD_REQUEST, {"error": f"{error.field}: {error.reason}"}
        found = event_bridge.recorded(since=since, command_id=command_id, limit=limit)
        return HTTPStatus.OK, {"events": [entry.view() for entry in found], "next": found[-1].seq if found else since}

    return events


def _events_query(query: str) -> tuple[int, str | None, int]:
    """since, commandId and limit of GET /_local/events; InvalidInput naming a parameter out of shape."""
    given = parse_qs(query, keep_blank_values=True)
    if unknown := sorted(set(given) - {"since", "commandId", "limit"}):
        raise InvalidInput(unknown[0], "is not a parameter (since, commandId, limit)")
    if twice := sorted(name for name, values in given.items() if len(values) > 1):
        raise InvalidInput(twice[0], "is given more than once")
    values = {name: found[0] for name, found in given.items()}
    since, limit = values.get("since", "0"), values.get("limit", str(EVENTS_LIMIT))
    if not _WHOLE.fullmatch(since):
        raise InvalidInput("since", "must be a whole number, 0 or more")
    if not _WHOLE.fullmatch(limit) or not 1 <= int(limit) <= EVENTS_MAX_LIMIT:
        raise InvalidInput("limit", f"must be a whole number from 1 to {EVENTS_MAX_LIMIT}")
    command_id = values.get("commandId")
    if command_id is not None and not command_id:
        raise InvalidInput("commandId", "must not be empty")
    return int(since), command_id, int(limit)
