"""The Jobs API through the real handlers, against moto (with local/moto_iot.py's additions)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from commands_core.adapters import aws as clients
from commands_core.wiring import ROUTES
from local.api import proxy_event
from tests.conftest import HandlerClient, aws_error
from tests.integration.conftest import group_arn, thing_arn

PRESIGN_ROLE = "arn:aws:iam::123456789012:role/iot-commands-local-presign"


@pytest.fixture
def job(api: HandlerClient, things: Callable[..., list[str]]) -> Callable[..., dict[str, Any]]:
    """Creates a job for things j-1 and j-2 (created once); the reply's body."""

    def create(**fields: Any) -> dict[str, Any]:
        if not api.env.get("_jobs_things"):
            things("j-1", "j-2")
            api.env["_jobs_things"] = "1"
        body = {"targets": ["j-1", thing_arn("j-2")], "targetSelection": "SNAPSHOT", "document": '{"op": "x"}'}
        reply = api.post("/jobs", body | fields)
        assert reply.status == 200, reply.body
        return dict(reply.json())

    return create


def error(reply: Any) -> tuple[int, str]:
    return reply.status, reply.json()["error"].split(":")[0]


@pytest.mark.parametrize("field", ["targets", "document"])
def test_creating_a_job_without_a_required_field_is_a_422_naming_it(api: HandlerClient, field: str) -> None:
    body = {"targets": ["j-1"], "targetSelection": "SNAPSHOT", "document": "{}"}
    del body[field]

    assert error(api.post("/jobs", body)) == (422, field)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"document": "not json"}, "document"),
        ({"targetSelection": "SOMETIMES"}, "targetSelection"),
        ({"targets": []}, "targets"),
        ({"targets": ["arn:aws:s3:::bucket"]}, "targets.0"),
        ({"jobId": "bad id"}, "jobId"),
        ({"jobExecutionsRolloutConfig": {"maximumPerMinute": 0}}, "jobExecutionsRolloutConfig.maximumPerMinute"),
        ({"presignedUrlConfig": {"roleArn": "arn:aws:iam::123456789012:role/admin"}}, "presignedUrlConfig.roleArn"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_a_job_aws_iot_would_refuse_is_a_422_before_any_aws_call(
    api: HandlerClient, fields: dict[str, Any], named: str
) -> None:
    body = {"targets": ["j-1"], "targetSelection": "SNAPSHOT", "document": "{}"} | fields

    assert error(api.post("/jobs", body)) == (422, named)


def test_a_created_job_carries_its_id_targets_as_arns_and_every_configuration(
    api: HandlerClient, job: Callable[..., dict[str, Any]], iot: Any
) -> None:
    configurations = {
        "jobExecutionsRolloutConfig": {
            "maximumPerMinute": 50,
            "exponentialRate": {
                "baseRatePerMinute": 5,
                "incrementFactor": 2.0,
                "rateIncreaseCriteria": {"numberOfSucceededThings": 10},
            },
        },
        "abortConfig": {
            "criteriaList": [
                {"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 10, "minNumberOfExecutedThings": 2}
            ]
        },
        "timeoutConfig": {"inProgressTimeoutInMinutes": 30},
        "jobExecutionsRetryConfig": {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 2}]},
        "presignedUrlConfig": {"expiresInSec": 600},
    }

    created = job(jobId="fw-1", description="firmware", **configurations)

    assert created == {"created": True, "jobId": "fw-1", "jobArn": "arn:aws:iot:us-east-1:123456789012:job/fw-1"}
    described = iot.describe_job(jobId="fw-1")["job"]
    assert described["targets"] == [thing_arn("j-1"), thing_arn("j-2")]
    assert described["jobExecutionsRolloutConfig"] == configurations["jobExecutionsRolloutConfig"]
    assert described["presignedUrlConfig"] == {"roleArn": PRESIGN_ROLE, "expiresInSec": 600}
    assert described["timeoutConfig"] == {"inProgressTimeoutInMinutes": 30}
    assert described["description"] == "firmware"


