"""Hostile and malformed inputs to the lifecycle routes and fields: dry runs, previews and reruns, schedules,
retry policies, CONTINUOUS caps, and the membership queue's messages. Each is refused with a 4xx naming the field
(a dry run lists it in `errors`), or taken as it should be; none is a 500, and none stores or starts anything it
should not. A rerun's body is read before its source is looked up, so most cases need no command at all."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import HandlerClient
from tests.integration.conftest import Output, group_arn, sqs_event, stored, thing_arn
from tests.integration.rollouts import Fleet, command, publish, statuses
from tests.integration.test_preview_and_rerun import roll_out_with_failures

OTHER_ACCOUNT = "arn:aws:iot:us-east-1:999999999999:"
OTHER_REGION = "arn:aws:iot:eu-west-1:123456789012:"


def refused(reply: Any, status: int = 400) -> str:
    """The field a refusal names (its message starts with it); fails unless the reply is that refusal."""
    assert reply.status == status, reply.body
    message = reply.json()["error"]
    return str(message.split(":")[0])


def commands_stored(api: HandlerClient) -> list[str]:
    return sorted(item["commandId"] for item in api.get("/commands").json()["results"])


@pytest.fixture
def roll(api: HandlerClient, template: Callable[..., dict[str, Any]], things: Callable[..., list[str]]) -> str:
    """A template `roll` with nothing to fill in, and things t-1 and t-2; the template's id."""
    template("roll", document=json.dumps({"op": 1}), requiredDocumentParameters=[], requiredFiles=[])
    things("t-1", "t-2")
    return "roll"


BODY = {"templateId": "roll", "targets": ["t-1", "t-2"]}


# POST /commands/{commandId}/rerun, ?dryRun=true, POST /commands/{commandId}/preview


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"statuses": []}, "statuses"),
        ({"statuses": ["NOPE"]}, "statuses.0"),
        ({"statuses": ["failed"]}, "statuses.0"),
        ({"statuses": ["FAILED", 7]}, "statuses.1"),
        ({"statuses": "FAILED"}, "statuses"),
        ({"statuses": {"FAILED": 1}}, "statuses"),
        ({"statuses": None}, "statuses"),
        ({"commandId": "a/b"}, "commandId"),
        ({"commandId": "a.b"}, "commandId"),
        ({"commandId": "x" * 65}, "commandId"),
        ({"commandId": ""}, "commandId"),
        ({"commandId": 5}, "commandId"),
        ({"commandId": "v0"}, "commandId"),
        ({"commandId": None}, "commandId"),  # null is no id: left out, one is generated
        ({"status": "paused"}, "status"),
        ({"status": "cancelled"}, "status"),
        ({"status": "completed"}, "status"),
        ({"status": None}, "status"),
        ({"status": 1}, "status"),
        ({"foo": 1}, "foo"),
        ({"targets": ["t-1"]}, "targets"),
        ({"schedulingConfig": {}}, "schedulingConfig"),
        ({"rerunOf": {"commandId": "x", "statuses": ["FAILED"]}}, "rerunOf"),
    ],
)
def test_a_rerun_body_out_of_shape_is_a_400_naming_the_field_also_in_a_dry_run(
    api: HandlerClient, body: dict[str, Any], field: str
) -> None:
    assert refused(api.post("/commands/source/rerun", body)) == field
    assert refused(api.post("/commands/source/rerun?dryRun=true", body)) == field
    assert commands_stored(api) == []


@pytest.mark.parametrize("body", ["[]", '"x"', "5", "null", "{nope", '{"statuses": ["FAILED"],}'])
def test_a_rerun_body_that_is_no_json_object_is_a_400_naming_the_body(api: HandlerClient, body: str) -> None:
    assert refused(api.post("/commands/source/rerun", body)) == "body"
    assert refused(api.post("/commands/source/rerun?dryRun=true", body)) == "body"


def test_a_rerun_with_a_body_too_long_is_a_400_naming_the_body(api: HandlerClient) -> None:
    assert refused(api.post("/commands/source/rerun", {"statuses": ["FAILED"] * 30_000})) == "body"


