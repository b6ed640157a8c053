"""Delivery `command` (AWS IoT Commands) and `inbox`, end to end through the real handlers, against moto and the
IoT Commands emulator (local/iot_commands.py)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from commands_core import clock
from commands_core.adapters import aws as clients
from commands_core.adapters.iot_commands import IotCommands
from commands_core.adapters.queue import DispatchQueue
from commands_core.models.dispatch import DispatchMessage, Start
from commands_core.models.jobs import DEFAULT_EXECUTION_TIMEOUT_SECONDS
from commands_core.services import delivery, dispatch
from commands_core.services.delivery import command as command_delivery
from local.simulated_time import SimulatedTime, most_in_a_window
from tests.conftest import EmulatedCommands, HandlerClient, aws_error
from tests.integration.conftest import group_arn, sqs_event, thing_arn, upload

ARN_PREFIX = "arn:aws:iot:us-east-1:123456789012:"


@pytest.fixture
def fleet(things: Callable[..., list[str]], iot: Any) -> Callable[[int], list[str]]:
    """Things dev-000... in the thing group `site`; their names."""

    def create(size: int) -> list[str]:
        iot.create_thing_group(thingGroupName="site")
        return things(*[f"dev-{number:03d}" for number in range(size)], group="site")

    return create


@pytest.fixture
def command_template(template: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """A template `plain` of the given delivery with no parameter or file."""

    def register(delivery_name: str = "command", **overrides: Any) -> dict[str, Any]:
        fields = {"document": json.dumps({"op": "reboot"}), "requiredDocumentParameters": [], "requiredFiles": []}
        return template("plain", **fields | {"delivery": delivery_name} | overrides)

    return register


def publish(api: HandlerClient, command_id: str, targets: list[str], **fields: Any) -> None:
    body = {"commandId": command_id, "templateId": "plain", "status": "in_progress", "targets": targets} | fields
    reply = api.post("/commands", body)
    assert reply.status == 201, reply.body


def ingest(api: HandlerClient, iot_commands: EmulatedCommands) -> None:
    """The events AWS IoT published so far, through the topic rule's queue into the status consumer."""
    if events := iot_commands.take_events():
        assert api.functions.invoke("status_ingest", sqs_event(events)) == {"batchItemFailures": []}


def statuses(api: HandlerClient, command_id: str) -> dict[str, str]:
    reply = api.get(f"/commands/{command_id}/executions?maxResults=250")
    return {item["thingName"]: item["status"] for item in reply.json()["executions"]}


def answer(iot_commands: EmulatedCommands, thing: str, status: str, **fields: Any) -> None:
    """The thing's device answers its one execution on the response topic."""
    (execution,) = clients.client("iot").list_command_executions(targetArn=thing_arn(thing))["commandExecutions"]
    iot_commands.emulator.device_response(thing, execution["executionId"], {"status": status} | fields)


def test_publishing_creates_one_aws_iot_command_and_starts_each_thing_once(
    api: HandlerClient,
    template: Callable[..., dict[str, Any]],
    fleet: Callable[[int], list[str]],
    iot_commands: EmulatedCommands,
) -> None:
    template(delivery="command", executionTimeoutSeconds=300)
    names = fleet(3)
    started: list[str] = []
    iot_commands.emulator.on_start(lambda thing, request: started.append(thing))
    body = {"commandId": "reboot", "templateId": "ota", "targets": [group_arn("site")]}
    assert api.post("/commands", body | {"documentParameters": {"version": 'v2", "evil": "x'}}).status == 201
    assert upload(api, "reboot") == 201
    assert api.patch("/commands/reboot", {"status": "in_progress"}).status == 204

    api.drain()

    command = clients.client("iot").get_command(commandId="reboot")
    payload = json.loads(command["payload"]["content"])
    assert payload["version"] == payload["again"] == 'v2", "evil": "x'  # one string, whatever it holds
    assert "commands/reboot/published/firmware" in payload["url"]
    assert "Signature" in payload["url"]
    assert (command["namespace"], command["payload"]["contentType"]) == ("AWS-IoT", "application/json")
    assert sorted(started) == names
    assert {item["targetArn"] for item in iot_commands.emulator.executions("reboot")} == {
        thing_arn(name) for name in names
    }
    assert api.get("/commands/reboot").json()["counts"] == {"SCHEDULED": 3}

    ingest(api, iot_commands)  # the CREATED events

    assert statuses(api, "reboot") == dict.fromkeys(names, "SENT")
    execution = api.get("/commands/reboot/executions/dev-001").json()["executions"][0]
    assert execution["executionId"] in {item["executionId"] for item in iot_commands.emulator.executions("reboot")}


