"""A device driving its job execution with boto3's iot-jobs-data client against the running local runtime."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Runtime

THING = "sim-003"


def device_client(runtime: Runtime) -> Any:
    """boto3's iot-jobs-data client as a device script makes it, pointed at the embedded AWS endpoint."""
    return boto3.session.Session().client(
        "iot-jobs-data",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{runtime.aws_port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_a_device_moves_its_job_execution_to_succeeded_and_the_command_shows_it(local_runtime: Runtime) -> None:
    # Given a thing the simulated fleet leaves alone, and a command delivered to it as an AWS IoT job
    assert local_runtime.request("PUT", f"/_local/fleet/{THING}", {"simBehavior": "ignore"})[0] == 200
    template = {"templateId": "e2e-device", "operation": "x", "document": '{"op": "device"}'}
    assert local_runtime.request("POST", "/templates", template)[0] == 201
    body = {"commandId": "e2e-device", "templateId": "e2e-device", "status": "in_progress", "targets": [THING]}
    assert local_runtime.request("POST", "/commands", body)[0] == 201
    device = device_client(local_runtime)
    try:
        # When the device reads its execution, starts it and reports success over HTTPS
        job_id, execution = _queued_execution(local_runtime, device)
        assert execution["jobDocument"] == '{"op": "device"}'
        device.update_job_execution(
            jobId=job_id,
            thingName=THING,
            status="IN_PROGRESS",
            statusDetails={"step": "applying"},
            expectedVersion=execution["versionNumber"],
        )
        done = device.update_job_execution(
            jobId=job_id, thingName=THING, status="SUCCEEDED", includeJobExecutionState=True
        )

        # Then AWS IoT's event reaches the service through the rules: the execution and the counts show it
        assert done["executionState"]["status"] == "SUCCEEDED"
        command = _command_when(local_runtime, lambda command: command["status"] == "completed")
        assert (command["status"], command["counts"]) == ("completed", {"SUCCEEDED": 1})
        (stored,) = local_runtime.request("GET", f"/commands/e2e-device/executions/{THING}")[2]["executions"]
        assert stored["status"] == "SUCCEEDED"
        with pytest.raises(ClientError) as ended:  # and the device cannot change it again
            device.update_job_execution(jobId=job_id, thingName=THING, status="FAILED")
        assert ended.value.response["Error"]["Code"] == "InvalidStateTransitionException"
    finally:
        local_runtime.request("PUT", f"/_local/fleet/{THING}", {"simBehavior": "succeed"})


def test_the_endpoint_answers_iot_jobs_data_errors_as_aws_does(local_runtime: Runtime) -> None:
    device = device_client(local_runtime)

    with pytest.raises(ClientError) as missing:
        device.describe_job_execution(jobId="no-such-job", thingName=THING)

    metadata: Any = missing.value.response["ResponseMetadata"]
    assert (metadata["HTTPStatusCode"], missing.value.response["Error"]["Code"]) == (404, "ResourceNotFoundException")
    assert metadata["HTTPHeaders"]["content-type"] == "application/json"


def _queued_execution(runtime: Runtime, device: Any) -> tuple[str, dict[str, Any]]:
    """The command's job id and the thing's execution of it, once the dispatch has created them."""
    deadline = time.monotonic() + 30
    while True:
        job_id = runtime.request("GET", "/commands/e2e-device")[2].get("jobId")
        if job_id:
            try:
                described = device.describe_job_execution(jobId=job_id, thingName=THING, includeJobDocument=True)
                return str(job_id), described["execution"]
            except ClientError as error:
                if error.response["Error"]["Code"] != "ResourceNotFoundException" or time.monotonic() > deadline:
                    raise
        assert time.monotonic() < deadline, "the command's job execution was not created within 30 s"
        time.sleep(0.3)


def _command_when(runtime: Runtime, done: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    command: dict[str, Any] = {}
    while time.monotonic() < deadline:
        command = runtime.request("GET", "/commands/e2e-device")[2]
        if done(command):
            break
        time.sleep(0.3)
    return command
