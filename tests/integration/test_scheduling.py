"""A rollout's schedule (schedulingConfig, in AWS IoT Jobs' shape), end to end through the real handlers for each
delivery kind, on the one simulated clock: nothing starts before the start time (the command `scheduled` until
then), starts happen only inside maintenance windows, and at the end time the end behavior applies."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from commands_core.services import reconcile
from tests.conftest import HandlerClient
from tests.integration.rollouts import KINDS, Fleet, command, publish, statuses


def at(fleet: Fleet, seconds: float) -> datetime:
    """The simulated time `seconds` from now, in whole seconds (a schedule's times have no fraction here)."""
    return datetime.fromtimestamp(math.ceil(fleet.clock()) + seconds, UTC)


def utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("kind", KINDS)
def test_a_command_scheduled_30_s_ahead_starts_nothing_before_then(rollout: Callable[..., Fleet], kind: str) -> None:
    fleet = rollout(kind, 3)
    start = at(fleet, 30)
    publish(fleet, "later", schedulingConfig={"startTime": utc(start)})

    scheduled = command(fleet, "later")
    assert scheduled["status"] == "scheduled"
    assert scheduled["rollout"]["startTime"] == utc(start)
    listed = fleet.api.get("/commands?status=scheduled").json()["results"]
    assert [item["commandId"] for item in listed] == ["later"]
    fleet.run_for(29)  # the expand, and the start step waiting for the start time
    assert set(statuses(fleet.api, "later").values()) == {"SCHEDULED"}
    assert fleet.reached("later") == []  # no AWS IoT job execution, no AWS IoT command execution, no inbox item
    waiting = command(fleet, "later")
    assert waiting["status"] == "scheduled"
    assert waiting["rollout"]["estimatedCompletionAt"] == utc(start)  # no rate: everything at the start time

    fleet.run_for(3)  # (SQS delays are whole seconds: the step comes back within a second of the start time)
    assert command(fleet, "later")["status"] == "in_progress"
    started = fleet.started("later")
    assert sorted(started) == fleet.names
    assert start.timestamp() <= min(started.values()) <= max(started.values()) < start.timestamp() + 1
    fleet.answer_started("later")
    fleet.run()
    assert command(fleet, "later")["status"] == "completed"


@pytest.mark.parametrize("kind", KINDS)
def test_starts_happen_only_inside_the_maintenance_windows(rollout: Callable[..., Fleet], kind: str) -> None:
    fleet = rollout(kind, 36)
    # Half an hour at the top of each hour, at one a minute: 36 things need more than one window.
    windows = [{"startTime": "cron(0 * ? * * *)", "durationInMinutes": 30}]
    publish(fleet, "windowed", rolloutMaximumPerMinute=1, schedulingConfig={"maintenanceWindows": windows})
    shown = command(fleet, "windowed")
    assert shown["status"] == "in_progress"  # no start time: the rollout has started, and waits for a window
    assert "nextWindowAt" in shown["rollout"] or "windowEndsAt" in shown["rollout"]

    fleet.run()

    started = fleet.started("windowed")
    assert sorted(started) == fleet.names
    minutes = [datetime.fromtimestamp(moment, UTC).minute for moment in started.values()]
    assert all(minute < 30 for minute in minutes), sorted(minutes)
    assert max(started.values()) - min(started.values()) > 30 * 60  # more than one window


@pytest.mark.parametrize("kind", KINDS)
def test_stop_rollout_at_the_end_time_cancels_what_has_not_started_and_the_rest_completes(
    rollout: Callable[..., Fleet], kind: str
) -> None:
    fleet = rollout(kind, 10)
    end = at(fleet, 150)
    publish(fleet, "cut", rolloutMaximumPerMinute=2, schedulingConfig={"endTime": utc(end)})
    fleet.run_for(149)
    started = set(fleet.started("cut"))
    assert len(started) == 6  # two a minute, at 0, 60 and 120 s

    fleet.run_for(3)  # (within a second of the end time: SQS delays are whole seconds)
    found = statuses(fleet.api, "cut")
    assert {name for name, status in found.items() if status == "CANCELED"} == set(fleet.names) - started
    reason = fleet.api.get(f"/commands/cut/executions/{sorted(set(fleet.names) - started)[0]}").json()
    assert reason["executions"][0]["statusReason"].startswith(f"schedulingConfig.endTime {utc(end)} passed")
    fleet.answer_started("cut")
    fleet.run()

    done = command(fleet, "cut")
    assert (done["status"], done["counts"]) == ("completed", {"SUCCEEDED": 6, "CANCELED": 4})
    assert set(fleet.started("cut")) == started


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("behavior", ["CANCEL", "FORCE_CANCEL"])
def test_cancel_at_the_end_time_cancels_the_command_also_once_everything_started(
    rollout: Callable[..., Fleet], kind: str, behavior: str
) -> None:
    fleet = rollout(kind, 4)
    end = at(fleet, 60)
    publish(fleet, "ends", schedulingConfig={"endTime": utc(end), "endBehavior": behavior})
    fleet.run_for(30)
    assert sorted(fleet.started("ends")) == fleet.names  # everything started; nobody answers
    fleet.answer("ends", "t-000", "SUCCEEDED")

    fleet.run()

    ended = command(fleet, "ends")
    assert ended["status"] == "cancelled"
    assert ended["statusReason"] == f"schedulingConfig.endTime {utc(end)} passed (endBehavior {behavior})"
    assert statuses(fleet.api, "ends")["t-000"] == "SUCCEEDED"


@pytest.mark.parametrize("kind", KINDS)
def test_cancel_at_the_end_time_stops_a_rollout_under_way(rollout: Callable[..., Fleet], kind: str) -> None:
    fleet = rollout(kind, 10)
    end = at(fleet, 90)
    publish(fleet, "halted", rolloutMaximumPerMinute=2, schedulingConfig={"endTime": utc(end), "endBehavior": "CANCEL"})
    fleet.run()

    assert command(fleet, "halted")["status"] == "cancelled"
    started = fleet.started("halted")
    assert len(started) == 4
    assert max(started.values()) < end.timestamp()
    assert Counter(statuses(fleet.api, "halted").values())["CANCELED"] >= 6


@pytest.mark.parametrize("kind", KINDS)
def test_a_scheduled_command_cancelled_starts_nothing(rollout: Callable[..., Fleet], kind: str) -> None:
    fleet = rollout(kind, 3)
    publish(fleet, "never", schedulingConfig={"startTime": utc(at(fleet, 30))})
    fleet.run_for(5)

    assert fleet.api.patch("/commands/never", {"status": "cancelled"}).status == 204
    fleet.run()

    assert command(fleet, "never")["status"] == "cancelled"
    assert set(statuses(fleet.api, "never").values()) == {"CANCELED"}
    assert fleet.reached("never") == []


def test_the_template_of_a_scheduled_or_paused_command_cannot_be_deleted(rollout: Callable[..., Fleet]) -> None:
    fleet = rollout("inbox", 3)
    publish(fleet, "later", schedulingConfig={"startTime": utc(at(fleet, 3600))})
    fleet.run_for(5)

    refused = fleet.api.delete("/templates/roll")  # its executions, still to start, hand out its files
    assert refused.status == 409
    assert "later" in refused.json()["error"]
    assert fleet.api.patch("/commands/later", {"status": "in_progress"}).status == 204
    assert fleet.api.patch("/commands/later", {"status": "paused"}).status == 204
    assert fleet.api.delete("/templates/roll").status == 409
    assert fleet.api.patch("/commands/later", {"status": "cancelled"}).status == 204
    assert fleet.api.delete("/templates/roll").status == 204


@pytest.mark.parametrize("kind", KINDS)
def test_a_scheduled_command_started_now_starts_at_once(rollout: Callable[..., Fleet], kind: str) -> None:
    fleet = rollout(kind, 3)
    publish(fleet, "now", schedulingConfig={"startTime": utc(at(fleet, 3600))})
    fleet.run_for(5)
    assert fleet.started("now") == {}

    assert fleet.api.patch("/commands/now", {"status": "in_progress"}).status == 204
    fleet.run_for(1)

    assert command(fleet, "now")["status"] == "in_progress"
    assert sorted(fleet.started("now")) == fleet.names


def test_a_long_wait_comes_back_in_hops_the_reconciler_does_not_take_for_a_stall(
    rollout: Callable[..., Fleet], monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = rollout("command", 2)
    start = at(fleet, 3 * 3600)
    publish(fleet, "hours", schedulingConfig={"startTime": utc(start)})
    monkeypatch.setattr(reconcile, "now", fleet.clock.now)
    hops = 0
    while fleet.clock() < start.timestamp() - 1:
        fleet.run(limit=1)
        hops += 1
        assert fleet.api.functions.invoke("reconcile", {})["dispatch_resumed"] == 0
        assert fleet.clock.next_due() is not None

    assert hops >= 3 * 3600 / 900  # SQS delays a message 15 minutes at most
    fleet.run_for(2)
    assert sorted(fleet.started("hours")) == fleet.names


def test_a_published_commands_schedule_is_frozen(rollout: Callable[..., Fleet]) -> None:
    fleet = rollout("inbox", 1)
    publish(fleet, "fixed", schedulingConfig={"startTime": utc(at(fleet, 60))})

    reply = fleet.api.patch("/commands/fixed", {"schedulingConfig": {"startTime": utc(at(fleet, 120))}})

    assert reply.status == 400
    assert reply.json()["error"].startswith("schedulingConfig: is frozen once the command is published")


def test_a_start_time_passed_starts_at_once_and_a_schedule_that_could_start_nothing_is_refused(
    rollout: Callable[..., Fleet],
) -> None:
    fleet = rollout("inbox", 1)
    publish(fleet, "past", schedulingConfig={"startTime": utc(at(fleet, -3600))})
    assert command(fleet, "past")["status"] == "in_progress"

    body = {"commandId": "over", "templateId": "roll", "targets": fleet.names, "status": "in_progress"}
    reply = fleet.api.post("/commands", body | {"schedulingConfig": {"endTime": utc(at(fleet, -60))}})
    assert reply.status == 400
    assert reply.json()["error"].startswith("schedulingConfig.endTime: ")

    never = {"maintenanceWindows": [{"startTime": "cron(0 0 1 JAN ? 2020)", "durationInMinutes": 60}]}
    reply = fleet.api.post("/commands", body | {"schedulingConfig": never})
    assert reply.status == 400
    assert reply.json()["error"] == "schedulingConfig.maintenanceWindows: no window opens: nothing could start"


WINDOW = {"startTime": "cron(0 * ? * * *)", "durationInMinutes": 30}
FIRST = "schedulingConfig.maintenanceWindows.0"


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"startTime": "tomorrow"}, "schedulingConfig.startTime"),
        ({"startTime": "2030-01-01T10:00+02:00"}, "schedulingConfig.startTime"),
        ({"startTime": "2030-02-30T10:00"}, "schedulingConfig.startTime"),
        ({"startTime": "2030-01-01T10:00", "endTime": "2030-01-01T09:00"}, "schedulingConfig.endTime"),
        ({"endTime": "2030-01-01T10:00", "endBehavior": "STOP"}, "schedulingConfig.endBehavior"),
        ({"endBehavior": "CANCEL"}, "schedulingConfig.endBehavior"),
        ({"maintenanceWindows": [WINDOW | {"durationInMinutes": 0}]}, f"{FIRST}.durationInMinutes"),
        ({"maintenanceWindows": [WINDOW | {"durationInMinutes": 1431}]}, f"{FIRST}.durationInMinutes"),
        ({"maintenanceWindows": [WINDOW] * 6}, "schedulingConfig.maintenanceWindows"),
        ({"maintenanceWindows": []}, "schedulingConfig.maintenanceWindows"),
        (
            {"maintenanceWindows": [WINDOW, WINDOW | {"startTime": "0 * * * *"}]},
            "schedulingConfig.maintenanceWindows.1.startTime",
        ),
        ({"maintenanceWindows": [WINDOW | {"startTime": "cron(0 0 L * ? *)"}]}, f"{FIRST}.startTime"),
        ({"maintenanceWindows": [WINDOW | {"startTime": "cron(0 0 * * * *)"}]}, f"{FIRST}.startTime"),
        ({"startsAt": "2030-01-01T10:00"}, "schedulingConfig.startsAt"),
    ],
)
def test_a_schedule_aws_iot_would_not_take_is_a_400_naming_the_field(
    api: HandlerClient, template: Callable[..., dict[str, Any]], schedule: dict[str, Any], field: str
) -> None:
    template("plain", requiredDocumentParameters=[], requiredFiles=[], document="{}")

    reply = api.post("/commands", {"templateId": "plain", "targets": ["t-1"], "schedulingConfig": schedule})

    assert reply.status == 400
    assert reply.json()["error"].split(": ")[0] == field


