"""Status ingestion: AWS IoT events through the status-updater consumer, the reconciler, command completion."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands_core.services import transitions
from tests.conftest import HandlerClient
from tests.integration.conftest import job_execution_event, sqs_event, stored

DEVICES = [f"d{number:02d}" for number in range(12)]
TERMINALS = ["SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "CANCELED", "REMOVED"]
_examples = itertools.count()


def ingest(api: HandlerClient, events: list[dict[str, Any]]) -> dict[str, Any]:
    return api.functions.invoke("status_ingest", sqs_event(events))


def statuses(api: HandlerClient, command_id: str) -> dict[str, str]:
    body = api.get(f"/commands/{command_id}/executions?maxResults=250").json()
    return {item["thingName"]: item["status"] for item in body["executions"]}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_order_of_duplicated_and_stale_events_ends_where_the_events_say(
    api: HandlerClient, published: Callable[..., str], data: st.DataObject
) -> None:
    # Given a command to 12 devices, each with a true story: progress steps, then maybe an end
    command_id = published(f"prop-{next(_examples)}", DEVICES)
    start = int(time.time())  # AWS IoT's time of the events: after publishing, not in the future
    events, expected, progress = [], {}, {}
    for device in DEVICES:
        steps = data.draw(st.integers(min_value=0, max_value=3), label=f"{device} progress steps")
        end = data.draw(st.sampled_from([None, *TERMINALS]), label=f"{device} end")
        story = [("IN_PROGRESS", start + step, {"step": str(step)}) for step in range(steps)]
        story += [(end, start + 100, {"result": end.lower()})] if end else []
        events += [job_execution_event(command_id, device, status, at, details) for status, at, details in story]
        expected[device] = end or ("IN_PROGRESS" if steps else "QUEUED")
        if steps and not end:
            progress[device] = {"step": str(steps - 1)}
    # When they arrive duplicated, shuffled and in random batches
    duplicates = data.draw(st.lists(st.sampled_from(events), max_size=len(events)) if events else st.just([]))
    arrival = data.draw(st.permutations(events + duplicates), label="arrival order")
    while arrival:
        size = data.draw(st.integers(min_value=1, max_value=10), label="batch size")
        assert ingest(api, arrival[:size]) == {"batchItemFailures": []}
        arrival = arrival[size:]

    # Then every execution and the counts are what the stories imply
    assert statuses(api, command_id) == expected
    command = api.get(f"/commands/{command_id}").json()
    assert command["counts"] == dict(Counter(expected.values()))
    assert command["status"] == (
        "completed" if all(status in TERMINALS for status in expected.values()) else "in_progress"
    )
    for device, details in progress.items():
        assert (
            api.get(f"/commands/{command_id}/executions/{device}").json()["executions"][0]["statusDetails"] == details
        )


def test_a_record_that_fails_in_a_batch_comes_back_and_is_applied_once(
    api: HandlerClient, published: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    command_id = published("flaky", DEVICES[:3])
    events = [job_execution_event(command_id, device, "SUCCEEDED", int(time.time())) for device in DEVICES[:3]]
    apply = transitions.apply
    failures = {"d01": 1}

    def failing_once(store: Any, report: Any, **kwargs: Any) -> bool:
        if failures.get(report.thing_name):
            failures[report.thing_name] -= 1
            raise ConnectionError("DynamoDB went away")
        return apply(store, report, **kwargs)

    monkeypatch.setattr(transitions, "apply", failing_once)

    first = ingest(api, events)
    assert first == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert statuses(api, command_id) == {"d00": "SUCCEEDED", "d01": "QUEUED", "d02": "SUCCEEDED"}

    again = api.functions.invoke("status_ingest", sqs_event([events[1]], prefix="retry"))

    assert again == {"batchItemFailures": []}
    assert statuses(api, command_id) == {"d00": "SUCCEEDED", "d01": "SUCCEEDED", "d02": "SUCCEEDED"}
    command = api.get(f"/commands/{command_id}").json()
    assert (command["counts"], command["status"]) == ({"SUCCEEDED": 3}, "completed")


def test_events_of_jobs_the_service_did_not_create_are_ignored(
    api: HandlerClient, published: Callable[..., str]
) -> None:
    command_id = published("mine", ["m-1"])

    event = job_execution_event("someone-elses-job", "m-1", "SUCCEEDED", int(time.time()))

    result = ingest(api, [event, {"eventType": "OTHER"}])

    assert result == {"batchItemFailures": []}
    assert statuses(api, command_id) == {"m-1": "QUEUED"}


def test_a_thing_that_joins_a_continuous_command_gets_an_execution_once_aws_iot_has_one(
    api: HandlerClient, published: Callable[..., str], iot: Any
) -> None:
    from moto.iot.models import FakeJobExecution, iot_backends

    command_id = published("continuous", ["c-1"], type="CONTINUOUS")
    arn = iot.create_thing(thingName="newcomer")["thingArn"]
    event = job_execution_event(command_id, "newcomer", "SUCCEEDED", int(time.time()))

    ingest(api, [event])  # the thing exists, but AWS IoT has no execution of the job for it
    assert statuses(api, command_id) == {"c-1": "QUEUED"}

    # It joins the job's thing group: AWS IoT gives it an execution
    iot_backends["123456789012"]["us-east-1"].job_executions[(command_id, "newcomer")] = FakeJobExecution(
        command_id, arn
    )
    ingest(api, [event])

    assert statuses(api, command_id) == {"c-1": "QUEUED", "newcomer": "SUCCEEDED"}
    command = api.get(f"/commands/{command_id}").json()
    assert command["counts"] == {"QUEUED": 1, "SUCCEEDED": 1}
    assert command["status"] == "in_progress"  # a continuous command never completes on its own


def test_a_job_completed_event_reads_lost_outcomes_from_aws_iot(
    api: HandlerClient, published: Callable[..., str], iot: Any
) -> None:
    from moto.iot.models import iot_backends

    command_id = published("lossy", ["l-1", "l-2"])
    backend = iot_backends["123456789012"]["us-east-1"]
    for thing in ("l-1", "l-2"):
        backend.job_executions[(command_id, thing)].status = "SUCCEEDED"  # the devices answered; events were lost

    ingest(
        api,
        [{"eventType": "JOB", "operation": "completed", "jobId": command_id, "status": "COMPLETED", "timestamp": 300}],
    )

    assert statuses(api, command_id) == {"l-1": "SUCCEEDED", "l-2": "SUCCEEDED"}
    assert api.get(f"/commands/{command_id}").json()["status"] == "completed"


def test_a_job_cancelled_in_aws_iot_cancels_the_command(api: HandlerClient, published: Callable[..., str]) -> None:
    command_id = published("aborted", ["a-1", "a-2"])

    ingest(
        api,
        [{"eventType": "JOB", "operation": "canceled", "jobId": command_id, "status": "CANCELED", "timestamp": 300}],
    )
    api.drain()

    command = api.get(f"/commands/{command_id}").json()
    assert command["status"] == "cancelled"
    assert command["counts"] == {"CANCELED": 2}


def test_the_reconciler_finds_progress_that_has_no_event_and_events_that_were_lost(
    api: HandlerClient, published: Callable[..., str]
) -> None:
    from moto.iot.models import iot_backends

    command_id = published("quiet", ["q-1", "q-2"])
    backend = iot_backends["123456789012"]["us-east-1"]
    backend.job_executions[(command_id, "q-1")].status = "IN_PROGRESS"  # Jobs publishes no event for this
    backend.job_executions[(command_id, "q-2")].status = "FAILED"  # this event was lost

    figures = api.functions.invoke("reconcile", {})

    assert figures["executions_changed"] == 2
    assert statuses(api, command_id) == {"q-1": "IN_PROGRESS", "q-2": "FAILED"}
    history = api.get(f"/commands/{command_id}/executions/q-1").json()["executions"][0]["history"]
    assert [(entry.get("from"), entry["to"], entry["source"]) for entry in history] == [
        (None, "SCHEDULED", "publish"),
        ("SCHEDULED", "QUEUED", "api"),  # added to the job's group by the rollout
        ("QUEUED", "IN_PROGRESS", "reconciler"),
    ]
    assert api.functions.invoke("reconcile", {})["executions_changed"] == 0


def test_the_reconciler_resumes_a_publication_whose_dispatch_message_was_lost(
    api: HandlerClient, published: Callable[..., str], aws: dict[str, str]
) -> None:
    from local.aws import client

    published("warmup", ["r-1"])
    body = {"commandId": "stalled", "templateId": "plain", "status": "in_progress", "targets": ["r-1"]}
    assert api.post("/commands", body).status == 201
    client("sqs", aws).purge_queue(QueueUrl=aws["DISPATCH_QUEUE_URL"])  # the expand message is lost
    stored("stalled", updatedAt="2020-01-01T00:00:00Z")  # long ago

    assert api.functions.invoke("reconcile", {})["dispatch_resumed"] == 1
    api.drain()

    assert api.get("/commands/stalled").json()["jobId"] == "stalled"