def test_a_job_id_is_generated_when_absent_and_a_taken_one_is_a_422(
    api: HandlerClient, job: Callable[..., dict[str, Any]]
) -> None:
    generated = job()["jobId"]
    job(jobId="taken")

    assert len(generated) == 36
    assert error(
        api.post("/jobs", {"targets": ["j-1"], "targetSelection": "SNAPSHOT", "document": "{}", "jobId": "taken"})
    ) == (422, "AWS IoT refused it")


def test_jobs_are_listed_by_status_and_page(api: HandlerClient, job: Callable[..., dict[str, Any]], iot: Any) -> None:
    for number in range(3):
        job(jobId=f"listed-{number}")
    iot.cancel_job(jobId="listed-0")

    first = api.get("/jobs?maxResults=2").json()
    second = api.get(f"/jobs?maxResults=2&nextToken={first['nextToken']}").json()
    cancelled = api.get("/jobs?status=CANCELED").json()

    assert len(first["jobs"]) == 2
    assert "nextToken" not in second
    assert {item["jobId"] for item in first["jobs"] + second["jobs"]} == {"listed-0", "listed-1", "listed-2"}
    assert [item["jobId"] for item in cancelled["jobs"]] == ["listed-0"]
    assert error(api.get("/jobs?status=SOMETIMES")) == (422, "status")


def test_a_job_its_document_and_their_404s(api: HandlerClient, job: Callable[..., dict[str, Any]]) -> None:
    job(jobId="seen", description="d")

    described = api.get("/jobs/seen").json()["job"]

    assert {key: described[key] for key in ("jobId", "targetSelection", "description", "status")} == {
        "jobId": "seen",
        "targetSelection": "SNAPSHOT",
        "description": "d",
        "status": "IN_PROGRESS",
    }
    assert described["targets"] == [thing_arn("j-1"), thing_arn("j-2")]
    assert "jobProcessDetails" in described
    assert api.get("/jobs/seen/document").json() == {"document": '{"op": "x"}'}
    assert error(api.get("/jobs/unseen")) == (404, "job 'unseen' not found")
    assert error(api.get("/jobs/unseen/document")) == (404, "job 'unseen' not found")
    assert error(api.get("/jobs/bad%20id")) == (422, "jobId")


def test_updating_a_job(api: HandlerClient, job: Callable[..., dict[str, Any]], iot: Any) -> None:
    job(jobId="changed")

    reply = api.request(
        "PUT", "/jobs/changed", {"description": "new", "timeoutConfig": {"inProgressTimeoutInMinutes": 5}}
    )

    assert (reply.status, reply.json()) == (200, {"updated": True})
    described = iot.describe_job(jobId="changed")["job"]
    assert (described["description"], described["timeoutConfig"]) == ("new", {"inProgressTimeoutInMinutes": 5})
    assert error(api.request("PUT", "/jobs/changed", {})) == (422, "body")
    assert error(api.request("PUT", "/jobs/changed", {"targets": ["j-1"]})) == (422, "targets")
    assert error(api.request("PUT", "/jobs/unknown", {"description": "x"}))[0] == 404


def test_targets_join_a_continuous_job_only(api: HandlerClient, job: Callable[..., dict[str, Any]], iot: Any) -> None:
    job(jobId="open", targetSelection="CONTINUOUS")
    job(jobId="closed")
    iot.create_thing_group(thingGroupName="late")
    iot.create_thing(thingName="j-3")
    iot.add_thing_to_thing_group(thingGroupName="late", thingName="j-3")

    reply = api.request("PUT", "/jobs/open/associate", {"targets": [group_arn("late")]})

    assert (reply.status, reply.json()) == (200, {"associated": True})
    executions = iot.list_job_executions_for_job(jobId="open")["executionSummaries"]
    assert thing_arn("j-3") in {item["thingArn"] for item in executions}
    assert error(api.request("PUT", "/jobs/closed/associate", {"targets": ["j-1"]})) == (422, "jobId")
    assert error(api.request("PUT", "/jobs/open/associate", {})) == (422, "targets")
    assert error(api.request("PUT", "/jobs/gone/associate", {"targets": ["j-1"]}))[0] == 404


