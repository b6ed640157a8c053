"""An inbox device whose fetch answer is lost still gets its execution: once its lease has passed without an
acknowledgement, the service hands it out again, and the simulated device completes it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.e2e.conftest import Runtime, start, stop

LEASE_SECONDS = 3
THING = "sim-001"


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    runtime = start({"INBOX_LEASE_SECONDS": str(LEASE_SECONDS), "FLEET_SIZE": "3", "SIM_DELAY_SECONDS": "0.2"})
    yield runtime
    stop(runtime)


def status(runtime: Runtime, status_id: str) -> dict[str, Any] | None:
    code, _, body = runtime.request("GET", f"/commands/v0/status/{status_id}")
    return body["content"] if code == 200 else None


def fetch_first(runtime: Runtime, command_id: str) -> bool:
    """Fetches the thing's inbox, as fast as it can, until the command's execution has left QUEUED; whether it
    was this fetch that handed it out (else the simulated device fetched it first)."""
    status_id = f"{command_id}.{THING}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        _, _, body = runtime.request("GET", f"/v2/command-inbox/?device_id={THING}")
        if status_id in [item["id"] for item in body["content"]]:
            return True  # and the answer is dropped: the device never sees it
        current = status(runtime, status_id)
        if current is not None and current["state"] != "Command Queued":
            return False
    raise AssertionError(f"{status_id} was not fetched within 20 s")


def test_a_device_whose_fetch_answer_was_lost_completes_the_execution_after_the_lease(runtime: Runtime) -> None:
    template = {"templateId": "lease", "operation": "x", "document": "{}", "delivery": "inbox"}
    assert runtime.request("POST", "/templates", template)[0] == 201
    # The simulated device polls once a second: this test's fetch nearly always comes first, but may not.
    for attempt in range(5):
        command_id = f"lost-{attempt}"
        body = {"commandId": command_id, "templateId": "lease", "status": "in_progress", "targets": [THING]}
        assert runtime.request("POST", "/commands", body)[0] == 201
        if fetch_first(runtime, command_id):
            break
    else:
        pytest.fail("the simulated device fetched every command before the test could")

    deadline = time.monotonic() + 30
    current = status(runtime, f"{command_id}.{THING}")
    while current and current["state"] != "Command Success" and time.monotonic() < deadline:
        time.sleep(0.2)
        current = status(runtime, f"{command_id}.{THING}")
    assert current is not None
    assert current["state"] == "Command Success"
    history = current["history"]
    assert [step["state"] for step in history] == [
        "Command Queued",
        "Command Initiated",  # once: handing it out again leaves it SENT
        "Command Acknowledged",
        "Command In Progress",
        "Command Success",
    ]
    sent, acknowledged = (datetime.fromisoformat(step["at"]) for step in history[1:3])
    # The device got it only once the lease had passed (a few milliseconds go between the fetch reading the clock
    # and its write recording the move).
    assert (acknowledged - sent).total_seconds() >= LEASE_SECONDS - 0.25
