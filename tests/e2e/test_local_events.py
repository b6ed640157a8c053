"""The lifecycle events as a user of `make run` meets them: a command to a simulated thing, for each delivery,
and GET /_local/events listing what the service put on its bus, over HTTP."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.conftest import Runtime


def _completed(runtime: Runtime, command_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    command: dict[str, Any] = {}
    while time.monotonic() < deadline and command.get("status") != "completed":
        command = runtime.request("GET", f"/commands/{command_id}")[2]
        time.sleep(0.3)
    return command


def _events(runtime: Runtime, command_id: str, *, until: int) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        status, _, listed = runtime.request("GET", f"/_local/events?commandId={command_id}")
        assert status == 200
        if len(listed["events"]) >= until or time.monotonic() > deadline:
            return dict(listed)
        time.sleep(0.2)


def test_a_command_s_events_are_listed_in_order_from_publish_to_complete(local_runtime: Runtime) -> None:
    for delivery in ("job", "command", "inbox"):
        name = f"e2e-events-{delivery}"
        template = {"templateId": name, "operation": "x", "document": "{}", "delivery": delivery}
        assert local_runtime.request("POST", "/templates", template)[0] == 201
        body = {"commandId": name, "templateId": name, "status": "in_progress", "targets": ["sim-007"]}
        assert local_runtime.request("POST", "/commands", body)[0] == 201
        assert _completed(local_runtime, name)["status"] == "completed", delivery

        listed = _events(local_runtime, name, until=3)  # (a function puts its events as its invocation ends)

        told = [
            (event["detailType"], event["detail"].get("event") or event["detail"]["status"])
            for event in listed["events"]
        ]
        assert told == [
            ("Command Status Changed", "publish"),
            ("Execution Ended", "SUCCEEDED"),
            ("Command Status Changed", "complete"),
        ], delivery
        assert listed["next"] == listed["events"][-1]["seq"]
        assert {event["detail"]["delivery"] for event in listed["events"]} == {delivery}


def test_a_bad_parameter_of_the_events_route_is_a_400_naming_it(local_runtime: Runtime) -> None:
    status, _, answer = local_runtime.request("GET", "/_local/events?limit=5000")

    assert status == 400
    assert answer["error"].startswith("limit: ")

    status, _, answer = local_runtime.request("GET", "/_local/events?since=1&since=2")

    assert status == 400
    assert answer["error"].startswith("since: ")