def test_cancelling_and_deleting_a_job(api: HandlerClient, job: Callable[..., dict[str, Any]], iot: Any) -> None:
    job(jobId="ending")

    assert error(api.delete("/jobs/ending")) == (422, "AWS IoT refused it")  # in progress: force, or cancel first
    cancelled = api.request("PUT", "/jobs/ending/cancel", {"comment": "not needed", "force": True})
    assert (cancelled.status, cancelled.json()) == (200, {"canceled": True})
    assert iot.describe_job(jobId="ending")["job"]["status"] == "CANCELED"
    assert error(api.request("PUT", "/jobs/ending/cancel", {"force": "yes"})) == (422, "force")
    deleted = api.request("DELETE", "/jobs/ending", {"force": True})
    assert (deleted.status, deleted.json()) == (200, {"deleted": True})
    assert error(api.get("/jobs/ending"))[0] == 404
    assert error(api.request("PUT", "/jobs/ending/cancel", {}))[0] == 404
    assert error(api.delete("/jobs/ending"))[0] == 404


def test_one_things_execution_read_cancelled_and_deleted(
    api: HandlerClient, job: Callable[..., dict[str, Any]], iot: Any
) -> None:
    job(jobId="each")

    execution = api.get("/jobs/each/things/j-1").json()["execution"]

    assert (execution["jobId"], execution["status"], execution["thingArn"]) == ("each", "QUEUED", thing_arn("j-1"))
    details = {"statusDetails": {"detailsMap": {"action": "stop", "progress": "0"}}}
    cancelled = api.request("PUT", "/jobs/each/things/j-1/cancel", details | {"force": False})
    assert (cancelled.status, cancelled.json()) == (200, {"canceled": True})
    assert iot.describe_job_execution(jobId="each", thingName="j-1")["execution"]["status"] == "CANCELED"
    assert error(api.request("PUT", "/jobs/each/things/j-1/cancel", {"expectedVersion": "1"})) == (
        422,
        "expectedVersion",
    )
    deleted = api.request("DELETE", "/jobs/each/things/j-1", {})  # the execution number is looked up
    assert (deleted.status, deleted.json()) == (200, {"deleted": True})
    assert error(api.get("/jobs/each/things/j-1"))[0] == 404
    number = iot.describe_job_execution(jobId="each", thingName="j-2")["execution"]["executionNumber"]
    assert error(api.request("DELETE", "/jobs/each/things/j-2", {})) == (422, "AWS IoT refused it")  # not ended
    forced = {"executionNumber": str(number), "force": True}
    assert api.request("DELETE", "/jobs/each/things/j-2", forced).status == 200
    assert error(api.request("DELETE", "/jobs/each/things/j-2", forced))[0] == 404
    assert error(api.request("DELETE", "/jobs/each/things/j-2", {"executionNumber": "first"})) == (
        422,
        "executionNumber",
    )
    assert error(api.request("PUT", "/jobs/each/things/nobody/cancel", {}))[0] == 404
    assert error(api.get("/jobs/each/things/bad%20name")) == (422, "thingName")


@pytest.mark.parametrize("path", ["/jobs/{job}/status", "/jobs-executions/jobs/{job}"])
def test_a_jobs_executions_are_listed_at_both_revisions_paths(
    api: HandlerClient, job: Callable[..., dict[str, Any]], iot: Any, path: str
) -> None:
    job(jobId="both")
    iot.cancel_job_execution(jobId="both", thingName="j-2")

    listed = api.get(path.format(job="both")).json()["executionSummaries"]
    queued = api.get(path.format(job="both") + "?status=QUEUED").json()["executionSummaries"]

    assert {item["thingArn"]: item["jobExecution"]["status"] for item in listed} == {
        thing_arn("j-1"): "QUEUED",
        thing_arn("j-2"): "CANCELED",
    }
    assert [item["thingArn"] for item in queued] == [thing_arn("j-1")]
    assert error(api.get(path.format(job="none")))[0] == 404
    assert error(api.get(path.format(job="both") + "?status=DONE")) == (422, "status")


