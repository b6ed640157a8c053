"""A command's counts always equal its executions, whatever the interleaving: every event delivered three times,
shuffled, in batches of any size, on eight threads and four instances of each function at once (as Lambda
scales out), with stray events mixed in; for each delivery."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest

from commands_core.adapters import aws as clients
from tests.conftest import EmulatedCommands, HandlerClient
from tests.integration.conftest import job_execution_event, sqs_event, thing_arn

THINGS = [f"dev-{number:02d}" for number in range(40)]
STRANGERS = ["stranger-1", "stranger-2"]  # things of the account that the command does not target
THREADS = 8
COPIES = 3
ENDS = ("SUCCEEDED", "FAILED", "REJECTED", "SUCCEEDED", "TIMED_OUT")


def publish(api: HandlerClient, things: Callable[..., list[str]], delivery: str, **settings: Any) -> None:
    things(*THINGS, *STRANGERS)
    template = {"templateId": "plain", "operation": "op", "document": json.dumps({"op": 1}), "delivery": delivery}
    template |= settings
    assert api.post("/templates", template).status == 201
    body = {"commandId": "cmd", "templateId": "plain", "status": "in_progress", "targets": THINGS}
    assert api.post("/commands", body).status == 201
    api.drain()


def at_once(work: Iterable[Callable[[], Any]]) -> list[Any]:
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(lambda call: call(), list(work)))


def ingest_shuffled(api: HandlerClient, events: list[dict[str, Any]], seed: int) -> None:
    """Each event COPIES times, shuffled, in batches of 1 to 10, on THREADS threads; the records a batch reports
    failed are delivered again, as SQS would, until none fails."""
    rng = random.Random(seed)
    pending = events * COPIES
    while pending:
        rng.shuffle(pending)
        batches = []
        while pending:
            size = rng.randint(1, 10)
            batches.append(pending[:size])
            pending = pending[size:]
        replies = at_once(partial(api.functions.invoke, "status_ingest", sqs_event(batch)) for batch in batches)
        for batch, reply in zip(batches, replies, strict=True):
            pending += [batch[int(failure["itemIdentifier"][1:])] for failure in reply["batchItemFailures"]]


def executions(api: HandlerClient) -> dict[str, str]:
    found: dict[str, str] = {}
    token = ""
    while True:
        reply = api.get(f"/commands/cmd/executions?maxResults=7{token}").json()
        found |= {item["thingName"]: item["status"] for item in reply["executions"]}
        if "nextToken" not in reply["pagination"]:
            return found
        token = f"&nextToken={reply['pagination']['nextToken']}"


def assert_counts_are_the_executions(api: HandlerClient, expected: dict[str, str]) -> None:
    found = executions(api)
    command = api.get("/commands/cmd").json()
    assert found == expected  # every target once, each where its events took it; no stranger
    assert command["counts"] == dict(Counter(found.values()))
    assert command["status"] == "completed"


def test_job_events_at_once_leave_counts_equal_to_the_executions(
    parallel: HandlerClient, things: Callable[..., list[str]]
) -> None:
    publish(parallel, things, "job")
    base = int(datetime.now(UTC).timestamp())
    ends = {thing: ENDS[number % len(ENDS)] for number, thing in enumerate(THINGS)}
    events = [
        job_execution_event("cmd", thing, status, base + step)
        for thing, end in ends.items()
        for step, status in enumerate(("IN_PROGRESS", end))
    ]
    events += [job_execution_event("cmd", stranger, "SUCCEEDED", base + 1) for stranger in STRANGERS]
    events += [job_execution_event("cmd", "evil.name", "FAILED", base + 1), {"eventType": "JOB_EXECUTION"}]

    ingest_shuffled(parallel, events, seed=1)

    assert_counts_are_the_executions(parallel, ends)


def test_command_events_at_once_leave_counts_equal_to_the_executions(
    parallel: HandlerClient, things: Callable[..., list[str]], iot_commands: EmulatedCommands
) -> None:
    publish(parallel, things, "command", executionTimeoutSeconds=60)
    emulator = iot_commands.emulator
    started = {
        item["targetArn"].rsplit("/", 1)[1]: item["executionId"]
        for item in clients.client("iot").list_command_executions(
            commandArn=emulator.executions("cmd")[0]["commandArn"], maxResults=100
        )["commandExecutions"]
    }
    ends = {thing: ENDS[number % len(ENDS)] for number, thing in enumerate(THINGS)}
    silent = [thing for thing, end in ends.items() if end == "TIMED_OUT"]
    for thing, end in ends.items():  # each device answers, but the silent ones
        if thing not in silent:
            emulator.device_response(thing, started[thing], {"status": "IN_PROGRESS"})
            emulator.device_response(thing, started[thing], {"status": end})
    iot_commands.clock.advance(61)  # AWS IoT times the silent out (cloud TIMED_OUT)...
    assert emulator.expire() == len(silent)
    late = silent[0]  # ...and one answers late all the same: AWS IoT records it, and so does the service
    emulator.device_response(late, started[late], {"status": "SUCCEEDED"})
    ends[late] = "SUCCEEDED"
    events = iot_commands.take_events()
    stray = dict(events[-1], targetArn=thing_arn(STRANGERS[0]), executionId="not-one-of-ours")
    events.append(stray)

    ingest_shuffled(parallel, events, seed=2)

    assert_counts_are_the_executions(parallel, ends)


def test_inbox_reports_at_once_leave_counts_equal_to_the_executions(
    parallel: HandlerClient, things: Callable[..., list[str]]
) -> None:
    publish(parallel, things, "inbox")
    ends = {thing: ("Command Success" if number % 3 else "Command Failure") for number, thing in enumerate(THINGS)}

    def device(thing: str) -> Callable[[], None]:
        def work() -> None:
            parallel.get(f"/v2/command-inbox/?device_id={thing}")
            for state in ("Command Acknowledged", "Command In Progress", ends[thing], "Command Acknowledged"):
                parallel.request("PUT", f"/commands/v0/status/cmd.{thing}/", {"state": state})

        return work

    # Each device twice at once (a device retrying its reports), all devices at once
    at_once(device(thing) for thing in THINGS * 2)

    names = {"Command Success": "SUCCEEDED", "Command Failure": "FAILED"}
    assert_counts_are_the_executions(parallel, {thing: names[state] for thing, state in ends.items()})


@pytest.mark.parametrize("seed", [3, 4])
def test_reconciler_runs_at_once_with_events_change_no_count(
    parallel: HandlerClient, things: Callable[..., list[str]], seed: int
) -> None:
    publish(parallel, things, "job")
    base = int(datetime.now(UTC).timestamp())
    ends = {thing: ENDS[number % len(ENDS)] for number, thing in enumerate(THINGS)}
    events = [job_execution_event("cmd", thing, end, base + 1) for thing, end in ends.items()]
    reconcile = [lambda: parallel.functions.invoke("reconcile", {"source": "aws.events"}) for _ in range(4)]

    at_once([lambda: ingest_shuffled(parallel, events, seed), *reconcile])

    assert_counts_are_the_executions(parallel, ends)


RETRY_ONCE = {"jobExecutionsRetryConfig": {"criteriaList": [{"failureType": "ALL", "numberOfRetries": 1}]}}
# Each thing's attempts: those ending FAILED or TIMED_OUT are retried once (the policy's ALL).
ATTEMPTS = (
    ("SUCCEEDED",),
    ("FAILED", "SUCCEEDED"),
    ("FAILED", "FAILED"),
    ("TIMED_OUT", "SUCCEEDED"),
    ("REJECTED",),
    ("TIMED_OUT", "FAILED"),
)


def test_job_events_of_retried_executions_at_once_leave_counts_equal_to_the_executions(
    parallel: HandlerClient, things: Callable[..., list[str]]
) -> None:
    from moto.iot.models import iot_backends

    from local import moto_iot
    from tests.integration.conftest import ACCOUNT, REGION

    publish(parallel, things, "job", **RETRY_ONCE)
    base = int(datetime.now(UTC).timestamp())
    runs = {thing: ATTEMPTS[number % len(ATTEMPTS)] for number, thing in enumerate(THINGS)}
    events = []
    with moto_iot.LOCK.exclusive():  # the devices answer each attempt; AWS IoT queues the retries
        for thing, ends in runs.items():
            for attempt, end in enumerate(ends):
                assert moto_iot.update_execution(iot_backends[ACCOUNT][REGION], "cmd", thing, end) == (
                    attempt == 0 and len(ends) == 2
                )
                events.append(job_execution_event("cmd", thing, end, base + 2 * attempt))
    events += [job_execution_event("cmd", stranger, "FAILED", base + 1) for stranger in STRANGERS]

    ingest_shuffled(parallel, events, seed=5)
    # Job events do not say their attempt: a second failure ingested before the first is taken for it, and the
    # first is then stale; the reconciler reads AWS IoT's execution number, which does.
    parallel.functions.invoke("reconcile", {})

    assert_counts_are_the_executions(parallel, {thing: ends[-1] for thing, ends in runs.items()})


@pytest.mark.parametrize("seed", [6, 7])
def test_command_events_of_retried_executions_and_stale_copies_at_once_leave_counts_equal_to_the_executions(
    parallel: HandlerClient, things: Callable[..., list[str]], iot_commands: EmulatedCommands, seed: int
) -> None:
    publish(parallel, things, "command", **RETRY_ONCE)
    emulator = iot_commands.emulator
    runs = {thing: ATTEMPTS[number % len(ATTEMPTS)] for number, thing in enumerate(THINGS)}
    first_attempts: list[dict[str, Any]] = []
    for attempt in (0, 1):
        for thing, ends in runs.items():
            if attempt < len(ends):
                (started,) = [
                    item
                    for item in clients.client("iot").list_command_executions(targetArn=thing_arn(thing))[
                        "commandExecutions"
                    ]
                    if item["status"] == "CREATED"
                ]
                emulator.device_response(thing, started["executionId"], {"status": "IN_PROGRESS"})
                emulator.device_response(thing, started["executionId"], {"status": ends[attempt]})
        events = iot_commands.take_events()
        if attempt == 0:
            first_attempts = events
        else:  # the first attempts' events again, duplicated and late: after the second attempts began
            events += first_attempts
        ingest_shuffled(parallel, events, seed=seed + attempt)
        parallel.drain()  # the dispatcher starts the retried executions' second attempts

    assert_counts_are_the_executions(parallel, {thing: ends[-1] for thing, ends in runs.items()})
    retried = [thing for thing, ends in runs.items() if len(ends) == 2]
    history = parallel.get(f"/commands/cmd/executions/{retried[0]}").json()["executions"][0]["history"]
    assert next(step["attempt"] for step in history if step["to"] in ("FAILED", "TIMED_OUT")) == 1
    assert {step["attempt"] for step in history} == {1, 2}


def test_inbox_reports_of_retried_executions_at_once_leave_counts_equal_to_the_executions(
    parallel: HandlerClient, things: Callable[..., list[str]]
) -> None:
    publish(parallel, things, "inbox", **RETRY_ONCE)
    states = {"SUCCEEDED": "Command Success", "FAILED": "Command Failure", "TIMED_OUT": "Command TimeOut"}
    # An inbox device cannot reject: it succeeds instead.
    runs = {thing: ATTEMPTS[number % len(ATTEMPTS)] for number, thing in enumerate(THINGS)}
    runs = {thing: ("SUCCEEDED",) if ends == ("REJECTED",) else ends for thing, ends in runs.items()}

    def device(thing: str, attempt: int, *, fetch: bool = True) -> Callable[[], None]:
        """The device fetches its execution and reports it done; without `fetch`, only the reports (sent again
        by a device whose answers were lost): the copies change nothing, whenever they land."""

        def work() -> None:
            if fetch:
                parallel.get(f"/v2/command-inbox/?device_id={thing}")
            for state in ("Command Acknowledged", "Command In Progress", states[runs[thing][attempt]]):
                parallel.request("PUT", f"/commands/v0/status/cmd.{thing}/", {"state": state})

        return work

    # Every device with a copy of its reports at once, attempt after attempt. (A copy of the first attempt's
    # reports sent after the device fetched the second is the second's: the status API does not say attempts.)
    at_once([*(device(thing, 0) for thing in runs), *(device(thing, 0, fetch=False) for thing in runs)])
    parallel.drain()  # the dispatcher releases the retried executions' second attempts
    retried = [thing for thing, ends in runs.items() if len(ends) == 2]
    at_once([*(device(thing, 1) for thing in retried), *(device(thing, 1, fetch=False) for thing in retried)])

    assert_counts_are_the_executions(parallel, {thing: ends[-1] for thing, ends in runs.items()})
