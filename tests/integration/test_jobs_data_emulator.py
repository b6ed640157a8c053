"""The device side of AWS IoT Jobs (`iot-jobs-data`) through boto3's real client, against moto's AWS IoT state."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local import aws as local_aws
from local.jobs_data import JobsData
from local.wire import check_output
from tests.integration.conftest import thing_arn

Events = list[tuple[str, dict[str, Any]]]
HOST = "https://data.jobs.iot.us-east-1.amazonaws.com"
SIGNED = {"Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261207/us-east-1/iot-jobs-data/aws4_request, x"}


@pytest.fixture
def events() -> Events:
    return []


@pytest.fixture
def emulator(aws: dict[str, str], events: Events) -> Iterator[JobsData]:
    emulator = local_aws.jobs_data(lambda topic, payload: events.append((topic, payload)))
    with local_aws.in_process(emulator):
        yield emulator


@pytest.fixture
def device(aws: dict[str, str], emulator: JobsData) -> Any:
    """boto3's iot-jobs-data client, as a device script makes it (the emulator answers it in process)."""
    return local_aws.client("iot-jobs-data", aws)


@pytest.fixture
def job(iot: Any, things: Callable[..., list[str]]) -> Callable[..., str]:
    """A SNAPSHOT job for things d-1 and d-2 (made once); its id."""

    def create(job_id: str = "fw", **fields: Any) -> str:
        if "d-1" not in {thing["thingName"] for thing in iot.list_things()["things"]}:
            things("d-1", "d-2")
        iot.create_job(
            jobId=job_id,
            targets=[thing_arn("d-1"), thing_arn("d-2")],
            document=json.dumps({"op": job_id}),
            targetSelection="SNAPSHOT",
            **fields,
        )
        return job_id

    return create


def on_the_wire(emulator: JobsData, path: str, body: dict[str, Any]) -> tuple[int, str, dict[str, Any]]:
    """A request as it reaches the endpoint: its status, error code and body as AWS IoT writes them (botocore
    keeps only the error members its model declares)."""
    answered = emulator.handle("POST", f"{HOST}{path}", SIGNED, json.dumps(body).encode())
    assert answered is not None
    status, headers, payload = answered
    return status, headers.get("x-amzn-ErrorType", ""), json.loads(payload)


