"""The IoT Commands emulator through boto3 unchanged: the operations, device responses, timeouts and events."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.iot_commands import RESPONSE_TOPIC, IotCommands
from local.wire import check_output
from tests.conftest import Clock

ACCOUNT = "123456789012"
REGION = "us-east-1"
THINGS = {"dev-1", "dev-2"}
JOBS_ENDPOINT = f"https://data.jobs.iot.{REGION}.amazonaws.com"
ALL_OPERATIONS = {
    "CreateCommand",
    "GetCommand",
    "UpdateCommand",
    "DeleteCommand",
    "ListCommands",
    "StartCommandExecution",
    "GetCommandExecution",
    "ListCommandExecutions",
    "DeleteCommandExecution",
}
# AWS documents this reason code for a cloud-side timeout, yet the model's StatusReasonCode pattern has no `$`.
KNOWN_MODEL_MISMATCH = "'$NO_RESPONSE_FROM_DEVICE' at 'statusReason.reasonCode'"


def thing_arn(name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/{name}"


class World:
    """The emulator, its clock, what it published and started, and boto3 clients answered by it in process."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.starts: list[tuple[str, dict[str, Any]]] = []
        self.checked: dict[str, list[str]] = {}
        self.emulator = IotCommands(
            clock=self.clock, thing_exists=THINGS.__contains__, publish=lambda t, p: self.events.append((t, p))
        )
        self.emulator.on_start(lambda thing, request: self.starts.append((thing, request)))
        session = boto3.session.Session(
            region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        session.events.register_first("before-send", self.emulator.botocore_hook)
        session.events.register("after-call", self._check)
        self.iot = session.client("iot")
        self.jobs = session.client("iot-jobs-data", endpoint_url=JOBS_ENDPOINT)

    def _check(self, http_response: Any, parsed: dict[str, Any], model: Any, **kwargs: Any) -> None:
        """Every successful response, as botocore parsed it, against the operation's output shape."""
        if http_response.status_code < 300:
            problems = check_output(model.service_model.service_name, model.name, parsed)
            self.checked.setdefault(model.name, []).extend(p for p in problems if KNOWN_MODEL_MISMATCH not in p)

    def command(self, command_id: str = "reboot", **overrides: Any) -> str:
        arguments = {
            "commandId": command_id,
            "payload": {"content": b'{"op":"reboot"}', "contentType": "application/json"},
        }
        return str(self.iot.create_command(**(arguments | overrides))["commandArn"])

    def start(self, command_arn: str, thing: str = "dev-1", **arguments: Any) -> str:
        response = self.jobs.start_command_execution(targetArn=thing_arn(thing), commandArn=command_arn, **arguments)
        return str(response["executionId"])

    def execution(self, execution_id: str, thing: str = "dev-1", **arguments: Any) -> dict[str, Any]:
        return dict(self.iot.get_command_execution(executionId=execution_id, targetArn=thing_arn(thing), **arguments))

    def raw(self, method: str, path: str, body: Any = None, service: str = "iot") -> tuple[int, dict[str, str], Any]:
        """A request botocore would not send, straight to the emulator."""
        auth = f"AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{service}/aws4_request, Signature=x"
        host = "data.jobs.iot" if service == "iot-jobs-data" else "iot"
        answer = self.emulator.handle(
            method,
            f"https://{host}.{REGION}.amazonaws.com{path}",
            {"Authorization": auth},
            None if body is None else json.dumps(body).encode(),
        )
        assert answer is not None
        status, headers, payload = answer
        return status, headers, json.loads(payload) if payload else None


@pytest.fixture
def world() -> Iterator[World]:
    world = World()
    yield world
    assert {name: problems for name, problems in world.checked.items() if problems} == {}


def error_of(call: Callable[..., object], *args: Any, **kwargs: Any) -> tuple[str, str]:
    """The error code and message call(*args, **kwargs) fails with."""
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def test_commands_are_created_read_updated_and_refused_when_invalid(world: World) -> None:
    # Given a command with a parameter
    arn = world.command(displayName="Reboot", mandatoryParameters=[{"name": "delay", "type": "INTEGER"}])
    assert arn == f"arn:aws:iot:{REGION}:{ACCOUNT}:command/reboot"

    # Then it reads back as created
    command = world.iot.get_command(commandId="reboot")
    assert command["payload"] == {"content": b'{"op":"reboot"}', "contentType": "application/json"}
    assert command["namespace"] == "AWS-IoT"
    assert (command["deprecated"], command["pendingDeletion"]) == (False, False)
    assert command["mandatoryParameters"] == [{"name": "delay", "type": "INTEGER"}]

    # When it is updated later
    world.clock.advance(60)
    updated = world.iot.update_command(commandId="reboot", description="Restarts", deprecated=True)
    assert (updated["description"], updated["deprecated"]) == ("Restarts", True)
    assert updated["lastUpdatedAt"].timestamp() == world.clock.now
    assert world.iot.get_command(commandId="reboot")["createdAt"].timestamp() == world.clock.now - 60

    # Then the mistakes are refused with the service's errors
    assert error_of(world.command)[0] == "ConflictException"
    assert error_of(world.iot.update_command, commandId="nope", deprecated=True)[0] == ("ResourceNotFoundException")
    assert error_of(world.iot.create_command, commandId="empty")[0] == "ValidationException"
    role = f"arn:aws:iam::{ACCOUNT}:role/fleetwise"
    assert error_of(world.command, "with-role", roleArn=role)[0] == "ValidationException"
    big = {"content": b"x" * (32 * 1024 + 1)}
    assert error_of(world.command, "big", payload=big)[0] == "ValidationException"


def test_commands_are_listed_by_page_order_namespace_and_parameter(world: World) -> None:
    # Given five commands created a second apart, two with a parameter, and one FleetWise command
    for number in range(5):
        parameters = [{"name": "level"}] if number % 2 else [{"name": "other"}]
        world.command(f"c{number}", mandatoryParameters=parameters)
        world.clock.advance(1)
    role = f"arn:aws:iam::{ACCOUNT}:role/fleetwise"
    world.iot.create_command(commandId="fw", namespace="AWS-IoT-FleetWise", roleArn=role)

    # When they are listed two at a time (newest first by default)
    pages, token = [], None
    while True:
        page = world.iot.list_commands(namespace="AWS-IoT", maxResults=2, **({"nextToken": token} if token else {}))
        pages.append([command["commandId"] for command in page["commands"]])
        token = page.get("nextToken")
        if token is None:
            break

    # Then
    assert pages == [["c4", "c3"], ["c2", "c1"], ["c0"]]
    ascending = world.iot.list_commands(sortOrder="ASCENDING")["commands"]
    assert [c["commandId"] for c in ascending] == ["c0", "c1", "c2", "c3", "c4", "fw"]
    fleetwise = world.iot.list_commands(namespace="AWS-IoT-FleetWise")["commands"]
    assert [c["commandId"] for c in fleetwise] == ["fw"]
    with_level = world.iot.list_commands(commandParameterName="level")["commands"]
    assert [c["commandId"] for c in with_level] == ["c3", "c1"]
    assert error_of(world.iot.list_commands, nextToken="garbage")[0] == "ValidationException"


def test_delete_schedules_unless_deprecated_for_more_than_12_hours(world: World) -> None:
    # Given a live command, one deprecated just now and one deprecated 13 hours ago
    for command_id in ("live", "recent", "old"):
        world.command(command_id)
    world.iot.update_command(commandId="old", deprecated=True)
    world.clock.advance(13 * 3600)
    world.iot.update_command(commandId="recent", deprecated=True)

    # When each is deleted
    statuses = {
        command_id: world.iot.delete_command(commandId=command_id)["statusCode"]
        for command_id in ("live", "recent", "old")
    }

    # Then the old one is gone at once (204), the others are pending deletion (202)
    assert statuses == {"live": 202, "recent": 202, "old": 204}
    assert error_of(world.iot.get_command, commandId="old")[0] == "ResourceNotFoundException"
    assert world.iot.get_command(commandId="recent")["pendingDeletion"] is True
    listed = {c["commandId"]: c["pendingDeletion"] for c in world.iot.list_commands()["commands"]}
    assert listed == {"live": True, "recent": True}

    # And a command pending deletion starts nothing
    assert error_of(world.start, f"arn:aws:iot:{REGION}:{ACCOUNT}:command/live")[0] == "ValidationException"

    # And both go 12 hours on: from the deprecation (recent) or from the delete (live, never deprecated)
    world.clock.advance(12 * 3600 - 1)
    assert [c["commandId"] for c in world.iot.list_commands()["commands"]] == ["recent", "live"]
    world.clock.advance(1)
    assert world.iot.list_commands()["commands"] == []

    # And deleting a missing command is idempotent
    assert world.iot.delete_command(commandId="never")["statusCode"] == 204


def test_a_client_token_replay_returns_the_same_execution_and_a_different_request_conflicts(world: World) -> None:
    # Given a command with a parameter, started with a client token
    arn = world.command(mandatoryParameters=[{"name": "delay", "type": "INTEGER", "defaultValue": {"I": 5}}])
    first = world.start(arn, parameters={"delay": {"I": 1}}, clientToken="token-1")

    # When the same request is sent again
    again = world.start(arn, parameters={"delay": {"I": 1}}, clientToken="token-1")

    # Then it is the same execution, started once
    assert again == first
    assert [(thing, request["executionId"]) for thing, request in world.starts] == [("dev-1", first)]
    assert world.starts[0][1] == {
        "executionId": first,
        "commandId": "reboot",
        "payload": b'{"op":"reboot"}',
        "contentType": "application/json",
    }
    created = [topic for topic, _ in world.events]
    assert created == ["$aws/events/commandExecution/reboot/CREATED"]

    # And the same token with another request conflicts, while another token starts anew
    assert error_of(world.start, arn, parameters={"delay": {"I": 2}}, clientToken="token-1")[0] == "ConflictException"
    assert world.start(arn, parameters={"delay": {"I": 1}}, clientToken="token-2") != first


def test_concurrent_replays_of_one_token_start_one_execution(world: World) -> None:
    arn = world.command()
    ids: list[str] = []
    threads = [threading.Thread(target=lambda: ids.append(world.start(arn, clientToken="same"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 1
    assert len(world.starts) == 1


def test_executions_are_refused_for_unusable_commands_targets_and_parameters(world: World) -> None:
    # Given a deprecated command and a usable one with one declared parameter
    deprecated = world.command("old")
    world.iot.update_command(commandId="old", deprecated=True)
    arn = world.command(mandatoryParameters=[{"name": "delay", "type": "INTEGER"}])
    missing = f"arn:aws:iot:{REGION}:{ACCOUNT}:command/missing"

    # Then
    assert error_of(world.start, deprecated, parameters={"x": {"S": "1"}})[0] == "ValidationException"
    assert error_of(world.start, missing)[0] == "ResourceNotFoundException"
    assert error_of(world.start, arn, thing="ghost", parameters={"delay": {"I": 1}})[0] == ("ResourceNotFoundException")
    assert error_of(world.start, arn, parameters={"delay": {"I": 1}, "other": {"S": "x"}})[0] == ("ValidationException")
    assert error_of(world.start, arn, parameters={"delay": {"S": "1"}})[0] == "ValidationException"
    assert error_of(world.start, arn)[0] == "ValidationException"  # a mandatory one without default
    start = world.jobs.start_command_execution
    assert error_of(start, targetArn="arn:aws:s3:::bucket", commandArn=arn)[0] == "ValidationException"
    assert world.starts == []

    # And an MQTT client (no thing) is a valid target
    client = f"arn:aws:iot:{REGION}:{ACCOUNT}:client/sensor-7"
    execution_id = world.jobs.start_command_execution(targetArn=client, commandArn=arn, parameters={"delay": {"I": 1}})[
        "executionId"
    ]
    assert world.starts[0][0] == "sensor-7"
    assert world.iot.get_command_execution(executionId=execution_id, targetArn=client)["status"] == "CREATED"


def test_a_device_reports_progress_and_a_result_read_back_with_include_result(world: World) -> None:
    # Given an execution started on dev-1
    arn = world.command()
    execution_id = world.start(arn, executionTimeoutSeconds=60)
    assert world.emulator.RESPONSE_TOPIC == RESPONSE_TOPIC == "$aws/commands/things/+/executions/+/response/json"

    # When the device reports progress, then success with a result
    world.clock.advance(2)
    world.emulator.device_response("dev-1", execution_id, {"status": "IN_PROGRESS"})
    world.clock.advance(3)
    result = {"uptime": {"s": "0s"}, "ok": {"b": True}, "dump": {"bin": base64.b64encode(b"\x00\x01").decode()}}
    reason = {"reasonCode": "DONE", "reasonDescription": "Rebooted"}
    world.emulator.device_response(
        "dev-1", execution_id, {"status": "SUCCEEDED", "statusReason": reason, "result": result}
    )

    # Then the execution has the result in the model's spelling, only when asked for
    execution = world.execution(execution_id, includeResult=True)
    assert execution["status"] == "SUCCEEDED"
    assert execution["statusReason"] == reason
    assert execution["result"] == {"uptime": {"S": "0s"}, "ok": {"B": True}, "dump": {"BIN": b"\x00\x01"}}
    assert execution["executionTimeoutSeconds"] == 60
    assert execution["startedAt"].timestamp() == execution["createdAt"].timestamp() + 2
    assert execution["completedAt"].timestamp() == execution["createdAt"].timestamp() + 5
    without = world.execution(execution_id)
    assert "result" not in without
    assert without["statusReason"] == reason

    # And each change was published as an event
    base = {
        "executionId": execution_id,
        "eventType": "COMMAND_EXECUTION",
        "commandArn": arn,
        "targetArn": thing_arn("dev-1"),
    }
    start = int(execution["createdAt"].timestamp() * 1000)
    assert world.events == [
        ("$aws/events/commandExecution/reboot/CREATED", base | {"status": "CREATED", "timestamp": start}),
        (
            "$aws/events/commandExecution/reboot/IN_PROGRESS",
            base | {"status": "IN_PROGRESS", "timestamp": start + 2000},
        ),
        (
            "$aws/events/commandExecution/reboot/SUCCEEDED",
            base | {"status": "SUCCEEDED", "statusReason": reason, "timestamp": start + 5000},
        ),
    ]

    # And a final execution takes no more updates; wrong devices, ids and statuses are ignored
    world.emulator.device_response("dev-1", execution_id, {"status": "FAILED"})
    world.emulator.device_response("dev-2", execution_id, {"status": "FAILED"})
    world.emulator.device_response("dev-1", "unknown", {"status": "FAILED"})
    world.emulator.device_response("dev-1", execution_id, {"status": "CREATED"})
    assert world.execution(execution_id)["status"] == "SUCCEEDED"
    assert len(world.events) == 3


def test_a_cloud_timeout_still_takes_a_late_answer_but_a_device_timeout_is_final(world: World) -> None:
    # Given two executions with a 30 s timeout
    arn = world.command()
    late = world.start(arn, executionTimeoutSeconds=30)
    reported = world.start(arn, thing="dev-2", executionTimeoutSeconds=30)
    world.emulator.device_response("dev-2", reported, {"status": "TIMED_OUT"})
    world.events.clear()

    # When the time passes
    world.clock.advance(31)
    assert world.emulator.expire() == 1

    # Then the one without an answer timed out in the cloud, with its event
    timed_out = world.execution(late)
    assert timed_out["status"] == "TIMED_OUT"
    assert timed_out["statusReason"]["reasonCode"] == "$NO_RESPONSE_FROM_DEVICE"
    assert [topic for topic, _ in world.events] == ["$aws/events/commandExecution/reboot/TIMED_OUT"]
    assert world.events[0][1]["timestamp"] == int((world.clock.now - 1) * 1000)  # when the timer ran out

    # And progress is too late for it, but a final answer still lands; the device's own TIMED_OUT stays
    world.emulator.device_response("dev-1", late, {"status": "IN_PROGRESS"})
    assert world.execution(late)["status"] == "TIMED_OUT"
    world.emulator.device_response("dev-1", late, {"status": "SUCCEEDED"})
    world.emulator.device_response("dev-2", reported, {"status": "SUCCEEDED"})
    assert world.execution(late)["status"] == "SUCCEEDED"
    assert world.execution(reported, thing="dev-2")["status"] == "TIMED_OUT"
    assert world.emulator.expire() == 0


def test_reads_apply_timeouts_without_expire(world: World) -> None:
    execution_id = world.start(world.command())
    world.clock.advance(10)
    assert world.execution(execution_id)["status"] == "TIMED_OUT"
    assert world.events[-1][0] == "$aws/events/commandExecution/reboot/TIMED_OUT"


def test_only_final_executions_are_deleted(world: World) -> None:
    execution_id = world.start(world.command(), executionTimeoutSeconds=60)
    delete, which = world.iot.delete_command_execution, {"executionId": execution_id, "targetArn": thing_arn("dev-1")}
    assert error_of(delete, **which)[0] == "ConflictException"
    world.emulator.device_response("dev-1", execution_id, {"status": "FAILED"})
    delete(**which)
    assert error_of(world.execution, execution_id)[0] == "ResourceNotFoundException"
    assert error_of(delete, **which)[0] == "ResourceNotFoundException"


def test_command_executions_are_listed_with_filters(world: World) -> None:
    # Given three executions on two things, one completed at a known time
    arn = world.command()
    first = world.start(arn, executionTimeoutSeconds=600)
    world.clock.advance(60)
    second = world.start(arn, executionTimeoutSeconds=600)
    world.clock.advance(60)
    third = world.start(arn, thing="dev-2", executionTimeoutSeconds=600)
    world.emulator.device_response("dev-1", first, {"status": "SUCCEEDED"})

    def listed(**arguments: Any) -> list[str]:
        return [item["executionId"] for item in world.iot.list_command_executions(**arguments)["commandExecutions"]]

    # Then
    assert listed(commandArn=arn) == [third, second, first]
    assert listed(commandArn=arn, sortOrder="ASCENDING") == [first, second, third]
    assert listed(targetArn=thing_arn("dev-1")) == [second, first]
    assert listed(commandArn=arn, status="CREATED") == [third, second]
    page = world.iot.list_command_executions(commandArn=arn, maxResults=2)
    assert [item["executionId"] for item in page["commandExecutions"]] == [third, second]
    assert listed(commandArn=arn, nextToken=page["nextToken"]) == [first]
    done = world.clock.now
    assert listed(commandArn=arn, completedTimeFilter={"after": _minute(done - 60)}) == [first]
    assert listed(commandArn=arn, completedTimeFilter={"before": _minute(done - 60)}) == []

    # And the documented combinations are refused
    list_executions = world.iot.list_command_executions
    assert error_of(list_executions, commandArn=arn, targetArn=thing_arn("dev-1"))[0] == "ValidationException"
    assert error_of(list_executions)[0] == "ValidationException"
    window = {"after": "2026-01-01T00:00"}
    two = {"startedTimeFilter": window, "completedTimeFilter": window}
    assert error_of(list_executions, commandArn=arn, **two)[0] == "ValidationException"
    bad = error_of(list_executions, commandArn=arn, startedTimeFilter={"after": "yesterday"})
    assert "startedTimeFilter.after" in bad[1]


def test_executions_are_listed_by_command_and_by_target_among_many_commands(world: World) -> None:
    # Given 12 commands started in turn, 20 times each, on two things and on MQTT clients
    arns = [world.command(f"c{number:02d}") for number in range(12)]
    started: dict[str, list[tuple[str, str]]] = {arn: [] for arn in arns}  # (execution id, target), in order
    for round_number in range(20):
        for index, arn in enumerate(arns):
            target = f"arn:aws:iot:{REGION}:{ACCOUNT}:client/device-{index}-{round_number}"
            if round_number % 2:
                target = thing_arn("dev-1" if index % 3 == 0 else "dev-2")
            response = world.jobs.start_command_execution(targetArn=target, commandArn=arn, executionTimeoutSeconds=600)
            started[arn].append((response["executionId"], target))
            world.clock.advance(1)
    sizes: list[int] = []

    def listed(**arguments: Any) -> list[str]:
        """The ids listed, 7 to a page (their sizes in `sizes`)."""
        ids, token, sizes[:] = [], None, []
        while True:
            page = world.iot.list_command_executions(
                maxResults=7, **arguments, **({"nextToken": token} if token else {})
            )
            ids += [item["executionId"] for item in page["commandExecutions"]]
            sizes.append(len(page["commandExecutions"]))
            token = page.get("nextToken")
            if token is None:
                return ids

    # Then a command's executions are its own, each once, newest first (or oldest first), by pages
    chosen = arns[5]
    newest_first = [execution_id for execution_id, _ in reversed(started[chosen])]
    assert listed(commandArn=chosen) == newest_first
    assert sizes == [7, 7, 6]
    assert listed(commandArn=chosen, sortOrder="ASCENDING") == newest_first[::-1]
    assert listed(commandArn=arns[0]) == [execution_id for execution_id, _ in reversed(started[arns[0]])]

    # And a thing's are those of every command started on it, each once
    on_dev_1 = [execution_id for arn in arns for execution_id, target in started[arn] if target == thing_arn("dev-1")]
    by_target = listed(targetArn=thing_arn("dev-1"))
    assert sorted(by_target) == sorted(on_dev_1)
    assert len(by_target) == len(set(by_target)) == 4 * 10

    # And a deleted execution is listed no more, under its command nor under its thing
    gone, target = next((execution_id, target) for execution_id, target in started[chosen] if "thing/" in target)
    world.emulator.device_response(target.rsplit("/", 1)[1], gone, {"status": "SUCCEEDED"})
    world.iot.delete_command_execution(executionId=gone, targetArn=target)
    assert listed(commandArn=chosen) == [execution_id for execution_id in newest_first if execution_id != gone]
    assert gone not in listed(targetArn=target)


def _minute(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M")


def test_validation_errors_name_the_member(world: World) -> None:
    # Through boto3: botocore checks neither patterns nor maxima, the emulator does
    code, message = error_of(world.command, "bad id!")
    assert code == "ValidationException"
    assert "'commandId'" in message
    assert "'maxResults'" in error_of(world.iot.list_commands, maxResults=500)[1]
    display = error_of(world.command, "ctl", displayName="bell\x07")[1]
    assert "'displayName'" in display

    # Raw requests botocore would refuse to send
    arn = world.command()
    status, headers, body = world.raw("POST", "/command-executions", {"targetArn": thing_arn("dev-1")}, "iot-jobs-data")
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert "'commandArn'" in body["message"]
    status, _, body = world.raw("GET", "/command-executions/x?targetArn=t&includeResult=maybe")
    assert status == 400
    assert "'includeResult'" in body["message"]
    nested = {"commandArn": arn, "targetArn": thing_arn("dev-1"), "parameters": {"p": {"I": "one"}}}
    status, _, body = world.raw("POST", "/command-executions", nested, "iot-jobs-data")
    assert "'parameters.p.I'" in body["message"]
    payload = {"payload": {"content": "not base64!"}}
    assert "'payload.content'" in world.raw("PUT", "/commands/raw", payload)[2]["message"]

    # Unknown members are ignored, as AWS does
    status, _, body = world.raw("PUT", "/commands/raw", {"payload": {"content": "eA=="}, "colour": "red"})
    assert (status, body["commandId"]) == (200, "raw")
    assert world.raw("GET", "/commands/missing")[0] == 404


def test_only_iot_commands_requests_are_answered(world: World) -> None:
    auth = {"Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/iot/aws4_request, Signature=x"}
    jobs = {"Authorization": auth["Authorization"].replace("/iot/", "/iot-jobs-data/")}
    base = f"https://iot.{REGION}.amazonaws.com"
    assert world.emulator.handle("GET", f"{base}/things", auth, None) is None
    assert world.emulator.handle("GET", f"{base}/commands", {}, None) is None
    assert world.emulator.handle("GET", f"{base}/commands/a/b", auth, None) is None
    assert world.emulator.handle("GET", f"{JOBS_ENDPOINT}/things/dev-1/jobs", jobs, None) is None
    # The same POST is ListCommandExecutions on iot and StartCommandExecution on iot-jobs-data
    listed = world.emulator.handle("POST", f"{base}/command-executions", auth, b"{}")
    assert listed is not None
    assert "commandArn and targetArn" in json.loads(listed[2])["message"]
    started = world.emulator.handle("POST", f"{JOBS_ENDPOINT}/command-executions", {}, b"{}")
    assert started is not None
    assert "'targetArn'" in json.loads(started[2])["message"]


def test_every_operation_answers_what_its_output_shape_allows(world: World) -> None:
    arn = world.command(mandatoryParameters=[{"name": "blob", "type": "BINARY", "defaultValue": {"BIN": b"\x01"}}])
    world.iot.get_command(commandId="reboot")
    world.iot.update_command(commandId="reboot", displayName="Reboot")
    world.iot.list_commands()
    execution_id = world.start(arn, parameters={"blob": {"BIN": b"\x02"}})
    world.clock.advance(11)
    world.emulator.device_response("dev-1", execution_id, {"status": "FAILED", "result": {"why": {"s": "no"}}})
    world.execution(execution_id, includeResult=True)
    world.iot.list_command_executions(targetArn=thing_arn("dev-1"))
    world.iot.delete_command_execution(executionId=execution_id, targetArn=thing_arn("dev-1"))
    world.iot.delete_command(commandId="reboot")
    assert set(world.checked) == ALL_OPERATIONS


def test_the_hook_answers_before_motos_in_process_mock() -> None:
    from moto import mock_aws

    with mock_aws():
        session = boto3.session.Session(
            region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        moto_iot = session.client("iot")
        moto_iot.create_thing(thingName="dev-1")

        def thing_exists(name: str) -> bool:
            return any(thing["thingName"] == name for thing in moto_iot.list_things()["things"])

        emulator = IotCommands(thing_exists=thing_exists)
        session.events.register_first("before-send", emulator.botocore_hook)
        iot = session.client("iot")
        jobs = session.client("iot-jobs-data", endpoint_url=JOBS_ENDPOINT)
        arn = iot.create_command(commandId="mocked", payload={"content": b"{}"})["commandArn"]
        execution_id = jobs.start_command_execution(targetArn=thing_arn("dev-1"), commandArn=arn)["executionId"]
        assert iot.get_command_execution(executionId=execution_id, targetArn=thing_arn("dev-1"))["status"] == "CREATED"
        assert error_of(jobs.start_command_execution, targetArn=thing_arn("ghost"), commandArn=arn)[0] == (
            "ResourceNotFoundException"
        )
        assert iot.describe_thing(thingName="dev-1")["thingName"] == "dev-1"  # moto still answers the rest


def test_the_wsgi_app_serves_boto3_over_http_and_passes_the_rest_on() -> None:
    from werkzeug.serving import make_server

    def fallback(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"message": "not here"}']

    emulator = IotCommands()
    server = make_server("127.0.0.1", 0, emulator.wsgi(fallback), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        session = boto3.session.Session(
            region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        endpoint = f"http://127.0.0.1:{server.server_port}"
        iot = session.client("iot", endpoint_url=endpoint)
        jobs = session.client("iot-jobs-data", endpoint_url=endpoint)
        arn = iot.create_command(commandId="over-http", payload={"content": b"{}"})["commandArn"]
        assert iot.get_command(commandId="over-http")["payload"]["content"] == b"{}"
        execution_id = jobs.start_command_execution(targetArn=thing_arn("dev-1"), commandArn=arn)["executionId"]
        assert iot.get_command_execution(executionId=execution_id, targetArn=thing_arn("dev-1"))["status"] == "CREATED"
        assert iot.delete_command(commandId="over-http")["statusCode"] == 202
        with pytest.raises(ClientError) as raised:
            iot.describe_thing(thingName="dev-1")
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    finally:
        server.shutdown()
        thread.join()