@pytest.mark.parametrize(
    "query",
    [
        *("dryRun=1", "dryRun=yes", "dryRun=on", "dryRun=", "dryRun=%20true", "dryRun=TRUE&dryRun=nope"),
        *("dryRun=true&dryRun=false", "dryRun=false&dryRun=true"),  # which was meant?
    ],
)
def test_a_dry_run_flag_that_is_not_one_true_or_false_is_a_400_naming_it_and_creates_nothing(
    api: HandlerClient, roll: str, query: str
) -> None:
    assert refused(api.post(f"/commands?{query}", BODY)) == "dryRun"
    assert refused(api.post(f"/commands/source/rerun?{query}", {})) == "dryRun"
    assert commands_stored(api) == []


@pytest.mark.parametrize("query", ["dryRun=TRUE", "dryRun=True", "dryRun=true&dryRun=true"])
def test_a_dry_run_flag_in_any_case_or_repeated_alike_is_a_dry_run(api: HandlerClient, roll: str, query: str) -> None:
    reply = api.post(f"/commands?{query}", BODY | {"commandId": "c"})

    assert reply.status == 200, reply.body
    assert (reply.json()["targetCount"], reply.json()["errors"]) == (2, [])
    assert commands_stored(api) == []


def test_a_dry_run_names_a_field_given_wrong_once_and_not_also_as_missing(api: HandlerClient, roll: str) -> None:
    reply = api.post("/commands?dryRun=true", BODY | {"templateId": ["roll"], "commandId": None})

    assert reply.status == 200, reply.body
    assert reply.json()["errors"] == [
        {"field": "templateId", "message": "Input should be a valid string"},
        {"field": "commandId", "message": "Input should be a valid string"},
    ]


@pytest.mark.parametrize("command_id", ["a.b", "..", "x" * 65, "a%20b", "%C3%A9", "a:b", "a$b", "a%2Fb", "%00"])
def test_a_preview_or_rerun_of_an_id_with_odd_characters_is_a_400_naming_the_command_id(
    api: HandlerClient, command_id: str
) -> None:
    for route in ("preview", "rerun", "rerun?dryRun=true"):
        assert refused(api.post(f"/commands/{command_id}/{route}", None)) == "commandId"


def test_a_preview_or_rerun_of_an_unknown_command_is_a_404(api: HandlerClient) -> None:
    for route in ("preview", "rerun", "rerun?dryRun=true"):
        reply = api.post(f"/commands/nothing/{route}", None)
        assert (reply.status, reply.json()["error"]) == (404, "command 'nothing' not found")


def test_a_rerun_named_as_its_source_or_a_command_that_exists_is_refused_and_changes_nothing(
    rollout: Callable[..., Fleet],
) -> None:
    fleet = rollout("inbox", 10)
    roll_out_with_failures(fleet)
    assert fleet.api.post("/commands", {"commandId": "draft", "templateId": "roll", "targets": ["t-000"]}).status == 201

    for taken in ("first", "draft"):
        reply = fleet.api.post("/commands/first/rerun", {"commandId": taken})
        assert (reply.status, reply.json()["error"]) == (409, f"command '{taken}' already exists")
        dry = fleet.api.post("/commands/first/rerun?dryRun=true", {"commandId": taken}).json()
        assert dry["errors"] == [{"field": "commandId", "message": f"command '{taken}' already exists"}]
    assert command(fleet, "first")["reruns"] == []
    assert command(fleet, "draft")["targets"] == ["t-000"]

    # Statuses listed twice are the same rerun; the same Idempotency-Key with another body is refused naming it
    key = {"Idempotency-Key": "rerun-key"}
    once = fleet.api.post("/commands/first/rerun", {"statuses": ["FAILED", "FAILED"]}, headers=key)
    assert once.status == 201, once.body
    assert once.json()["rerunOf"] == {"commandId": "first", "statuses": ["FAILED"]}
    other = fleet.api.post("/commands/first/rerun", {"statuses": ["FAILED", "TIMED_OUT"]}, headers=key)
    assert refused(other) == "Idempotency-Key"
    assert command(fleet, "first")["reruns"] == [once.json()["commandId"]]


