"""Lifecycle events on the service's EventBridge bus, end to end through the real handlers for each delivery: a
command's status changes and its executions' ends, each told once, by the writer whose conditional write made the
change, whatever AWS IoT's events do (duplicated, shuffled, stray, at once) and however PutEvents fails."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest

from commands_core import dependencies
from commands_core.adapters import aws as clients
from commands_core.adapters import event_bus
from commands_core.models.lifecycle_events import (
    LIFECYCLE_EVENTS,
    SOURCE,
    CommandStatusChanged,
    ExecutionEnded,
    LifecycleEvent,
)
from local import views
from local.eventbridge import EventBridge, Recorded
from tests.conftest import HandlerClient, refuse
from tests.integration.conftest import job_execution_event
from tests.integration.rollouts import KINDS, Fleet, command, publish
from tests.integration.test_counts_exact import ENDS, THINGS, at_once, ingest_shuffled
from tests.integration.test_counts_exact import publish as publish_to_forty

ONCE = {"jobExecutionsRetryConfig": {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]}}


def put(event_bridge: EventBridge, command_id: str | None = None) -> list[Recorded]:
    """What is on the bus (of the command), once the functions' collected events are put."""
    dependencies.flush_events()
    return event_bridge.recorded(command_id=command_id)


def changes(event_bridge: EventBridge, command_id: str) -> list[tuple[str, str, str]]:
    """(event, from, to) of each Command Status Changed of the command, in order."""
    found = [entry for entry in put(event_bridge, command_id) if entry.detail_type == CommandStatusChanged.DETAIL_TYPE]
    return [(entry.detail["event"], entry.detail["from"], entry.detail["to"]) for entry in found]


def ends(event_bridge: EventBridge, command_id: str) -> dict[str, tuple[str, int]]:
    """(status, attempt) of each thing's Execution Ended, checking that each thing ended once."""
    found = [entry for entry in put(event_bridge, command_id) if entry.detail_type == ExecutionEnded.DETAIL_TYPE]
    things = Counter(entry.detail["thingName"] for entry in found)
    assert [thing for thing, count in things.items() if count > 1] == []
    return {entry.detail["thingName"]: (entry.detail["status"], entry.detail["attempt"]) for entry in found}


def assert_well_formed(entries: list[Recorded]) -> None:
    """Each entry is the service's, parses as its model, and has an id no other has."""
    ids = [entry.detail["eventId"] for entry in entries]
    assert len(ids) == len(set(ids))
    for entry in entries:
        assert entry.source == SOURCE
        models: dict[str, type[LifecycleEvent]] = {event.DETAIL_TYPE: event for event in LIFECYCLE_EVENTS}
        models[entry.detail_type].model_validate(entry.detail)


@pytest.mark.parametrize("kind", KINDS)
def test_a_rollout_tells_its_publish_each_end_once_and_its_completion(
    rollout: Callable[..., Fleet], event_bridge: EventBridge, kind: str
) -> None:
    fleet = rollout(kind, 4)
    publish(fleet, "told")
    fleet.run()

    fleet.answer("told", "t-000", "SUCCEEDED")
    fleet.answer("told", "t-001", "FAILED")
    fleet.answer("told", "t-002", "SUCCEEDED")
    fleet.answer("told", "t-002", "SUCCEEDED")  # the device says it again
    fleet.answer("told", "t-003", "TIMED_OUT")

    assert command(fleet, "told")["status"] == "completed"
    assert changes(event_bridge, "told") == [
        ("publish", "draft", "in_progress"),
        ("complete", "in_progress", "completed"),
    ]
    assert ends(event_bridge, "told") == {
        "t-000": ("SUCCEEDED", 1),
        "t-001": ("FAILED", 1),
        "t-002": ("SUCCEEDED", 1),
        "t-003": ("TIMED_OUT", 1),
    }
    entries = put(event_bridge, "told")
    assert_well_formed(entries)
    assert {entry.detail["delivery"] for entry in entries} == {kind}
    completed = entries[-1].detail
    assert completed["counts"] == {"SUCCEEDED": 2, "FAILED": 1, "TIMED_OUT": 1}
    assert completed["templateId"] == "roll"


