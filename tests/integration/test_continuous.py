"""CONTINUOUS commands, end to end through the real handlers for each delivery kind: a thing that joins a targeted
group (or starts matching the target query) after publishing gets an execution, up to `maximumTargets`, that its
device runs and reports; a thing that leaves keeps its execution; a paused command's joiner waits for the resume;
a cancelled command's joiner gets nothing. AWS IoT (moto) publishes the registry event of each group change, which
the membership rule hands to its consumer; the dispatch queue and every clock run on simulated time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from local.simulated_time import most_in_a_window
from tests.conftest import HandlerClient
from tests.integration.conftest import Output, group_arn, job_things, sqs_event
from tests.integration.rollouts import KINDS, Fleet, command, publish, statuses


def continuous(fleet: Fleet, iot: Any, command_id: str, group: str = "site", **fields: Any) -> None:
    """The fleet's things in `group`, and a CONTINUOUS command for the group, published and rolled out."""
    iot.create_thing_group(thingGroupName=group)
    for name in fleet.names:
        iot.add_thing_to_thing_group(thingGroupName=group, thingName=name)
    fleet.membership_messages()  # (before publishing: nothing watches the group yet)
    publish(fleet, command_id, targets=[group_arn(group)], type="CONTINUOUS", **fields)
    fleet.run()


def executed(fleet: Fleet, command_id: str) -> list[str]:
    """The things the command has an execution for, also as its delivery holds them (a job's in AWS IoT)."""
    names = sorted(statuses(fleet.api, command_id))
    if fleet.kind == "job":
        from commands_core.adapters import aws as clients

        added = [name for name, status in statuses(fleet.api, command_id).items() if status != "SCHEDULED"]
        assert job_things(clients.client("iot"), command_id) == sorted(added)
    return names


@pytest.mark.parametrize("kind", KINDS)
def test_things_that_join_a_targeted_group_get_executions_up_to_maximum_targets(
    rollout: Callable[..., Fleet], iot: Any, kind: str
) -> None:
    fleet = rollout(kind, 2)
    continuous(fleet, iot, "open", maximumTargets=2)
    fleet.answer_started("open")
    assert command(fleet, "open")["counts"] == {"SUCCEEDED": 2}

    fleet.join("site", "late-1")
    fleet.run()
    assert "late-1" in fleet.started("open")
    fleet.answer("open", "late-1", "SUCCEEDED")  # its device runs it and reports
    iot.create_thing_group(thingGroupName="site-annex", parentGroupName="site")
    fleet.join("site-annex", "late-2")  # a group nested in the targeted one: its new member joins too
    fleet.run()
    fleet.answer("open", "late-2", "FAILED")
    fleet.join("site", "late-3")  # the third joiner, past maximumTargets
    fleet.run()

    assert executed(fleet, "open") == ["late-1", "late-2", "t-000", "t-001"]
    shown = command(fleet, "open")
    assert (shown["status"], shown["counts"]) == ("in_progress", {"SUCCEEDED": 3, "FAILED": 1})
    assert (shown["joinedLate"], shown["maximumTargets"]) == (2, 2)


@pytest.mark.parametrize("kind", KINDS)
def test_a_thing_that_leaves_keeps_its_execution(rollout: Callable[..., Fleet], iot: Any, kind: str) -> None:
    fleet = rollout(kind, 1)
    continuous(fleet, iot, "kept")
    fleet.join("site", "late-1")
    fleet.run()

    assert fleet.leave("site", "late-1") == []  # no rule takes a removal
    fleet.leave("site", "t-000")
    fleet.run()
    assert sorted(fleet.started("kept")) == ["late-1", "t-000"]
    assert set(statuses(fleet.api, "kept").values()) <= {"SCHEDULED", "QUEUED", "SENT"}  # nothing cancelled
    fleet.answer("kept", "late-1", "SUCCEEDED")
    fleet.answer("kept", "t-000", "SUCCEEDED")
    assert statuses(fleet.api, "kept") == {"late-1": "SUCCEEDED", "t-000": "SUCCEEDED"}