# schedulingConfig: on a create, a draft's PATCH, and the Jobs API's POST /jobs


def window(start: Any, minutes: Any = 60) -> dict[str, Any]:
    return {"startTime": start, "durationInMinutes": minutes}


WINDOWS = "schedulingConfig.maintenanceWindows"
BAD_SCHEDULES = [
    pytest.param({"startTime": "tomorrow"}, "schedulingConfig.startTime", id="start-not-a-time"),
    pytest.param({"startTime": 1_900_000_000}, "schedulingConfig.startTime", id="start-a-number"),
    pytest.param({"startTime": "2030-01-01T10:00+01:00"}, "schedulingConfig.startTime", id="start-offset-not-utc"),
    pytest.param({"endTime": "2030-01-01T10:00-05:00"}, "schedulingConfig.endTime", id="end-offset-not-utc"),
    pytest.param({"startTime": "2030-01-01T10:00z"}, "schedulingConfig.startTime", id="start-lowercase-z"),
    pytest.param({"startTime": "2030-02-30T10:00Z"}, "schedulingConfig.startTime", id="start-no-such-day"),
    pytest.param({"startTime": "2030-01-01T10:00:60Z"}, "schedulingConfig.startTime", id="start-second-60"),
    pytest.param({"startTime": "0000-01-01T00:00Z"}, "schedulingConfig.startTime", id="start-year-0"),
    pytest.param({"startTime": "9999-12-31T23:59:59Z"}, "schedulingConfig.startTime", id="start-year-9999"),
    pytest.param({"endTime": "9999-12-31T23:59:59.999999Z"}, "schedulingConfig.endTime", id="end-year-9999"),
    pytest.param({"startTime": "2200-01-01T00:00Z"}, "schedulingConfig.startTime", id="start-after-2199"),
    pytest.param({"startTime": "1969-12-31T23:59Z"}, "schedulingConfig.startTime", id="start-before-1970"),
    pytest.param(
        {"startTime": "2031-01-01T00:00Z", "endTime": "2030-01-01T00:00Z"}, "schedulingConfig.endTime", id="end-first"
    ),
    pytest.param(
        {"startTime": "2031-01-01T00:00Z", "endTime": "2031-01-01T00:00:00Z"},
        "schedulingConfig.endTime",
        id="end-at-start",
    ),
    pytest.param(
        {"endTime": "2031-01-01T00:00Z", "endBehavior": "EXPLODE"},
        "schedulingConfig.endBehavior",
        id="behavior-unknown",
    ),
    pytest.param({"endBehavior": "CANCEL"}, "schedulingConfig.endBehavior", id="behavior-without-end"),
    pytest.param({"maintenanceWindows": [window("cron(* * * * * *)")]}, f"{WINDOWS}.0.startTime", id="cron-all-stars"),
    pytest.param({"maintenanceWindows": [window("cron(0 0 1 * MON *)")]}, f"{WINDOWS}.0.startTime", id="both-days"),
    pytest.param({"maintenanceWindows": [window("cron(0 0 ? * ? *)")]}, f"{WINDOWS}.0.startTime", id="neither-day"),
    pytest.param({"maintenanceWindows": [window("cron(0 0 L * ? *)")]}, f"{WINDOWS}.0.startTime", id="cron-L"),
    pytest.param({"maintenanceWindows": [window("cron(0 0 15W * ? *)")]}, f"{WINDOWS}.0.startTime", id="cron-W"),
    pytest.param({"maintenanceWindows": [window("cron(0 0 ? * 2#1 *)")]}, f"{WINDOWS}.0.startTime", id="cron-hash"),
    pytest.param({"maintenanceWindows": [window("cron(61 0 ? * * *)")]}, f"{WINDOWS}.0.startTime", id="minute-61"),
    pytest.param({"maintenanceWindows": [window("cron(0 24 ? * * *)")]}, f"{WINDOWS}.0.startTime", id="hour-24"),
    pytest.param({"maintenanceWindows": [window("cron(0 0 32 * ? *)")]}, f"{WINDOWS}.0.startTime", id="day-32"),
    pytest.param({"maintenanceWindows": [window("cron(0 0 ? * 8 *)")]}, f"{WINDOWS}.0.startTime", id="weekday-8"),
    pytest.param({"maintenanceWindows": [window("cron(0 0 ? * * 3000)")]}, f"{WINDOWS}.0.startTime", id="year-3000"),
    pytest.param({"maintenanceWindows": [window("cron(*/0 * ? * * *)")]}, f"{WINDOWS}.0.startTime", id="step-0"),
    pytest.param({"maintenanceWindows": [window("cron(0 0 31 4 ? *)")]}, f"{WINDOWS}.0.startTime", id="31-april"),
    pytest.param({"maintenanceWindows": [window("cron(0 0 30 2 ? *)")]}, f"{WINDOWS}.0.startTime", id="30-february"),
    pytest.param(
        {"maintenanceWindows": [window("cron(0 0 ? * MON *)"), window("cron(0 0 31 2,4,6,9,11 ? *)")]},
        f"{WINDOWS}.1.startTime",
        id="one-window-of-no-date",
    ),
    pytest.param(
        {"maintenanceWindows": [window("cron(0 0 29 2 ? 2197-2199)")]}, f"{WINDOWS}.0.startTime", id="no-leap-year"
    ),
    pytest.param(
        {"maintenanceWindows": [window("cron(" + "9" * 200 + " 0 ? * * *)")]}, f"{WINDOWS}.0.startTime", id="huge-value"
    ),
    pytest.param({"maintenanceWindows": [window("cron(-5 0 ? * * *)")]}, f"{WINDOWS}.0.startTime", id="negative"),
    pytest.param({"maintenanceWindows": [window("cron(0 0 ? * *)")]}, f"{WINDOWS}.0.startTime", id="five-fields"),
    pytest.param({"maintenanceWindows": [window("rate(5 minutes)")]}, f"{WINDOWS}.0.startTime", id="rate"),
    pytest.param(
        {"maintenanceWindows": [window("cron(" + " " * 300 + "0 0 ? * * *)")]},
        f"{WINDOWS}.0.startTime",
        id="cron-too-long",
    ),
    pytest.param(
        {"maintenanceWindows": [window("cron(0 0 ? * * *)", 0)]}, f"{WINDOWS}.0.durationInMinutes", id="0-min"
    ),
    pytest.param(
        {"maintenanceWindows": [window("cron(0 0 ? * * *)", 1431)]}, f"{WINDOWS}.0.durationInMinutes", id="1431-min"
    ),
    pytest.param(
        {"maintenanceWindows": [window("cron(0 0 ? * * *)", 30.5)]}, f"{WINDOWS}.0.durationInMinutes", id="float-min"
    ),
    pytest.param(
        {"maintenanceWindows": [window("cron(0 0 ? * * *)", "30")]}, f"{WINDOWS}.0.durationInMinutes", id="string-min"
    ),
    pytest.param(
        {"maintenanceWindows": [window("cron(0 0 ? * * *)", None)]}, f"{WINDOWS}.0.durationInMinutes", id="null-min"
    ),
    pytest.param({"maintenanceWindows": [window("cron(0 0 ? * * *)")] * 6}, WINDOWS, id="six-windows"),
    pytest.param({"maintenanceWindows": []}, WINDOWS, id="no-windows"),
    pytest.param({"maintenanceWindows": [None]}, f"{WINDOWS}.0", id="null-window"),
    pytest.param({"timezone": "CET"}, "schedulingConfig.timezone", id="unknown-field"),
]