@pytest.mark.parametrize("path", ["/things/{thing}/jobs", "/jobs-executions/things/{thing}"])
def test_a_things_executions_are_listed_at_both_revisions_paths(
    api: HandlerClient, job: Callable[..., dict[str, Any]], path: str
) -> None:
    job(jobId="first")
    job(jobId="second")

    listed = api.get(path.format(thing="j-1")).json()["executionSummaries"]

    assert sorted(item["jobId"] for item in listed) == ["first", "second"]
    assert all(item["jobExecution"]["status"] == "QUEUED" for item in listed)
    assert error(api.get(path.format(thing="nobody"))) == (404, "thing 'nobody' not found")


def test_job_templates_are_created_listed_read_and_deleted(
    api: HandlerClient, things: Callable[..., list[str]]
) -> None:
    things("j-1")
    body = {"document": '{"op": "reboot"}', "description": "Reboot", "timeoutConfig": {"inProgressTimeoutInMinutes": 9}}

    named = api.post("/job-templates", body | {"jobTemplateId": "reboot"})
    generated = api.post("/job-templates", body).json()

    assert (named.status, named.json()["created"], named.json()["jobTemplateId"]) == (200, True, "reboot")
    assert named.json()["jobTemplateArn"].endswith(":jobtemplate/reboot")
    assert len(generated["jobTemplateId"]) == 36
    listed = api.get("/job-templates").json()["JobTemplates"]
    assert {item["jobTemplateId"] for item in listed} == {"reboot", generated["jobTemplateId"]}
    template = api.get("/job-templates/reboot").json()["jobTemplate"]
    assert (template["document"], template["description"]) == ('{"op": "reboot"}', "Reboot")
    assert template["timeoutConfig"] == {"inProgressTimeoutInMinutes": 9}
    from_template = {"targets": ["j-1"], "targetSelection": "SNAPSHOT", "jobTemplateId": "reboot", "jobId": "t-job"}
    assert api.post("/jobs", from_template).status == 200
    assert api.get("/jobs/t-job/document").json() == {"document": '{"op": "reboot"}'}  # the template's
    assert error(api.post("/jobs", from_template | {"document": "{}"})) == (422, "document")  # one or the other
    assert error(api.post("/job-templates", body | {"jobTemplateId": "reboot"})) == (422, "AWS IoT refused it")
    assert api.delete("/job-templates/reboot").json() == {"deleted": True}
    assert error(api.get("/job-templates/reboot")) == (404, "job template 'reboot' not found")
    assert error(api.delete("/job-templates/reboot"))[0] == 404
    assert (
        error(
            api.post(
                "/jobs",
                {"targets": ["j-1"], "targetSelection": "SNAPSHOT", "jobTemplateId": "reboot"},
            )
        )[0]
        == 404
    )


@pytest.mark.parametrize("missing", ["document", "description"])
def test_a_job_template_without_a_required_field_is_a_422_naming_it(api: HandlerClient, missing: str) -> None:
    body = {"document": "{}", "description": "d"}
    del body[missing]

    assert error(api.post("/job-templates", body)) == (422, missing)


