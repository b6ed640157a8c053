"""Cancel wins: once a cancel (or a DELETE) has answered, no execution of the command starts, and none of those
no device reached stays pending longer than a dispatch beat, whatever step publishing was in."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from commands_core.adapters import aws as clients
from commands_core.adapters.commands import CommandRepository
from commands_core.services import dispatch
from tests.conftest import EmulatedCommands, HandlerClient

GROUP = "arn:aws:iot:us-east-1:123456789012:thinggroup/site"


@pytest.fixture
def site(things: Callable[..., list[str]], iot: Any) -> Callable[[int], list[str]]:
    def create(size: int) -> list[str]:
        iot.create_thing_group(thingGroupName="site")
        return things(*[f"dev-{number:03d}" for number in range(size)], group="site")

    return create


def template(api: HandlerClient, delivery: str) -> None:
    body = {"templateId": "plain", "operation": "reboot", "document": json.dumps({"op": "reboot"})}
    assert api.post("/templates", body | {"delivery": delivery}).status == 201


def executions(api: HandlerClient, command_id: str) -> dict[str, str]:
    reply = api.get(f"/commands/{command_id}/executions?maxResults=250")
    return {item["thingName"]: item["status"] for item in reply.json()["executions"]}


@pytest.mark.parametrize("delivery", ["job", "command", "inbox"])
def test_a_cancel_while_the_targets_are_being_expanded_ends_every_execution_at_once(
    api: HandlerClient,
    site: Callable[[int], list[str]],
    iot: Any,
    iot_commands: EmulatedCommands,
    monkeypatch: pytest.MonkeyPatch,
    delivery: str,
) -> None:
    # Given a command to 50 things being expanded, its executions written ten at a time
    template(api, delivery)
    site(50)
    monkeypatch.setattr(dispatch, "CHUNK", 10)
    write = CommandRepository.write_executions
    cancelled: list[int] = []

    def cancelled_meanwhile(self: CommandRepository, *args: Any, **kwargs: Any) -> None:
        write(self, *args, **kwargs)
        if not cancelled:  # an operator cancels while the expand is under way
            cancelled.append(api.patch("/commands/halted", {"status": "cancelled"}).status)

    monkeypatch.setattr(CommandRepository, "write_executions", cancelled_meanwhile)
    body = {"commandId": "halted", "templateId": "plain", "status": "in_progress", "targets": [GROUP]}
    assert api.post("/commands", body).status == 201

    # When the dispatch queue runs (a cancel step that had to wait would come back only later)
    api.drain()

    # Then the expand stopped at once, and every execution it wrote is CANCELED, counted as such
    assert cancelled == [204]
    command = api.get("/commands/halted").json()
    found = executions(api, "halted")
    assert command["status"] == "cancelled"
    assert set(found.values()) == {"CANCELED"}
    assert command["counts"] == {"CANCELED": len(found)}
    assert len(found) < 50  # it stopped writing
    # and nothing reached AWS IoT or the inbox
    assert iot.list_jobs()["jobs"] == []
    assert iot_commands.emulator.executions("halted") == []
    inbox = api.get("/v2/command-inbox/?device_id=dev-000").json()["content"]
    assert [item for item in inbox if item["request"] == "halted"] == []


def test_after_a_cancel_answers_aws_iot_starts_nothing_more_of_the_command(
    api: HandlerClient, site: Callable[[int], list[str]], iot_commands: EmulatedCommands
) -> None:
    # Given a command delivered by AWS IoT Commands to 60 things, started 16 at a time
    template(api, "command")
    site(60)
    answered_with: list[int] = []

    def cancel_at_the_fifth(thing: str, request: dict[str, Any]) -> None:
        started = len(iot_commands.emulator.executions("raced"))
        if started >= 5 and not answered_with:
            answered_with.append(-1)  # once
            assert api.patch("/commands/raced", {"status": "cancelled"}).status == 204
            answered_with[0] = len(iot_commands.emulator.executions("raced"))

    iot_commands.emulator.on_start(cancel_at_the_fifth)
    body = {"commandId": "raced", "templateId": "plain", "status": "in_progress", "targets": [GROUP]}

    # When an operator cancels while a batch is being started
    assert api.post("/commands", body).status == 201
    api.drain()

    # Then nothing started after the cancel answered: the rest of the batch was refused
    assert len(answered_with) == 1
    assert answered_with[0] >= 5
    assert len(iot_commands.emulator.executions("raced")) == answered_with[0] < 60
    counts = api.get("/commands/raced").json()["counts"]
    assert counts.get("CANCELED", 0) == 60 - answered_with[0]


@pytest.mark.parametrize("how", ["cancel", "delete"])
def test_a_cancelled_job_is_cancelled_in_aws_iot_before_the_answer(
    api: HandlerClient, published: Callable[..., str], iot: Any, how: str
) -> None:
    # Given a published command whose job runs
    published("running", ["a-1", "a-2"])

    # When it is cancelled or deleted (and before the dispatch queue runs)
    if how == "cancel":
        assert api.patch("/commands/running", {"status": "cancelled"}).status == 204
    else:
        assert api.delete("/commands/running").status == 204

    # Then AWS IoT already holds the job cancelled: it starts no more of its executions
    assert iot.describe_job(jobId="running")["job"]["status"] == "CANCELED"


@pytest.mark.parametrize("how", ["cancel", "delete"])
def test_a_cancelled_command_s_aws_iot_command_is_deprecated_before_the_answer(
    api: HandlerClient, site: Callable[[int], list[str]], how: str
) -> None:
    template(api, "command")
    site(2)
    body = {"commandId": "stopped", "templateId": "plain", "status": "in_progress", "targets": [GROUP]}
    assert api.post("/commands", body).status == 201
    api.drain()

    if how == "cancel":
        assert api.patch("/commands/stopped", {"status": "cancelled"}).status == 204
    else:
        assert api.delete("/commands/stopped").status in (202, 204)

    assert clients.client("iot").get_command(commandId="stopped")["deprecated"] is True


def test_a_cancelled_inbox_command_s_executions_handed_out_but_not_acknowledged_are_cancelled(
    api: HandlerClient, site: Callable[[int], list[str]]
) -> None:
    # Given an inbox command whose device dev-000 fetched it, and dev-001 acknowledged it too
    template(api, "inbox")
    site(3)
    body = {"commandId": "fetched", "templateId": "plain", "status": "in_progress", "targets": [GROUP]}
    assert api.post("/commands", body).status == 201
    api.drain()
    for thing in ("dev-000", "dev-001"):
        assert api.get(f"/v2/command-inbox/?device_id={thing}").status == 200
    acknowledged = {"state": "Command Acknowledged"}
    assert api.request("PUT", "/commands/v0/status/fetched.dev-001/", acknowledged).status == 200

    # When it is cancelled
    assert api.patch("/commands/fetched", {"status": "cancelled"}).status == 204
    api.drain()

    # Then what no device began is CANCELED; the device that acknowledged goes on (force would cancel it)
    assert executions(api, "fetched") == {"dev-000": "CANCELED", "dev-001": "ACKNOWLEDGED", "dev-002": "CANCELED"}