@pytest.mark.parametrize(("schedule", "field"), BAD_SCHEDULES)
def test_a_schedule_out_of_shape_is_refused_naming_the_field_on_a_create_a_drafts_patch_and_a_job(
    api: HandlerClient, roll: str, schedule: dict[str, Any], field: str
) -> None:
    assert api.post("/commands", BODY | {"commandId": "draft"}).status == 201

    assert refused(api.post("/commands", BODY | {"status": "in_progress", "schedulingConfig": schedule})) == field
    assert refused(api.patch("/commands/draft", {"schedulingConfig": schedule})) == field
    dry = api.post("/commands?dryRun=true", BODY | {"schedulingConfig": schedule}).json()
    assert [problem["field"] for problem in dry["errors"]] == [field]
    job = {"targets": ["t-1"], "targetSelection": "SNAPSHOT", "document": "{}", "schedulingConfig": schedule}
    assert refused(api.post("/jobs", job), 422) == field  # the Jobs API's own status for a refused field
    assert commands_stored(api) == ["draft"]
    assert "schedulingConfig" not in api.get("/commands/draft").json()
    assert api.get("/jobs").json()["jobs"] == []


@pytest.mark.parametrize("start", ["cron(0 0 29 2 ? *)", "cron(0 0 29 2 ? 2196)", "cron(0 0 31 * ? *)"])
def test_a_maintenance_window_on_a_day_only_some_months_or_years_have_is_taken(
    api: HandlerClient, roll: str, start: str
) -> None:
    schedule = {"maintenanceWindows": [window(start)]}

    reply = api.post("/commands?dryRun=true", BODY | {"status": "in_progress", "schedulingConfig": schedule})

    assert (reply.status, reply.json()["errors"]) == (200, [])
    assert reply.json()["startsAt"] is not None


