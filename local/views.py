"""Routes of the local runtime itself: its links at /, and under /_local/ its health, its simulated fleet, a look
at what the service did in the embedded AWS (its jobs, its AWS IoT commands, the lifecycle events it put on its
bus), and changes to it (a message published, a thing's behaviour, a group's members)."""

from __future__ import annotations

import html
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from commands_core.errors import InvalidInput
from commands_core.pagination import decode_token, encode_token
from commands_core.validation import json_body
from local import fleet
from local.api import Html, LocalRoutes, Views

if TYPE_CHECKING:
    from local.calls import Calls
    from local.eventbridge import EventBridge

EVENTS_LIMIT = 100  # GET /_local/events: the page size unless `limit` says otherwise
EVENTS_MAX_LIMIT = 1000
_WHOLE = re.compile(r"0|[1-9][0-9]{0,17}")


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


# What GET / links to: (path, what it is).
LINKS = (
    ("/docs", "Swagger UI: every route of the API, to read and to try"),
    ("/openapi.json", "the OpenAPI 3.1 document of the API"),
    ("/_local/health", "what is running: the API, the embedded AWS endpoint, the queue consumers, the fleet"),
    ("/_local/fleet", "the simulated things, each with its simBehavior and thing groups"),
    ("/_local/events", "the lifecycle events the service put on its bus, in order (since, commandId, limit)"),
    ("/_local/calls", "the AWS calls the functions made, by operation, and the DynamoDB capacity units they used"),
)
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>IoT Commands Service (local runtime)</title></head>
<body>
<h1>IoT Commands Service (local runtime)</h1>
<ul>
{items}
</ul>
</body>
</html>
"""
FLEET_PAGE_LIMIT = 100
FLEET_MAX_LIMIT = 250  # each thing is two calls to the embedded AWS IoT


def overview(health: Health, iot: Any, things: Sequence[str], event_bridge: EventBridge, calls: Calls) -> Views:
    """GET /, /_local/health, /_local/fleet, /_local/events and /_local/calls."""
    return {
        "/": index,
        "/_local/health": health.answer,
        "/_local/fleet": _fleet(iot, things),
        "/_local/events": events(event_bridge),
        "/_local/calls": calls.answer,
    }


def index(query: dict[str, str], accept: str) -> tuple[int, Any]:
    """GET /: where to go, as JSON, or as a page for a browser (one that accepts text/html)."""
    if "text/html" in accept.lower():
        items = "\n".join(f'<li><a href="{path}">{path}</a>: {html.escape(what)}</li>' for path, what in LINKS)
        return HTTPStatus.OK, Html(_PAGE.format(items=items))
    return HTTPStatus.OK, {
        "service": "IoT Commands Service (local runtime)",
        "links": [{"href": path, "title": what} for path, what in LINKS],
    }


@dataclass
class Health:
    """GET /_local/health: each part of the runtime and whether it runs; 503 when one does not."""

    routes: int
    aws_endpoint: str
    consumers: Mapping[str, threading.Thread]  # by function
    workers: Mapping[str, threading.Thread]  # the schedules, the fleet, ...
    fleet_size: int
    _probed: tuple[float, bool] = (0.0, False)  # (when, reachable): a burst of checks probes the endpoint once
    _probing: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, query: dict[str, str], accept: str) -> tuple[int, Any]:
        reachable = self._reachable()
        consumers = {name: _state(thread) for name, thread in self.consumers.items()}
        workers = {name: _state(thread) for name, thread in self.workers.items()}
        down = ["awsEndpoint"] * (not reachable) + [
            name for name, state in (consumers | workers).items() if state != "running"
        ]
        return HTTPStatus.SERVICE_UNAVAILABLE if down else HTTPStatus.OK, {
            "status": "down" if down else "ok",
            "down": down,
            "api": {"status": "running", "routes": self.routes},
            "awsEndpoint": {"url": self.aws_endpoint, "reachable": reachable},
            "queueConsumers": consumers,
            "workers": workers,
            "fleet": {"things": self.fleet_size, "thingGroup": fleet.GROUP},
        }

    def _reachable(self) -> bool:
        """Whether the embedded AWS endpoint answers HTTP (any answer), as of at most a second ago."""
        with self._probing:
            when, reachable = self._probed
            if time.monotonic() - when > 1:
                reachable = _answers(self.aws_endpoint)
                self._probed = (time.monotonic(), reachable)
            return reachable


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/", timeout=2):
            return True
    except urllib.error.HTTPError:  # an answer, if not a glad one: the endpoint serves
        return True
    except OSError:
        return False


def _state(thread: threading.Thread) -> str:
    return "running" if thread.is_alive() else "stopped"


def _fleet(iot: Any, things: Sequence[str]) -> Callable[[dict[str, str], str], tuple[int, Any]]:
    position = {name: index for index, name in enumerate(things)}

    def page(query: dict[str, str], accept: str) -> tuple[int, Any]:
        """GET /_local/fleet?limit=&nextToken=: the simulated things in order, each with its simBehavior and thing
        groups as the embedded AWS IoT holds them."""
        try:
            limit = _limit(query.get("limit"))
            start = 0
            if "nextToken" in query:
                after = decode_token(query["nextToken"], frozenset({"thingName"}))["thingName"]
                if after not in position:
                    raise InvalidInput("nextToken", "is not a token this list gave")
                start = position[after] + 1
        except InvalidInput as error:
            return HTTPStatus.BAD_REQUEST, {"error": error.message}
        chosen = things[start : start + limit]
        more = start + limit < len(things)
        return HTTPStatus.OK, {
            "things": [_thing(iot, name) for name in chosen],
            "total": len(things),
            "nextToken": encode_token({"thingName": chosen[-1]}) if more and chosen else None,
        }

    return page


def _limit(given: str | None) -> int:
    if given is None:
        return FLEET_PAGE_LIMIT
    if not given.isdigit() or not 1 <= int(given) <= FLEET_MAX_LIMIT:
        raise InvalidInput("limit", f"must be a whole number from 1 to {FLEET_MAX_LIMIT}")
    return int(given)


def _thing(iot: Any, name: str) -> dict[str, Any]:
    try:
        attributes = iot.describe_thing(thingName=name).get("attributes", {})
        groups = iot.list_thing_groups_for_thing(thingName=name, maxResults=250).get("thingGroups", [])
    except iot.exceptions.ResourceNotFoundException:  # deleted through the AWS endpoint
        return {"thingName": name, "simBehavior": None, "thingGroups": [], "exists": False}
    return {
        "thingName": name,
        "simBehavior": attributes.get("simBehavior", "succeed"),
        "thingGroups": sorted(group["groupName"] for group in groups),
    }


def events(event_bridge: EventBridge) -> Callable[[dict[str, str], str], tuple[int, Any]]:
    def listed(query: dict[str, str], accept: str) -> tuple[int, Any]:
        """GET /_local/events?since=<seq>&commandId=<id>&limit=<n>: the lifecycle events put on the bus after
        `since` (0 unless given), in the order they were put, only the command's with `commandId`, at most `limit`
        (100 unless given, 1000 at most); `next` is the `since` of the next call."""
        try:
            since, command_id, limit = _events_query(query)
        except InvalidInput as error:
            return HTTPStatus.BAD_REQUEST, {"error": error.message}
        found = event_bridge.recorded(since=since, command_id=command_id, limit=limit)
        return HTTPStatus.OK, {"events": [entry.view() for entry in found], "next": found[-1].seq if found else since}

    return listed


def _events_query(query: dict[str, str]) -> tuple[int, str | None, int]:
    """since, commandId and limit of GET /_local/events; InvalidInput naming a parameter out of shape."""
    if unknown := sorted(set(query) - {"since", "commandId", "limit"}):
        raise InvalidInput(unknown[0], "is not a parameter (since, commandId, limit)")
    since, limit = query.get("since", "0"), query.get("limit", str(EVENTS_LIMIT))
    if not _WHOLE.fullmatch(since):
        raise InvalidInput("since", "must be a whole number, 0 or more")
    if not _WHOLE.fullmatch(limit) or not 1 <= int(limit) <= EVENTS_MAX_LIMIT:
        raise InvalidInput("limit", f"must be a whole number from 1 to {EVENTS_MAX_LIMIT}")
    command_id = query.get("commandId")
    if command_id is not None and not command_id:
        raise InvalidInput("commandId", "must not be empty")
    return int(since), command_id, int(limit)
