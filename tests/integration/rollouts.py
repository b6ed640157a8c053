"""A rollout's fleet for integration tests: the things of one command and their devices, for one delivery kind,
on simulated time (the `rollout` fixture in conftest.py makes one). Devices answer as tests say: a job's by
updating its execution in AWS IoT (moto), which publishes the event; AWS IoT Commands' through its emulator; the
inbox's by fetching and reporting over HTTP."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from commands_core.adapters import aws as clients
from commands_core.wiring import RULES
from local.rules import matches, selected
from tests.conftest import EmulatedCommands, HandlerClient
from tests.integration.conftest import ACCOUNT, REGION, job_execution_event, job_things, sqs_event, thing_arn

KINDS = ["job", "command", "inbox"]


class Fleet:
    """The things of one rollout and their devices, for one delivery kind, on simulated time."""

    def __init__(
        self,
        api: HandlerClient,
        iot_commands: EmulatedCommands,
        kind: str,
        names: list[str],
        registry_events: list[tuple[str, dict[str, Any]]] | None = None,
    ) -> None:
        self.api, self.iot_commands, self.kind, self.names = api, iot_commands, kind, names
        self.clock = iot_commands.clock
        self.registry_events = registry_events if registry_events is not None else []
        self.delivered: list[dict[str, Any]] = []  # the AWS IoT events that reached the service, in order

    def join(self, group: str, *things: str, deliver: bool = True) -> list[dict[str, Any]]:
        """Adds the things (created if new) to the group in AWS IoT, which publishes a registry event for each; the
        membership rule's messages, handed to its consumer (`deliver`), and returned."""
        iot = clients.client("iot")
        for thing in things:
            with contextlib.suppress(iot.exceptions.ResourceAlreadyExistsException):
                iot.create_thing(thingName=thing)  # (AWS IoT answers an identical create with the thing)
            iot.add_thing_to_thing_group(thingGroupName=group, thingName=thing)
        messages = self.membership_messages()
        if deliver and messages:
            assert self.api.functions.invoke("targets_join", sqs_event(messages)) == {"batchItemFailures": []}
        return messages

    def leave(self, group: str, thing: str) -> list[dict[str, Any]]:
        """Removes the thing from the group in AWS IoT; what the rules made of its event (no rule takes it)."""
        clients.client("iot").remove_thing_from_thing_group(thingGroupName=group, thingName=thing)
        return self.membership_messages()

    def membership_messages(self) -> list[dict[str, Any]]:
        """The registry events published since last asked, as the rules deliver them into the membership queue."""
        published, self.registry_events[:] = list(self.registry_events), []
        return [
            selected(rule, topic, payload)
            for topic, payload in published
            for rule in RULES
            if rule.queue == "membership" and matches(rule.topic_filter, topic) and rule.takes(topic)
        ]

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

    def reached(self, command_id: str) -> list[str]:
        """The things whose device side holds the command's execution: AWS IoT's job executions, AWS IoT Commands'
        executions, or what each thing's inbox fetch hands out (a fetch: it hands those out)."""
        if self.kind == "job":
            return job_things(clients.client("iot"), command_id)
        if self.kind == "command":
            return sorted(
                item["targetArn"].rsplit("/", 1)[-1] for item in self.iot_commands.emulator.executions(command_id)
            )
        fetched = [self.api.get(f"/v2/command-inbox/?device_id={name}").json()["content"] for name in self.names]
        return sorted(item["device"] for items in fetched for item in items if item["request"] == command_id)

    def _execution(self, command_id: str, thing: str) -> dict[str, Any]:
        return dict(self.api.get(f"/commands/{command_id}/executions/{thing}").json()["executions"][0])

    def answer(self, command_id: str, thing: str, status: str) -> None:
        """The thing's device does its execution (its latest: a retry policy may have started it again) and
        reports `status`; TIMED_OUT is AWS IoT timing a job's execution out, or the device saying it timed out."""
        if self.kind == "job":
            from moto.iot.models import iot_backends

            from local import moto_iot

            with moto_iot.LOCK.exclusive():  # AWS IoT queues it again if the job's retry policy says so
                moto_iot.update_execution(iot_backends[ACCOUNT][REGION], command_id, thing, status)
            event = job_execution_event(command_id, thing, status, int(self.clock()))
            self.ingest([event])
            return
        if self.kind == "command":
            self.iot_commands.emulator.device_response(thing, self.execution_id(thing, command_id), {"status": status})
            self.ingest_command_events()
            return
        self.api.get(f"/v2/command-inbox/?device_id={thing}")  # hands it out, if not yet
        state = {"SUCCEEDED": "Command Success", "FAILED": "Command Failure", "TIMED_OUT": "Command TimeOut"}[status]
        reply = self.api.request("PUT", f"/commands/v0/status/{command_id}.{thing}/", {"state": state})
        assert reply.status == 200, reply.body

    def execution_id(self, thing: str, command_id: str) -> str:
        """The thing's latest AWS IoT Commands execution of the command: the one not ended, else the last created."""
        listed = clients.client("iot").list_command_executions(targetArn=thing_arn(thing))["commandExecutions"]
        listed = [item for item in listed if item["commandArn"].endswith(f":command/{command_id}")]
        latest = max(listed, key=lambda item: (item["status"] in ("CREATED", "IN_PROGRESS"), item["createdAt"]))
        return str(latest["executionId"])

    def ingest_command_events(self) -> None:
        """AWS IoT Commands' events published since last taken reach the service."""
        if events := self.iot_commands.take_events():
            self.ingest(events)

    def ingest(self, events: list[dict[str, Any]]) -> None:
        """AWS IoT events, as the topic rules deliver them, reach the service."""
        self.delivered += events
        assert self.api.functions.invoke("status_ingest", sqs_event(events)) == {"batchItemFailures": []}

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
