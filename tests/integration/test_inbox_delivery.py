"""The device inbox delivers at least once: an execution handed out and not acknowledged within its lease is
handed out again, once; nothing of a command no longer in progress is handed out. Through the real handlers,
against moto, with the service's clock moved by the tests."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from commands_core import clock, dependencies, resources
from commands_core.adapters.commands import CommandRepository
from commands_core.services import status as status_service
from commands_core.settings import Settings
from local import fleet
from tests.conftest import INSTANCES, HandlerClient

LEASE = timedelta(seconds=60)  # the default of INBOX_LEASE_SECONDS


@pytest.fixture
def mailed(
    api: HandlerClient, template: Callable[..., dict[str, Any]], things: Callable[..., list[str]]
) -> Callable[..., str]:
    """Publishes an inbox command (template `mailbox`) to the given things; its id."""
    things("d-1", "d-2")
    document = json.dumps({"op": "calibrate"})
    template("mailbox", document=document, requiredDocumentParameters=[], requiredFiles=[], delivery="inbox")

    def publish(command_id: str, names: list[str]) -> str:
        body = {"commandId": command_id, "templateId": "mailbox", "status": "in_progress", "targets": names}
        assert api.post("/commands", body).status == 201
        api.drain()
        return command_id

    return publish


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], None]:
    """Moves the inbox's clock to `offset` after the test's start."""
    start = clock.now()

    def move(offset: timedelta) -> None:
        monkeypatch.setattr(status_service, "now", lambda: start + offset)

    move(timedelta(0))
    return move


def fetch(api: HandlerClient, device: str) -> list[str]:
    reply = api.get(f"/v2/command-inbox/?device_id={device}")
    assert reply.status == 200, reply.body
    return [item["id"] for item in reply.json()["content"]]


def state(api: HandlerClient, status_id: str) -> tuple[str, list[str]]:
    content = api.get(f"/commands/v0/status/{status_id}").json()["content"]
    return content["state"], [step["state"] for step in content["history"]]


def put(api: HandlerClient, status_id: str, new: str) -> tuple[int, str]:
    reply = api.request("PUT", f"/commands/v0/status/{status_id}/", {"state": new})
    return reply.status, reply.json()["content"]["state"] if reply.status == 200 else reply.json()["message"]


HANDED_OUT = ("Command Initiated", ["Command Queued", "Command Initiated"])


def test_an_execution_not_acknowledged_is_handed_out_again_after_its_lease_and_not_before(
    api: HandlerClient, mailed: Callable[..., str], at: Callable[[timedelta], None]
) -> None:
    mailed("cal", ["d-1"])

    assert fetch(api, "d-1") == ["cal.d-1"]
    assert state(api, "cal.d-1") == HANDED_OUT
    assert fetch(api, "d-1") == []  # within the lease: the device has it, or its answer is on its way
    at(LEASE - timedelta(seconds=1))
    assert fetch(api, "d-1") == []

    at(LEASE)
    assert fetch(api, "d-1") == ["cal.d-1"]  # no acknowledgement: the answer may have been lost
    assert state(api, "cal.d-1") == HANDED_OUT  # the status API shows the true state: sent, once
    assert fetch(api, "d-1") == []  # with a new lease
    at(2 * LEASE - timedelta(seconds=1))
    assert fetch(api, "d-1") == []
    at(2 * LEASE)
    assert fetch(api, "d-1") == ["cal.d-1"]

    assert put(api, "cal.d-1", "Command Acknowledged") == (200, "Command Acknowledged")
    at(10 * LEASE)
    assert fetch(api, "d-1") == []  # acknowledged: the device's now
    assert api.get("/commands/cal").json()["counts"] == {"ACKNOWLEDGED": 1}


def test_the_lease_is_the_inbox_lease_seconds_setting(
    api: HandlerClient, mailed: Callable[..., str], at: Callable[[timedelta], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INBOX_LEASE_SECONDS", "5")
    dependencies.reset()  # the settings are read once per process
    mailed("cal", ["d-1"])
    assert fetch(api, "d-1") == ["cal.d-1"]

    at(timedelta(seconds=4))
    assert fetch(api, "d-1") == []
    at(timedelta(seconds=5))
    assert fetch(api, "d-1") == ["cal.d-1"]


def test_the_inbox_lease_is_at_least_a_second_and_a_minute_by_default() -> None:
    required = {resource.env: "x" for resource in resources.ALL}

    assert Settings.from_env(required).inbox_lease_seconds == 60
    assert Settings.from_env(required | {"INBOX_LEASE_SECONDS": "1"}).inbox_lease_seconds == 1
    for wrong in ("0", "-5", "soon"):
        with pytest.raises(ValidationError):
            Settings.from_env(required | {"INBOX_LEASE_SECONDS": wrong})


@pytest.fixture
def at_once(monkeypatch: pytest.MonkeyPatch) -> Callable[[HandlerClient, str], list[str]]:
    """Fetches a device's inbox by INSTANCES requests at once, each on a function instance of its own; what they
    handed out, together. Each fetch, once it has read the device's executions, waits until all have: they all
    decide on the same reads, as fetches at the same time may."""
    barriers: list[threading.Barrier] = []
    read = CommandRepository.executions_on

    def executions_on(self: CommandRepository, thing_name: str, *, pending: bool = False) -> Iterator[Any]:
        found = list(read(self, thing_name, pending=pending))
        if pending and barriers:
            barriers[0].wait()
        return iter(found)

    monkeypatch.setattr(CommandRepository, "executions_on", executions_on)

    def fetch_at_once(client: HandlerClient, device: str) -> list[str]:
        barriers[:] = [threading.Barrier(INSTANCES, timeout=10)]
        try:
            with ThreadPoolExecutor(INSTANCES) as pool:
                answers = list(pool.map(lambda _: fetch(client, device), range(INSTANCES)))
        finally:
            barriers.clear()
        return sorted(status_id for answer in answers for status_id in answer)

    return fetch_at_once


def test_fetches_at_once_hand_each_execution_out_once(
    parallel: HandlerClient,
    mailed: Callable[..., str],
    at: Callable[[timedelta], None],
    at_once: Callable[[HandlerClient, str], list[str]],
) -> None:
    for command_id in ("one", "two", "three"):
        mailed(command_id, ["d-1"])

    assert at_once(parallel, "d-1") == ["one.d-1", "three.d-1", "two.d-1"]  # from QUEUED, each once
    at(LEASE)
    assert at_once(parallel, "d-1") == ["one.d-1", "three.d-1", "two.d-1"]  # again after the lease, each once

    for command_id in ("one", "two", "three"):
        assert state(parallel, f"{command_id}.d-1") == HANDED_OUT


def test_a_fetch_hands_out_what_the_inbox_index_read_without_reading_each_execution_again(
    api: HandlerClient, mailed: Callable[..., str], reads: Counter[str]
) -> None:
    mailed("cal", ["d-1"])

    reply = api.get("/v2/command-inbox/?device_id=d-1")

    assert reads["execution"] == 0
    (handed_out,) = reply.json()["content"]
    status = api.get("/commands/v0/status/cal.d-1").json()["content"]
    assert {key: handed_out[key] for key in status} == status  # as written: what a read then gives


@pytest.mark.parametrize("meanwhile", ["handed out", "cancelled"])
def test_a_fetch_whose_inbox_index_lags_hands_out_nothing_that_moved_on(
    api: HandlerClient, mailed: Callable[..., str], monkeypatch: pytest.MonkeyPatch, meanwhile: str
) -> None:
    # Given the inbox index (eventually consistent) still giving d-1's execution as QUEUED
    mailed("cal", ["d-1"])
    read = CommandRepository.executions_on
    before: list[Any] = []

    def lagging(self: CommandRepository, thing_name: str, *, pending: bool = False) -> Iterator[Any]:
        if not pending:
            return read(self, thing_name)
        if not before:
            before.extend(read(self, thing_name, pending=True))
        return iter(before)

    monkeypatch.setattr(CommandRepository, "executions_on", lagging)
    assert fetch(api, "d-1") == ["cal.d-1"]
    if meanwhile == "cancelled":
        assert put(api, "cal.d-1", "Command Cancelled") == (200, "Command Cancelled")

    # When it fetches again within the lease
    again = fetch(api, "d-1")

    # Then nothing is handed out, and the execution moved once
    assert again == []
    expected = HANDED_OUT if meanwhile == "handed out" else ("Command Cancelled", [*HANDED_OUT[1], "Command Cancelled"])
    assert state(api, "cal.d-1") == expected


@pytest.mark.parametrize("end", ["cancelled", "deleted"])
def test_nothing_of_a_command_no_longer_in_progress_is_handed_out(
    api: HandlerClient, mailed: Callable[..., str], at: Callable[[timedelta], None], end: str
) -> None:
    mailed("cal", ["d-1", "d-2"])
    assert fetch(api, "d-1") == ["cal.d-1"]  # d-1 has it (SENT); d-2 has not fetched yet (QUEUED)

    if end == "cancelled":
        assert api.patch("/commands/cal", {"status": "cancelled"}).status == 204
    else:
        assert api.delete("/commands/cal").status in (202, 204)
    # Before and after the cancel step has run: the device must not start work that was cancelled.
    at(LEASE)
    assert (fetch(api, "d-1"), fetch(api, "d-2")) == ([], [])
    assert (state(api, "cal.d-1")[0], state(api, "cal.d-2")[0]) == ("Command Initiated", "Command Queued")
    api.drain()
    assert (fetch(api, "d-1"), fetch(api, "d-2")) == ([], [])


def test_acknowledging_twice_is_harmless_and_ends_the_hand_outs(
    api: HandlerClient, mailed: Callable[..., str], at: Callable[[timedelta], None]
) -> None:
    mailed("cal", ["d-1"])
    assert fetch(api, "d-1") == ["cal.d-1"]
    at(LEASE)
    assert fetch(api, "d-1") == ["cal.d-1"]  # the device got it twice (say the first answer came late)

    assert put(api, "cal.d-1", "Command Acknowledged") == (200, "Command Acknowledged")
    assert put(api, "cal.d-1", "Command Acknowledged") == (200, "Command Acknowledged")  # for the second copy

    assert state(api, "cal.d-1") == ("Command Acknowledged", [*HANDED_OUT[1], "Command Acknowledged"])
    assert api.get("/commands/cal").json()["counts"] == {"ACKNOWLEDGED": 1}
    at(5 * LEASE)
    assert fetch(api, "d-1") == []
    for step in ("Command In Progress", "Command Success"):
        assert put(api, "cal.d-1", step) == (200, step)
    assert put(api, "cal.d-1", "Command Acknowledged")[0] == 400  # a copy late past the end changes nothing
    assert state(api, "cal.d-1")[0] == "Command Success"


def test_a_simulated_device_whose_fetch_failed_fetches_again(aws: dict[str, str], mailed: Callable[..., str]) -> None:
    # Given an inbox command waiting for d-1
    mailed("waiting", ["d-1"])
    # And a simulated device whose fetches fail before the service reads them: nothing listens at its API's port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{probe.getsockname()[1]}"
    inbox = fleet.Inbox(nowhere, None, aws, timeout=2)
    assert inbox.waiting({"d-1", "d-2"}) == {"d-1"}

    # When it fetches, and the fetch fails
    inbox.fetch_later(["d-1"])
    received: list[tuple[str, list[dict[str, Any]], float]] = []
    deadline = time.monotonic() + 10
    while not received and time.monotonic() < deadline:
        received = inbox.received()
        time.sleep(0.01)
    assert [(name, items) for name, items, _ in received] == [("d-1", [])]

    # Then the execution still waits for it: the next poll fetches again (nothing else would change to say so)
    assert inbox.waiting({"d-1", "d-2"}) == {"d-1"}
