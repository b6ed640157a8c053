"""Previews and reruns, end to end through the real handlers for each delivery kind.

A dry run (`POST /commands?dryRun=true`, `POST /commands/{id}/preview`, `POST /commands/{id}/rerun?dryRun=true`)
answers what publishing would do and stores and sends nothing; the real publish then reaches exactly the things it
counted, in the waves it planned. A rerun targets exactly the things whose executions of its source are in the
statuses asked, and runs to its end like any command."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from commands_core.adapters import aws as clients
from commands_core.settings import settings
from tests.conftest import HandlerClient, same_answer
from tests.integration.conftest import group_arn, upload
from tests.integration.rollouts import KINDS, Fleet, command, publish, statuses

WAVES = {"percentages": [10, 50, 100], "successThresholdPercentage": 100, "waitSeconds": 30}
FAILING = ("t-002", "t-005", "t-007")


def dry_run(api: HandlerClient, body: Any, path: str = "/commands", **kwargs: Any) -> dict[str, Any]:
    reply = api.post(f"{path}?dryRun=true", body, **kwargs)
    assert reply.status == 200, reply.body
    return dict(reply.json())


def everything(fleet: Fleet) -> dict[str, Any]:
    """What is stored and sent anywhere: the items of the commands table (commands and executions) and of the
    idempotency table, the dispatch queue's next message, AWS IoT's jobs, thing groups and AWS IoT commands, and
    the files bucket's objects."""
    dynamodb, iot = clients.client("dynamodb"), clients.client("iot")
    return {
        "items": {
            table: dynamodb.scan(TableName=table)["Items"]
            for table in (settings().commands_table, settings().idempotency_table)
        },
        "queue": fleet.clock.next_due(),
        "jobs": iot.list_jobs()["jobs"],
        "groups": iot.list_thing_groups()["thingGroups"],
        "iot commands": iot.list_commands()["commands"],
        "objects": clients.client("s3").list_object_versions(Bucket=settings().files_bucket).get("Versions", []),
    }


def in_group(iot: Any, group: str, names: list[str]) -> str:
    iot.create_thing_group(thingGroupName=group)
    for name in names:
        iot.add_thing_to_thing_group(thingGroupName=group, thingName=name)
    return group_arn(group)