def test_device_answers_complete_the_command_and_their_result_is_returned(
    api: HandlerClient,
    command_template: Callable[..., dict[str, Any]],
    fleet: Callable[[int], list[str]],
    iot_commands: EmulatedCommands,
) -> None:
    command_template()
    names = fleet(2)
    publish(api, "ping", names)
    api.drain()
    ingest(api, iot_commands)

    answer(iot_commands, "dev-000", "IN_PROGRESS")
    answer(iot_commands, "dev-000", "SUCCEEDED", result={"rebooted": {"b": True}, "took": {"s": "3s"}})
    answer(iot_commands, "dev-001", "FAILED", statusReason={"reasonCode": "LOW_BATTERY", "reasonDescription": "12%"})
    ingest(api, iot_commands)

    assert statuses(api, "ping") == {"dev-000": "SUCCEEDED", "dev-001": "FAILED"}
    succeeded = api.get("/commands/ping/executions/dev-000").json()["executions"][0]
    assert succeeded["result"] == {"rebooted": {"B": True}, "took": {"S": "3s"}}
    assert [step["to"] for step in succeeded["history"]] == ["SCHEDULED", "SENT", "IN_PROGRESS", "SUCCEEDED"]
    failed = api.get("/commands/ping/executions/dev-001").json()["executions"][0]
    assert failed["statusReason"] == "LOW_BATTERY 12%"
    command = api.get("/commands/ping").json()
    assert (command["status"], command["counts"]) == ("completed", {"SUCCEEDED": 1, "FAILED": 1})


@pytest.fixture
def queue_without_delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The dispatch queue's delays, recorded; the messages sent at once, so that a drain sees them."""
    delays: list[float] = []
    send = DispatchQueue.send

    def undelayed(self: DispatchQueue, message: DispatchMessage, delay_seconds: float = 0) -> None:
        delays.append(delay_seconds)
        send(self, message, 0)

    monkeypatch.setattr(DispatchQueue, "send", undelayed)
    return delays