def test_a_rollout_scheduled_in_the_last_year_allowed_is_shown_with_its_estimated_completion(
    api: HandlerClient, roll: str
) -> None:
    schedule = {"startTime": "2199-12-31T23:59:59Z"}
    body = BODY | {"commandId": "late", "status": "in_progress", "rolloutMaximumPerMinute": 1}

    assert api.post("/commands", body | {"schedulingConfig": schedule}).status == 201
    api.drain()

    shown = api.get("/commands/late")
    assert shown.status == 200, shown.body
    assert shown.json()["status"] == "scheduled"
    assert shown.json()["rollout"]["estimatedCompletionAt"] == "2200-01-01T00:01:59Z"  # two things, one a minute
    assert api.get("/commands").status == 200


# jobExecutionsRetryConfig and maximumTargets


def criteria(*pairs: tuple[Any, Any]) -> dict[str, Any]:
    return {"criteriaList": [{"failureType": kind, "numberOfRetries": count} for kind, count in pairs]}


RETRY = "jobExecutionsRetryConfig.criteriaList"
BAD_RETRIES = [
    pytest.param(criteria(("FAILED", -1)), f"{RETRY}.0.numberOfRetries", id="negative"),
    pytest.param(criteria(("FAILED", 11)), f"{RETRY}.0.numberOfRetries", id="eleven"),
    pytest.param(criteria(("FAILED", 10**15)), f"{RETRY}.0.numberOfRetries", id="huge"),
    pytest.param(criteria(("FAILED", 1.0)), f"{RETRY}.0.numberOfRetries", id="float"),
    pytest.param(criteria(("FAILED", "1")), f"{RETRY}.0.numberOfRetries", id="string"),
    pytest.param(criteria(("FAILED", None)), f"{RETRY}.0.numberOfRetries", id="null"),
    pytest.param(criteria(("BROKEN", 1)), f"{RETRY}.0.failureType", id="unknown-type"),
    pytest.param(criteria(("REJECTED", 1)), f"{RETRY}.0.failureType", id="rejected"),
    pytest.param(criteria(("failed", 1)), f"{RETRY}.0.failureType", id="lowercase"),
    pytest.param(criteria(("FAILED", 1), ("FAILED", 3)), RETRY, id="failed-twice"),
    pytest.param(criteria(("ALL", 1), ("ALL", 3)), RETRY, id="all-twice"),
    pytest.param(criteria(("TIMED_OUT", 2), ("TIMED_OUT", 2)), RETRY, id="same-criterion-twice"),
    pytest.param(criteria(("FAILED", 1), ("TIMED_OUT", 1), ("ALL", 1)), RETRY, id="three"),
    pytest.param(criteria(), RETRY, id="empty"),
    pytest.param([], "jobExecutionsRetryConfig", id="a-list"),
]


