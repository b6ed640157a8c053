"""The embedded endpoint's EventBridge, through boto3 unchanged: what it records, what it refuses as EventBridge
does (per entry, or the whole request), and every answer checked against botocore's model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from local.eventbridge import EventBridge
from local.wire import check_output

REGION = "us-east-1"
ACCOUNT = "123456789012"


@pytest.fixture
def bus() -> Iterator[tuple[EventBridge, Any, list[str]]]:
    """The emulator, a client answered by it in process, and what botocore's model found wrong in its answers."""
    emulator = EventBridge(account=ACCOUNT, region=REGION, clock=lambda: 1_800_000_000.0)
    problems: list[str] = []

    def check(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if http_response.status_code < 300:
            problems.extend(check_output("events", model.name, parsed))

    session = boto3.session.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    session.events.register_first("before-send", emulator.botocore_hook)
    session.events.register("after-call", check)
    client = session.client("events")
    client.create_event_bus(Name="service-bus")
    yield emulator, client, problems
    assert problems == []


def _entry(**overrides: Any) -> dict[str, Any]:
    return {
        "Source": "iot-commands-service",
        "DetailType": "Execution Ended",
        "Detail": json.dumps({"commandId": "c-1", "status": "SUCCEEDED"}),
        "EventBusName": "service-bus",
    } | overrides


def test_entries_put_are_recorded_in_order_with_their_time_and_numbered_from_1(
    bus: tuple[EventBridge, Any, list[str]],
) -> None:
    emulator, client, _ = bus
    at = datetime(2026, 1, 5, 10, 0, 0, 120000, tzinfo=UTC)

    answer = client.put_events(
        Entries=[_entry(Time=at), _entry(Detail=json.dumps({"commandId": "c-2"}), EventBusName=_arn("service-bus"))]
    )

    assert answer["FailedEntryCount"] == 0
    assert all("EventId" in result for result in answer["Entries"])
    recorded = emulator.recorded()
    assert [(entry.seq, entry.bus, entry.detail["commandId"]) for entry in recorded] == [
        (1, "service-bus", "c-1"),
        (2, "service-bus", "c-2"),
    ]
    assert recorded[0].view()["time"] == "2026-01-05T10:00:00.120000Z"
    assert recorded[1].time == datetime.fromtimestamp(1_800_000_000, UTC)  # no Time: when it was put
    assert [entry.seq for entry in emulator.recorded(since=1)] == [2]
    assert [entry.seq for entry in emulator.recorded(command_id="c-2")] == [2]


def test_each_entry_is_refused_on_its_own_as_eventbridge_does(bus: tuple[EventBridge, Any, list[str]]) -> None:
    emulator, client, _ = bus

    answer = client.put_events(
        Entries=[
            _entry(),
            _entry(Detail="[1, 2]"),
            _entry(Detail="{not json"),
            _entry(EventBusName="nobody-s-bus"),
            {"DetailType": "x", "Detail": "{}"},
        ]
    )

    assert answer["FailedEntryCount"] == 4
    codes = [result.get("ErrorCode") for result in answer["Entries"]]
    assert codes == [
        None,
        "MalformedDetail",
        "MalformedDetail",
        "ResourceNotFoundException",
        "InvalidArgument",
    ]
    assert "EventId" in answer["Entries"][0]
    assert [entry.seq for entry in emulator.recorded()] == [1]


def test_a_request_out_of_the_model_is_refused_whole(bus: tuple[EventBridge, Any, list[str]]) -> None:
    emulator, client, _ = bus
    from botocore.exceptions import ClientError

    raw = emulator.answer("PutEvents", "https://events.us-east-1.amazonaws.com/", json.dumps({"Entries": []}).encode())
    assert raw[0] == 400
    assert json.loads(raw[2])["__type"] == "ValidationException"  # fewer than 1 entry, as the model says
    eleven = json.dumps({"Entries": [_entry()] * 11}).encode()
    assert json.loads(emulator.answer("PutEvents", "https://x/", eleven)[2])["__type"] == "ValidationException"
    with pytest.raises(ClientError) as raised:
        client.put_events(Entries=[_entry(Detail=json.dumps({"pad": "x" * 262_144}))])
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as raised:
        client.describe_event_bus(Name="nobody-s-bus")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(client.exceptions.ResourceAlreadyExistsException):
        client.create_event_bus(Name="service-bus")
    assert emulator.recorded() == []


def _arn(name: str) -> str:
    return f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"
