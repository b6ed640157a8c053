"""ingest_100k: 100,000 AWS IoT job execution events through the status consumer's real code, one consumer.

One published command of the job delivery with `events` executions, QUEUED (written straight into the table:
setting up is not what is measured); then one `$aws/events/jobExecution/<jobId>/succeeded` event per execution,
in a shuffled order, in SQS batches of the consumer's batch size, each given to the status_ingest handler as
Lambda would. The store is the embedded DynamoDB answering in process (SQLite, no network), so the rate is the
code's own: a deployed consumer also waits for DynamoDB's answers (a few milliseconds a call).

Reported: events per second of the one consumer; AWS calls and DynamoDB write units per event; and, from every
write the consumer made (item keys recorded by a botocore hook), the most writes any one item took in one second
and which item that was (the command's counts item: every execution's change writes it), against the item's
limit, DynamoDB's 1,000 write units a second (a transactional write of an item under 1 KB costs 2).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

from bench.delivery import sqs_event
from commands_core import dependencies
from commands_core.adapters import aws as clients
from commands_core.models.commands import Command
from commands_core.wiring import CONSUMERS
from local import aws as local_aws
from local import moto_iot
from local.calls import Calls
from local.lambdas import Functions

COMMAND = "ingest"
ITEM_WRITE_UNITS_PER_SECOND = 1_000  # DynamoDB's most for one item (one partition's)


def ingest_100k(events: int = 100_000, seed: int = 7) -> dict[str, Any]:
    from moto import mock_aws

    env = local_aws.environment(aws_port=None) | {
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    consumer = next(consumer for consumer in CONSUMERS if consumer.function == "status_ingest")
    moto_iot.install()
    with (
        mock.patch.dict(os.environ, env),
        mock_aws(),
        local_aws.in_process(local_aws.sqs(), local_aws.dynamodb(), local_aws.eventbridge()),
    ):
        dependencies.reset()
        local_aws.create_resources(env)
        # Before any client is made: each copies its session's handlers when made.
        writes = _ItemWrites()
        calls = Calls()
        session = clients.session().events
        stops = [calls.install(session), writes.install(session)]
        things = [f"thing-{number:06d}" for number in range(events)]
        _command(things)
        functions = Functions([consumer.function])
        before = calls.snapshot()
        writes.by_second.clear()
        order = random.Random(seed).sample(things, len(things))
        try:
            # The functions' metrics (EMF lines on stdout) are not what is measured.
            silenced = contextlib.redirect_stdout(io.StringIO())
            silenced.__enter__()
            started = time.perf_counter()
            for start in range(0, len(order), consumer.batch_size):
                batch = order[start : start + consumer.batch_size]
                event = sqs_event([json.dumps(_event(thing)) for thing in batch], consumer.queue)
                answer = functions.invoke(consumer.function, event)
                if answer["batchItemFailures"]:
                    raise RuntimeError(f"status_ingest failed messages: {answer['batchItemFailures']}")
            seconds = time.perf_counter() - started
        finally:
            silenced.__exit__(None, None, None)
            for stop in stops:
                stop()
        command = dependencies.ports().commands.get(COMMAND)
        dependencies.reset()
    counts = {status: count for status, count in (command.counts if command else {}).items() if count}
    if command is None or counts != {"SUCCEEDED": events} or command.status != "completed":
        raise RuntimeError(f"the command ended {command and command.status} with counts {command and command.counts}")
    after = calls.snapshot()
    spent = {
        "calls": {name: count - before["calls"].get(name, 0) for name, count in after["calls"].items()},
        "dynamodbWriteUnits": after["dynamodbWriteUnits"] - before["dynamodbWriteUnits"],
    }
    key, busiest = writes.busiest()
    return {
        "events": events,
        "batch_size": consumer.batch_size,
        "seconds": round(seconds, 1),
        "events_per_second": round(events / seconds),
        # Calls per event; those made once for the command (its completion) are left out.
        "aws_calls_per_event": {
            name: round(count / events, 3) for name, count in spent["calls"].items() if count >= events / 100
        },
        "write_units_per_event": round(spent["dynamodbWriteUnits"] / events, 2),
        "max_item_writes_per_second": busiest,
        "busiest_item": key,
        "item_limit_writes_per_second": ITEM_WRITE_UNITS_PER_SECOND // 2,  # transactional, under 1 KB
    }


def _command(things: list[str]) -> None:
    """A command of the job delivery, published a minute ago, every execution QUEUED."""
    ports = dependencies.ports()
    at = datetime.now(UTC) - timedelta(minutes=1)
    command = Command(
        command_id=COMMAND,
        template_id="bench",
        status="in_progress",
        targets=["thing-000000"],
        job_id=COMMAND,
        delivery="job",
        dispatch_step="done",
        document="{}",
        created_at=at,
        updated_at=at,
        published_at=at,
        total=len(things),
        dispatched=len(things),
    )
    ports.commands.create(command)
    ports.commands.reset_counts(COMMAND, {"QUEUED": len(things)}, [], at)
    ports.commands.write_executions(COMMAND, [(thing, None) for thing in things], at, "QUEUED")


def _event(thing: str) -> dict[str, Any]:
    moment = int(time.time())
    return {
        "eventType": "JOB_EXECUTION",
        "eventId": f"{COMMAND}-{thing}",
        "timestamp": moment,
        "operation": "succeeded",
        "jobId": COMMAND,
        "thingArn": f"arn:aws:iot:{local_aws.REGION}:{local_aws.ACCOUNT}:thing/{thing}",
        "status": "SUCCEEDED",
        "statusDetails": {},
    }


class _ItemWrites:
    """The DynamoDB items each write of the service's clients changes, by the second it was made."""

    def __init__(self) -> None:
        self.by_second: Counter[tuple[int, str]] = Counter()

    def install(self, events: Any) -> Any:
        events.register("provide-client-params.dynamodb", self._record, unique_id="bench-item-writes")
        return lambda: events.unregister("provide-client-params.dynamodb", unique_id="bench-item-writes")

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        second = math.floor(time.monotonic())
        if model.name == "TransactWriteItems":
            keys = [next(iter(entry.values())) for entry in params["TransactItems"]]
        elif model.name in ("UpdateItem", "PutItem", "DeleteItem"):
            keys = [params]
        else:
            return
        for entry in keys:
            key = entry.get("Key") or {name: entry["Item"][name] for name in ("commandId", "itemKey")}
            self.by_second[(second, f"{key['commandId']['S']}/{key['itemKey']['S']}")] += 1

    def busiest(self) -> tuple[str, int]:
        (_, key), count = self.by_second.most_common(1)[0]
        return key, count