def test_the_jobs_api_passes_a_schedule_to_aws_iot(api: HandlerClient, things: Callable[..., list[str]]) -> None:
    things("j-1")
    schedule = {
        "startTime": "2030-01-01T10:00",
        "endTime": "2030-01-02T10:00",
        "endBehavior": "CANCEL",
        "maintenanceWindows": [{"startTime": "cron(0 22 ? * SAT-SUN *)", "durationInMinutes": 120}],
    }
    body = {"jobId": "later", "targets": ["j-1"], "targetSelection": "SNAPSHOT", "document": "{}"}

    assert api.post("/jobs", body | {"schedulingConfig": schedule}).status == 200
    assert api.get("/jobs/later").json()["job"]["schedulingConfig"] == schedule

    windows = [{"startTime": "cron(0 22 ? * 6#3 *)", "durationInMinutes": 120}]
    refused = api.post("/jobs", body | {"jobId": "bad", "schedulingConfig": {"maintenanceWindows": windows}})
    assert refused.status == 422
    assert refused.json()["error"].startswith("schedulingConfig.maintenanceWindows.0.startTime: day-of-week: L, W")


@pytest.mark.parametrize(("behavior", "acknowledged"), [("CANCEL", "ACKNOWLEDGED"), ("FORCE_CANCEL", "CANCELED")])
def test_force_cancel_at_the_end_time_also_ends_what_a_device_has_begun(
    rollout: Callable[..., Fleet], behavior: str, acknowledged: str
) -> None:
    fleet = rollout("inbox", 3)
    end = at(fleet, 60)
    publish(fleet, "begun", schedulingConfig={"endTime": utc(end), "endBehavior": behavior})
    fleet.run_for(30)
    fleet.api.get("/v2/command-inbox/?device_id=t-000")
    reply = fleet.api.request("PUT", "/commands/v0/status/begun.t-000/", {"state": "Command Acknowledged"})
    assert reply.status == 200, reply.body

    fleet.run()

    assert command(fleet, "begun")["status"] == "cancelled"
    assert statuses(fleet.api, "begun") == {"t-000": acknowledged, "t-001": "CANCELED", "t-002": "CANCELED"}