@pytest.mark.parametrize("kind", KINDS)
def test_a_failure_retried_then_succeeding_ends_once_succeeded_at_attempt_2(
    rollout: Callable[..., Fleet], event_bridge: EventBridge, kind: str
) -> None:
    fleet = rollout(kind, 2, **ONCE)
    publish(fleet, "again")
    fleet.run()

    fleet.answer("again", "t-000", "FAILED")  # retried: not an end
    assert ends(event_bridge, "again") == {}
    fleet.run_for(1)
    if kind == "command":
        fleet.ingest_command_events()
    fleet.answer("again", "t-000", "SUCCEEDED")
    fleet.answer("again", "t-001", "SUCCEEDED")

    assert ends(event_bridge, "again") == {"t-000": ("SUCCEEDED", 2), "t-001": ("SUCCEEDED", 1)}
    assert changes(event_bridge, "again")[-1] == ("complete", "in_progress", "completed")


def test_pause_resume_and_cancel_are_each_told_once_with_the_reason(
    rollout: Callable[..., Fleet], event_bridge: EventBridge
) -> None:
    fleet = rollout("inbox", 3)
    publish(fleet, "held", rolloutMaximumPerMinute=1)
    fleet.run(limit=2)

    for status in ("paused", "paused", "in_progress", "paused", "in_progress", "cancelled", "cancelled"):
        assert fleet.api.patch("/commands/held", {"status": status}).status in (204, 400)
    fleet.run()

    assert changes(event_bridge, "held") == [
        ("publish", "draft", "in_progress"),
        ("pause", "in_progress", "paused"),
        ("resume", "paused", "in_progress"),
        ("pause", "in_progress", "paused"),
        ("resume", "paused", "in_progress"),
        ("cancel", "in_progress", "cancelled"),
    ]
    assert {status for status, _ in ends(event_bridge, "held").values()} == {"CANCELED"}
    assert len(ends(event_bridge, "held")) == 3
    assert_well_formed(put(event_bridge, "held"))


def test_a_draft_s_deletion_is_told_once_with_no_delivery(api: HandlerClient, event_bridge: EventBridge) -> None:
    template = {"templateId": "plain", "operation": "op", "document": json.dumps({"op": 1}), "delivery": "inbox"}
    assert api.post("/templates", template).status == 201
    assert api.post("/commands", {"commandId": "gone", "templateId": "plain"}).status == 201
    assert api.delete("/commands/gone").status == 204
    assert api.delete("/commands/gone").status == 404  # asked again: gone, and nothing more happened

    assert changes(event_bridge, "gone") == [("delete", "draft", "deleted")]
    assert put(event_bridge, "gone")[0].detail["delivery"] is None


def test_duplicated_shuffled_concurrent_and_stray_job_events_tell_each_end_once(
    parallel: HandlerClient, things: Callable[..., list[str]], event_bridge: EventBridge
) -> None:
    publish_to_forty(parallel, things, "job")
    base = int(datetime.now(UTC).timestamp())
    expected = {thing: ENDS[number % len(ENDS)] for number, thing in enumerate(THINGS)}
    events = [
        job_execution_event("cmd", thing, status, base + step)
        for thing, end in expected.items()
        for step, status in enumerate(("IN_PROGRESS", end))
    ]
    events += [job_execution_event("cmd", "stranger-1", "SUCCEEDED", base + 1), {"eventType": "JOB_EXECUTION"}]

    ingest_shuffled(parallel, events, seed=7)  # each three times, shuffled, on eight threads

    assert ends(event_bridge, "cmd") == {thing: (status, 1) for thing, status in expected.items()}
    assert changes(event_bridge, "cmd") == [
        ("publish", "draft", "in_progress"),
        ("complete", "in_progress", "completed"),
    ]
    assert_well_formed(put(event_bridge))


