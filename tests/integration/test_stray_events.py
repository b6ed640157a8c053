"""Events about executions a command never created change nothing: each is dropped, logged once and counted
(StatusEventsDropped, by reason); and the executions list pages through whatever thing names are stored."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from moto.iot.models import FakeJobExecution, iot_backends

from commands_core import dependencies
from tests.conftest import EmulatedCommands, HandlerClient
from tests.integration.conftest import ACCOUNT, REGION, Output, job_execution_event, sqs_event, thing_arn

NAMES = [f"sim-{number:03d}" for number in range(1, 21)]
STRANGER = "sim-299"  # a thing of the account that no command targets
PREFIX = f"arn:aws:iot:{REGION}:{ACCOUNT}:"
# Thing ARNs that name no thing: not thing names, a client (AWS IoT Commands targets those too), no ARN at all.
NOT_THINGS = {
    "evil.name": thing_arn("evil.name"),
    "dots": thing_arn(".."),
    "empty name": thing_arn(""),
    "client ARN": f"{PREFIX}client/sim-001",
    "malformed ARN": "arn:aws:iot:thing/sim-001",
}


@dataclass
class Seen:
    """What one event did: whether the command and its executions stayed as they were, the reasons of the
    drop lines it logged, and the reasons StatusEventsDropped counted."""

    unchanged: bool
    logged: list[str]
    counted: list[str]


def snapshot(api: HandlerClient, command_id: str) -> tuple[Any, Any]:
    """The command (its counts among the rest) and its whole executions list, as the API returns them."""
    command = api.get(f"/commands/{command_id}").json()
    return command, api.get(f"/commands/{command_id}/executions?maxResults=250").json()


def dropped_counts(records: list[dict[str, Any]]) -> list[str]:
    """The `reason` of each StatusEventsDropped metric record."""
    return [
        record["reason"]
        for record in records
        for directive in record.get("_aws", {}).get("CloudWatchMetrics", [])
        if any(metric["Name"] == "StatusEventsDropped" for metric in directive["Metrics"])
    ]


def offer(api: HandlerClient, output: Output, command_id: str, event: dict[str, Any]) -> Seen:
    before = snapshot(api, command_id)
    output.records()
    assert api.functions.invoke("status_ingest", sqs_event([event])) == {"batchItemFailures": []}
    records = output.records()
    lines = [record for record in records if record.get("message") == "status event dropped"]
    assert all(line["detail"] for line in lines)
    return Seen(snapshot(api, command_id) == before, [line["reason"] for line in lines], dropped_counts(records))


def offer_all(api: HandlerClient, output: Output, command_id: str, cases: dict[str, Any]) -> dict[str, Seen]:
    return {name: offer(api, output, command_id, event) for name, (event, _) in cases.items()}


def expected(cases: dict[str, Any]) -> dict[str, Seen]:
    return {name: Seen(True, [reason], [reason]) for name, (_, reason) in cases.items()}


def job_cases(command_id: str) -> dict[str, tuple[Any, str]]:
    """Stray job execution events for the command's job, each with the reason it is dropped for. Those not
    about the thing are about STRANGER: let through, they would add an execution."""
    now = int(time.time())
    stray = job_execution_event(command_id, STRANGER, "SUCCEEDED", now)
    return {
        "untargeted thing": (stray, "untargeted"),
        "thing unknown to AWS IoT": (job_execution_event(command_id, "nobody", "FAILED", now), "untargeted"),
        **{name: (stray | {"thingArn": arn}, "not_a_thing") for name, arn in NOT_THINGS.items()},
        "no thingArn": ({key: value for key, value in stray.items() if key != "thingArn"}, "malformed"),
        "unknown job": (job_execution_event("someone-elses", "sim-001", "FAILED", now), "unknown_job"),
        "malformed job id": (stray | {"jobId": "../x"}, "malformed"),
        "a command execution status": (stray | {"status": "CREATED"}, "unknown_status"),
        "far future": (stray | {"timestamp": now + 3600}, "bad_timestamp"),
        "milliseconds": (stray | {"timestamp": now * 1000}, "bad_timestamp"),
        "before publishing": (stray | {"timestamp": now - 3600}, "bad_timestamp"),
        "non-numeric time": (stray | {"timestamp": str(now)}, "bad_timestamp"),
        "not a finite time": (stray | {"timestamp": math.nan}, "bad_timestamp"),
        "not an AWS IoT event": ({"eventType": "OTHER", "jobId": command_id}, "malformed"),
        "not an object": ([stray], "malformed"),
    }


def complete_by_job_events(api: HandlerClient, command_id: str) -> None:
    events = [job_execution_event(command_id, name, "SUCCEEDED", int(time.time())) for name in NAMES]
    for start in range(0, len(events), 10):
        assert api.functions.invoke("status_ingest", sqs_event(events[start : start + 10])) == {"batchItemFailures": []}


@pytest.mark.parametrize("kind", ["SNAPSHOT", "CONTINUOUS"])
def test_stray_job_execution_events_are_dropped_logged_and_counted(
    api: HandlerClient,
    published: Callable[..., str],
    things: Callable[..., list[str]],
    output: Output,
    kind: str,
) -> None:
    # Given a command to sim-001..020 whose executions all ended (a SNAPSHOT one completed)
    things(STRANGER)
    command_id = published(f"fleet-{kind.lower()}", NAMES, type=kind)
    complete_by_job_events(api, command_id)
    command = api.get(f"/commands/{command_id}").json()
    assert (command["status"], command["counts"]) == (
        "completed" if kind == "SNAPSHOT" else "in_progress",
        {"SUCCEEDED": 20},
    )
    cases = job_cases(command_id)

    # When each stray event arrives, Then none changes the command or its executions; each is logged and counted
    assert offer_all(api, output, command_id, cases) == expected(cases)


def test_stray_command_execution_events_are_dropped_logged_and_counted(
    api: HandlerClient,
    template: Callable[..., dict[str, Any]],
    things: Callable[..., list[str]],
    iot_commands: EmulatedCommands,
    output: Output,
) -> None:
    # Given a command delivered by AWS IoT Commands to sim-001..020, each execution answered
    things(*NAMES, STRANGER)
    template(
        "direct", document=json.dumps({"a": 1}), requiredDocumentParameters=[], requiredFiles=[], delivery="command"
    )
    body = {"commandId": "direct", "templateId": "direct", "status": "in_progress", "targets": NAMES}
    assert api.post("/commands", body).status == 201
    api.drain()
    created = iot_commands.take_events()
    for execution in iot_commands.emulator.executions("direct"):
        iot_commands.emulator.device_response(
            execution["targetArn"].rsplit("/", 1)[1], execution["executionId"], {"status": "SUCCEEDED"}
        )
    answered = created + iot_commands.take_events()
    for start in range(0, len(answered), 10):
        assert api.functions.invoke("status_ingest", sqs_event(answered[start : start + 10])) == {
            "batchItemFailures": []
        }
    command = api.get("/commands/direct").json()
    assert (command["status"], command["counts"]) == ("completed", {"SUCCEEDED": 20})
    event = next(event for event in answered if event["targetArn"] == thing_arn("sim-001"))
    now = int(time.time() * 1000)
    stray = event | {"targetArn": thing_arn(STRANGER), "executionId": "e-299", "timestamp": now}
    cases = {
        "untargeted thing": (stray, "untargeted"),
        **{name: (stray | {"targetArn": arn}, "not_a_thing") for name, arn in NOT_THINGS.items()},
        "another execution": (event | {"executionId": "not-its-own", "status": "FAILED"}, "other_execution"),
        "unknown command": (stray | {"commandArn": f"{PREFIX}command/someone-elses"}, "unknown_command"),
        "same id, other account": (
            stray | {"commandArn": f"{PREFIX.replace(ACCOUNT, '999999999999')}command/direct"},
            "unknown_command",
        ),
        "a job event of it": (job_execution_event("direct", STRANGER, "SUCCEEDED", now // 1000), "unknown_job"),
        "a job execution status": (stray | {"status": "QUEUED"}, "unknown_status"),
        "far future": (stray | {"timestamp": now + 3_600_000}, "bad_timestamp"),
        "seconds": (stray | {"timestamp": now // 1000}, "bad_timestamp"),
        "before publishing": (stray | {"timestamp": now - 3_600_000}, "bad_timestamp"),
        "non-numeric time": (stray | {"timestamp": "soon"}, "bad_timestamp"),
        "no executionId": ({key: value for key, value in stray.items() if key != "executionId"}, "malformed"),
    }

    assert offer_all(api, output, "direct", cases) == expected(cases)


def test_a_dropped_event_is_counted_by_reason_in_a_metric_of_its_own(
    api: HandlerClient, published: Callable[..., str], output: Output
) -> None:
    command_id = published("counted", NAMES[:2])
    output.records()
    stray = job_execution_event(command_id, STRANGER, "SUCCEEDED", int(time.time()))
    good = job_execution_event(command_id, "sim-001", "SUCCEEDED", int(time.time()))

    api.functions.invoke("status_ingest", sqs_event([stray, good]))

    records = output.records()
    directives = {
        name: directive
        for record in records
        for directive in record.get("_aws", {}).get("CloudWatchMetrics", [])
        for name in (metric["Name"] for metric in directive["Metrics"])
    }
    assert directives["StatusEventsDropped"]["Dimensions"] == [["service", "reason"]]
    # The invocation's own metrics keep their one dimension set: both events were received.
    assert directives["StatusEventsIngested"]["Dimensions"] == [["service"]]
    assert next(record for record in records if "StatusEventsIngested" in record)["StatusEventsIngested"] == [1.0, 1.0]
    (line,) = [record for record in records if record.get("message") == "status event dropped"]
    assert (line["reason"], line["event"]["thingArn"], line["level"]) == ("untargeted", thing_arn(STRANGER), "WARNING")


def test_a_thing_the_table_lacks_gets_an_execution_only_once_aws_iot_has_one_for_the_job(
    api: HandlerClient, published: Callable[..., str], things: Callable[..., list[str]]
) -> None:
    # Given a SNAPSHOT command to two things, and a third thing that is not among its executions
    command_id = published("joined", NAMES[:2])
    (joiner,) = things("sim-021")
    event = job_execution_event(command_id, joiner, "SUCCEEDED", int(time.time()))

    def ingest() -> None:
        assert api.functions.invoke("status_ingest", sqs_event([event])) == {"batchItemFailures": []}

    # While AWS IoT has no execution of the job for it, its event changes nothing
    ingest()
    assert api.get(f"/commands/{command_id}").json()["counts"] == {"QUEUED": 2}

    # Once it has one (AWS IoT expanded a targeted group at CreateJob after the thing joined it), the event counts
    backend = iot_backends[ACCOUNT][REGION]
    backend.job_executions[(command_id, joiner)] = FakeJobExecution(command_id, thing_arn(joiner))
    ingest()

    listed = api.get(f"/commands/{command_id}/executions").json()["executions"]
    assert {item["thingName"]: item["status"] for item in listed} == {
        "sim-001": "QUEUED",
        "sim-002": "QUEUED",
        joiner: "SUCCEEDED",
    }
    assert api.get(f"/commands/{command_id}").json()["counts"] == {"QUEUED": 2, "SUCCEEDED": 1}


# Names an earlier version could store from stray events (or anything else a table may hold): the longest
# holds 1,014 bytes, what DynamoDB keys after `execution#`.
ODD_NAMES = ["evil.name", "..", "sim 299", "a/b", "ü" * 507, "\x01" * 300, '"quoted\\"', "€uro"]


@pytest.mark.parametrize("size", [1, 2, 7, 100])
def test_the_executions_list_pages_through_whatever_names_are_stored(
    api: HandlerClient, published: Callable[..., str], size: int
) -> None:
    command_id = published("paged", NAMES[:10])
    things = [(name, None) for name in ODD_NAMES]
    dependencies.command_repository().write_executions(command_id, things, datetime.now(UTC), "SUCCEEDED")
    at = int(time.time())
    stray = [job_execution_event(command_id, name, "SUCCEEDED", at) for name in ("sim 299", "x" * 200, "ü")]
    api.functions.invoke("status_ingest", sqs_event(stray))
    everything = api.get(f"/commands/{command_id}/executions?maxResults=250").json()["executions"]

    pages, token = [], ""
    while True:
        reply = api.get(f"/commands/{command_id}/executions?maxResults={size}{token}")
        assert reply.status == 200, reply.body
        body = reply.json()
        pages += body["executions"]
        if "nextToken" not in body["pagination"]:
            break
        token = f"&nextToken={body['pagination']['nextToken']}"

    assert pages == everything
    assert len(everything) == len(NAMES[:10]) + len(ODD_NAMES)  # the stray events stored nothing
