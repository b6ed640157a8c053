"""Retries, end to end through the real handlers for each delivery kind: an execution whose attempt ends FAILED
or TIMED_OUT starts again while the command's `jobExecutionsRetryConfig` allows; it keeps one record whose
history shows each attempt, and its counts, abort criteria and wave gates see only the latest attempt. A job's
next attempt is AWS IoT's (its retry policy, emulated in moto), an AWS IoT command's a new execution the
dispatcher starts, an inbox execution's the device's next fetch. Devices answer as the tests say, on one
simulated clock."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from moto.iot.models import iot_backends

from commands_core.adapters import aws as clients
from local import moto_iot
from tests.integration.conftest import ACCOUNT, REGION, group_arn, job_execution_event, thing_arn
from tests.integration.rollouts import KINDS, Fleet, command, publish, statuses

ONCE = {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]}


def retry_policy(failure_type: str = "FAILED", retries: int = 1) -> dict[str, Any]:
    return {"jobExecutionsRetryConfig": {"criteriaList": [{"failureType": failure_type, "numberOfRetries": retries}]}}


def execution(fleet: Fleet, command_id: str, thing: str) -> dict[str, Any]:
    reply = fleet.api.get(f"/commands/{command_id}/executions/{thing}")
    assert reply.status == 200, reply.body
    return dict(reply.json()["executions"][0])


def attempts(record: dict[str, Any]) -> list[tuple[int, str]]:
    """(attempt, status moved to) of each step of the execution's history."""
    return [(step["attempt"], step["to"]) for step in record["history"]]


def aws_executions(fleet: Fleet, thing: str) -> int:
    """How many AWS IoT Commands executions the thing has."""
    listed = clients.client("iot").list_command_executions(targetArn=thing_arn(thing))["commandExecutions"]
    return len(listed)


def next_attempt(fleet: Fleet) -> None:
    """What follows a retried failure: the dispatcher starts a new AWS IoT command execution (its events reach
    the service), and a second passes (AWS IoT Jobs' events count whole seconds)."""
    fleet.run_for(1)
    if fleet.kind == "command":
        fleet.ingest_command_events()


@pytest.mark.parametrize("kind", KINDS)
def test_a_failure_retried_once_ends_succeeded_with_both_attempts_in_its_history(
    rollout: Callable[..., Fleet], kind: str
) -> None:
    fleet = rollout(kind, 3, **retry_policy())  # the template's policy, frozen on publish
    publish(fleet, "again")
    fleet.run()

    fleet.answer("again", "t-000", "FAILED")
    retried = command(fleet, "again")
    assert "FAILED" not in retried["counts"]  # the failure is being retried: counted as its next attempt
    assert execution(fleet, "again", "t-000")["attempt"] == 2
    next_attempt(fleet)
    for thing in fleet.names:
        fleet.answer("again", thing, "SUCCEEDED")

    done = command(fleet, "again")
    assert (done["status"], done["counts"]) == ("completed", {"SUCCEEDED": 3})
    record = execution(fleet, "again", "t-000")
    assert (record["status"], record["attempt"]) == ("SUCCEEDED", 2)
    steps = attempts(record)
    assert (1, "FAILED") in steps
    assert steps[-1] == (2, "SUCCEEDED")
    assert {attempt for attempt, _ in steps} == {1, 2}
    assert execution(fleet, "again", "t-001")["attempt"] == 1
    if kind == "command":
        assert aws_executions(fleet, "t-000") == 2  # a new AWS IoT execution for the second attempt


