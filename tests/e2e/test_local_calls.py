"""GET /_local/calls as a user of `make run` meets it: what one command to one simulated thing cost in AWS calls
and DynamoDB capacity units, for each delivery."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.conftest import Runtime

# The call that starts the execution, for each delivery.
STARTS = {"job": "iot.CreateJob", "command": "iot-jobs-data-plane.StartCommandExecution", "inbox": None}


def _calls(runtime: Runtime) -> dict[str, Any]:
    status, _, answer = runtime.request("GET", "/_local/calls")
    assert status == 200
    return dict(answer)


def test_the_calls_of_a_command_are_counted_with_their_capacity_units(local_runtime: Runtime) -> None:
    for delivery, start in STARTS.items():
        name = f"e2e-calls-{delivery}"
        template = {"templateId": name, "operation": "x", "document": "{}", "delivery": delivery}
        assert local_runtime.request("POST", "/templates", template)[0] == 201
        before = _calls(local_runtime)
        body = {"commandId": name, "templateId": name, "status": "in_progress", "targets": ["sim-008"]}
        assert local_runtime.request("POST", "/commands", body)[0] == 201
        deadline = time.monotonic() + 30
        while local_runtime.request("GET", f"/commands/{name}")[2]["status"] != "completed":
            assert time.monotonic() < deadline, delivery
            time.sleep(0.3)
        after = _calls(local_runtime)

        made = {name: count - before["calls"].get(name, 0) for name, count in after["calls"].items()}
        assert made["dynamodb.TransactWriteItems"] >= 1, delivery  # at least the execution's end and its counts
        if start:
            assert made[start] == 1, delivery
        assert after["total"] - before["total"] == sum(made.values())
        assert after["dynamodbWriteUnits"] - before["dynamodbWriteUnits"] >= 2, delivery  # a transaction: twice
        assert after["dynamodbReadUnits"] > before["dynamodbReadUnits"], delivery


def test_the_calls_route_takes_no_parameters(local_runtime: Runtime) -> None:
    status, _, answer = local_runtime.request("GET", "/_local/calls?since=3")

    assert status == 400
    assert answer["error"].startswith("since: ")