def test_cancels_racing_the_last_completion_tell_one_terminal_command_event(
    parallel: HandlerClient, things: Callable[..., list[str]], event_bridge: EventBridge
) -> None:
    publish_to_forty(parallel, things, "job")
    base = int(datetime.now(UTC).timestamp())
    last, others = THINGS[0], THINGS[1:]
    ingest_shuffled(parallel, [job_execution_event("cmd", thing, "SUCCEEDED", base) for thing in others], seed=3)

    def cancel() -> int:
        return parallel.patch("/commands/cmd", {"status": "cancelled"}).status

    def complete() -> Any:
        event = job_execution_event("cmd", last, "SUCCEEDED", base + 1)
        return parallel.functions.invoke("status_ingest", {"Records": [_record(event)]})

    at_once([cancel, complete, cancel, complete, cancel])
    parallel.drain()

    terminal = [change for change in changes(event_bridge, "cmd") if change[2] in ("completed", "cancelled")]
    assert len(terminal) == 1
    assert terminal[0][2] == command_status(parallel)
    assert len(ends(event_bridge, "cmd")) == len(THINGS)  # the last ended once: SUCCEEDED, or CANCELED


def test_a_device_hammering_the_inbox_from_many_threads_ends_once(
    parallel: HandlerClient, things: Callable[..., list[str]], event_bridge: EventBridge
) -> None:
    publish_to_forty(parallel, things, "inbox")
    thing = THINGS[0]
    parallel.get(f"/v2/command-inbox/?device_id={thing}")
    states = ["Command Success", "Command Failure", "Command Success", "Command In Progress"] * 4

    at_once(
        lambda state=state: parallel.request("PUT", f"/commands/v0/status/cmd.{thing}/", {"state": state})  # type: ignore[misc]
        for state in states
    )

    ended = ends(event_bridge, "cmd")
    assert list(ended) == [thing]
    status = parallel.get(f"/commands/cmd/executions/{thing}").json()["executions"][0]["status"]
    assert ended[thing] == (status, 1)


def test_a_scheduled_start_and_the_end_time_cancelling_what_never_started_are_told(
    rollout: Callable[..., Fleet], event_bridge: EventBridge
) -> None:
    fleet = rollout("command", 6)
    start = datetime.fromtimestamp(int(fleet.clock()) + 30, UTC)
    end = datetime.fromtimestamp(int(fleet.clock()) + 30 + 90, UTC)
    window = {"startTime": f"{start:%Y-%m-%dT%H:%M:%SZ}", "endTime": f"{end:%Y-%m-%dT%H:%M:%SZ}"}
    publish(fleet, "timed", rolloutMaximumPerMinute=2, schedulingConfig=window)
    fleet.run_for(100)  # the start time, and two starts a minute until the end time is near
    fleet.ingest_command_events()
    for thing in fleet.started("timed"):
        fleet.answer("timed", thing, "SUCCEEDED")
    fleet.run_for(30)  # the end time: what has not started is cancelled, and the command completes
    fleet.run()

    assert changes(event_bridge, "timed") == [
        ("schedule", "draft", "scheduled"),
        ("start", "scheduled", "in_progress"),
        ("complete", "in_progress", "completed"),
    ]
    ended = ends(event_bridge, "timed")
    assert len(ended) == 6
    cancelled = [entry for entry in put(event_bridge, "timed") if entry.detail.get("status") == "CANCELED"]
    assert cancelled
    assert all(entry.detail["statusReason"].startswith("schedulingConfig.endTime") for entry in cancelled)


# --- PutEvents failing --------------------------------------------------------------------------------------