@pytest.mark.parametrize(("status", "code"), [(429, "ThrottlingException"), (500, "InternalServerException")])
def test_throttling_in_a_batch_loses_nothing_and_starts_nothing_twice(
    status: int,
    code: str,
    api: HandlerClient,
    command_template: Callable[..., dict[str, Any]],
    fleet: Callable[[int], list[str]],
    iot_commands: EmulatedCommands,
    queue_without_delays: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(clients, "RETRIES", 0)  # botocore's own retries would hide the throttling
    command_template()
    names = fleet(100)
    throttled = Counter({"dev-007": 2})  # refusals left per thing
    asked: Counter[str] = Counter()
    hook = iot_commands.emulator.botocore_hook

    def throttling(request: Any, **kwargs: Any) -> Any:
        if request.url.endswith("/command-executions") and ".jobs.iot." in request.url:  # the data plane
            thing = json.loads(request.body)["targetArn"].rsplit("/", 1)[-1]
            asked[thing] += 1
            if throttled[thing] > 0:
                throttled[thing] -= 1
                return aws_error(request.url, status, code)
        return hook(request, **kwargs)

    monkeypatch.setattr(iot_commands.emulator, "botocore_hook", throttling)
    _reregister(iot_commands.emulator.botocore_hook)
    started: list[str] = []
    iot_commands.emulator.on_start(lambda thing, request: started.append(thing))

    publish(api, "throttled", names)
    api.drain()

    assert sorted(started) == names  # every thing started, none twice
    assert asked["dev-007"] == 3
    assert [delay for delay in queue_without_delays if delay] == [2, 4]  # backing off while throttled
    # A throttled batch stops asking: without that, each run would ask the whole batch again (about 3 x 100).
    assert sum(asked.values()) < 2 * len(names)
    ingest(api, iot_commands)
    assert set(statuses(api, "throttled").values()) == {"SENT"}


def _reregister(hook: Any) -> None:
    """Replaces the emulator's hook on the service's session (clients made afterwards use the new one)."""
    events = clients.session().events
    events.unregister("before-send", unique_id="iot-commands-emulator")
    events.register_first("before-send", hook, unique_id="iot-commands-emulator")
    from commands_core import dependencies

    dependencies.reset()


def test_a_step_that_fails_comes_back_and_its_retry_completes_the_rollout(
    api: HandlerClient,
    command_template: Callable[..., dict[str, Any]],
    fleet: Callable[[int], list[str]],
    iot_commands: EmulatedCommands,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    command_template()
    names = fleet(3)
    sent: list[DispatchMessage] = []
    send = DispatchQueue.send

    def recording(self: DispatchQueue, message: DispatchMessage, delay_seconds: float = 0) -> None:
        sent.append(message)
        send(self, message, delay_seconds)

    monkeypatch.setattr(DispatchQueue, "send", recording)
    started: list[str] = []
    iot_commands.emulator.on_start(lambda thing, request: started.append(thing))
    real_start = IotCommands.start
    failures = [RuntimeError("the function ran out of memory")]

    def failing_once(self: IotCommands, *args: Any) -> Any:
        if failures:
            raise failures.pop()
        return real_start(self, *args)

    monkeypatch.setattr(IotCommands, "start", failing_once)
    publish(api, "flaky", names)
    api.drain()  # the start step fails: its message waits for the visibility timeout, then comes back

    assert len(started) < 3  # others of the batch may have started meanwhile
    (start,) = [message for message in sent if isinstance(message, Start)]
    assert api.functions.invoke("commands_dispatch", sqs_event([start])) == {"batchItemFailures": []}
    assert sorted(started) == names  # each once
    # A copy of the expand message (SQS delivers at least once) only sends the step again: nothing more starts.
    assert api.functions.invoke("commands_dispatch", sqs_event([{"action": "expand", "commandId": "flaky"}])) == {
        "batchItemFailures": []
    }
    api.drain()
    assert sorted(started) == names


@pytest.fixture
def simulated(iot_commands: EmulatedCommands, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatedTime]:
    """Simulated time for the dispatcher and AWS IoT; its queue stands in for the dispatch queue's delays."""
    clock = iot_commands.clock
    monkeypatch.setattr(
        DispatchQueue, "send", lambda self, message, delay_seconds=0: clock.send(message, delay_seconds)
    )
    with clock.installed(delivery, dispatch, command_delivery):
        yield clock


def test_the_rollout_rate_holds_in_every_60_second_window(
    api: HandlerClient,
    command_template: Callable[..., dict[str, Any]],
    fleet: Callable[[int], list[str]],
    iot_commands: EmulatedCommands,
    simulated: SimulatedTime,
) -> None:
    command_template()
    names = fleet(130)
    publish(api, "paced", names, rolloutMaximumPerMinute=60)
    handled = simulated.run(lambda message: api.functions.invoke("commands_dispatch", sqs_event([message])))

    created = [execution["createdAt"] for execution in iot_commands.emulator.executions("paced")]
    assert len(created) == 130
    assert handled == 4  # the expand, its start step, then the step back twice, a minute apart
    assert most_in_a_window(created) == 60
    assert max(created) - min(created) >= 120  # 130 at 60 a minute: the third minute's batches
    assert api.get("/commands/paced").json()["counts"] == {"SCHEDULED": 130}


def test_cancelling_mid_rollout_stops_the_targets_not_yet_started(
    api: HandlerClient,
    command_template: Callable[..., dict[str, Any]],
    fleet: Callable[[int], list[str]],
    iot_commands: EmulatedCommands,
    simulated: SimulatedTime,
) -> None:
    command_template()
    names = fleet(30)
    publish(api, "halted", names, rolloutMaximumPerMinute=12)
    invoke = lambda message: api.functions.invoke("commands_dispatch", sqs_event([message]))  # noqa: E731
    simulated.run(invoke, limit=2)  # the expand, then its start step: the first minute's 12, then it waits

    assert len(iot_commands.emulator.executions("halted")) == 12
    assert api.patch("/commands/halted", {"status": "cancelled"}).status == 204
    simulated.run(invoke)

    ingest(api, iot_commands)
    found = statuses(api, "halted")
    assert Counter(found.values()) == {"SENT": 12, "CANCELED": 18}
    assert len(iot_commands.emulator.executions("halted")) == 12  # the waiting step, when it came back, started nothing
    assert clients.client("iot").get_command(commandId="halted")["deprecated"] is True
    started = next(name for name, status in found.items() if status == "SENT")
    answer(iot_commands, started, "SUCCEEDED")
    ingest(api, iot_commands)
    assert statuses(api, "halted")[started] == "SUCCEEDED"  # what was running still reports


def test_deleting_holds_the_aws_iot_command_pending_until_it_was_deprecated_12_hours(
    api: HandlerClient,
    command_template: Callable[..., dict[str, Any]],
    fleet: Callable[[int], list[str]],
    iot_commands: EmulatedCommands,
) -> None:
    command_template()
    publish(api, "gone", fleet(1))
    api.drain()

    first = api.delete("/commands/gone")

    assert (first.status, first.json()["status"]) == (202, "deleted")
    assert clients.client("iot").get_command(commandId="gone")["pendingDeletion"] is True
    iot_commands.clock.advance(13 * 3600)
    assert api.delete("/commands/gone").status == 204
    with pytest.raises(clients.client("iot").exceptions.ResourceNotFoundException):
        clients.client("iot").get_command(commandId="gone")


def test_a_cloud_timeout_gives_way_to_a_late_device_answer_but_a_device_timeout_does_not(
    api: HandlerClient,
    command_template: Callable[..., dict[str, Any]],
    fleet: Callable[[int], list[str]],
    iot_commands: EmulatedCommands,
) -> None:
    command_template(executionTimeoutSeconds=60)
    names = fleet(2)
    publish(api, "late", names)
    api.drain()
    answer(iot_commands, "dev-001", "TIMED_OUT", statusReason={"reasonCode": "DEVICE_GAVE_UP"})
    iot_commands.clock.advance(61)
    assert iot_commands.emulator.expire() == 1
    ingest(api, iot_commands)
    assert statuses(api, "late") == {"dev-000": "TIMED_OUT", "dev-001": "TIMED_OUT"}

    for thing in names:
        answer(iot_commands, thing, "SUCCEEDED")
    ingest(api, iot_commands)

    assert statuses(api, "late") == {"dev-000": "SUCCEEDED", "dev-001": "TIMED_OUT"}
    assert api.get("/commands/late").json()["counts"] == {"SUCCEEDED": 1, "TIMED_OUT": 1}


def test_the_reconciler_finds_what_lost_events_did_not_say_and_times_out_the_silent(
    api: HandlerClient,
    command_template: Callable[..., dict[str, Any]],
    fleet: Callable[[int], list[str]],
    iot_commands: EmulatedCommands,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    command_template(executionTimeoutSeconds=60)
    names = fleet(3)
    publish(api, "lossy", names)
    api.drain()
    answer(iot_commands, "dev-000", "SUCCEEDED")
    iot_commands.take_events()  # every event lost

    assert api.functions.invoke("reconcile", {})["executions_changed"] == 3
    assert statuses(api, "lossy") == {"dev-000": "SUCCEEDED", "dev-001": "SENT", "dev-002": "SENT"}

    # AWS IoT's own timeout lost too: the reconciler's clock, past timeout and grace, times them out.
    later = clock.now() + timedelta(seconds=60) + command_delivery.TIMEOUT_GRACE + timedelta(seconds=1)
    monkeypatch.setattr(delivery, "now", lambda: later)
    api.functions.invoke("reconcile", {})

    assert statuses(api, "lossy") == {"dev-000": "SUCCEEDED", "dev-001": "TIMED_OUT", "dev-002": "TIMED_OUT"}
    assert api.get("/commands/lossy").json()["status"] == "completed"
    answer(iot_commands, "dev-002", "SUCCEEDED")  # the device answers after all
    ingest(api, iot_commands)
    assert statuses(api, "lossy")["dev-002"] == "SUCCEEDED"


def test_inbox_executions_wait_queued_and_time_out(
    api: HandlerClient,
    command_template: Callable[..., dict[str, Any]],
    fleet: Callable[[int], list[str]],
    iot_commands: EmulatedCommands,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    command_template("inbox", executionTimeoutSeconds=30)
    names = fleet(2)
    publish(api, "mailed", names)
    api.drain()

    assert statuses(api, "mailed") == dict.fromkeys(names, "QUEUED")
    assert clients.client("iot").list_command_executions(targetArn=thing_arn("dev-000"))["commandExecutions"] == []
    assert iot_commands.events == []  # nothing pushed
    api.functions.invoke("reconcile", {})
    assert statuses(api, "mailed") == dict.fromkeys(names, "QUEUED")

    later = clock.now() + timedelta(seconds=31)
    monkeypatch.setattr(delivery, "now", lambda: later)
    api.functions.invoke("reconcile", {})

    assert statuses(api, "mailed") == dict.fromkeys(names, "TIMED_OUT")
    assert api.get("/commands/mailed").json()["status"] == "completed"


def test_cancelling_an_inbox_command_cancels_what_no_device_fetched(
    api: HandlerClient, command_template: Callable[..., dict[str, Any]], fleet: Callable[[int], list[str]]
) -> None:
    command_template("inbox")
    publish(api, "unsent", fleet(2))
    api.drain()

    assert api.patch("/commands/unsent", {"status": "cancelled"}).status == 204
    api.drain()

    assert statuses(api, "unsent") == {"dev-000": "CANCELED", "dev-001": "CANCELED"}


@pytest.mark.parametrize(
    ("delivery_name", "field", "value"),
    [
        ("job", "executionTimeoutSeconds", 60),
        ("command", "timeoutConfig", {"inProgressTimeoutInMinutes": 5}),
        ("inbox", "timeoutConfig", {"inProgressTimeoutInMinutes": 5}),
    ],
)
def test_a_setting_for_another_delivery_is_a_400_naming_it(
    api: HandlerClient,
    template: Callable[..., dict[str, Any]],
    command_template: Callable[..., dict[str, Any]],
    delivery_name: str,
    field: str,
    value: Any,
) -> None:
    body = {"templateId": "other", "operation": "x", "document": "{}", "delivery": delivery_name, field: value}
    reply = api.post("/templates", body)
    assert (reply.status, reply.json()["error"].split(":")[0]) == (400, field)
    command_template(delivery_name)
    reply = api.post("/commands", {"templateId": "plain", field: value})
    assert (reply.status, reply.json()["error"].split(":")[0]) == (400, field)


def test_an_execution_of_aws_iot_commands_cannot_be_cancelled_alone(
    api: HandlerClient, command_template: Callable[..., dict[str, Any]], fleet: Callable[[int], list[str]]
) -> None:
    command_template()
    publish(api, "running", fleet(1))
    api.drain()  # started; its CREATED event not yet in

    reply = api.delete("/commands/running/executions/dev-000")

    assert reply.status == 400
    assert "cancel the command to stop those not started" in reply.json()["error"]
    assert statuses(api, "running") == {"dev-000": "SCHEDULED"}


def test_the_document_leaves_room_for_the_urls_the_service_presigns(
    api: HandlerClient, template: Callable[..., dict[str, Any]], things: Callable[..., list[str]]
) -> None:
    things("dev-1")
    names = ["a", "b", "c", "d"]
    document = json.dumps({name: f"${{{name}}}" for name in names} | {"url": "${cdf:file:firmware}"})
    values = dict.fromkeys(names, "x" * 7_900)  # 31,600 bytes: room for AWS IoT's placeholder, not for a URL
    for delivery_name in ("job", "command"):
        template(delivery_name, document=document, requiredDocumentParameters=names, delivery=delivery_name)
        body = {"commandId": delivery_name, "templateId": delivery_name, "targets": ["dev-1"]}
        assert api.post("/commands", body | {"documentParameters": values}).status == 201
        assert upload(api, delivery_name) == 201

    assert api.patch("/commands/job", {"status": "in_progress"}).status == 204  # AWS IoT's placeholder is short
    reply = api.patch("/commands/command", {"status": "in_progress"})
    assert (reply.status, reply.json()["error"].split(":")[0]) == (400, "documentParameters")


def test_events_of_aws_iot_commands_the_service_did_not_create_are_ignored(
    api: HandlerClient, command_template: Callable[..., dict[str, Any]], fleet: Callable[[int], list[str]]
) -> None:
    command_template()
    publish(api, "mine", fleet(1))
    api.drain()
    event = {
        "eventType": "COMMAND_EXECUTION",
        "executionId": "x",
        "status": "SUCCEEDED",
        "commandArn": f"{ARN_PREFIX}command/someone-elses",
        "targetArn": thing_arn("dev-000"),
        "timestamp": 1_900_000_000_000,
    }
    foreign_of_same_id = event | {"commandArn": "arn:aws:iot:eu-west-1:999999999999:command/mine"}

    assert api.functions.invoke("status_ingest", sqs_event([event, foreign_of_same_id])) == {"batchItemFailures": []}
    assert statuses(api, "mine") == {"dev-000": "SCHEDULED"}


@pytest.mark.parametrize(
    ("template_timeout", "command_timeout", "started_with"),
    [(None, None, DEFAULT_EXECUTION_TIMEOUT_SECONDS), (45, None, 45), (45, 90, 90)],
)
def test_every_execution_is_started_with_a_timeout_the_service_chose(
    api: HandlerClient,
    command_template: Callable[..., dict[str, Any]],
    fleet: Callable[[int], list[str]],
    iot_commands: EmulatedCommands,
    template_timeout: int | None,
    command_timeout: int | None,
    started_with: int,
) -> None:
    # Given a template and a command that may or may not say how long a device has
    command_template(**({"executionTimeoutSeconds": template_timeout} if template_timeout else {}))
    fields = {"executionTimeoutSeconds": command_timeout} if command_timeout else {}

    # When the command is published to three things
    publish(api, "timed", fleet(3), **fields)
    api.drain()

    # Then AWS IoT started each execution with that timeout: the command's, the template's, else the service's
    executions = iot_commands.emulator.executions("timed")
    assert [execution["executionTimeoutSeconds"] for execution in executions] == [started_with] * 3
    assert api.get("/commands/timed").json()["executionTimeoutSeconds"] == started_with


def test_a_device_answering_a_minute_late_by_aws_iot_s_default_still_succeeds(
    api: HandlerClient,
    command_template: Callable[..., dict[str, Any]],
    fleet: Callable[[int], list[str]],
    iot_commands: EmulatedCommands,
) -> None:
    # Given a command whose template sets no timeout, started on a device
    command_template()
    publish(api, "patient", fleet(1))
    api.drain()
    ingest(api, iot_commands)

    # When the device answers a minute later (AWS IoT's own default would have timed it out after 10 s)
    iot_commands.clock.advance(60)
    assert iot_commands.emulator.expire() == 0
    answer(iot_commands, "dev-000", "SUCCEEDED")
    ingest(api, iot_commands)

    # Then the execution succeeded, without a TIMED_OUT on the way, and the command completed
    (execution,) = api.get("/commands/patient/executions/dev-000").json()["executions"]
    assert [entry["to"] for entry in execution["history"]] == ["SCHEDULED", "SENT", "SUCCEEDED"]
    assert api.get("/commands/patient").json()["status"] == "completed"
