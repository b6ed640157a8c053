"""cost_per_execution: what one execution's whole life costs in AWS calls and DynamoDB capacity units, per
delivery, against the least its delivery needs.

The local runtime (`python -m local`, as `make run` starts it) with a fleet of `things` simulated devices that all
succeed, each `DEVICE_SECONDS` after it is told (a device that downloads and applies takes at least that; one that
answered at once would race the start step's own write of its start, and each race costs reads that a steady rollout
does not pay); for each delivery in turn, one command to the whole fleet, published at once, followed until it
completes. GET /_local/calls before and after gives every AWS call the service's functions made in between (the
runtime's own, which AWS makes in a deployment, are not counted) and the capacity units the embedded DynamoDB
charged, as DynamoDB does, from the items' sizes. Divided by `things`: per execution, its share of the publishing
included.

The minimum, per execution, is what the delivery cannot do without while keeping the service's guarantees (counts
exact under events that come twice, late or out of order; a command that completes when its last execution ends):
- the start: job, AddThingToThingGroup (the thing joins the command's job group); command, StartCommandExecution;
  inbox, the device's fetch (one Query of its inbox);
- each change of state, one conditional TransactWriteItems of the execution and the command's counts; and each
  change an event or a device's report makes, one strongly consistent read of the execution first (an event
  AWS IoT sends that changes nothing is read all the same: job, none; command, CREATED). The changes: job,
  QUEUED at the start and its end; command, QUEUED at the start (with AWS IoT's execution id), IN_PROGRESS and
  its end; inbox, SENT at the fetch, ACKNOWLEDGED, IN_PROGRESS and its end;
- at its end, one read of the command's counts (did it end the command?) and a tenth of a PutEvents (the bus takes
  ten entries a call); inbox, a whole PutEvents: its end is a device's report, one API request whose invocation
  has that one event to put;
- its item written when the command expands: a 25th of a BatchWriteItem.
Write units: the item's first write, 1, and its entry in its device's inbox, 1 (the sparse `inbox` index lists a
device's pending executions, of every delivery, whole: a fetch reads nothing more); each change, 2 for the
execution (an item under 1 KB, twice in a transaction), 2 for its counts shard, and 1 for its inbox entry (changed,
or at its end removed). Nothing else (`byThing` holds keys only: an execution's changes do not touch it).
"""

from __future__ import annotations

import time
from typing import Any

from bench.fleet import GROUP, Runtime, each_delivery

# Per delivery: (the start's calls, changes of state, reads of the execution before a change or to find none,
# the share of a PutEvents its end takes).
_LIFE = {"job": (1, 2, 1, 1 / 10), "command": (1, 3, 3, 1 / 10), "inbox": (1, 4, 3, 1.0)}
_WRITTEN = 1 / 25  # BatchWriteItem of the execution's item
TIMEOUT = 900.0
DEVICE_SECONDS = 5


def minimum(delivery: str) -> dict[str, float]:
    start, changes, reads, told = _LIFE[delivery]
    return {
        "calls": round(start + changes + reads + 1 + _WRITTEN + told, 3),  # + the counts read at the end
        "write_units": float(2 + 5 * changes),
    }


def cost_per_execution(things: int = 1_000) -> dict[str, Any]:
    # The reconciler every 5 minutes, as deployed (the local runtime's default, 30 s, would have it record the
    # IN_PROGRESS it reads from AWS IoT for every job execution a round finds running).
    deployed = {"SIM_DELAY_SECONDS": str(DEVICE_SECONDS), "SCHEDULE_SECONDS": "300"}
    measured = each_delivery(things, lambda runtime, delivery: _life(runtime, delivery, things), deployed)
    return (
        {"things": things}
        | measured
        | {
            "max_ratio": max(entry["ratio"] for entry in measured.values()),
            "max_write_units_ratio": max(entry["write_units_ratio"] for entry in measured.values()),
        }
    )


def _life(runtime: Runtime, delivery: str, things: int) -> dict[str, Any]:
    before = _calls(runtime)
    command_id = f"cost-{delivery}"
    body = {"commandId": command_id, "templateId": f"bench-{delivery}", "status": "in_progress", "targets": [GROUP]}
    status, answer = runtime.call("POST", "/commands", body)
    if status != 201:
        raise RuntimeError(f"POST /commands: {status} {answer}")
    deadline = time.monotonic() + TIMEOUT
    while (command := runtime.call("GET", f"/commands/{command_id}")[1])["status"] != "completed":
        if time.monotonic() > deadline:
            raise RuntimeError(f"{command_id} did not complete: {command['status']} {command['counts']}")
        time.sleep(0.5)
    time.sleep(2)  # the last invocations' events go out as they end
    after = _calls(runtime)
    if command["counts"] != {"SUCCEEDED": things}:
        raise RuntimeError(f"{command_id} completed with counts {command['counts']}")
    calls = {name: count - before["calls"].get(name, 0) for name, count in after["calls"].items()}
    per_execution = {name: round(count / things, 3) for name, count in sorted(calls.items()) if count}
    total = sum(calls.values()) / things
    units = {kind: (after[kind] - before[kind]) / things for kind in ("dynamodbWriteUnits", "dynamodbReadUnits")}
    least = minimum(delivery)
    return {
        "calls": per_execution,
        "calls_total": round(total, 3),
        "write_units": round(units["dynamodbWriteUnits"], 2),
        "read_units": round(units["dynamodbReadUnits"], 2),
        "minimum": least,
        "ratio": round(total / least["calls"], 3),
        "write_units_ratio": round(units["dynamodbWriteUnits"] / least["write_units"], 3),
    }


def _calls(runtime: Runtime) -> dict[str, Any]:
    status, answer = runtime.call("GET", "/_local/calls")
    if status != 200:
        raise RuntimeError(f"GET /_local/calls: {status} {answer}")
    return dict(answer)