@pytest.mark.parametrize("kind", KINDS)
def test_a_failure_retried_once_that_fails_again_ends_failed_after_two_attempts(
    rollout: Callable[..., Fleet], kind: str
) -> None:
    fleet = rollout(kind, 2, **retry_policy())
    publish(fleet, "twice")
    fleet.run()

    fleet.answer("twice", "t-000", "FAILED")
    next_attempt(fleet)
    fleet.answer("twice", "t-000", "FAILED")
    next_attempt(fleet)
    fleet.answer("twice", "t-001", "SUCCEEDED")

    done = command(fleet, "twice")
    assert (done["status"], done["counts"]) == ("completed", {"FAILED": 1, "SUCCEEDED": 1})
    record = execution(fleet, "twice", "t-000")
    assert (record["status"], record["attempt"]) == ("FAILED", 2)
    assert [step for step in attempts(record) if step[1] == "FAILED"] == [(1, "FAILED"), (2, "FAILED")]
    if kind == "command":
        assert aws_executions(fleet, "t-000") == 2  # and no third


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("failure_type", "retried"), [("TIMED_OUT", True), ("ALL", True), ("FAILED", False)])
def test_a_timeout_is_retried_only_when_the_policy_covers_it(
    rollout: Callable[..., Fleet], kind: str, failure_type: str, retried: bool
) -> None:
    fleet = rollout(kind, 1, **retry_policy(failure_type))
    publish(fleet, "late")
    fleet.run()

    fleet.answer("late", "t-000", "TIMED_OUT")

    record = execution(fleet, "late", "t-000")
    if not retried:
        assert (record["status"], record["attempt"]) == ("TIMED_OUT", 1)
        assert command(fleet, "late")["status"] == "completed"
        return
    assert record["attempt"] == 2
    next_attempt(fleet)
    fleet.answer("late", "t-000", "SUCCEEDED")
    assert (command(fleet, "late")["status"], execution(fleet, "late", "t-000")["status"]) == ("completed", "SUCCEEDED")


@pytest.mark.parametrize("kind", ["command", "inbox"])
def test_the_reconcilers_timeout_goes_through_the_retry_policy(rollout: Callable[..., Fleet], kind: str) -> None:
    fleet = rollout(kind, 1, executionTimeoutSeconds=60, **retry_policy("TIMED_OUT"))
    publish(fleet, "silent")
    fleet.run()
    if kind == "command":
        fleet.ingest_command_events()  # CREATED: its timer runs
    else:
        fleet.api.get("/v2/command-inbox/?device_id=t-000")  # handed out, and never answered

    fleet.run_for(120)  # past the timeout (and the command delivery's grace)
    fleet.api.functions.invoke("reconcile", {})

    record = execution(fleet, "silent", "t-000")
    assert record["attempt"] == 2
    assert (1, "TIMED_OUT") in attempts(record)
    assert "TIMED_OUT" not in command(fleet, "silent")["counts"]
    next_attempt(fleet)
    fleet.answer("silent", "t-000", "SUCCEEDED")
    assert command(fleet, "silent")["counts"] == {"SUCCEEDED": 1}


@pytest.mark.parametrize("kind", ["job", "command"])  # an inbox device has no way to reject
def test_a_rejection_is_never_retried(rollout: Callable[..., Fleet], kind: str) -> None:
    fleet = rollout(kind, 1, **retry_policy("ALL", 3))
    publish(fleet, "refused")
    fleet.run()

    fleet.answer("refused", "t-000", "REJECTED")
    fleet.run()

    done = command(fleet, "refused")
    assert (done["status"], done["counts"]) == ("completed", {"REJECTED": 1})
    assert execution(fleet, "refused", "t-000")["attempt"] == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_failure_being_retried_meets_no_abort_criterion(rollout: Callable[..., Fleet], kind: str) -> None:
    abort = {"criteriaList": [{"failureType": "FAILED", "thresholdPercentage": 50, "minNumberOfExecutedThings": 1}]}
    fleet = rollout(kind, 2, abortConfig=abort, **retry_policy())
    publish(fleet, "steady")
    fleet.run()

    fleet.answer("steady", "t-000", "FAILED")  # not retried, this would cancel the command (1 of 1 failed)
    assert command(fleet, "steady")["status"] == "in_progress"
    next_attempt(fleet)
    for thing in fleet.names:
        fleet.answer("steady", thing, "SUCCEEDED")

    assert (command(fleet, "steady")["status"], command(fleet, "steady")["counts"]) == ("completed", {"SUCCEEDED": 2})


