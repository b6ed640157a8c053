"""The rollout engine, end to end through the real handlers for each delivery kind: waves gated on success, pause
and resume, abort criteria, the rate (fixed, exponential, changed live). Devices answer as the tests say: a job's
by updating its execution in AWS IoT (moto), which publishes the event; AWS IoT Commands' through its emulator;
the inbox's by fetching and reporting over HTTP. The dispatch queue's delays, the service's clock and AWS IoT
Commands' run on one simulated clock, so a rollout of minutes takes milliseconds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from local.simulated_time import most_in_a_window
from tests.integration.rollouts import KINDS, Fleet, command, publish, statuses

WAVES = {"percentages": [10, 50, 100], "successThresholdPercentage": 100, "timeoutSeconds": 300}


@pytest.mark.parametrize("kind", KINDS)
def test_a_wave_whose_device_never_answers_pauses_and_resuming_completes(
    rollout: Callable[..., Fleet], kind: str
) -> None:
    fleet = rollout(kind, 20)
    timeout = (
        {"timeoutConfig": {"inProgressTimeoutInMinutes": 60}} if kind == "job" else {"executionTimeoutSeconds": 3600}
    )
    publish(fleet, "waved", waves=WAVES, **timeout)
    fleet.run(limit=3)  # the expand and its first start step: wave 1 (10% of 20: t-000, t-001)

    assert sorted(fleet.started("waved")) == ["t-000", "t-001"]
    fleet.answer("waved", "t-000", "SUCCEEDED")  # t-001 stays silent
    fleet.run()  # the gate waits, then its timeout pauses the command

    paused = command(fleet, "waved")
    assert paused["status"] == "paused"
    assert paused["statusReason"].startswith("wave 1 did not reach 100% succeeded within 300 s")
    assert sorted(fleet.started("waved")) == ["t-000", "t-001"]  # nothing of wave 2 started
    assert paused["rollout"]["wave"] == 1

    assert fleet.api.patch("/commands/waved", {"status": "in_progress"}).status == 204
    fleet.answer("waved", "t-001", "SUCCEEDED")  # the silent device answers after all
    for size in (10, 20):  # waves 2 and 3, each started once the one before has succeeded
        fleet.run_until(lambda: len(fleet.started("waved")) == size)  # noqa: B023
        fleet.answer_started("waved")

    done = command(fleet, "waved")
    assert (done["status"], done["counts"]) == ("completed", {"SUCCEEDED": 20})
    assert [wave["size"] for wave in done["rollout"]["waves"]] == [2, 8, 10]


@pytest.mark.parametrize("kind", KINDS)
def test_each_wave_starts_only_once_the_one_before_has_succeeded(rollout: Callable[..., Fleet], kind: str) -> None:
    fleet = rollout(kind, 20)
    publish(fleet, "gated", waves=WAVES | {"successThresholdPercentage": 50, "waitSeconds": 30})
    fleet.run(limit=3)
    assert len(fleet.started("gated")) == 2

    fleet.answer("gated", "t-001", "FAILED")  # one of two: the gate needs one success
    fleet.run(limit=2)
    assert len(fleet.started("gated")) == 2
    at_threshold = fleet.clock()
    fleet.answer("gated", "t-000", "SUCCEEDED")  # the threshold met: 30 s of soak, then wave 2
    fleet.run(limit=3)

    started = fleet.started("gated")
    assert len(started) == 10
    wave_two = min(at for name, at in started.items() if name not in ("t-000", "t-001"))
    assert wave_two - at_threshold == pytest.approx(30, abs=0.01)  # the soak, and no poll's wait
    view = command(fleet, "gated")["rollout"]
    assert view["wave"] == 2
    assert view["waves"][0]["counts"] == {"SUCCEEDED": 1, "FAILED": 1}


@pytest.mark.parametrize("kind", KINDS)
def test_a_wave_that_can_no_longer_reach_its_threshold_pauses_at_once(rollout: Callable[..., Fleet], kind: str) -> None:
    fleet = rollout(kind, 20)
    publish(fleet, "doomed", waves=WAVES)
    fleet.run(limit=3)
    failed_at = fleet.clock()
    fleet.answer("doomed", "t-000", "FAILED")  # 100% needed: out of reach now
    fleet.run_until(lambda: command(fleet, "doomed")["status"] == "paused", limit=2)

    assert fleet.clock() == failed_at  # the failure woke the waiting step: no poll, no timeout waited for
    paused = command(fleet, "doomed")
    assert paused["status"] == "paused"
    assert paused["statusReason"].startswith("wave 1 can no longer reach 100% succeeded")
    fleet.run()
    assert sorted(fleet.started("doomed")) == ["t-000", "t-001"]


@pytest.mark.parametrize("kind", KINDS)
def test_an_abort_criterion_met_cancels_the_command_and_starts_nobody_else(
    rollout: Callable[..., Fleet], kind: str
) -> None:
    abort = {"criteriaList": [{"failureType": "FAILED", "thresholdPercentage": 50, "minNumberOfExecutedThings": 3}]}
    fleet = rollout(kind, 30, abortConfig=abort)  # the template's criteria
    publish(fleet, "risky", rolloutMaximumPerMinute=3)
    fleet.run(limit=2)  # the expand, and its start step: the first minute's three
    assert len(fleet.started("risky")) == 3
    fleet.answer("risky", "t-000", "SUCCEEDED")
    fleet.answer("risky", "t-001", "FAILED")
    assert command(fleet, "risky")["status"] == "in_progress"  # 1 of 2 executed: not yet 3
    fleet.answer("risky", "t-002", "FAILED")  # 2 of 3 failed

    aborted = command(fleet, "risky")
    assert aborted["status"] == "cancelled"
    assert aborted["statusReason"].startswith("abortConfig: FAILED reached 66.67% of 3 executed")
    fleet.run()
    assert sorted(fleet.started("risky")) == ["t-000", "t-001", "t-002"]
    found = Counter(statuses(fleet.api, "risky").values())
    assert found == {"SUCCEEDED": 1, "FAILED": 2, "CANCELED": 27}


@pytest.mark.parametrize("kind", KINDS)
def test_a_pause_stops_new_starts_within_a_beat_and_a_resume_goes_on(rollout: Callable[..., Fleet], kind: str) -> None:
    fleet = rollout(kind, 40)
    publish(fleet, "held", rolloutMaximumPerMinute=10)
    fleet.run(limit=2)  # the expand, and its start step: the first minute's ten
    assert len(fleet.started("held")) == 10

    assert fleet.api.patch("/commands/held", {"status": "paused"}).status == 204
    fleet.run()
    assert len(fleet.started("held")) == 10
    assert command(fleet, "held")["status"] == "paused"
    fleet.answer_started("held")  # executions started before the pause go on and are tracked
    assert command(fleet, "held")["counts"]["SUCCEEDED"] == 10

    assert fleet.api.patch("/commands/held", {"status": "in_progress"}).status == 204
    fleet.run()
    fleet.answer_started("held")
    assert (command(fleet, "held")["status"], len(fleet.started("held"))) == ("completed", 40)


@pytest.mark.parametrize("kind", KINDS)
def test_a_rate_changed_mid_rollout_shows_in_the_starts_per_minute(rollout: Callable[..., Fleet], kind: str) -> None:
    fleet = rollout(kind, 600)
    publish(fleet, "retimed", jobExecutionsRolloutConfig={"maximumPerMinute": 60})
    began = fleet.clock()
    fleet.run_for(150)  # two and a half minutes at 60
    changed_at = fleet.clock()
    reply = fleet.api.patch("/commands/retimed", {"jobExecutionsRolloutConfig": {"maximumPerMinute": 180}})
    assert reply.status == 204
    fleet.run()

    started = sorted(fleet.started("retimed").values())
    assert len(started) == 600
    before = [at for at in started if at < changed_at - 0.01]  # (times come back rounded to microseconds)
    after = [at for at in started if at >= changed_at - 0.01]
    assert (len(before), most_in_a_window(before)) == (180, 60)
    assert most_in_a_window(after) == 180
    assert changed_at - began == 150
    assert command(fleet, "retimed")["rolloutMaximumPerMinute"] == 180


@pytest.mark.parametrize("kind", KINDS)
def test_an_exponential_rate_grows_as_configured(rollout: Callable[..., Fleet], kind: str) -> None:
    exponential = {
        "baseRatePerMinute": 10,
        "incrementFactor": 1.5,
        "rateIncreaseCriteria": {"numberOfNotifiedThings": 20},
    }
    fleet = rollout(kind, 300, jobExecutionsRolloutConfig={"maximumPerMinute": 80, "exponentialRate": exponential})
    publish(fleet, "growing")
    fleet.run()

    started = sorted(fleet.started("growing").values())
    assert len(started) == 300
    per_minute = Counter(int((at - started[0] + 0.01) // 60) for at in started)
    # Each 20 notified before a minute multiplies its rate by 1.5, from 10, up to 80.
    expected, notified = [], 0
    while notified < 300:
        expected.append(min(80, int(10 * 1.5 ** (notified // 20)), 300 - notified))
        notified += expected[-1]
    assert [per_minute[minute] for minute in range(len(expected))] == expected
    assert expected[:6] == [10, 10, 15, 15, 22, 33]  # what the rule gives, spelled out


def test_rollout_settings_in_the_commands_api_shapes_are_accepted_on_templates_and_commands(
    rollout: Callable[..., Fleet],
) -> None:
    settings: dict[str, Any] = {
        "jobExecutionsRolloutConfig": {
            "maximumPerMinute": 100,
            "exponentialRate": {
                "baseRatePerMinute": 10,
                "incrementFactor": 1.5,
                "rateIncreaseCriteria": {"numberOfSucceededThings": 5},
            },
        },
        "abortConfig": {
            "criteriaList": [{"failureType": "ALL", "thresholdPercentage": 20, "minNumberOfExecutedThings": 10}]
        },
        "waves": {"percentages": [1, 10, 100], "successThresholdPercentage": 95, "waitSeconds": 0},
    }
    fleet = rollout("command", 2, **settings)
    stored = fleet.api.get("/templates/roll").json()
    assert stored["jobExecutionsRolloutConfig"] == settings["jobExecutionsRolloutConfig"]
    body = {"commandId": "shaped", "templateId": "roll", "targets": fleet.names}
    reply = fleet.api.post("/commands", body | settings)
    assert reply.status == 201, reply.body
    shaped = command(fleet, "shaped")
    waves = {"percentages": [1, 10, 100], "successThresholdPercentage": 95, "waitSeconds": 0, "timeoutSeconds": 3600}
    abort = {"criteriaList": [settings["abortConfig"]["criteriaList"][0] | {"action": "CANCEL"}]}  # AWS's default
    assert {name: shaped[name] for name in settings} == settings | {"waves": waves, "abortConfig": abort}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"rolloutMaximumPerMinute": 10, "jobExecutionsRolloutConfig": {"maximumPerMinute": 20}},
            "rolloutMaximumPerMinute",
        ),
        ({"waves": {"percentages": [50, 20, 100]}}, "waves.percentages"),
        ({"waves": {"percentages": [10, 50]}}, "waves.percentages"),
        ({"waves": {"percentages": [0, 100]}}, "waves.percentages.0"),
        ({"waves": {"percentages": [100], "successThresholdPercentage": 0}}, "waves.successThresholdPercentage"),
        (
            {"jobExecutionsRolloutConfig": {"exponentialRate": {"baseRatePerMinute": 5, "incrementFactor": 9}}},
            "jobExecutionsRolloutConfig.exponentialRate.incrementFactor",
        ),
    ],
)
def test_a_rollout_setting_out_of_shape_is_a_400_naming_it(
    rollout: Callable[..., Fleet], body: dict[str, Any], field: str
) -> None:
    fleet = rollout("command", 1)
    reply = fleet.api.post("/commands", {"templateId": "roll", "targets": fleet.names} | body)
    assert reply.status == 400
    assert reply.json()["error"].startswith(field), reply.json()["error"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_pause_while_publishing_holds_every_start_and_a_resume_completes(
    rollout: Callable[..., Fleet], kind: str
) -> None:
    fleet = rollout(kind, 5)
    publish(fleet, "early", rolloutMaximumPerMinute=60)
    assert fleet.api.patch("/commands/early", {"status": "paused"}).status == 204  # before the expand runs
    fleet.run()

    paused = command(fleet, "early")
    assert (paused["status"], paused["counts"], fleet.started("early")) == ("paused", {"SCHEDULED": 5}, {})
    assert fleet.api.patch("/commands/early", {"status": "in_progress"}).status == 204
    fleet.run()
    fleet.answer_started("early")
    assert (command(fleet, "early")["status"], len(fleet.started("early"))) == ("completed", 5)
