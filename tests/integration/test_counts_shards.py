"""A command's counts are shards of their own: every execution's change writes one of them, spread over all by
thing name, so that no item of a large command takes every change; what GET and the list show is their sum, exact
under events at once and twice."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from commands_core.adapters import aws as clients
from commands_core.adapters.commands import COUNT_SHARDS
from commands_core.adapters.dynamo import from_item
from commands_core.settings import settings
from tests.conftest import HandlerClient
from tests.integration.conftest import job_execution_event, sqs_event

THINGS = [f"s{number:03d}" for number in range(120)]


def _shards(command_id: str) -> list[dict[str, int]]:
    answer = clients.client("dynamodb").query(
        TableName=settings().commands_table,
        KeyConditionExpression="commandId = :command AND begins_with(itemKey, :counts)",
        ExpressionAttributeValues={":command": {"S": command_id}, ":counts": {"S": "counts#"}},
        ConsistentRead=True,
    )
    return [from_item(item)["counts"] for item in answer["Items"]]


def test_the_counts_of_events_at_once_and_twice_are_exact_and_spread_over_the_shards(
    api: HandlerClient, published: Callable[..., str]
) -> None:
    command_id = published("sharded", THINGS)
    moment = int(time.time())
    outcomes = {thing: random.Random(thing).choice(["SUCCEEDED", "FAILED"]) for thing in THINGS}
    events = [job_execution_event(command_id, thing, status, moment) for thing, status in outcomes.items()] * 2
    random.Random(3).shuffle(events)
    batches = [events[start : start + 10] for start in range(0, len(events), 10)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        replies: list[Any] = list(
            pool.map(lambda batch: api.functions.invoke("status_ingest", sqs_event(batch)), batches)
        )

    assert all(reply == {"batchItemFailures": []} for reply in replies)
    expected = dict(Counter(outcomes.values()))
    command = api.get(f"/commands/{command_id}").json()
    assert (command["status"], command["counts"]) == ("completed", expected)
    listed = api.get("/commands?status=completed").json()["results"]
    assert next(entry for entry in listed if entry["commandId"] == command_id)["counts"] == expected
    shards = _shards(command_id)
    assert len(shards) == COUNT_SHARDS
    ended = [sum(shard.get(status, 0) for status in expected) for shard in shards]
    assert sum(ended) == len(THINGS)
    assert max(ended) <= 3 * len(THINGS) // COUNT_SHARDS  # each shard took its share of the ends, not all of them