@pytest.mark.parametrize("kind", KINDS)
def test_a_failure_being_retried_does_not_decide_a_wave_gate(rollout: Callable[..., Fleet], kind: str) -> None:
    fleet = rollout(kind, 2, **retry_policy())
    publish(fleet, "waved", waves={"percentages": [50, 100], "successThresholdPercentage": 100})
    fleet.run(limit=3)  # the expand and the first wave: t-000
    assert sorted(fleet.started("waved")) == ["t-000"]

    fleet.answer("waved", "t-000", "FAILED")  # not retried, wave 1 could no longer reach 100%: paused
    next_attempt(fleet)
    assert command(fleet, "waved")["status"] == "in_progress"
    assert sorted(fleet.started("waved")) == ["t-000"]
    fleet.answer("waved", "t-000", "SUCCEEDED")  # the second attempt meets the gate
    fleet.run_until(lambda: len(fleet.started("waved")) == 2)
    fleet.answer("waved", "t-001", "SUCCEEDED")

    done = command(fleet, "waved")
    assert (done["status"], done["counts"]) == ("completed", {"SUCCEEDED": 2})
    assert done["rollout"]["waves"][0]["counts"] == {"SUCCEEDED": 1}


@pytest.mark.parametrize("kind", KINDS)
def test_a_cancel_while_a_retry_is_pending_ends_it_and_starts_nothing_more(
    rollout: Callable[..., Fleet], kind: str
) -> None:
    fleet = rollout(kind, 2, **retry_policy("FAILED", 3))
    publish(fleet, "stopped")
    fleet.run()
    fleet.answer("stopped", "t-000", "FAILED")  # its next attempt pending (for the command delivery, unstarted)

    assert fleet.api.patch("/commands/stopped", {"status": "cancelled"}).status == 204
    fleet.run()

    record = execution(fleet, "stopped", "t-000")
    assert (record["status"], record["attempt"]) == ("CANCELED", 2)
    assert command(fleet, "stopped")["status"] == "cancelled"
    if kind == "command":
        assert aws_executions(fleet, "t-000") == 1  # the retry never started
    if kind == "inbox":
        assert fleet.api.get("/v2/command-inbox/?device_id=t-000").json()["content"] == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_paused_commands_retries_wait_for_its_resume(rollout: Callable[..., Fleet], kind: str) -> None:
    fleet = rollout(kind, 1, **retry_policy())
    publish(fleet, "held")
    fleet.run()
    assert fleet.api.patch("/commands/held", {"status": "paused"}).status == 204
    fleet.answer("held", "t-000", "FAILED")
    next_attempt(fleet)
    if kind == "command":
        assert aws_executions(fleet, "t-000") == 1  # not started while paused
    if kind == "inbox":
        assert fleet.api.get("/v2/command-inbox/?device_id=t-000").json()["content"] == []

    assert fleet.api.patch("/commands/held", {"status": "in_progress"}).status == 204
    next_attempt(fleet)
    fleet.answer("held", "t-000", "SUCCEEDED")

    assert (command(fleet, "held")["status"], statuses(fleet.api, "held")) == ("completed", {"t-000": "SUCCEEDED"})


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"criteriaList": []}, "jobExecutionsRetryConfig.criteriaList"),
        (
            {"criteriaList": [{"failureType": "REJECTED", "numberOfRetries": 1}]},
            "jobExecutionsRetryConfig.criteriaList.0.failureType",
        ),
        (
            {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 11}]},
            "jobExecutionsRetryConfig.criteriaList.0.numberOfRetries",
        ),
        ({"criteriaList": [{"failureType": "ALL"}]}, "jobExecutionsRetryConfig.criteriaList.0.numberOfRetries"),
        ({"retries": 1}, "jobExecutionsRetryConfig"),
    ],
)
@pytest.mark.parametrize("kind", KINDS)
def test_a_retry_policy_out_of_shape_is_a_400_naming_the_field(
    rollout: Callable[..., Fleet], kind: str, policy: dict[str, Any], field: str
) -> None:
    fleet = rollout(kind, 1)
    body = {"templateId": "roll", "targets": fleet.names, "jobExecutionsRetryConfig": policy}
    reply = fleet.api.post("/commands", body)
    assert reply.status == 400
    assert reply.json()["error"].startswith(field), reply.json()["error"]