@pytest.mark.parametrize(("policy", "field"), BAD_RETRIES)
def test_a_retry_policy_out_of_shape_is_refused_naming_the_field_on_a_command_a_template_and_a_job(
    api: HandlerClient, roll: str, policy: Any, field: str
) -> None:
    assert api.post("/commands", BODY | {"commandId": "draft"}).status == 201
    retried = {"jobExecutionsRetryConfig": policy}

    assert refused(api.post("/commands", BODY | {"status": "in_progress"} | retried)) == field
    assert refused(api.patch("/commands/draft", retried)) == field
    assert refused(api.patch("/templates/roll", retried)) == field
    job = {"targets": ["t-1"], "targetSelection": "SNAPSHOT", "document": "{}"}
    assert refused(api.post("/jobs", job | retried), 422) == field
    assert commands_stored(api) == ["draft"]


def test_a_retry_policy_of_one_type_and_of_all_is_taken(api: HandlerClient, roll: str) -> None:
    policy = criteria(("FAILED", 2), ("ALL", 1))

    reply = api.post("/commands", BODY | {"jobExecutionsRetryConfig": policy})

    assert reply.status == 201, reply.body
    assert reply.json()["jobExecutionsRetryConfig"] == policy


def test_a_command_stored_before_these_rules_is_still_read_and_its_patch_names_what_to_fix(
    api: HandlerClient, roll: str
) -> None:
    assert api.post("/commands", BODY | {"commandId": "draft"}).status == 201
    twice = criteria(("FAILED", 1), ("FAILED", 3))
    never = [window("cron(0 0 31 4 ? *)"), window("cron(0 0 ? * MON *)")]
    schedule = {"endTime": "9999-12-31T23:59Z", "maintenanceWindows": never}
    stored("draft", jobExecutionsRetryConfig=twice, schedulingConfig=schedule)

    shown = api.get("/commands/draft")
    assert shown.status == 200, shown.body
    assert shown.json()["jobExecutionsRetryConfig"] == twice
    assert [item["commandId"] for item in api.get("/commands").json()["results"]] == ["draft"]
    assert refused(api.patch("/commands/draft", {"targets": ["t-1"]})) == RETRY
    once = {"jobExecutionsRetryConfig": criteria(("FAILED", 3))}
    assert refused(api.patch("/commands/draft", once)) == "schedulingConfig.endTime"
    assert api.patch("/commands/draft", once | {"schedulingConfig": None}).status == 204
    assert api.get("/commands/draft").json()["jobExecutionsRetryConfig"] == once["jobExecutionsRetryConfig"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"type": "CONTINUOUS", "maximumTargets": 0}, "maximumTargets"),
        ({"type": "CONTINUOUS", "maximumTargets": -1}, "maximumTargets"),
        ({"type": "CONTINUOUS", "maximumTargets": 2.0}, "maximumTargets"),
        ({"type": "CONTINUOUS", "maximumTargets": 2.5}, "maximumTargets"),
        ({"type": "CONTINUOUS", "maximumTargets": "5"}, "maximumTargets"),
        ({"type": "CONTINUOUS", "maximumTargets": True}, "maximumTargets"),
        ({"maximumTargets": 3}, "maximumTargets"),
        ({"type": "SNAPSHOT", "maximumTargets": 3}, "maximumTargets"),
        ({"type": "continuous"}, "type"),
        ({"type": None}, "type"),
    ],
)
def test_a_cap_of_joiners_out_of_shape_is_a_400_naming_it(
    api: HandlerClient, roll: str, fields: dict[str, Any], field: str
) -> None:
    assert refused(api.post("/commands", BODY | fields)) == field
    dry = api.post("/commands?dryRun=true", BODY | fields).json()
    assert [problem["field"] for problem in dry["errors"]] == [field]
    assert commands_stored(api) == []


def test_the_largest_exact_cap_of_joiners_is_taken(api: HandlerClient, roll: str) -> None:
    reply = api.post("/commands", BODY | {"type": "CONTINUOUS", "maximumTargets": 2**53 - 1})

    assert reply.status == 201, reply.body
    assert reply.json()["maximumTargets"] == 2**53 - 1


# The membership queue's messages (targets_join)