@pytest.mark.parametrize("kind", KINDS)
def test_a_dry_run_stores_and_sends_nothing_and_the_publish_reaches_what_it_predicted(
    rollout: Callable[..., Fleet], iot: Any, kind: str
) -> None:
    # Given 20 things, ten of them named and ten in a group, and an unknown thing among the targets
    fleet = rollout(kind, 20)
    targets = [*fleet.names[:10], in_group(iot, "site", fleet.names[10:]), "ghost"]
    body = {
        "commandId": "dry",
        "templateId": "roll",
        "status": "in_progress",
        "targets": targets,
        "waves": WAVES,
        "jobExecutionsRolloutConfig": {"maximumPerMinute": 6},
    }

    # When the create is run dry
    before = everything(fleet)
    preview = dry_run(fleet.api, body)

    # Then it says what the publish would do, and nothing is stored or sent
    assert preview == {
        "targetCount": 20,
        "targets": fleet.names,
        "unknownTargets": ["thing/ghost"],
        "errors": [],
        "document": json.dumps({"op": "update"}),
        "delivery": kind,
        "waves": [{"percentage": 10, "size": 2}, {"percentage": 50, "size": 8}, {"percentage": 100, "size": 10}],
        "ratePerMinute": 6,
        "startsAt": None,
        "estimatedDurationSeconds": 20 / 6 * 60 + 2 * 30,  # 20 at 6 a minute, and two waves' wait
    }
    assert everything(fleet) == before
    assert fleet.api.get("/commands/dry").status == 404

    # And the real publish of the same body reaches exactly those things, in waves of those sizes
    assert fleet.api.post("/commands", body).status == 201
    fleet.run(limit=2)
    published = command(fleet, "dry")
    assert [wave["size"] for wave in published["rollout"]["waves"]] == [wave["size"] for wave in preview["waves"]]
    assert published["unknownTargets"] == preview["unknownTargets"]
    assert sorted(statuses(fleet.api, "dry")) == preview["targets"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_dry_run_lists_every_problem_at_once(rollout: Callable[..., Fleet], kind: str) -> None:
    fleet = rollout(kind, 2, document=json.dumps({"v": "${version}"}), requiredDocumentParameters=["version"])
    body = {
        "templateId": "roll",
        "targets": fleet.names,
        "documentParameters": {"colour": "red"},  # not a parameter of the template, and version is missing
        "rolloutMaximumPerMinute": 0,
        "waves": {"percentages": [50, 10]},
        "targetQuery": {"eq": [{"field": "place", "value": "a/b"}]},
    }

    before = everything(fleet)
    preview = dry_run(fleet.api, body)

    assert everything(fleet) == before
    assert [problem["field"] for problem in preview["errors"]] == [
        "rolloutMaximumPerMinute",
        "waves.percentages",
        "documentParameters",
        "targetQuery.eq.0.value",
        "documentParameters",
    ]
    assert preview["errors"][2]["message"] == "template 'roll' has no parameter colour"
    assert preview["errors"][4]["message"] == "cannot publish: missing documentParameters version"
    assert (preview["targetCount"], preview["document"]) == (0, None)


def test_a_dry_run_of_an_unknown_template_says_so_with_the_other_problems(rollout: Callable[..., Fleet]) -> None:
    fleet = rollout("command", 1)

    preview = dry_run(fleet.api, {"templateId": "nope", "targets": ["ghost"], "rolloutMaximumPerMinute": 5000})

    assert preview["errors"] == [
        {"field": "rolloutMaximumPerMinute", "message": "Input should be less than or equal to 1000"},
        {"field": "templateId", "message": "there is no template 'nope'"},
        {"field": "targets", "message": "no target resolves to a thing (unknown: thing/ghost)"},
    ]
    assert (preview["unknownTargets"], preview["delivery"], preview["targetCount"]) == (["thing/ghost"], None, 0)
    # A body without a templateId is only checked field by field
    assert dry_run(fleet.api, {"targets": ["a/b"]})["errors"] == [
        {"field": "templateId", "message": "is required"},
        {"field": "targets.0", "message": "must be a thing name, a thing ARN or a thing-group ARN"},
    ]


def test_a_dry_run_refuses_what_is_no_body_as_a_create_does_and_dry_run_false_creates(
    rollout: Callable[..., Fleet],
) -> None:
    fleet = rollout("inbox", 1)
    body = {"commandId": "c", "templateId": "roll", "targets": fleet.names}
    before = everything(fleet)

    assert fleet.api.post("/commands?dryRun=true", "{not json").status == 400
    assert fleet.api.post("/commands?dryRun=true", None).status == 400
    wrong_type = fleet.api.post("/commands?dryRun=true", json.dumps(body), headers={"Content-Type": "text/plain"})
    assert wrong_type.status == 415
    maybe = fleet.api.post("/commands?dryRun=maybe", body)
    assert (maybe.status, maybe.json()["error"]) == (400, "dryRun: must be true or false")
    assert everything(fleet) == before
    assert fleet.api.post("/commands?dryRun=false", body).status == 201


def test_a_dry_run_with_an_idempotency_key_keeps_no_answer(rollout: Callable[..., Fleet]) -> None:
    fleet = rollout("job", 1)
    body = {"templateId": "roll", "targets": fleet.names}
    key = {"Idempotency-Key": "first-try"}
    before = everything(fleet)

    assert dry_run(fleet.api, body, headers=key)["errors"] == []
    assert everything(fleet) == before
    created = fleet.api.post("/commands", body, headers=key)
    assert created.status == 201  # a create, not the dry run's answer again
    assert dry_run(fleet.api, body | {"commandId": created.json()["commandId"]})["errors"] == [
        {"field": "commandId", "message": f"command '{created.json()['commandId']}' already exists"}
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_a_drafts_preview_says_what_its_publish_would_do_now(rollout: Callable[..., Fleet], kind: str) -> None:
    document = json.dumps({"url": "${cdf:file:firmware}"})
    fleet = rollout(kind, 4, document=document, requiredFiles=["firmware"], rolloutMaximumPerMinute=2)
    body = {"commandId": "draft", "templateId": "roll", "targets": fleet.names}
    assert fleet.api.post("/commands", body).status == 201
    before = everything(fleet)

    missing = fleet.api.post("/commands/draft/preview", None).json()
    assert missing["errors"] == [{"field": "files", "message": "cannot publish: missing files firmware"}]
    assert (missing["targetCount"], missing["ratePerMinute"], missing["estimatedDurationSeconds"]) == (4, 2, 120)
    assert everything(fleet) == before

    assert upload(fleet.api, "draft") == 201
    before = everything(fleet)
    ready = fleet.api.post("/commands/draft/preview", None).json()
    assert everything(fleet) == before
    assert ready["errors"] == []
    bucket = settings().files_bucket
    assert ready["document"] == json.dumps(
        {"url": f"${{aws:iot:s3-presigned-url:https://s3.amazonaws.com/{bucket}/commands/draft/published/firmware}}"}
    )
    assert command(fleet, "draft")["status"] == "draft"

    assert fleet.api.patch("/commands/draft", {"status": "in_progress"}).status == 204
    again = fleet.api.post("/commands/draft/preview", None)
    assert (again.status, again.json()["error"]) == (
        409,
        "command 'draft' is in_progress: only a draft is previewed (GET /commands/draft shows how its rollout goes)",
    )
    assert fleet.api.post("/commands/nothing/preview", None).status == 404


def test_a_dry_run_says_when_the_schedule_lets_the_rollout_start(rollout: Callable[..., Fleet]) -> None:
    from datetime import UTC, datetime, timedelta

    fleet = rollout("inbox", 2)
    body = {"templateId": "roll", "targets": fleet.names, "status": "in_progress"}
    assert dry_run(fleet.api, body)["startsAt"] is None  # no schedule: at once

    ahead = (datetime.fromtimestamp(fleet.clock(), UTC) + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    start = ahead.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert dry_run(fleet.api, body | {"schedulingConfig": {"startTime": start}})["startsAt"] == start
    windows = [{"startTime": "cron(30 * ? * * *)", "durationInMinutes": 10}]  # from half past each hour
    opens = dry_run(fleet.api, body | {"schedulingConfig": {"startTime": start, "maintenanceWindows": windows}})
    assert opens["startsAt"] == ahead.replace(minute=30).strftime("%Y-%m-%dT%H:%M:%SZ")


def roll_out_with_failures(fleet: Fleet, command_id: str = "first", **fields: Any) -> None:
    """Publishes a command to every thing of the fleet and answers it: those of FAILING fail, the rest succeed."""
    publish(fleet, command_id, **fields)
    fleet.run()
    for thing in FAILING:
        fleet.answer(command_id, thing, "FAILED")
    fleet.answer_started(command_id)
    assert command(fleet, command_id)["status"] == "completed"


@pytest.mark.parametrize("kind", KINDS)
def test_a_rerun_of_a_command_whose_3_of_10_devices_failed_targets_exactly_those_3(
    rollout: Callable[..., Fleet], kind: str
) -> None:
    # Given a command of 10 things that completed with 3 failures
    fleet = rollout(kind, 10)
    roll_out_with_failures(fleet)

    # When it is rerun, published at once
    reply = fleet.api.post("/commands/first/rerun", {"commandId": "again", "status": "in_progress"})

    # Then the rerun targets exactly the 3, and completes once they succeed
    assert reply.status == 201, reply.body
    assert reply.headers["location"] == "/commands/again"
    rerun = reply.json()
    pending = ["SCHEDULED", "QUEUED", "SENT", "ACKNOWLEDGED", "IN_PROGRESS"]
    assert rerun["rerunOf"] == {
        "commandId": "first",
        "statuses": [*pending, "FAILED", "REJECTED", "TIMED_OUT", "REMOVED"],
    }
    assert (rerun["templateId"], rerun["type"], rerun["targets"]) == ("roll", "SNAPSHOT", [])
    fleet.run()
    assert sorted(statuses(fleet.api, "again")) == list(FAILING)
    fleet.answer_started("again")
    done = command(fleet, "again")
    assert (done["status"], done["counts"]) == ("completed", {"SUCCEEDED": 3})
    # And the source lists its rerun
    assert command(fleet, "first")["reruns"] == ["again"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_rerun_takes_the_statuses_asked_and_a_dry_run_of_it_stores_nothing(
    rollout: Callable[..., Fleet], kind: str
) -> None:
    # Given a command that completed with 3 failures, at 30 a minute, whose template now rolls out in two waves
    fleet = rollout(kind, 10)
    roll_out_with_failures(fleet, rolloutMaximumPerMinute=30)
    assert fleet.api.patch("/templates/roll", {"waves": {"percentages": [50, 100]}}).status == 204

    before = everything(fleet)
    preview = dry_run(fleet.api, {"statuses": ["SUCCEEDED"]}, "/commands/first/rerun")
    assert everything(fleet) == before
    succeeded = sorted(set(fleet.names) - set(FAILING))
    assert (preview["targetCount"], preview["targets"], preview["errors"]) == (7, succeeded, [])
    assert (preview["waves"], preview["ratePerMinute"]) == (
        [{"percentage": 50, "size": 4}, {"percentage": 100, "size": 3}],
        30,
    )
    assert command(fleet, "first")["reruns"] == []

    reply = fleet.api.post("/commands/first/rerun", {"statuses": ["SUCCEEDED"], "status": "in_progress"})
    assert reply.status == 201, reply.body
    rerun = reply.json()["commandId"]
    fleet.run_until(lambda: len(statuses(fleet.api, rerun)) == 7)
    assert sorted(statuses(fleet.api, rerun)) == preview["targets"]
    assert [wave["size"] for wave in command(fleet, rerun)["rollout"]["waves"]] == [4, 3]


def test_a_rerun_of_nothing_is_a_409_saying_so(rollout: Callable[..., Fleet]) -> None:
    fleet = rollout("command", 10)
    roll_out_with_failures(fleet)
    assert fleet.api.post("/commands", {"commandId": "draft", "templateId": "roll", "targets": ["t-000"]}).status == 201

    rejected = fleet.api.post("/commands/first/rerun", {"statuses": ["REJECTED", "TIMED_OUT"]})
    of_draft = fleet.api.post("/commands/draft/rerun", {})
    dry = fleet.api.post("/commands/first/rerun?dryRun=true", {"statuses": ["REJECTED"]})

    assert (rejected.status, rejected.json()["error"]) == (
        409,
        "nothing to rerun: no execution of command 'first' is REJECTED or TIMED_OUT",
    )
    assert (of_draft.status, of_draft.json()["error"]) == (
        409,
        "nothing to rerun: command 'draft' is a draft, it has no executions",
    )
    assert dry.status == 409
    unknown = fleet.api.post("/commands/first/rerun", {"statuses": ["FAILED", "BROKEN"]})
    assert (unknown.status, unknown.json()["error"].split(":")[0]) == (400, "statuses.1")
    assert fleet.api.post("/commands/first/rerun", {"statuses": []}).status == 400
    assert fleet.api.post("/commands/nothing/rerun", {}).status == 404
    assert sorted(item["commandId"] for item in fleet.api.get("/commands").json()["results"]) == ["draft", "first"]


def test_a_rerun_retried_with_its_idempotency_key_or_its_id_is_made_once(rollout: Callable[..., Fleet]) -> None:
    fleet = rollout("inbox", 10)
    roll_out_with_failures(fleet)
    key = {"Idempotency-Key": "rerun-1"}

    first = fleet.api.post("/commands/first/rerun", {"status": "in_progress"}, headers=key)
    again = fleet.api.post("/commands/first/rerun", {"status": "in_progress"}, headers=key)
    named = fleet.api.post("/commands/first/rerun", {"commandId": "named"})
    named_again = fleet.api.post("/commands/first/rerun", {"commandId": "named"})
    taken = fleet.api.post("/commands/first/rerun", {"commandId": "named", "statuses": ["FAILED"]})

    assert first.status == 201
    assert same_answer(first, again)
    assert same_answer(named, named_again)
    assert taken.status == 409
    assert command(fleet, "first")["reruns"] == [first.json()["commandId"], "named"]
    assert len(fleet.api.get("/commands").json()["results"]) == 3


def test_a_rerun_has_the_files_its_source_published_and_publishes_the_same_bytes(
    rollout: Callable[..., Fleet],
) -> None:
    document = json.dumps({"url": "${cdf:file:firmware}", "v": "${version}"})
    fleet = rollout("job", 10, document=document, requiredFiles=["firmware"], requiredDocumentParameters=["version"])
    body = {"commandId": "first", "templateId": "roll", "targets": fleet.names, "documentParameters": {"version": "7"}}
    assert fleet.api.post("/commands", body).status == 201
    assert upload(fleet.api, "first", content=b"image-1") == 201
    assert fleet.api.patch("/commands/first", {"status": "in_progress"}).status == 204
    assert upload(fleet.api, "first", content=b"image-2") == 400  # no longer a draft: the file stays
    fleet.run()
    for thing in FAILING:
        fleet.answer("first", thing, "FAILED")

    reply = fleet.api.post("/commands/first/rerun", {"commandId": "again", "statuses": ["FAILED"]})
    assert reply.status == 201, reply.body
    assert reply.json()["documentParameters"] == {"version": "7"}
    assert reply.json()["files"] == {"firmware": f"s3://{settings().files_bucket}/commands/again/files/firmware"}
    retargeted = fleet.api.patch("/commands/again", {"targets": ["t-000"]})
    assert (retargeted.status, retargeted.json()["error"]) == (
        400,
        "targets: a rerun targets the executions of its source (rerunOf) alone, once",
    )
    assert fleet.api.patch("/commands/again", {"status": "in_progress"}).status == 204
    fleet.run()

    s3 = clients.client("s3")
    published = s3.get_object(Bucket=settings().files_bucket, Key="commands/again/published/firmware")
    assert published["Body"].read() == b"image-1"
    assert sorted(statuses(fleet.api, "again")) == list(FAILING)
