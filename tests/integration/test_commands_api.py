"""Commands: create, read, list, edit, publish, cancel and delete through the real handlers, against moto."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import HandlerClient
from tests.integration.conftest import group_arn, job_things, publish, thing_arn, upload


def test_create_returns_201_with_location_and_a_draft(draft: str, api: HandlerClient) -> None:
    command = api.get(f"/commands/{draft}").json()

    assert command["status"] == "draft"
    assert command["type"] == "SNAPSHOT"
    assert command["targets"] == ["dev-1", thing_arn("dev-2")]
    assert "jobId" not in command


def test_a_command_without_an_id_gets_a_generated_one(
    api: HandlerClient, template: Callable[..., dict[str, Any]]
) -> None:
    template()

    reply = api.post("/commands", {"templateId": "ota"})

    assert reply.status == 201
    command_id = reply.headers["location"].removeprefix("/commands/")
    assert 1 <= len(command_id) <= 64
    assert api.get(f"/commands/{command_id}").json()["commandId"] == command_id


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"templateId": "absent"}, "templateId"),
        ({}, "templateId"),
        ({"templateId": "ota", "commandId": "v0"}, "commandId"),
        ({"templateId": "ota", "commandId": "has space"}, "commandId"),
        ({"templateId": "ota", "type": "ONCE"}, "type"),
        ({"templateId": "ota", "rolloutMaximumPerMinute": 0}, "rolloutMaximumPerMinute"),
        ({"templateId": "ota", "rolloutMaximumPerMinute": 1001}, "rolloutMaximumPerMinute"),
        ({"templateId": "ota", "targets": ["not a thing"]}, "targets.0"),
        ({"templateId": "ota", "documentParameters": {"unknown": "x"}}, "documentParameters"),
        ({"templateId": "ota", "files": {"firmware": "s3://x/y"}}, "files"),
        ({"templateId": "ota", "jobId": "mine"}, "jobId"),
        ({"templateId": "ota", "status": "completed"}, "status"),
        (
            {
                "templateId": "ota",
                "targetQuery": {
                    "eq": [
                        {"field": "model", "value": "x", "traversals": {"relation": "installed_in", "direction": "out"}}
                    ]
                },
            },
            "targetQuery.eq.0.traversals",
        ),
        (
            {
                "templateId": "ota",
                "abortConfig": {
                    "criteriaList": [
                        {"failureType": "FAILED", "thresholdPercentage": 101, "minNumberOfExecutedThings": 1}
                    ]
                },
            },
            "abortConfig.criteriaList.0.thresholdPercentage",
        ),
    ],
)
def test_invalid_commands_are_400s_naming_the_field(
    api: HandlerClient, template: Callable[..., dict[str, Any]], body: dict[str, Any], field: str
) -> None:
    template()

    reply = api.post("/commands", body)

    assert reply.status == 400
    assert reply.json()["error"].startswith(f"{field}:")


def test_traversals_are_refused_saying_why(api: HandlerClient, template: Callable[..., dict[str, Any]]) -> None:
    template()
    query = {"eq": [{"field": "model", "value": "x", "traversals": {"relation": "installed_in", "direction": "out"}}]}

    error = api.post("/commands", {"templateId": "ota", "targetQuery": query}).json()["error"]

    assert "asset graph" in error
    assert "AWS IoT" in error


def test_an_existing_command_id_is_a_409(draft: str, api: HandlerClient) -> None:
    assert api.post("/commands", {"commandId": draft, "templateId": "ota"}).status == 409


def test_get_of_an_unknown_command_is_a_404(api: HandlerClient) -> None:
    reply = api.get("/commands/absent")

    assert reply.status == 404
    assert reply.json() == {"error": "command 'absent' not found"}


def test_list_pages_through_commands_newest_first_and_filters_by_status(
    api: HandlerClient, template: Callable[..., dict[str, Any]], things: Callable[..., list[str]]
) -> None:
    template("plain", document=json.dumps({"a": 1}), requiredDocumentParameters=[], requiredFiles=[])
    things("dev-1")
    for number in range(7):
        assert (
            api.post("/commands", {"commandId": f"c{number}", "templateId": "plain", "targets": ["dev-1"]}).status
            == 201
        )
    assert publish(api, "c3") == 204

    seen: list[str] = []
    target = "/commands?maxResults=3"
    while True:
        body = api.get(target).json()
        seen += [command["commandId"] for command in body["results"]]
        if "nextToken" not in body["pagination"]:
            break
        target = f"/commands?maxResults=3&nextToken={body['pagination']['nextToken']}"

    assert seen == [f"c{number}" for number in reversed(range(7))]
    in_progress = api.get("/commands?status=in_progress").json()["results"]
    assert [command["commandId"] for command in in_progress] == ["c3"]
    assert api.get("/commands?status=sideways").status == 400
    assert api.get("/commands?nextToken=forged").status == 400


def test_a_draft_can_be_edited_and_the_result_is_validated(draft: str, api: HandlerClient) -> None:
    assert (
        api.patch(f"/commands/{draft}", {"documentParameters": {"version": "3.0"}, "type": "CONTINUOUS"}).status == 204
    )
    command = api.get(f"/commands/{draft}").json()
    assert (command["documentParameters"], command["type"]) == ({"version": "3.0"}, "CONTINUOUS")

    reply = api.patch(f"/commands/{draft}", {"rolloutMaximumPerMinute": 5000})

    assert reply.status == 400
    assert reply.json()["error"].startswith("rolloutMaximumPerMinute:")


def test_publishing_with_missing_parameters_and_files_lists_every_missing_name_and_stays_draft(
    api: HandlerClient, template: Callable[..., dict[str, Any]], things: Callable[..., list[str]]
) -> None:
    template(
        "two",
        document=json.dumps({"a": "${alpha}", "b": "${beta}", "c": "${cdf:file:one}", "d": "${cdf:file:two}"}),
        requiredDocumentParameters=["alpha", "beta"],
        requiredFiles=["one", "two"],
    )
    things("dev-1")
    api.post(
        "/commands",
        {"commandId": "incomplete", "templateId": "two", "targets": ["dev-1"], "documentParameters": {"alpha": "1"}},
    )

    reply = api.patch("/commands/incomplete", {"status": "in_progress"})

    assert reply.status == 400
    error = reply.json()["error"]
    assert "beta" in error
    assert "one" in error
    assert "two" in error
    assert "alpha" not in error
    assert api.get("/commands/incomplete").json()["status"] == "draft"


def test_job_settings_come_from_the_template_unless_the_command_overrides_them(
    api: HandlerClient, template: Callable[..., dict[str, Any]], things: Callable[..., list[str]], iot: Any
) -> None:
    abort = {
        "criteriaList": [
            {"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 10.0, "minNumberOfExecutedThings": 5}
        ]
    }
    retry = {"criteriaList": [{"failureType": "TIMED_OUT", "numberOfRetries": 2}]}
    template(
        "plain",
        document=json.dumps({"a": 1}),
        requiredDocumentParameters=[],
        requiredFiles=[],
        rolloutMaximumPerMinute=10,
        abortConfig=abort,
        timeoutConfig={"inProgressTimeoutInMinutes": 30},
        jobExecutionsRetryConfig=retry,
    )
    things("dev-1")
    body = {"templateId": "plain", "targets": ["dev-1"], "status": "in_progress", "type": "CONTINUOUS"}
    api.post("/commands", body | {"commandId": "inherits"})
    api.post(
        "/commands",
        body
        | {"commandId": "overrides", "rolloutMaximumPerMinute": 99, "timeoutConfig": {"inProgressTimeoutInMinutes": 5}},
    )
    api.drain()

    inherits = iot.describe_job(jobId="inherits")["job"]
    overrides = iot.describe_job(jobId="overrides")["job"]
    assert inherits["timeoutConfig"] == {"inProgressTimeoutInMinutes": 30}
    assert inherits["jobExecutionsRetryConfig"] == retry
    assert inherits["targetSelection"] == "CONTINUOUS"
    assert overrides["timeoutConfig"] == {"inProgressTimeoutInMinutes": 5}
    assert "presignedUrlConfig" not in inherits
    # The rate and the abort criteria are the rollout's, which paces the job (AWS IoT is not given them).
    assert "jobExecutionsRolloutConfig" not in inherits
    assert "abortConfig" not in inherits
    inherited, overridden = api.get("/commands/inherits").json(), api.get("/commands/overrides").json()
    assert (inherited["rolloutMaximumPerMinute"], inherited["abortConfig"]) == (10, abort)
    assert (overridden["rolloutMaximumPerMinute"], overridden["abortConfig"]) == (99, abort)
    assert overridden["jobExecutionsRolloutConfig"] == {"maximumPerMinute": 99}


def test_a_published_command_is_frozen(draft: str, api: HandlerClient) -> None:
    upload(api, draft)
    publish(api, draft)

    for change in ({"documentParameters": {"version": "9"}}, {"targets": ["dev-1"]}, {"templateId": "ota"}):
        reply = api.patch(f"/commands/{draft}", change)
        assert reply.status == 400
        assert "frozen" in reply.json()["error"]
    assert upload(api, draft) == 400


def test_publishing_twice_creates_one_job(draft: str, api: HandlerClient, iot: Any) -> None:
    upload(api, draft)

    assert publish(api, draft) == 204
    assert publish(api, draft) == 204
    api.drain()

    assert [job["jobId"] for job in iot.list_jobs()["jobs"]] == [draft]


def test_unknown_targets_are_reported_and_the_rest_published(draft: str, api: HandlerClient, iot: Any) -> None:
    api.patch(f"/commands/{draft}", {"targets": ["dev-1", "ghost", group_arn("no-such-group")]})
    upload(api, draft)

    assert publish(api, draft) == 204
    api.drain()

    command = api.get(f"/commands/{draft}").json()
    assert sorted(command["unknownTargets"]) == ["thing/ghost", "thinggroup/no-such-group"]
    assert job_things(iot, draft) == ["dev-1"]


def test_the_group_the_service_makes_for_a_commands_job_is_not_a_target(
    draft: str, api: HandlerClient, template: Callable[..., dict[str, Any]], iot: Any
) -> None:
    upload(api, draft)
    assert publish(api, draft) == 204
    api.drain()
    own = iot.describe_thing_group(thingGroupName=f"command-{draft}")["thingGroupName"]  # its job's group
    template("plain", document=json.dumps({"a": 1}), requiredDocumentParameters=[], requiredFiles=[])

    body = {"commandId": "copy", "templateId": "plain", "targets": [group_arn(own)], "status": "in_progress"}
    reply = api.post("/commands", body)

    assert reply.status == 400
    assert reply.json()["error"].startswith(f"targets: thing group '{own}' is one the service makes")
    assert api.get("/commands/copy").status == 404


def test_publishing_with_no_target_that_resolves_is_a_400(draft: str, api: HandlerClient) -> None:
    api.patch(f"/commands/{draft}", {"targets": ["ghost-1", "ghost-2"]})
    upload(api, draft)

    reply = api.patch(f"/commands/{draft}", {"status": "in_progress"})

    assert reply.status == 400
    assert "ghost-1" in reply.json()["error"]
    assert api.get(f"/commands/{draft}").json()["status"] == "draft"


def test_thing_groups_are_expanded_recursively_to_one_execution_per_member(
    api: HandlerClient, template: Callable[..., dict[str, Any]], things: Callable[..., list[str]], iot: Any
) -> None:
    template("plain", document=json.dumps({"a": 1}), requiredDocumentParameters=[], requiredFiles=[])
    iot.create_thing_group(thingGroupName="site")
    iot.create_thing_group(thingGroupName="floor", parentGroupName="site")
    things("a-1", "a-2", group="site")
    things("b-1", group="floor")
    things("loose")
    iot.add_thing_to_thing_group(thingGroupName="floor", thingName="a-1")  # in both: one execution

    body = {
        "commandId": "grp",
        "templateId": "plain",
        "status": "in_progress",
        "targets": [group_arn("site"), "loose", "a-2"],
    }
    assert api.post("/commands", body).status == 201
    api.drain()

    command = api.get("/commands/grp").json()
    assert command["counts"] == {"QUEUED": 4}
    executions = api.get("/commands/grp/executions").json()["executions"]
    assert job_things(iot, "grp") == sorted(execution["thingName"] for execution in executions)


def test_a_target_query_reaches_the_things_the_fleet_index_finds(
    api: HandlerClient, template: Callable[..., dict[str, Any]], things: Callable[..., list[str]], iot: Any
) -> None:
    template("plain", document=json.dumps({"a": 1}), requiredDocumentParameters=[], requiredFiles=[])
    things("cam-1", "cam-2", attributes={"model": "x100"}, type_name="camera")
    things("cam-3", attributes={"model": "x200"})
    things("other", attributes={"model": "x100"})

    query = {"types": ["camera"], "eq": [{"field": "model", "value": "x100"}]}
    assert (
        api.post(
            "/commands", {"commandId": "q", "templateId": "plain", "status": "in_progress", "targetQuery": query}
        ).status
        == 201
    )
    api.drain()

    assert job_things(iot, "q") == ["cam-1", "cam-2"]
    assert api.get("/commands/q").json()["counts"] == {"QUEUED": 2}


def test_a_command_cancelled_before_its_job_exists_never_gets_one(draft: str, api: HandlerClient, iot: Any) -> None:
    upload(api, draft)
    publish(api, draft)

    api.patch(f"/commands/{draft}", {"status": "cancelled"})
    api.drain()

    assert iot.list_jobs()["jobs"] == []
    assert api.get(f"/commands/{draft}").json()["status"] == "cancelled"


def test_deleting_a_draft_removes_it_and_its_files(draft: str, api: HandlerClient, aws: dict[str, str]) -> None:
    from local.aws import client

    upload(api, draft)

    assert api.delete(f"/commands/{draft}").status == 204

    assert api.get(f"/commands/{draft}").status == 404
    listed = client("s3", aws).list_objects_v2(Bucket=aws["FILES_BUCKET"], Prefix=f"commands/{draft}/")
    assert listed.get("KeyCount", 0) == 0
    again = api.delete(f"/commands/{draft}")  # retried after it succeeded: gone, as GET says
    assert (again.status, again.json()) == (404, {"error": f"command '{draft}' not found"})


def test_delete_of_a_command_that_never_existed_is_a_404(api: HandlerClient) -> None:
    reply = api.delete("/commands/never")

    assert (reply.status, reply.json()) == (404, {"error": "command 'never' not found"})


def test_deleting_a_published_command_cancels_it_and_marks_it_deleted(draft: str, api: HandlerClient, iot: Any) -> None:
    upload(api, draft)
    publish(api, draft)
    api.drain()

    assert api.delete(f"/commands/{draft}").status == 204
    api.drain()

    command = api.get(f"/commands/{draft}").json()
    assert command["status"] == "deleted"
    assert command["counts"]["CANCELED"] == 2
    assert iot.describe_job(jobId=draft)["job"]["status"] == "CANCELED"
    # GET still answers it (status deleted, its executions and counts): a DELETE again answers as the first did.
    assert api.delete(f"/commands/{draft}").status == 204


def test_a_template_a_live_command_uses_cannot_be_deleted(draft: str, api: HandlerClient) -> None:
    reply = api.delete("/templates/ota")

    assert reply.status == 409
    assert draft in reply.json()["error"]
    api.patch(f"/commands/{draft}", {"status": "cancelled"})
    assert api.delete("/templates/ota").status == 204