@pytest.mark.parametrize("kind", ["job", "command"])  # an inbox device's reports: the next test
def test_the_first_attempts_failure_again_after_the_second_began_changes_nothing(
    rollout: Callable[..., Fleet], kind: str
) -> None:
    fleet = rollout(kind, 1, **retry_policy("FAILED", 2))
    publish(fleet, "echo")
    fleet.run()
    fleet.answer("echo", "t-000", "FAILED")
    next_attempt(fleet)  # the second attempt queued by AWS IoT (job), or started and created (command)
    before = (execution(fleet, "echo", "t-000"), command(fleet, "echo")["counts"])
    failure = [event for event in fleet.delivered if event["status"] == "FAILED"]
    assert len(failure) == 1

    # AWS IoT delivers the first attempt's failure again (at least once, late), shuffled among threads.
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: fleet.ingest(failure * 3), range(4)))

    assert (execution(fleet, "echo", "t-000"), command(fleet, "echo")["counts"]) == before
    fleet.answer("echo", "t-000", "SUCCEEDED")
    done = command(fleet, "echo")
    assert (done["status"], done["counts"]) == ("completed", {"SUCCEEDED": 1})
    assert execution(fleet, "echo", "t-000")["attempt"] == 2


@pytest.mark.parametrize("second", ["SUCCEEDED", "FAILED"])
def test_a_job_retry_the_reconciler_reads_before_the_failures_event_arrives_is_recorded_at_its_attempt(
    rollout: Callable[..., Fleet], second: str
) -> None:
    fleet = rollout("job", 2, **retry_policy("FAILED", 1))
    publish(fleet, "behind")
    fleet.run()
    late = []
    for status in ("FAILED", second):  # the device fails, AWS IoT retries it once: no event has arrived yet
        with moto_iot.LOCK.exclusive():
            moto_iot.update_execution(iot_backends[ACCOUNT][REGION], "behind", "t-000", status)
        late.append(job_execution_event("behind", "t-000", status, int(fleet.clock())))
        fleet.run_for(1)

    fleet.api.functions.invoke("reconcile", {})  # reads AWS IoT's execution number 2 and its status
    fleet.ingest(late)  # then the events, late: the first attempt's failure changes nothing

    record = execution(fleet, "behind", "t-000")
    # A second failure is the last: the retry the policy allowed was the one whose failure was not seen.
    assert (record["status"], record["attempt"]) == (second, 2)
    assert attempts(record)[-1] == (2, second)
    assert command(fleet, "behind")["counts"] == {second: 1, "QUEUED": 1}


def test_a_job_retry_the_reconciler_read_under_way_ends_at_its_failure_when_the_first_failure_was_not_seen(
    rollout: Callable[..., Fleet],
) -> None:
    fleet = rollout("job", 1, **retry_policy("FAILED", 1))
    publish(fleet, "unseen")
    fleet.run()
    backend = iot_backends[ACCOUNT][REGION]
    with moto_iot.LOCK.exclusive():  # the first attempt fails, AWS IoT retries it, the device begins again
        moto_iot.update_execution(backend, "unseen", "t-000", "FAILED")
        moto_iot.update_execution(backend, "unseen", "t-000", "IN_PROGRESS")
    first = job_execution_event("unseen", "t-000", "FAILED", int(fleet.clock()))
    fleet.run_for(1)
    fleet.api.functions.invoke("reconcile", {})  # reads the second attempt IN_PROGRESS; the failure never came
    assert execution(fleet, "unseen", "t-000")["attempt"] == 2

    fleet.run_for(1)
    with moto_iot.LOCK.exclusive():  # the second attempt fails: the policy's one retry was the first failure's
        moto_iot.update_execution(backend, "unseen", "t-000", "FAILED")
    fleet.ingest([job_execution_event("unseen", "t-000", "FAILED", int(fleet.clock())), first])

    record = execution(fleet, "unseen", "t-000")
    assert (record["status"], record["attempt"]) == ("FAILED", 2)
    assert command(fleet, "unseen")["status"] == "completed"


