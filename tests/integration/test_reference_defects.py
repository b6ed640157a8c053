"""The defects of the deprecated reference implementation that touch commands, each a
named test, so that none comes back."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from local.aws import client
from tests.conftest import HandlerClient
from tests.integration.conftest import group_arn, job_things, publish, sqs_event, upload


def test_the_rollout_rate_reaches_aws_iot_and_every_token_occurrence_is_replaced_escaped(
    draft: str, api: HandlerClient, iot: Any, aws: dict[str, str]
) -> None:
    """Anchor defects: the rollout rate was never passed to IoT; only the first token was replaced, unescaped."""
    api.patch(
        f"/commands/{draft}", {"documentParameters": {"version": 'v"2" \\ ${x} ü'}, "rolloutMaximumPerMinute": 42}
    )
    assert upload(api, draft) == 201

    assert publish(api, draft) == 204
    api.drain()

    command = api.get(f"/commands/{draft}").json()
    assert command["status"] == "in_progress"
    assert command["jobId"] == draft
    assert command["rollout"]["ratePerMinute"] == 42  # the rollout paces the job's group at that rate
    job = iot.describe_job(jobId=draft)["job"]
    assert (job["targetSelection"], job["targets"]) == ("CONTINUOUS", [group_arn(f"command-{draft}")])
    assert job_things(iot, draft) == ["dev-1", "dev-2"]
    document = json.loads(iot.get_job_document(jobId=draft)["document"])
    assert document["version"] == document["again"] == 'v"2" \\ ${x} ü'
    key = f"commands/{draft}/published/firmware"  # the frozen copy: no upload URL reaches it
    assert document["url"] == f"${{aws:iot:s3-presigned-url:https://s3.amazonaws.com/{aws['FILES_BUCKET']}/{key}}}"
    assert client("s3", aws).get_object(Bucket=aws["FILES_BUCKET"], Key=key)["Body"].read() == b"\x00\x01firmware"
    assert job["presignedUrlConfig"] == {"roleArn": aws["PRESIGN_ROLE_ARN"], "expiresInSec": 3600}
    assert command["counts"] == {"QUEUED": 2}


def test_more_than_100_targets_do_not_block_the_request_and_reach_every_thing(
    api: HandlerClient, template: Callable[..., dict[str, Any]], things: Callable[..., list[str]], iot: Any
) -> None:
    """Anchor defect: past 100 targets the API request polled a provisioning task for up to 30 s."""
    template("plain", document=json.dumps({"a": 1}), requiredDocumentParameters=[], requiredFiles=[])
    names = things(*[f"fleet-{number:04d}" for number in range(1000)])

    reply = api.post(
        "/commands", {"commandId": "many", "templateId": "plain", "status": "in_progress", "targets": names}
    )

    assert reply.status == 201
    assert "jobId" not in api.get("/commands/many").json()  # the request only queued the work
    assert iot.list_thing_groups()["thingGroups"] == []
    api.drain()
    command = api.get("/commands/many").json()
    assert command["jobId"] == "many"
    assert command["counts"] == {"QUEUED": 1000}
    (target,) = iot.describe_job(jobId="many")["job"]["targets"]
    assert target == group_arn("command-many")
    members = iot.list_things_in_thing_group(thingGroupName="command-many", maxResults=250)
    count = len(members["things"])
    while members.get("nextToken"):
        members = iot.list_things_in_thing_group(
            thingGroupName="command-many", maxResults=250, nextToken=members["nextToken"]
        )
        count += len(members["things"])
    assert count == 1000


def test_cancel_answers_and_cancels_the_job_and_every_pending_execution(
    draft: str, api: HandlerClient, iot: Any
) -> None:
    """Anchor defect: cancel returned nothing and crashed."""
    upload(api, draft)
    publish(api, draft)
    api.drain()

    reply = api.patch(f"/commands/{draft}?force=true", {"status": "cancelled"})
    api.drain()

    assert reply.status == 204
    command = api.get(f"/commands/{draft}").json()
    assert command["status"] == "cancelled"
    assert command["counts"] == {"CANCELED": 2}
    assert iot.describe_job(jobId=draft)["job"]["status"] == "CANCELED"
    assert api.patch(f"/commands/{draft}", {"status": "cancelled"}).status == 204
    assert api.patch(f"/commands/{draft}", {"status": "in_progress"}).status == 400


def test_deleting_a_file_works_and_a_second_delete_is_a_404(
    draft: str, api: HandlerClient, aws: dict[str, str]
) -> None:
    """Anchor defect: DELETE of a file was "not implemented"."""
    upload(api, draft)

    assert api.delete(f"/commands/{draft}/files/firmware").status == 204

    assert api.get(f"/commands/{draft}").json()["files"] == {}
    listed = client("s3", aws).list_objects_v2(Bucket=aws["FILES_BUCKET"], Prefix=f"commands/{draft}/")
    assert listed.get("KeyCount", 0) == 0
    assert api.delete(f"/commands/{draft}/files/firmware").status == 404


def test_a_failing_queue_message_is_reported_not_swallowed(api: HandlerClient, aws: dict[str, str]) -> None:
    """Anchor defect: a queue worker swallowed every error, so nothing ever reached the dead-letter queue."""
    event = sqs_event([{"action": "expand", "commandId": "absent"}, {"action": "unknown-step", "commandId": "x"}])

    response = api.functions.invoke("commands_dispatch", event)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_list_pagination_continues_exactly_where_the_last_page_ended(
    api: HandlerClient, template: Callable[..., dict[str, Any]]
) -> None:
    """Anchor defect: list pagination built the wrong start key, so pages repeated or skipped items."""
    for number in range(7):
        template(f"t{number}", document=json.dumps({"a": 1}), requiredDocumentParameters=[], requiredFiles=[])
        assert api.post("/commands", {"commandId": f"c{number}", "templateId": f"t{number}"}).status == 201

    for collection, key, expected in (
        ("templates", "templateId", [f"t{number}" for number in range(7)]),
        ("commands", "commandId", [f"c{number}" for number in reversed(range(7))]),
    ):
        seen: list[str] = []
        target = f"/{collection}?maxResults=2"
        while True:
            body = api.get(target).json()
            seen += [item[key] for item in body["results"]]
            if "nextToken" not in body["pagination"]:
                break
            target = f"/{collection}?maxResults=2&nextToken={body['pagination']['nextToken']}"
        assert seen == expected