@pytest.mark.parametrize("kind", KINDS)
def test_duplicated_events_and_joiners_at_once_never_pass_the_cap(
    rollout: Callable[..., Fleet], iot: Any, kind: str
) -> None:
    fleet = rollout(kind, 1)
    continuous(fleet, iot, "capped", maximumTargets=3)
    joiners = [f"late-{number}" for number in range(12)]
    messages = fleet.join("site", *joiners, deliver=False)
    assert len(messages) == 12
    parallel = HandlerClient(fleet.api.env, instances=4)

    # Every event twice, from four consumers at once
    def consume(share: list[dict[str, Any]]) -> None:
        for message in share:
            assert parallel.functions.invoke("targets_join", sqs_event([message])) == {"batchItemFailures": []}

    doubled = messages + messages
    threads = [threading.Thread(target=consume, args=(doubled[index::4],)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fleet.run()

    joined = [name for name in executed(fleet, "capped") if name.startswith("late-")]
    assert len(joined) == 3
    assert sorted(fleet.started("capped")) == sorted([*joined, "t-000"])
    shown = command(fleet, "capped")
    assert (shown["joinedLate"], sum(shown["counts"].values())) == (3, 4)


@pytest.mark.parametrize("kind", KINDS)
def test_joiners_start_within_the_commands_rate(rollout: Callable[..., Fleet], iot: Any, kind: str) -> None:
    fleet = rollout(kind, 5)
    continuous(fleet, iot, "paced", rolloutMaximumPerMinute=10)

    fleet.join("site", *[f"late-{number:02d}" for number in range(25)])  # 25 at once
    fleet.run()

    started = fleet.started("paced")
    assert len(started) == 30
    assert most_in_a_window(list(started.values())) == 10  # the five of publishing in the first minute too
    assert max(started.values()) - min(started.values()) >= 120


@pytest.mark.parametrize("kind", KINDS)
def test_a_joiner_of_a_paused_command_waits_for_the_resume(rollout: Callable[..., Fleet], iot: Any, kind: str) -> None:
    fleet = rollout(kind, 1)
    continuous(fleet, iot, "held")
    assert fleet.api.patch("/commands/held", {"status": "paused"}).status == 204

    fleet.join("site", "late-1")
    fleet.run()
    assert statuses(fleet.api, "held")["late-1"] == "SCHEDULED"
    assert "late-1" not in fleet.started("held")

    assert fleet.api.patch("/commands/held", {"status": "in_progress"}).status == 204
    fleet.run()
    assert "late-1" in fleet.started("held")
    fleet.answer("held", "late-1", "SUCCEEDED")
    assert statuses(fleet.api, "held")["late-1"] == "SUCCEEDED"


@pytest.mark.parametrize("kind", KINDS)
def test_joiners_of_a_cancelled_command_get_nothing(rollout: Callable[..., Fleet], iot: Any, kind: str) -> None:
    fleet = rollout(kind, 1)
    continuous(fleet, iot, "over")
    assert fleet.api.patch("/commands/over", {"status": "cancelled"}).status == 204
    fleet.run()

    fleet.join("site", "late-1")
    fleet.run()
    assert fleet.api.functions.invoke("reconcile", {})["failed"] == 0
    fleet.run()

    assert executed(fleet, "over") == ["t-000"]
    assert command(fleet, "over")["joinedLate"] == 0


@pytest.mark.parametrize("kind", KINDS)
def test_a_thing_that_joins_while_the_rollout_is_under_way_gets_an_execution_at_its_end(
    rollout: Callable[..., Fleet], iot: Any, kind: str
) -> None:
    fleet = rollout(kind, 20)
    iot.create_thing_group(thingGroupName="site")
    for name in fleet.names:
        iot.add_thing_to_thing_group(thingGroupName="site", thingName=name)
    fleet.membership_messages()
    publish(fleet, "slow", targets=[group_arn("site")], type="CONTINUOUS", rolloutMaximumPerMinute=10)
    fleet.run(limit=2)  # the expand and the first minute's ten
    assert len(fleet.started("slow")) == 10

    fleet.join("site", "late-1")  # its event comes while the rollout is under way
    fleet.run()

    assert len(fleet.started("slow")) == 21
    assert command(fleet, "slow")["joinedLate"] == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_target_querys_new_matches_join_through_the_reconciler(
    rollout: Callable[..., Fleet], things: Callable[..., list[str]], kind: str
) -> None:
    fleet = rollout(kind, 0)
    things("north-1", attributes={"site": "north"})
    query = {"eq": [{"field": "site", "value": "north"}]}
    publish(fleet, "matched", targets=[], targetQuery=query, type="CONTINUOUS", maximumTargets=1)
    fleet.run()
    assert executed(fleet, "matched") == ["north-1"]

    things("north-2", "north-3", attributes={"site": "north"})  # new matches: a query has no event
    things("south-1", attributes={"site": "south"})
    assert fleet.api.functions.invoke("reconcile", {})["failed"] == 0
    fleet.run()

    joined = executed(fleet, "matched")
    assert len(joined) == 2
    assert joined[1] in ("north-2", "north-3")  # one of the two new matches: maximumTargets is 1
    fleet.answer("matched", joined[1], "SUCCEEDED")
    assert command(fleet, "matched")["counts"]["SUCCEEDED"] == 1
    assert command(fleet, "matched")["joinedLate"] == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_thing_added_under_a_target_querys_ancestor_path_joins_at_once(
    rollout: Callable[..., Fleet], iot: Any, kind: str
) -> None:
    fleet = rollout(kind, 1)
    iot.create_thing_group(thingGroupName="plant")
    iot.create_thing_group(thingGroupName="line-2", parentGroupName="plant")
    iot.add_thing_to_thing_group(thingGroupName="plant", thingName="t-000")
    fleet.membership_messages()
    publish(fleet, "lines", targets=[], targetQuery={"ancestorPath": "plant"}, type="CONTINUOUS")
    fleet.run()

    fleet.join("line-2", "late-1")  # its event names line-2, nested in the query's group
    fleet.run()

    assert sorted(fleet.started("lines")) == ["late-1", "t-000"]
    fleet.answer("lines", "late-1", "SUCCEEDED")
    assert command(fleet, "lines")["joinedLate"] == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_continuous_command_whose_group_emptied_stays_in_progress_and_reaches_later_members(
    rollout: Callable[..., Fleet], iot: Any, kind: str
) -> None:
    fleet = rollout(kind, 1)
    iot.create_thing_group(thingGroupName="later")
    iot.add_thing_to_thing_group(thingGroupName="later", thingName="t-000")
    waves = {"percentages": [10, 50, 100], "successThresholdPercentage": 100, "timeoutSeconds": 300}
    publish(fleet, "joiners", targets=[group_arn("later")], type="CONTINUOUS", waves=waves)
    fleet.leave("later", "t-000")  # before the expand
    fleet.run()
    assert (command(fleet, "joiners")["status"], statuses(fleet.api, "joiners")) == ("in_progress", {})

    fleet.join("later", "t-000")  # joins after publishing
    fleet.run()
    assert list(fleet.started("joiners")) == ["t-000"]


def test_maximum_targets_is_only_for_continuous_commands(rollout: Callable[..., Fleet]) -> None:
    fleet = rollout("command", 1)
    body = {"templateId": "roll", "targets": fleet.names}
    for given, reason in (
        ({"maximumTargets": 5}, "maximumTargets: applies only to type CONTINUOUS"),
        ({"maximumTargets": 5, "type": "SNAPSHOT"}, "maximumTargets: applies only to type CONTINUOUS"),
        ({"maximumTargets": 0, "type": "CONTINUOUS"}, "maximumTargets"),
        ({"maximumTargets": "5", "type": "CONTINUOUS"}, "maximumTargets"),
    ):
        reply = fleet.api.post("/commands", body | given)
        assert (reply.status, reply.json()["error"].startswith(reason)) == (400, True), reply.body

    assert fleet.api.post("/commands", body | {"commandId": "draft", "type": "CONTINUOUS"}).status == 201
    assert fleet.api.patch("/commands/draft", {"maximumTargets": 2}).status == 204
    reply = fleet.api.patch("/commands/draft", {"type": "SNAPSHOT"})  # the cap left behind
    assert (reply.status, reply.json()["error"].split(":")[0]) == (400, "maximumTargets")
    reply = fleet.api.patch("/commands/draft", {"joinedLate": 3})
    assert (reply.status, reply.json()["error"].split(":")[0]) == (400, "joinedLate")


def test_stray_and_malformed_membership_events_are_dropped_and_counted(
    rollout: Callable[..., Fleet], iot: Any, output: Output
) -> None:
    fleet = rollout("inbox", 1)
    continuous(fleet, iot, "watched")
    iot.create_thing_group(thingGroupName="elsewhere")
    (added,) = fleet.join("elsewhere", "stranger", deliver=False)
    (duplicate,) = fleet.join("site", "late-1")
    fleet.run()
    output.records()
    cases = {
        "unwatched": added,
        "duplicate": duplicate,
        "removed": duplicate | {"operation": "REMOVED"},
        "not_a_thing": duplicate | {"thingArn": "arn:aws:iot:us-east-1:123456789012:client/late-1"},
        "not_a_group": duplicate | {"groupArn": "arn:aws:s3:::bucket"},
        "bad_timestamp": duplicate | {"timestamp": "soon"},
        "malformed": {"eventType": "THING_EVENT", "thingName": "late-1"},
    }
    for reason, message in cases.items():
        assert fleet.api.functions.invoke("targets_join", sqs_event([message])) == {"batchItemFailures": []}
        records = output.records()
        dropped = [record for record in records if record.get("message") == "membership event dropped"]
        assert [record["reason"] for record in dropped] == [reason]
        metric = [record for record in records if "MembershipEventsDropped" in record]
        assert [record["reason"] for record in metric] == [reason]

    assert sorted(statuses(fleet.api, "watched")) == ["late-1", "t-000"]
    assert command(fleet, "watched")["joinedLate"] == 1


def test_the_join_write_creates_once_counts_under_the_cap_and_only_for_a_published_command(
    rollout: Callable[..., Fleet], iot: Any
) -> None:
    from commands_core.clock import now
    from commands_core.dependencies import ports

    fleet = rollout("inbox", 1)
    continuous(fleet, iot, "capped", maximumTargets=2)
    store = ports().commands

    outcomes = [store.join("capped", name, now(), maximum=2) for name in ("a", "a", "b", "c")]
    assert outcomes == ["joined", "has_one", "joined", "full"]
    assert store.join("capped", "t-000", now(), maximum=None) == "has_one"  # targeted at publishing
    assert fleet.api.patch("/commands/capped", {"status": "cancelled"}).status == 204
    assert store.join("capped", "d", now(), maximum=None) == "ended"

    shown = command(fleet, "capped")
    assert (shown["joinedLate"], sorted(statuses(fleet.api, "capped"))) == (2, ["a", "b", "t-000"])


@pytest.mark.parametrize("kind", KINDS)
def test_joiners_keep_to_the_maintenance_windows_and_none_joins_after_the_end_time(
    rollout: Callable[..., Fleet], iot: Any, kind: str
) -> None:
    from datetime import UTC, datetime, timedelta

    fleet = rollout(kind, 1)
    opened = datetime.fromtimestamp(fleet.clock(), UTC)
    windows = [{"startTime": "cron(0 * ? * * *)", "durationInMinutes": 10}]  # ten minutes at the top of each hour
    end = (opened + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    iot.create_thing_group(thingGroupName="site")
    iot.add_thing_to_thing_group(thingGroupName="site", thingName="t-000")
    fleet.membership_messages()
    schedule = {"maintenanceWindows": windows, "endTime": end}
    publish(fleet, "nightly", targets=[group_arn("site")], type="CONTINUOUS", schedulingConfig=schedule)
    fleet.run_for(3600)  # a window has opened: t-000 started in it
    assert sorted(fleet.started("nightly")) == ["t-000"]

    opening = (datetime.fromtimestamp(fleet.clock(), UTC) + timedelta(hours=1)).replace(minute=0, second=0)
    fleet.clock.at = opening.timestamp() - 20 * 60  # twenty minutes before the next window
    fleet.join("site", "late-1")
    fleet.run_for(19 * 60)
    assert "late-1" not in fleet.started("nightly")  # it waits for the window
    fleet.run_for(2 * 60)
    joined_at = fleet.started("nightly")["late-1"]
    assert datetime.fromtimestamp(joined_at, UTC).minute < 10

    fleet.clock.at = max(fleet.clock.at, (opened + timedelta(hours=3, minutes=1)).timestamp())  # past the end time
    fleet.join("site", "late-2")
    fleet.run_for(7200)
    assert "late-2" not in statuses(fleet.api, "nightly")


@pytest.mark.parametrize("kind", KINDS)
def test_a_joiner_waiting_for_a_window_at_the_end_time_is_cancelled_and_the_command_completes(
    rollout: Callable[..., Fleet], iot: Any, kind: str
) -> None:
    from datetime import UTC, datetime, timedelta

    fleet = rollout(kind, 1)
    opened = datetime.fromtimestamp(fleet.clock(), UTC)
    top = (opened + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    windows = [{"startTime": "cron(0 * ? * * *)", "durationInMinutes": 10}]
    end = (top + timedelta(hours=2, minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")  # between two windows
    iot.create_thing_group(thingGroupName="site")
    iot.add_thing_to_thing_group(thingGroupName="site", thingName="t-000")
    fleet.membership_messages()
    schedule = {"maintenanceWindows": windows, "endTime": end, "endBehavior": "STOP_ROLLOUT"}
    publish(fleet, "closing", targets=[group_arn("site")], type="CONTINUOUS", schedulingConfig=schedule)
    fleet.run_for((top - opened).total_seconds() + 60)  # the first window: t-000 starts
    fleet.answer("closing", "t-000", "SUCCEEDED")

    fleet.clock.at = (top + timedelta(hours=2, minutes=15)).timestamp()  # after the last window before the end
    fleet.join("site", "late-1")
    for _ in range(3):  # the reconciler's rounds look for joiners too
        fleet.api.functions.invoke("reconcile", {})
        fleet.run_for(300)
    assert statuses(fleet.api, "closing")["late-1"] == "SCHEDULED"
    assert sum(message.action == "join" for *_, message in fleet.clock._queue) <= 1  # one wait, not one per ask

    fleet.run_for(3600)  # the end time passes: the joiner never started, and nothing more will
    assert statuses(fleet.api, "closing") == {"late-1": "CANCELED", "t-000": "SUCCEEDED"}
    assert command(fleet, "closing")["status"] == "completed"