def test_throttling_by_aws_iot_is_a_429_with_retry_after(
    api: HandlerClient, job: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from commands_core import dependencies

    job(jobId="busy")
    monkeypatch.setattr(clients, "RETRIES", 0)
    events = clients.session().events
    events.register_first(
        "before-send.iot.DescribeJob",
        lambda request, **_: aws_error(request.url, 400, "ThrottlingException"),
        unique_id="throttle",
    )
    dependencies.reset()
    try:
        reply = api.get("/jobs/busy")
    finally:
        events.unregister("before-send.iot.DescribeJob", unique_id="throttle")
        dependencies.reset()

    assert (reply.status, reply.headers["retry-after"]) == (429, "2")
    assert "throttling" in reply.json()["error"]


def test_a_body_that_is_not_json_is_a_422(api: HandlerClient) -> None:
    assert error(api.request("PUT", "/jobs/x/cancel", "{not json")) == (422, "body")
    assert json.loads(api.request("POST", "/jobs", "[]").body)["error"].startswith("body")


def test_the_second_revisions_paths_also_name_the_lists_as_it_does(
    api: HandlerClient, job: Callable[..., dict[str, Any]]
) -> None:
    job(jobId="named")

    of_job = api.get("/jobs-executions/jobs/named").json()
    of_thing = api.get("/jobs-executions/things/j-1").json()

    assert of_job["jobExecutions"] == of_job["executionSummaries"]
    assert of_thing["jobExecution"] == of_thing["executionSummaries"]
    assert "jobExecutions" not in api.get("/jobs/named/status").json()


@pytest.mark.parametrize(
    ("method", "path", "body", "named"),
    [
        ("GET", "/jobs?nextToken=garbage", None, "AWS IoT refused it"),
        (
            "POST",
            "/jobs",
            {"targets": [group_arn("nowhere")], "targetSelection": "SNAPSHOT", "document": "{}"},
            "targets",
        ),
        (
            "PUT",
            "/jobs/any",
            {"presignedUrlConfig": {"roleArn": "arn:aws:iam::123456789012:role/x"}},
            "presignedUrlConfig.roleArn",
        ),
        (
            "POST",
            "/job-templates",
            {
                "document": "{}",
                "description": "d",
                "presignedUrlConfig": {"roleArn": "arn:aws:iam::123456789012:role/x"},
            },
            "presignedUrlConfig.roleArn",
        ),
        ("PUT", "/jobs/any/cancel", {"comment": "line\nbreak"}, "comment"),
        ("PUT", "/jobs/any/things/t/cancel", {"expectedVersion": 2**64}, "expectedVersion"),
        (
            "POST",
            "/jobs",
            {
                "targets": ["j-1"],
                "targetSelection": "SNAPSHOT",
                "document": "{}",
                "jobExecutionsRolloutConfig": {
                    "exponentialRate": {"baseRatePerMinute": 1, "incrementFactor": 2, "rateIncreaseCriteria": {}}
                },
            },
            "jobExecutionsRolloutConfig.exponentialRate.rateIncreaseCriteria",
        ),
    ],
)
def test_more_requests_refused_with_a_422_naming_what_to_fix(
    api: HandlerClient, job: Callable[..., dict[str, Any]], method: str, path: str, body: Any, named: str
) -> None:
    job(jobId="any")

    assert error(api.request(method, path, body)) == (422, named)


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/jobs/never", "job 'never' not found"),
        ("/job-templates/never", "job template 'never' not found"),
        ("/jobs/never/things/j-1", "execution 'never/j-1' not found"),
    ],
)
def test_deleting_what_does_not_exist_is_a_404_naming_it(api: HandlerClient, path: str, named: str) -> None:
    reply = api.request("DELETE", path, {"force": True})

    assert (reply.status, reply.json()) == (404, {"error": named})


def test_a_job_without_target_selection_is_a_snapshot_job_as_in_aws_iot(
    api: HandlerClient, things: Callable[..., list[str]], iot: Any
) -> None:
    things("j-1")

    reply = api.post("/jobs", {"jobId": "plain", "targets": ["j-1"], "document": "{}"})

    assert reply.status == 200, reply.body
    assert iot.describe_job(jobId="plain")["job"]["targetSelection"] == "SNAPSHOT"
    assert api.get("/jobs/plain").json()["job"]["targetSelection"] == "SNAPSHOT"


