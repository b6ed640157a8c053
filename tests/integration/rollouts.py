"""A rollout's fleet for integration tests: the things of one command and their devices, for one delivery kind,
on simulated time (the `rollout` fixture in conftest.py makes one). Devices answer as tests say: a job's by
updating its execution in AWS IoT (moto), which publishes the event; AWS IoT Commands' through its emulator; the
inbox's by fetching and reporting over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from commands_core.adapters import aws as clients
from tests.conftest import EmulatedCommands, HandlerClient
from tests.integration.conftest import ACCOUNT, REGION, job_execution_event, job_things, sqs_event, thing_arn

KINDS = ["job", "command", "inbox"]


class Fleet:
    """The things of one rollout and their devices, for one delivery kind, on simulated time."""

    def __init__(self, api: HandlerClient, iot_commands: EmulatedCommands, kind: str, names: list[str]) -> None:
        self.api, self.iot_commands, self.kind, self.names = api, iot_commands, kind, names
        self.clock = iot_commands.clock

    def run(self, limit: int | None = None) -> int:
        """Hands the dispatch queue's messages to the dispatcher in due order (the clock moving to each)."""
        return self.clock.run(
            lambda message: self.api.functions.invoke("commands_dispatch", sqs_event([message])), limit=limit
        )

    def run_for(self, seconds: float) -> None:
        """Hands over the messages due within `seconds` from now; the clock then stands at the end of them."""
        until = self.clock() + seconds
        while (due := self.clock.next_due()) is not None and due < until:
            self.run(limit=1)
        self.clock.at = max(self.clock.at, until)

    def run_until(self, done: Callable[[], bool], limit: int = 100) -> None:
        """Hands the dispatch queue's messages over one at a time until `done` (before anything later is due)."""
        for _ in range(limit):
            if done():
                return
            assert self.run(limit=1) == 1, "the dispatch queue ran dry first"
        raise AssertionError("not done within the messages allowed")

    def started(self, command_id: str) -> dict[str, float]:
        """When each thing's execution reached its device's side: AWS IoT created it, or the inbox got it."""
        if self.kind == "command":
            return {
                item["targetArn"].rsplit("/", 1)[-1]: item["createdAt"]
                for item in self.iot_commands.emulator.executions(command_id)
            }
        # Added to the job's group, or released to the inbox: QUEUED by the rollout (not cancelled before).
        found: dict[str, float] = {}
        for name, status in statuses(self.api, command_id).items():
            if status != "SCHEDULED":
                history = self._execution(command_id, name)["history"]
                released = [step["at"] for step in history[:2] if step["to"] == "QUEUED"]
                found |= {name: _epoch(released[0])} if released else {}
        if self.kind == "job":
            assert set(found) <= set(job_things(clients.client("iot"), command_id))  # each one AWS IoT queued
        return found

    def _execution(self, command_id: str, thing: str) -> dict[str, Any]:
        return dict(self.api.get(f"/commands/{command_id}/executions/{thing}").json()["executions"][0])

    def answer(self, command_id: str, thing: str, status: str) -> None:
        """The thing's device does its execution and reports `status`."""
        if self.kind == "job":
            from moto.iot.models import iot_backends

            iot_backends[ACCOUNT][REGION].job_executions[(command_id, thing)].status = status
            event = job_execution_event(command_id, thing, status, int(self.clock()))
            assert self.api.functions.invoke("status_ingest", sqs_event([event])) == {"batchItemFailures": []}
            return
        if self.kind == "command":
            listed = clients.client("iot").list_command_executions(targetArn=thing_arn(thing))["commandExecutions"]
            (execution,) = [item for item in listed if item["commandArn"].endswith(f":command/{command_id}")]
            self.iot_commands.emulator.device_response(thing, execution["executionId"], {"status": status})
            if events := self.iot_commands.take_events():
                assert self.api.functions.invoke("status_ingest", sqs_event(events)) == {"batchItemFailures": []}
            return
        self.api.get(f"/v2/command-inbox/?device_id={thing}")  # hands it out, if not yet
        state = {"SUCCEEDED": "Command Success", "FAILED": "Command Failure"}[status]
        reply = self.api.request("PUT", f"/commands/v0/status/{command_id}.{thing}/", {"state": state})
        assert reply.status == 200, reply.body

    def answer_started(self, command_id: str, status: str = "SUCCEEDED", *, except_: tuple[str, ...] = ()) -> None:
        """Every device whose execution started and has not answered answers `status`."""
        done = {name for name, value in statuses(self.api, command_id).items() if value in ("SUCCEEDED", "FAILED")}
        for thing in sorted(set(self.started(command_id)) - done - set(except_)):
            self.answer(command_id, thing, status)


def _epoch(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def statuses(api: HandlerClient, command_id: str) -> dict[str, str]:
    found: dict[str, str] = {}
    token = ""
    while True:
        reply = api.get(f"/commands/{command_id}/executions?maxResults=100{token}").json()
        found |= {item["thingName"]: item["status"] for item in reply["executions"]}
        if not (after := reply["pagination"].get("nextToken")):
            return found
        token = f"&nextToken={after}"


def publish(fleet: Fleet, command_id: str, **fields: Any) -> None:
    body: dict[str, Any] = {"commandId": command_id, "templateId": "roll", "status": "in_progress"}
    body["targets"] = fleet.names
    reply = fleet.api.post("/commands", body | fields)
    assert reply.status == 201, reply.body


def command(fleet: Fleet, command_id: str) -> dict[str, Any]:
    return dict(fleet.api.get(f"/commands/{command_id}").json())