def watching(fleet: Fleet, iot: Any) -> dict[str, Any]:
    """A CONTINUOUS command `watch` of group `site` (t-000 in it), rolled out; a membership message as AWS IoT's
    rule delivers it for a thing `late-1` added to the group, not handed over."""
    iot.create_thing_group(thingGroupName="site")
    iot.add_thing_to_thing_group(thingGroupName="site", thingName="t-000")
    fleet.membership_messages()
    publish(fleet, "watch", targets=[group_arn("site")], type="CONTINUOUS")
    fleet.run()
    (message,) = fleet.join("site", "late-1", deliver=False)
    return message


def dropped(output: Output) -> list[str]:
    """The reasons of the membership events dropped since last asked, as logged and as counted."""
    records = output.records()
    logged = [record["reason"] for record in records if record.get("message") == "membership event dropped"]
    counted = [record["reason"] for record in records if "MembershipEventsDropped" in record]
    assert logged == counted
    return logged


@pytest.mark.parametrize("body", ["{nope", "", "not json at all", "[" * 5000 + "]" * 5000, '{"a": 1,}'])
def test_a_membership_message_that_is_not_json_is_dropped_as_malformed_and_not_received_again(
    rollout: Callable[..., Fleet], iot: Any, output: Output, body: str
) -> None:
    fleet = rollout("inbox", 1)
    watching(fleet, iot)
    output.records()
    event = sqs_event([None])
    event["Records"][0]["body"] = body

    assert fleet.api.functions.invoke("targets_join", event) == {"batchItemFailures": []}

    assert dropped(output) == ["malformed"]
    assert command(fleet, "watch")["joinedLate"] == 0


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"thingArn": thing_arn("a/b")}, "not_a_thing"),
        ({"thingArn": thing_arn("..")}, "not_a_thing"),
        ({"thingArn": thing_arn("é")}, "not_a_thing"),
        ({"thingArn": thing_arn("a" * 129)}, "not_a_thing"),
        ({"thingArn": 5}, "malformed"),
        ({"thingArn": None}, "malformed"),
        ({"groupArn": group_arn("a/b")}, "not_a_group"),
        ({"operation": "MOVED"}, "malformed"),
        ({"eventType": "THING_EVENT"}, "malformed"),
        ({"timestamp": 10**30}, "bad_timestamp"),
        ({"groupArn": OTHER_ACCOUNT + "thinggroup/site"}, "foreign"),
        ({"groupArn": OTHER_REGION + "thinggroup/site"}, "foreign"),
        ({"thingArn": OTHER_ACCOUNT + "thing/late-1"}, "foreign"),
        ({"thingArn": thing_arn("ghost-1")}, "gone"),
        ({"groupArn": group_arn("elsewhere")}, "unwatched"),
    ],
)
def test_a_membership_event_that_names_no_joiner_of_this_account_is_dropped_and_creates_no_execution(
    rollout: Callable[..., Fleet], iot: Any, output: Output, change: dict[str, Any], reason: str
) -> None:
    fleet = rollout("inbox", 1)
    message = watching(fleet, iot)
    output.records()

    assert fleet.api.functions.invoke("targets_join", sqs_event([message | change])) == {"batchItemFailures": []}
    fleet.run()

    assert dropped(output) == [reason]
    assert sorted(statuses(fleet.api, "watch")) == ["t-000"]
    assert command(fleet, "watch")["joinedLate"] == 0
    # The event as AWS IoT sent it still joins its thing
    assert fleet.api.functions.invoke("targets_join", sqs_event([message])) == {"batchItemFailures": []}
    assert sorted(statuses(fleet.api, "watch")) == ["late-1", "t-000"]


def test_a_batch_of_stray_membership_messages_fails_none_and_joins_only_the_real_one(
    rollout: Callable[..., Fleet], iot: Any
) -> None:
    fleet = rollout("inbox", 1)
    message = watching(fleet, iot)
    event = sqs_event([None, [message], "x", message, message | {"thingArn": thing_arn("ghost-2")}])
    event["Records"][0]["body"] = "{"

    assert fleet.api.functions.invoke("targets_join", event) == {"batchItemFailures": []}
    fleet.run()

    assert sorted(statuses(fleet.api, "watch")) == ["late-1", "t-000"]
    assert command(fleet, "watch")["joinedLate"] == 1