_BODY_ROUTES = [
    (route.method, route.path.replace("{jobId}", "x").replace("{thingName}", "t").replace("{jobTemplateId}", "x"))
    for route in ROUTES
    if route.family == "jobs" and route.body is not None
]


@pytest.mark.parametrize(("method", "path"), _BODY_ROUTES)
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", "targets=j-1&document=%7B%7D"),
        ("text/plain", '{"targets": ["j-1"], "document": "{}"}'),
    ],
)
def test_a_body_that_is_not_json_by_its_content_type_is_a_415_on_every_jobs_route(
    api: HandlerClient, iot: Any, method: str, path: str, content_type: str, body: str
) -> None:
    reply = api.request(method, path, body, headers={"Content-Type": content_type})

    assert reply.status == 415, (method, path, reply.body)
    assert reply.json() == {"error": "Content-Type: this route accepts application/json or application/*+json"}
    assert iot.list_jobs()["jobs"] == []


def test_every_jobs_route_with_a_body_is_checked_for_its_content_type() -> None:
    assert {path for _, path in _BODY_ROUTES} >= {"/jobs", "/jobs/x/associate", "/job-templates", "/jobs/x/things/t"}


@pytest.mark.parametrize("content_type", ["application/vnd.aws-cdf-v1.0+json", "application/json; charset=utf-8"])
def test_a_body_of_any_json_media_type_is_read(
    api: HandlerClient, things: Callable[..., list[str]], content_type: str
) -> None:
    things("j-1")
    body = {"jobId": "typed", "targets": ["j-1"], "document": "{}"}

    assert api.post("/jobs", body, headers={"Content-Type": content_type}).status == 200


def test_a_json_body_without_a_content_type_is_read_as_json(
    api: HandlerClient, things: Callable[..., list[str]]
) -> None:
    things("j-1")
    body = json.dumps(
        {"jobId": "untyped", "targets": ["j-1"], "targetSelection": "SNAPSHOT", "document": "{}"}
    ).encode()
    match = api.api.router.match("POST", "/jobs")
    assert not isinstance(match, list)

    response = api.api.invoke(
        match, proxy_event(match, method="POST", raw_path="/jobs", query="", headers={}, body=body)
    )

    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["jobId"] == "untyped"


def test_a_job_naming_targets_aws_iot_does_not_have_is_a_422_naming_each_and_makes_nothing(
    api: HandlerClient, things: Callable[..., list[str]], iot: Any
) -> None:
    things("j-1")
    elsewhere = "arn:aws:iot:eu-west-1:123456789012:thing/j-1"  # another region's j-1: not this one
    ghosts = ["ghost", thing_arn("phantom"), group_arn("nowhere"), elsewhere]

    reply = api.post("/jobs", {"jobId": "haunted", "targets": ["j-1", *ghosts], "document": "{}"})

    status, message = reply.status, reply.json()["error"]
    assert (status, message.split(":")[0]) == (422, "targets")
    assert message.split("for: ", 1)[1].split(", ") == ghosts
    assert iot.list_jobs()["jobs"] == []
    assert {thing["thingName"] for thing in iot.list_things()["things"]} == {"j-1"}


def test_targets_aws_iot_does_not_have_join_no_continuous_job(
    api: HandlerClient, job: Callable[..., dict[str, Any]], iot: Any
) -> None:
    job(jobId="open", targetSelection="CONTINUOUS")

    reply = api.request("PUT", "/jobs/open/associate", {"targets": ["ghost", group_arn("nowhere")]})

    assert reply.status == 422
    assert "ghost" in reply.json()["error"]
    assert group_arn("nowhere") in reply.json()["error"]
    executions = iot.list_job_executions_for_job(jobId="open")["executionSummaries"]
    assert {item["thingArn"] for item in executions} == {thing_arn("j-1"), thing_arn("j-2")}