def test_an_inbox_devices_report_sent_again_before_it_fetched_the_next_attempt_changes_nothing(
    rollout: Callable[..., Fleet],
) -> None:
    fleet = rollout("inbox", 1, **retry_policy())
    publish(fleet, "resent")
    fleet.run()
    fleet.answer("resent", "t-000", "FAILED")  # attempt 2 SCHEDULED, until the dispatch queue releases it

    def again(_: int) -> int:
        reply = fleet.api.request("PUT", "/commands/v0/status/resent.t-000/", {"state": "Command Failure"})
        return reply.status

    for waiting in ("SCHEDULED", "QUEUED"):  # before its release, and released but not fetched yet
        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(again, range(8))) == [200] * 8
        record = execution(fleet, "resent", "t-000")
        assert (record["status"], record["attempt"], command(fleet, "resent")["counts"]) == (waiting, 2, {waiting: 1})
        fleet.run_for(1)
    fleet.answer("resent", "t-000", "SUCCEEDED")
    assert command(fleet, "resent")["counts"] == {"SUCCEEDED": 1}


def test_an_inbox_failure_retried_is_answered_as_a_read_then_gives_it(rollout: Callable[..., Fleet]) -> None:
    fleet = rollout("inbox", 1, **retry_policy())
    publish(fleet, "answered")
    fleet.run()
    fleet.api.get("/v2/command-inbox/?device_id=t-000")  # handed out: SENT, under a lease

    reply = fleet.api.request("PUT", "/commands/v0/status/answered.t-000/", {"state": "Command Failure", "reason": "x"})

    assert reply.status == 200
    read = fleet.api.get("/commands/v0/status/answered.t-000").json()["content"]
    assert reply.json()["content"] == read
    assert [step["state"] for step in read["history"]][-2:] == ["Command Failure", "Command Scheduled"]


def test_a_lost_retry_message_is_sent_again_by_the_reconciler(rollout: Callable[..., Fleet]) -> None:
    fleet = rollout("command", 1, **retry_policy())
    publish(fleet, "lost")
    fleet.run()
    fleet.answer("lost", "t-000", "FAILED")
    fleet.clock._queue.clear()  # the retry message never reached the queue

    fleet.api.functions.invoke("reconcile", {})
    next_attempt(fleet)

    assert aws_executions(fleet, "t-000") == 2
    fleet.answer("lost", "t-000", "SUCCEEDED")
    assert command(fleet, "lost")["counts"] == {"SUCCEEDED": 1}


@pytest.mark.parametrize("kind", KINDS)
def test_a_thing_that_joined_a_continuous_command_and_failed_is_retried_too(
    rollout: Callable[..., Fleet], iot: Any, kind: str
) -> None:
    fleet = rollout(kind, 1, **retry_policy())
    iot.create_thing_group(thingGroupName="joined")
    iot.add_thing_to_thing_group(thingGroupName="joined", thingName="t-000")
    fleet.membership_messages()
    publish(fleet, "open", targets=[group_arn("joined")], type="CONTINUOUS")
    fleet.run()
    fleet.join("joined", "newcomer")  # after publishing: it joins, and its execution starts
    fleet.run()

    fleet.answer("open", "newcomer", "FAILED")

    record = execution(fleet, "open", "newcomer")
    assert record["attempt"] == 2
    assert "FAILED" not in command(fleet, "open")["counts"]
    next_attempt(fleet)
    fleet.answer("open", "newcomer", "SUCCEEDED")
    assert statuses(fleet.api, "open")["newcomer"] == "SUCCEEDED"


