"""The AWS calls the service's functions made while the local runtime ran, by service and operation, with the
DynamoDB capacity units they consumed: what a command costs, seen locally (GET /_local/calls).

Only the functions' calls are counted (their boto3 session's); the runtime's own (the queues' polling, the
simulated fleet, the API Gateway and IoT rules it plays) are AWS's in a deployment, not the service's. Each
DynamoDB call asks for ReturnConsumedCapacity, which the embedded DynamoDB answers from the items' sizes as
DynamoDB charges them; the functions ignore it. A call is counted once, whatever botocore retried.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

# DynamoDB's operations that take ReturnConsumedCapacity.
_CAPACITY = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)


class Calls:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._units = {"read": 0.0, "write": 0.0}

    def install(self, events: Any) -> Callable[[], None]:
        """Counts the calls of the clients of the session whose `events` these are; what it returns stops that."""
        hooks = (
            ("before-parameter-build.dynamodb", self._ask_capacity, "local-calls-capacity"),
            ("after-call", self._count, "local-calls-count"),
        )
        for event, hook, name in hooks:
            events.register(event, hook, unique_id=name)

        def stop() -> None:
            for event, _, name in hooks:
                events.unregister(event, unique_id=name)

        return stop

    def _ask_capacity(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in _CAPACITY:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def _count(self, event_name: str, parsed: dict[str, Any], **_: Any) -> None:
        service, operation = event_name.split(".")[1:3]
        consumed = parsed.get("ConsumedCapacity") or []  # one table's, or a batch's or transaction's: a list
        entries: list[dict[str, Any]] = consumed if isinstance(consumed, list) else [consumed]
        with self._lock:
            self._calls[f"{service}.{operation}"] += 1
            for entry in entries:
                self._units["read"] += entry.get("ReadCapacityUnits", 0.0)
                self._units["write"] += entry.get("WriteCapacityUnits", 0.0)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(sorted(self._calls.items())),
                "total": sum(self._calls.values()),
                "dynamodbReadUnits": self._units["read"],
                "dynamodbWriteUnits": self._units["write"],
            }

    def answer(self, query: dict[str, str], accept: str) -> tuple[int, Any]:
        """GET /_local/calls: every call counted since the runtime started (a client takes the difference of two
        readings for what happened in between)."""
        if query:
            return HTTPStatus.BAD_REQUEST, {"error": f"{sorted(query)[0]}: /_local/calls takes no parameters"}
        return HTTPStatus.OK, self.snapshot()
