"""Locally every function runs in one process and shares one logger; a log line still names the invocation
that wrote it when functions run at the same time, as it does in Lambda, where each has a process of its own."""

from __future__ import annotations

import io
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest

from commands_core.observability import logger
from local.api import proxy_event
from tests.conftest import INSTANCES, HandlerClient
from tests.integration.conftest import job_execution_event, sqs_event

THINGS = 24  # per function: each invocation ends one execution, and logs it


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    handler = logger.registered_handler
    captured = io.StringIO()
    previous = handler.setStream(captured)  # type: ignore[attr-defined]
    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # threads take turns often, as they would on more cores
    yield captured
    sys.setswitchinterval(switching)
    handler.setStream(previous)  # type: ignore[attr-defined]


def test_functions_running_at_once_each_log_their_own_keys(
    api: HandlerClient, parallel: HandlerClient, published: Callable[..., str], log_lines: io.StringIO
) -> None:
    cancelled = [f"cancel-{number:02d}" for number in range(THINGS)]
    ingested = [f"ingest-{number:02d}" for number in range(THINGS)]
    published("cmd-a", cancelled)
    published("cmd-b", ingested)
    log_lines.seek(0)
    log_lines.truncate()
    # What each invocation's line must say: function, correlation id, and the keys the services append.
    expected: set[tuple[str, str, str, str]] = set()
    calls: list[Callable[[], dict[str, Any]]] = []
    for number, thing in enumerate(cancelled):
        path = f"/commands/cmd-a/executions/{thing}"
        match = parallel.api.router.match("DELETE", path)
        assert not isinstance(match, list)
        event = proxy_event(match, method="DELETE", raw_path=path, query="", headers={}, body=b"")
        event["requestContext"]["requestId"] = f"request-{number}"
        calls.append(partial(parallel.functions.invoke, "executions_cancel", event))
        expected.add(("executions_cancel", f"request-{number}", "cmd-a", thing))
    now = math.ceil(time.time())  # events are dated after the command was published
    for number, thing in enumerate(ingested):
        batch = sqs_event([job_execution_event("cmd-b", thing, "SUCCEEDED", now)], prefix=f"message-{number}-")
        calls.append(partial(parallel.functions.invoke, "status_ingest", batch))
        expected.add(("status_ingest", f"message-{number}-0", "cmd-b", thing))
    # Interleaved, so that both functions run at once on every instance.
    order = [call for pair in zip(calls[:THINGS], calls[THINGS:], strict=True) for call in pair]

    with ThreadPoolExecutor(2 * INSTANCES) as pool:
        replies = list(pool.map(lambda call: call(), order))

    assert all(reply["statusCode"] == 204 for reply in replies[::2])
    assert all(reply == {"batchItemFailures": []} for reply in replies[1::2])
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines() if line.startswith("{")]
    ended = [line for line in lines if line.get("message") == "execution ended"]
    written = [
        (line.get("function_name"), line.get("correlation_id"), line.get("command_id"), line.get("thing_name"))
        for line in ended
    ]
    assert sorted(written, key=str) == sorted(expected)
    # The line's own fields (not appended keys) say which function wrote it: it agrees with function_name.
    assert {(line["function_name"], line["to"]) for line in ended} == {
        ("executions_cancel", "CANCELED"),
        ("status_ingest", "SUCCEEDED"),
    }