class Failing:
    """EventBridge refusing entries: the first `times` puts of each event fail (ThrottlingException in the entry's
    result, or the whole call throttled with `whole`); the others reach the emulator."""

    def __init__(self, event_bridge: EventBridge, times: int, *, whole: bool = False) -> None:
        self.event_bridge, self.times, self.whole = event_bridge, times, whole
        self.tries: Counter[str] = Counter()
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        from local.wire import RawResponse

        body = json.loads(request.body)
        ids = [json.loads(entry["Detail"])["eventId"] for entry in body["Entries"]]
        with self._lock:
            self.calls += 1
            failing = [self.tries[event_id] < self.times for event_id in ids]
            self.tries.update(ids)
        if self.whole:
            return refuse(request, 400, "ThrottlingException") if any(failing) else None
        passing = [entry for entry, fails in zip(body["Entries"], failing, strict=True) if not fails]
        answered: list[dict[str, Any]] = []
        if passing:
            _status, _headers, payload = self.event_bridge.answer(
                "PutEvents", request.url, json.dumps({"Entries": passing}).encode()
            )
            answered = json.loads(payload)["Entries"]
        results = [
            {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"} if fails else answered.pop(0)
            for fails in failing
        ]
        answer = json.dumps({"FailedEntryCount": sum(failing), "Entries": results}).encode()
        url, request.url = request.url, "http://refused.iot-commands.invalid/"
        return AWSResponse(url, 200, {"Content-Type": "application/x-amz-json-1.1"}, RawResponse(answer))


@pytest.fixture
def failing(event_bridge: EventBridge, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Failing]]:
    """Installs a Failing in front of the emulator; neither the bus's backoff nor botocore's is slept."""
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(event_bus, "BACKOFF_SECONDS", 0.0)
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    session = clients.session().events
    installed: list[str] = []

    def install(times: int, *, whole: bool = False) -> Failing:
        fault = Failing(event_bridge, times, whole=whole)
        installed.append(f"put-events-fault-{len(installed)}")
        session.register_first("before-send.events.PutEvents", fault, unique_id=installed[-1])
        dependencies.reset()  # clients copy the session's handlers when made
        return fault

    yield install
    for unique_id in installed:
        session.unregister("before-send.events.PutEvents", unique_id=unique_id)
    dependencies.reset()


@pytest.mark.parametrize("whole", [False, True], ids=["entries-refused", "call-throttled"])
def test_put_events_refused_a_few_times_is_retried_and_nothing_is_lost(
    parallel: HandlerClient,
    things: Callable[..., list[str]],
    event_bridge: EventBridge,
    failing: Callable[..., Failing],
    whole: bool,
) -> None:
    fault = failing(2, whole=whole)
    publish_to_forty(parallel, things, "job")
    base = int(datetime.now(UTC).timestamp())
    events = [job_execution_event("cmd", thing, "SUCCEEDED", base) for thing in THINGS]

    ingest_shuffled(parallel, events, seed=5)

    assert ends(event_bridge, "cmd") == dict.fromkeys(THINGS, ("SUCCEEDED", 1))
    assert changes(event_bridge, "cmd") == [
        ("publish", "draft", "in_progress"),
        ("complete", "in_progress", "completed"),
    ]
    assert_well_formed(put(event_bridge))
    assert fault.calls > len(THINGS) // event_bus.MAX_ENTRIES  # it did refuse, and the bus put them again


def test_an_event_that_can_never_be_put_is_logged_and_counted_and_the_change_stands(
    api: HandlerClient,
    published: Callable[..., str],
    event_bridge: EventBridge,
    failing: Callable[..., Failing],
    output: Any,
) -> None:
    published("lost", ["l-1"])
    failing(100)  # every put refused
    output.records()

    event = job_execution_event("lost", "l-1", "SUCCEEDED", int(datetime.now(UTC).timestamp()))
    assert api.functions.invoke("status_ingest", {"Records": [_record(event)]}) == {"batchItemFailures": []}

    assert api.get("/commands/lost").json()["status"] == "completed"
    records = output.records()
    lost = [record for record in records if record.get("message") == "lifecycle event lost"]
    assert len(lost) == 2  # the execution's end and the command's completion
    assert all(record["cause"] == "ThrottlingException" for record in lost)
    told = {record["event_id"] for record in lost}
    assert ExecutionEnded.id_of("lost", "l-1", 1, "SUCCEEDED") in told
    counted = [record["LifecycleEventsLost"] for record in records if "LifecycleEventsLost" in record]
    assert sum(sum(value) if isinstance(value, list) else value for value in counted) == 2
    assert put(event_bridge, "lost")[-1].detail["event"] == "publish"  # nothing after it reached the bus