@pytest.mark.parametrize("kind", ["command", "inbox"])
def test_a_next_attempt_starts_only_inside_a_maintenance_window_and_none_after_the_end_time(
    rollout: Callable[..., Fleet], kind: str
) -> None:
    from datetime import UTC, datetime, timedelta

    fleet = rollout(kind, 2, executionTimeoutSeconds=43200, **retry_policy())  # (no timeout in the way)
    opened = datetime.fromtimestamp(fleet.clock(), UTC)
    windows = [{"startTime": "cron(0 * ? * * *)", "durationInMinutes": 10}]  # ten minutes at the top of each hour
    end = (opened + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    publish(fleet, "windowed", schedulingConfig={"maintenanceWindows": windows, "endTime": end})
    fleet.run_for(3600)  # a window has opened: both started in it
    assert sorted(fleet.started("windowed")) == ["t-000", "t-001"]

    top = (datetime.fromtimestamp(fleet.clock(), UTC) + timedelta(hours=1)).replace(minute=0, second=0)
    fleet.clock.at = (top - timedelta(minutes=30)).timestamp()  # half an hour before the next window
    fleet.answer("windowed", "t-000", "FAILED")
    for _ in range(5):  # the reconciler's rounds meanwhile ask for waiting attempts too
        fleet.api.functions.invoke("reconcile", {})
        fleet.run_for(300)
    assert execution(fleet, "windowed", "t-000")["status"] == "SCHEDULED"  # waits for the window
    assert sum(message.action == "retry" for *_, message in fleet.clock._queue) == 1  # one wait, not one per ask
    fleet.run_for(10 * 60)
    record = execution(fleet, "windowed", "t-000")
    assert (record["attempt"], record["status"]) == (2, "QUEUED" if kind == "inbox" else record["status"])
    assert record["status"] != "SCHEDULED" or kind == "command"
    if kind == "command":
        fleet.ingest_command_events()
        assert aws_executions(fleet, "t-000") == 2
    started = [step["at"] for step in execution(fleet, "windowed", "t-000")["history"] if step["attempt"] == 2]
    assert all(datetime.fromisoformat(at.replace("Z", "+00:00")).minute < 10 for at in started[1:])

    fleet.clock.at = (opened + timedelta(hours=3, minutes=1)).timestamp()  # past the end time
    fleet.answer("windowed", "t-001", "FAILED")
    fleet.run_for(3600)
    assert execution(fleet, "windowed", "t-001")["status"] == "FAILED"  # no attempt after the end time
    if kind == "command":
        assert aws_executions(fleet, "t-001") == 1


def test_a_paused_inbox_commands_next_attempt_is_neither_handed_out_nor_timed_out(
    rollout: Callable[..., Fleet],
) -> None:
    fleet = rollout("inbox", 1, executionTimeoutSeconds=60, **retry_policy(retries=3))
    publish(fleet, "held")
    fleet.run()
    fleet.answer("held", "t-000", "FAILED")
    assert fleet.api.patch("/commands/held", {"status": "paused"}).status == 204
    fleet.run_for(60)
    for _ in range(4):  # twenty minutes paused, the reconciler timing out what is past its timeout
        fleet.api.functions.invoke("reconcile", {})
        fleet.run_for(300)
    assert fleet.api.get("/v2/command-inbox/?device_id=t-000").json()["content"] == []  # not while paused
    record = execution(fleet, "held", "t-000")
    assert (record["status"], record["attempt"]) == ("SCHEDULED", 2)

    assert fleet.api.patch("/commands/held", {"status": "in_progress"}).status == 204
    fleet.run_for(1)
    fleet.answer("held", "t-000", "SUCCEEDED")
    record = execution(fleet, "held", "t-000")
    assert (record["status"], record["attempt"]) == ("SUCCEEDED", 2)
