"""Requests and events at the same time, on several function instances at once (as Lambda scales out), against
moto: nothing is published twice, no count is lost."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from commands_core.adapters import aws as clients
from tests.conftest import INSTANCES, EmulatedCommands, HandlerClient
from tests.integration.conftest import job_execution_event, sqs_event


def at_once(call: Callable[[int], Any], times: int = INSTANCES) -> list[Any]:
    with ThreadPoolExecutor(times) as pool:
        return list(pool.map(call, range(times)))


def draft(api: HandlerClient, things: Callable[..., list[str]], delivery: str, count: int) -> list[str]:
    names = things(*[f"dev-{number:02d}" for number in range(count)])
    document = json.dumps({"op": "reboot"})
    template = {"templateId": "plain", "operation": "reboot", "document": document, "delivery": delivery}
    assert api.post("/templates", template).status == 201
    assert api.post("/commands", {"commandId": "cmd", "templateId": "plain", "targets": names}).status == 201
    return names


def test_publishes_at_once_create_one_job(parallel: HandlerClient, things: Callable[..., list[str]]) -> None:
    names = draft(parallel, things, "job", 3)

    replies = at_once(lambda _: parallel.patch("/commands/cmd", {"status": "in_progress"}))
    parallel.drain()

    assert {reply.status for reply in replies} <= {204, 409}
    assert [job["jobId"] for job in clients.client("iot").list_jobs()["jobs"]] == ["cmd"]
    command = parallel.get("/commands/cmd").json()
    assert command["jobId"] == "cmd"
    assert command["counts"] == {"QUEUED": len(names)}


def test_publishes_at_once_start_each_thing_once(
    parallel: HandlerClient, things: Callable[..., list[str]], iot_commands: EmulatedCommands
) -> None:
    names = draft(parallel, things, "command", 5)
    started: list[str] = []
    iot_commands.emulator.on_start(lambda thing, request: started.append(thing))

    at_once(lambda _: parallel.patch("/commands/cmd", {"status": "in_progress"}))
    parallel.drain()

    assert sorted(started) == names
    assert len(iot_commands.emulator.executions("cmd")) == len(names)


def test_status_events_at_once_lose_no_count(parallel: HandlerClient, things: Callable[..., list[str]]) -> None:
    names = draft(parallel, things, "job", 12)
    assert parallel.patch("/commands/cmd", {"status": "in_progress"}).status == 204
    parallel.drain()
    # Each thing's story, every event twice, each event a batch of its own, all at once and in no order.
    stories = {name: ("IN_PROGRESS", "SUCCEEDED" if number % 3 else "FAILED") for number, name in enumerate(names)}
    at = int(time.time())  # AWS IoT's time of the events: after publishing
    events = [
        job_execution_event("cmd", name, status, at + step)
        for name, story in stories.items()
        for step, status in enumerate(story)
    ]
    batches = [sqs_event([event], prefix=f"m{number}-") for number, event in enumerate(events * 2)]

    replies = at_once(lambda number: [parallel.functions.invoke("status_ingest", b) for b in batches[number::8]], 8)

    assert all(reply == {"batchItemFailures": []} for replies_of in replies for reply in replies_of)
    command = parallel.get("/commands/cmd").json()
    assert command["counts"] == dict(Counter(story[-1] for story in stories.values()))
    assert command["status"] == "completed"


def test_deletes_at_once_delete_once_and_the_others_are_told_it_is_gone(
    parallel: HandlerClient, things: Callable[..., list[str]]
) -> None:
    draft(parallel, things, "job", 1)

    command_replies = at_once(lambda _: parallel.delete("/commands/cmd"))
    template_replies = at_once(lambda _: parallel.delete("/templates/plain"))

    for replies in (command_replies, template_replies):
        assert sorted(reply.status for reply in replies) == [204] + [404] * (INSTANCES - 1)
    assert parallel.get("/commands/cmd").status == 404
    assert parallel.get("/templates/plain").status == 404