def command_status(api: HandlerClient) -> str:
    return str(api.get("/commands/cmd").json()["status"])


def _record(event: dict[str, Any]) -> dict[str, Any]:
    from tests.integration.conftest import sqs_event

    return dict(sqs_event([event])["Records"][0])


# --- the local runtime's GET /_local/events -----------------------------------------------------------------


def test_the_local_events_route_pages_by_cursor_filters_by_command_and_limits(
    rollout: Callable[..., Fleet], event_bridge: EventBridge
) -> None:
    fleet = rollout("inbox", 3)
    publish(fleet, "one")
    publish(fleet, "two")
    fleet.run()
    for thing in fleet.names:
        fleet.answer("one", thing, "SUCCEEDED")
    dependencies.flush_events()
    events = views.events(event_bridge)

    status, everything = events(_query(""), "")
    assert status == 200
    seqs = [event["seq"] for event in everything["events"]]
    assert seqs == list(range(1, len(seqs) + 1))  # from 1, in the order put
    assert everything["next"] == seqs[-1]
    assert {event["source"] for event in everything["events"]} == {SOURCE}
    first = everything["events"][0]
    assert set(first) == {"seq", "time", "source", "detailType", "detail"}

    _, of_one = events(_query("commandId=one&limit=2"), "")
    assert [event["detail"]["commandId"] for event in of_one["events"]] == ["one", "one"]
    _, rest = events(_query(f"commandId=one&since={of_one['next']}&limit=1000"), "")
    told = [event["detailType"] for event in of_one["events"] + rest["events"]]
    assert told == ["Command Status Changed", *["Execution Ended"] * 3, "Command Status Changed"]
    assert all(event["seq"] > of_one["next"] for event in rest["events"])

    _, none_later = events(_query(f"since={everything['next']}"), "")
    assert none_later == {"events": [], "next": everything["next"]}  # `next` stays where it was


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("since=-1", "since"),
        ("since=x", "since"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("commandId=", "commandId"),
        ("cursor=3", "cursor"),
    ],
)
def test_the_local_events_route_refuses_a_bad_parameter_naming_it(
    event_bridge: EventBridge, query: str, named: str
) -> None:
    status, answer = views.events(event_bridge)(_query(query), "")

    assert status == 400
    assert answer["error"].startswith(f"{named}: ")


def _query(given: str) -> dict[str, str]:
    """The parameters a local view receives for the query string `given`."""
    return dict(parse_qsl(given, keep_blank_values=True))


def test_an_execution_ending_before_its_command_s_job_exists_is_still_told_with_its_delivery(
    aws: dict[str, str],
) -> None:
    from commands_core.models.commands import Command

    commands = dependencies.ports().commands
    at = datetime.now(UTC)
    publishing = Command(
        command_id="early",
        template_id="t",
        status="in_progress",
        targets=["x"],
        delivery="job",
        created_at=at,
        updated_at=at,
        published_at=at,
    )
    commands.create(publishing)

    assert commands.published("early") is None  # its job is not made yet: nothing to check events against
    assert commands.delivery_of("early") == "job"  # but an execution cancelled meanwhile ends as a job's
    commands.replace(
        publishing.model_copy(update={"job_id": "early"}), expected_version=1, expected_status="in_progress"
    )
    assert commands.published("early") is not None