def code(error: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response: Any = error.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_a_device_takes_its_next_job_and_moves_it_to_succeeded(
    device: Any, iot: Any, job: Callable[..., str], events: Events
) -> None:
    job("first")
    job("second")

    pending = device.get_pending_job_executions(thingName="d-1")
    started = device.start_next_pending_job_execution(thingName="d-1", statusDetails={"step": "download"})
    again = device.start_next_pending_job_execution(thingName="d-1")  # the one in progress, not the next
    progress = device.update_job_execution(
        jobId="first", thingName="d-1", status="IN_PROGRESS", statusDetails={"step": "flash"}, expectedVersion=2
    )
    done = device.update_job_execution(
        jobId="first", thingName="d-1", status="SUCCEEDED", expectedVersion=3, includeJobExecutionState=True
    )

    assert [item["jobId"] for item in pending["queuedJobs"]] == ["first", "second"]
    assert pending["inProgressJobs"] == []
    execution = started["execution"]
    assert (execution["jobId"], execution["status"], execution["versionNumber"]) == ("first", "IN_PROGRESS", 2)
    assert (execution["statusDetails"], execution["jobDocument"]) == ({"step": "download"}, '{"op": "first"}')
    assert again["execution"]["jobId"] == "first"
    assert progress == {"ResponseMetadata": progress["ResponseMetadata"]}
    assert done["executionState"] == {"status": "SUCCEEDED", "statusDetails": {"step": "flash"}, "versionNumber": 4}
    assert iot.describe_job_execution(jobId="first", thingName="d-1")["execution"]["status"] == "SUCCEEDED"
    assert [topic for topic, _ in events] == ["$aws/events/jobExecution/first/succeeded"]
    payload = events[0][1]
    assert {
        key: payload[key] for key in ("eventType", "operation", "jobId", "thingArn", "status", "statusDetails")
    } == {
        "eventType": "JOB_EXECUTION",
        "operation": "succeeded",
        "jobId": "first",
        "thingArn": thing_arn("d-1"),
        "status": "SUCCEEDED",
        "statusDetails": {"step": "flash"},
    }
    for operation, answer in (
        ("GetPendingJobExecutions", pending),
        ("StartNextPendingJobExecution", started),
        ("UpdateJobExecution", done),
    ):
        assert check_output("iot-jobs-data", operation, answer) == []


def test_the_last_execution_of_a_snapshot_job_to_end_completes_it(
    device: Any, iot: Any, job: Callable[..., str], events: Events
) -> None:
    job()

    device.update_job_execution(jobId="fw", thingName="d-1", status="SUCCEEDED")
    assert iot.describe_job(jobId="fw")["job"]["status"] == "IN_PROGRESS"
    device.update_job_execution(jobId="fw", thingName="d-2", status="REJECTED", statusDetails={"why": "busy"})

    assert iot.describe_job(jobId="fw")["job"]["status"] == "COMPLETED"
    assert [topic for topic, _ in events] == [
        "$aws/events/jobExecution/fw/succeeded",
        "$aws/events/jobExecution/fw/rejected",
        "$aws/events/job/fw/completed",
    ]


def test_an_execution_is_described_with_its_document_and_next_as_its_alias(
    device: Any, job: Callable[..., str]
) -> None:
    job()

    described = device.describe_job_execution(jobId="fw", thingName="d-2", includeJobDocument=True)
    following = device.describe_job_execution(jobId="$next", thingName="d-2")

    execution = described["execution"]
    assert (execution["thingName"], execution["status"], execution["executionNumber"]) == ("d-2", "QUEUED", 1)
    assert execution["jobDocument"] == '{"op": "fw"}'
    assert "jobDocument" not in following["execution"]
    assert following["execution"]["jobId"] == "fw"
    assert check_output("iot-jobs-data", "DescribeJobExecution", described) == []


def test_an_update_at_another_version_is_a_version_conflict_carrying_the_state(
    device: Any, emulator: JobsData, job: Callable[..., str]
) -> None:
    job()
    device.update_job_execution(jobId="fw", thingName="d-1", status="IN_PROGRESS")

    with pytest.raises(ClientError) as refused:
        device.update_job_execution(jobId="fw", thingName="d-1", status="SUCCEEDED", expectedVersion=1)

    assert code(refused) == (409, "VersionConflictException")
    status, error, body = on_the_wire(emulator, "/things/d-1/jobs/fw", {"status": "FAILED", "expectedVersion": 5})
    assert (status, error) == (409, "VersionConflictException")
    assert body["executionState"] == {"status": "IN_PROGRESS", "statusDetails": {}, "versionNumber": 2}
    state = device.describe_job_execution(jobId="fw", thingName="d-1")["execution"]
    assert (state["status"], state["versionNumber"]) == ("IN_PROGRESS", 2)


def test_of_two_devices_updating_at_the_same_version_one_wins(
    device: Any, job: Callable[..., str], events: Events
) -> None:
    job()
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def update(status: str) -> None:
        barrier.wait()
        try:
            device.update_job_execution(jobId="fw", thingName="d-1", status=status, expectedVersion=1)
            outcomes.append(status)
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])

    threads = [threading.Thread(target=update, args=(("SUCCEEDED", "FAILED")[n % 2],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [outcome for outcome in outcomes if outcome in ("SUCCEEDED", "FAILED")]
    assert len(winners) == 1
    assert sorted(set(outcomes) - set(winners)) == ["VersionConflictException"]
    assert [payload["status"] for _, payload in events] == winners


def test_an_ended_execution_cannot_change(
    device: Any, emulator: JobsData, job: Callable[..., str], events: Events
) -> None:
    job()
    device.update_job_execution(jobId="fw", thingName="d-1", status="FAILED")

    with pytest.raises(ClientError) as refused:
        device.update_job_execution(jobId="fw", thingName="d-1", status="SUCCEEDED")

    assert code(refused) == (409, "InvalidStateTransitionException")
    status, error, body = on_the_wire(emulator, "/things/d-1/jobs/fw", {"status": "IN_PROGRESS"})
    assert (status, error, body["executionState"]["status"]) == (409, "InvalidStateTransitionException", "FAILED")
    assert len(events) == 1


def test_a_failure_with_retries_left_is_queued_again_as_aws_iot_retries_it(
    device: Any, iot: Any, job: Callable[..., str], events: Events
) -> None:
    job(jobExecutionsRetryConfig={"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]})

    device.update_job_execution(jobId="fw", thingName="d-1", status="FAILED", statusDetails={"error": "disk"})

    retried = device.describe_job_execution(jobId="fw", thingName="d-1")["execution"]
    assert (retried["status"], retried["executionNumber"], retried["versionNumber"]) == ("QUEUED", 2, 1)
    assert [topic for topic, _ in events] == ["$aws/events/jobExecution/fw/failed"]
    assert events[0][1]["statusDetails"] == {"error": "disk"}
    with pytest.raises(ClientError) as earlier:
        device.update_job_execution(jobId="fw", thingName="d-1", status="SUCCEEDED", executionNumber=1)
    assert code(earlier) == (404, "ResourceNotFoundException")


@pytest.mark.parametrize(
    ("operation", "arguments"),
    [
        ("describe_job_execution", {"jobId": "nope", "thingName": "d-1"}),
        ("describe_job_execution", {"jobId": "fw", "thingName": "ghost"}),
        ("describe_job_execution", {"jobId": "$next", "thingName": "lonely"}),
        ("get_pending_job_executions", {"thingName": "ghost"}),
        ("start_next_pending_job_execution", {"thingName": "ghost"}),
        ("update_job_execution", {"jobId": "nope", "thingName": "d-1", "status": "SUCCEEDED"}),
        ("update_job_execution", {"jobId": "fw", "thingName": "lonely", "status": "SUCCEEDED"}),
        ("update_job_execution", {"jobId": "fw", "thingName": "d-1", "status": "SUCCEEDED", "executionNumber": 7}),
    ],
)
def test_what_aws_iot_does_not_have_is_resource_not_found(
    device: Any, iot: Any, job: Callable[..., str], operation: str, arguments: dict[str, Any]
) -> None:
    job()
    iot.create_thing(thingName="lonely")  # a thing with no execution of the job

    with pytest.raises(ClientError) as refused:
        getattr(device, operation)(**arguments)

    assert code(refused) == (404, "ResourceNotFoundException")


def test_a_thing_with_nothing_pending_gets_empty_answers(device: Any, iot: Any) -> None:
    iot.create_thing(thingName="idle")

    assert device.start_next_pending_job_execution(thingName="idle").keys() == {"ResponseMetadata"}
    pending = device.get_pending_job_executions(thingName="idle")
    assert (pending["inProgressJobs"], pending["queuedJobs"]) == ([], [])


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"status": "CANCELED"}, (400, "InvalidRequestException")),
        ({"status": "QUEUED"}, (400, "InvalidRequestException")),
        ({"status": "DONE"}, (400, "ValidationException")),
        ({"status": "IN_PROGRESS", "stepTimeoutInMinutes": 0}, (400, "InvalidRequestException")),
        ({"status": "IN_PROGRESS", "stepTimeoutInMinutes": 10081}, (400, "InvalidRequestException")),
    ],
)
def test_a_status_a_device_may_not_set_or_a_step_timeout_out_of_range_is_refused(
    device: Any, job: Callable[..., str], arguments: dict[str, Any], expected: tuple[int, str]
) -> None:
    job()

    with pytest.raises(ClientError) as refused:
        device.update_job_execution(jobId="fw", thingName="d-1", **arguments)

    assert code(refused) == expected


def test_any_other_request_of_the_service_is_an_aws_json_error_and_commands_are_left_to_their_emulator(
    emulator: JobsData,
) -> None:
    answered = emulator.handle("GET", f"{HOST}/no/such/operation", SIGNED, b"")
    left = emulator.route("POST", f"{HOST}/command-executions", SIGNED)
    others = emulator.route("GET", "https://iot.us-east-1.amazonaws.com/jobs", {})

    assert answered is not None
    status, headers, body = answered
    assert (status, headers["x-amzn-ErrorType"], headers["Content-Type"]) == (
        404,
        "UnknownOperationException",
        "application/json",
    )
    assert set(json.loads(body)) == {"message"}
    assert (left, others) == (None, None)