@pytest.mark.parametrize("kind", KINDS)
def test_stop_rollout_at_the_end_time_of_a_paused_command_cancels_what_had_not_started(
    rollout: Callable[..., Fleet], kind: str
) -> None:
    fleet = rollout(kind, 6)
    end = at(fleet, 120)
    publish(fleet, "held", rolloutMaximumPerMinute=2, schedulingConfig={"endTime": utc(end)})
    fleet.run_for(30)
    assert fleet.api.patch("/commands/held", {"status": "paused"}).status == 204
    fleet.run()  # the end message, at the end time

    found = statuses(fleet.api, "held")
    assert Counter(found.values())["CANCELED"] == 4
    assert fleet.api.patch("/commands/held", {"status": "in_progress"}).status == 204
    fleet.answer_started("held")
    fleet.run()
    done = command(fleet, "held")
    assert (done["status"], done["counts"]) == ("completed", {"SUCCEEDED": 2, "CANCELED": 4})


def test_the_reconciler_applies_an_end_time_whose_message_was_lost(
    rollout: Callable[..., Fleet], monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = rollout("command", 2)
    end = at(fleet, 60)
    publish(fleet, "lost", schedulingConfig={"endTime": utc(end), "endBehavior": "CANCEL"})
    fleet.run_for(5)
    assert sorted(fleet.started("lost")) == fleet.names
    assert fleet.clock.drop(lambda message: message.action == "end") == 1  # the end message is lost
    fleet.clock.advance(120)
    monkeypatch.setattr(reconcile, "now", fleet.clock.now)

    fleet.api.functions.invoke("reconcile", {})

    lost = command(fleet, "lost")
    assert (lost["status"], lost["statusReason"]) == (
        "cancelled",
        f"schedulingConfig.endTime {utc(end)} passed (endBehavior CANCEL)",
    )
