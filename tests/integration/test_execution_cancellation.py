"""Cancelling, retries and completion where AWS IoT and the table could disagree."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from moto.iot.models import iot_backends

from tests.conftest import HandlerClient
from tests.integration.conftest import job_execution_event, sqs_event, stored


def iot_execution(job_id: str, thing: str) -> Any:
    return iot_backends["123456789012"]["us-east-1"].job_executions[(job_id, thing)]


def statuses(api: HandlerClient, command_id: str) -> dict[str, str]:
    body = api.get(f"/commands/{command_id}/executions").json()
    return {item["thingName"]: item["status"] for item in body["executions"]}


def test_cancelling_an_execution_a_device_started_unseen_needs_force_and_records_what_aws_iot_has(
    api: HandlerClient, published: Callable[..., str]
) -> None:
    command_id = published("started", ["s-1"])
    iot_execution(command_id, "s-1").status = "IN_PROGRESS"  # Jobs publishes no event for this

    reply = api.delete(f"/commands/{command_id}/executions/s-1")

    assert reply.status == 400
    assert reply.json()["error"].startswith("force:")
    assert statuses(api, command_id) == {"s-1": "IN_PROGRESS"}
    assert api.delete(f"/commands/{command_id}/executions/s-1?force=true").status == 204
    assert statuses(api, command_id) == {"s-1": "CANCELED"}
    assert api.get(f"/commands/{command_id}").json()["status"] == "completed"  # its last pending execution


def test_cancelling_a_command_keeps_what_a_device_started(api: HandlerClient, published: Callable[..., str]) -> None:
    command_id = published("half-started", ["h-1", "h-2"])
    iot_execution(command_id, "h-1").status = "IN_PROGRESS"

    assert api.patch(f"/commands/{command_id}", {"status": "cancelled"}).status == 204
    api.drain()

    assert statuses(api, command_id) == {"h-1": "IN_PROGRESS", "h-2": "CANCELED"}


def test_an_execution_cannot_be_cancelled_while_the_executions_are_being_written(
    api: HandlerClient, published: Callable[..., str]
) -> None:
    command_id = published("pending", ["p-1"])
    # As while its executions are being written (a crashed expand another will take over).
    stored(command_id, dispatchStep="expanding")

    reply = api.delete(f"/commands/{command_id}/executions/p-1")

    assert reply.status == 409
    assert statuses(api, command_id) == {"p-1": "QUEUED"}


def test_a_failure_aws_iot_retries_moves_the_execution_to_its_next_attempt_and_the_command_waits(
    api: HandlerClient, published: Callable[..., str]
) -> None:
    retry = {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 2}]}
    command_id = published("retried", ["t-1"], jobExecutionsRetryConfig=retry)

    def ingest(events: list[dict[str, Any]]) -> None:
        api.functions.invoke("status_ingest", sqs_event(events))

    at = int(time.time())  # AWS IoT's time of the events: after publishing
    # AWS IoT publishes the failure and queues the next attempt, of which no event says anything: the job's
    # retry policy is the command's, so the failure moves the execution to its next attempt, QUEUED.
    attempt = iot_execution(command_id, "t-1")
    attempt.status, attempt.last_updated_at = "QUEUED", datetime.fromtimestamp(at + 1, UTC)
    ingest([job_execution_event(command_id, "t-1", "FAILED", at)])
    command = api.get(f"/commands/{command_id}").json()
    assert (command["status"], command["counts"], statuses(api, command_id)) == (
        "in_progress",
        {"QUEUED": 1},
        {"t-1": "QUEUED"},
    )

    attempt.status = "SUCCEEDED"
    ingest(
        [
            job_execution_event(command_id, "t-1", "IN_PROGRESS", at + 100),
            job_execution_event(command_id, "t-1", "SUCCEEDED", at + 200),
        ]
    )
    ingest([job_execution_event(command_id, "t-1", "FAILED", at)])  # the first attempt's event, again: stale
    command = api.get(f"/commands/{command_id}").json()
    assert (command["status"], command["counts"]) == ("completed", {"SUCCEEDED": 1})


def test_a_failure_aws_iot_does_not_retry_completes_a_command_with_a_retry_policy(
    api: HandlerClient, published: Callable[..., str]
) -> None:
    retry = {"criteriaList": [{"failureType": "TIMED_OUT", "numberOfRetries": 2}]}
    command_id = published("final", ["t-1"], jobExecutionsRetryConfig=retry)
    iot_execution(command_id, "t-1").status = "FAILED"  # a failure its policy does not retry

    api.functions.invoke(
        "status_ingest", sqs_event([job_execution_event(command_id, "t-1", "FAILED", int(time.time()))])
    )

    command = api.get(f"/commands/{command_id}").json()
    assert (command["status"], command["counts"]) == ("completed", {"FAILED": 1})


def test_a_completed_job_without_an_execution_for_a_thing_removes_it_so_the_command_completes(
    api: HandlerClient, published: Callable[..., str]
) -> None:
    command_id = published("partial", ["x-1", "x-2"])
    backend = iot_backends["123456789012"]["us-east-1"]
    backend.job_executions[(command_id, "x-1")].status = "SUCCEEDED"
    del backend.job_executions[(command_id, "x-2")]  # its thing left the group, or it was deleted

    api.functions.invoke(
        "status_ingest", sqs_event([{"eventType": "JOB", "operation": "completed", "jobId": command_id}])
    )

    assert statuses(api, command_id) == {"x-1": "SUCCEEDED", "x-2": "REMOVED"}
    assert api.get(f"/commands/{command_id}").json()["status"] == "completed"


def test_one_command_the_reconciler_cannot_read_does_not_stop_the_round(
    api: HandlerClient, published: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from commands_core import dependencies

    broken = published("broken", ["b-1"])
    healthy = published("healthy", ["b-2"])
    iot_execution(healthy, "b-2").status = "IN_PROGRESS"
    jobs = dependencies.ports().jobs
    read = jobs.executions

    def executions(job_id: str) -> Any:
        if job_id == broken:
            raise ConnectionError("its job was deleted, or AWS IoT throttled")
        return read(job_id)

    monkeypatch.setattr(jobs, "executions", executions)

    figures = api.functions.invoke("reconcile", {})

    assert figures["failed"] == 1
    assert statuses(api, healthy) == {"b-2": "IN_PROGRESS"}


def test_a_completed_command_leaves_no_thing_group(api: HandlerClient, published: Callable[..., str], iot: Any) -> None:
    names = [f"g-{number:03d}" for number in range(101)]
    command_id = published("grouped", names)
    assert iot.describe_thing_group(thingGroupName=f"command-{command_id}")

    events = [job_execution_event(command_id, name, "SUCCEEDED", int(time.time())) for name in names]
    for start in range(0, len(events), 10):
        api.functions.invoke("status_ingest", sqs_event(events[start : start + 10]))

    assert api.get(f"/commands/{command_id}").json()["status"] == "completed"
    assert f"command-{command_id}" not in [group["groupName"] for group in iot.list_thing_groups()["thingGroups"]]


def test_events_of_a_job_this_service_did_not_create_for_the_command_change_nothing(
    api: HandlerClient, published: Callable[..., str], iot: Any
) -> None:
    published("warmup", ["w-9"])
    assert api.post("/commands", {"commandId": "a-draft", "templateId": "plain", "targets": ["w-9"]}).status == 201

    api.functions.invoke("status_ingest", sqs_event([job_execution_event("a-draft", "stranger", "SUCCEEDED", 200)]))

    assert statuses(api, "a-draft") == {}


def test_a_force_flag_that_is_not_true_or_false_is_a_400(api: HandlerClient, published: Callable[..., str]) -> None:
    command_id = published("flagged", ["f-9"])

    reply = api.delete(f"/commands/{command_id}/executions/f-9?force=maybe")

    assert reply.status == 400
    assert reply.json()["error"].startswith("force:")
