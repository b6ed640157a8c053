"""Publishing and cancelling when things go wrong: retries, races, vanished things, foreign jobs."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from commands_core import dependencies
from commands_core.adapters.queue import DispatchQueue
from commands_core.clock import iso, now
from commands_core.errors import Unavailable
from commands_core.models.dispatch import Cancel, DispatchMessage
from commands_core.services import dispatch
from local.aws import client
from tests.conftest import HandlerClient
from tests.integration.conftest import publish, stored, thing_arn, upload


def test_a_cancel_whose_job_cancellation_failed_is_repaired_by_asking_again(
    draft: str, api: HandlerClient, iot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload(api, draft)
    publish(api, draft)
    api.drain()
    jobs = dependencies.ports().jobs
    cancel_job = jobs.cancel_job

    def unavailable(*args: Any, **kwargs: Any) -> None:
        raise Unavailable("AWS IoT did not answer")

    monkeypatch.setattr(jobs, "cancel_job", unavailable)

    # The cancel cannot stop the job before it answers, so it says so; the command is cancelled all the same
    reply = api.patch(f"/commands/{draft}", {"status": "cancelled"})
    assert (reply.status, api.get(f"/commands/{draft}").json()["status"]) == (503, "cancelled")
    api.drain()  # the cancel step fails too; its message waits for the visibility timeout
    assert iot.describe_job(jobId=draft)["job"]["status"] != "CANCELED"

    monkeypatch.setattr(jobs, "cancel_job", cancel_job)
    assert api.patch(f"/commands/{draft}", {"status": "cancelled"}).status == 204  # the client retries
    api.drain()

    assert iot.describe_job(jobId=draft)["job"]["status"] == "CANCELED"
    assert api.get(f"/commands/{draft}").json()["counts"] == {"CANCELED": 2}


def test_a_cancel_step_comes_back_a_beat_later_while_an_expand_holds_the_command(
    draft: str, api: HandlerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload(api, draft)
    publish(api, draft)
    stored(draft, dispatchStep="expanding", leaseUntil=iso(now() + timedelta(minutes=5)), commandStatus="cancelled")
    sent: list[tuple[DispatchMessage, int]] = []
    monkeypatch.setattr(
        DispatchQueue, "send", lambda self, message, delay_seconds=0: sent.append((message, delay_seconds))
    )

    dispatch.cancel(dependencies.ports(), Cancel(command_id=draft))

    assert sent == [(Cancel(command_id=draft), dispatch.BEAT_SECONDS)]


def test_an_expand_that_finds_no_thing_any_more_cancels_the_command_saying_why(
    api: HandlerClient, published: Callable[..., str], iot: Any
) -> None:
    published("warmup", ["w-1"])
    iot.create_thing_group(thingGroupName="emptied")
    iot.create_thing(thingName="leaver")
    iot.add_thing_to_thing_group(thingGroupName="emptied", thingName="leaver")
    body = {
        "commandId": "nobody",
        "templateId": "plain",
        "status": "in_progress",
        "targetQuery": {"ancestorPath": "/emptied"},
    }
    assert api.post("/commands", body).status == 201
    iot.remove_thing_from_thing_group(thingGroupName="emptied", thingName="leaver")  # before the queue runs

    api.drain()

    command = api.get("/commands/nobody").json()
    assert command["status"] == "cancelled"
    assert "no thing matched" in command["statusReason"]
    assert [job["jobId"] for job in iot.list_jobs()["jobs"]] == ["warmup"]


def test_a_thing_deleted_before_its_group_is_filled_is_removed_and_the_rest_published(
    api: HandlerClient, template: Callable[..., dict[str, Any]], things: Callable[..., list[str]], iot: Any
) -> None:
    template("plain", document=json.dumps({"a": 1}), requiredDocumentParameters=[], requiredFiles=[])
    names = things(*[f"v-{number:03d}" for number in range(120)])
    assert (
        api.post(
            "/commands", {"commandId": "vanish", "templateId": "plain", "status": "in_progress", "targets": names}
        ).status
        == 201
    )
    iot.delete_thing(thingName="v-007")  # after publishing checked it, before the fill

    api.drain()

    command = api.get("/commands/vanish").json()
    assert command["jobId"] == "vanish"
    assert command["counts"] == {"QUEUED": 119, "REMOVED": 1}
    execution = api.get("/commands/vanish/executions/v-007").json()["executions"][0]
    assert execution["statusReason"] == "the thing no longer exists"


def test_a_job_of_the_same_id_that_the_service_did_not_create_is_not_adopted(
    api: HandlerClient, published: Callable[..., str], iot: Any
) -> None:
    published("warmup", ["f-1"])
    iot.create_job(jobId="taken", targets=[thing_arn("f-1")], document="{}", description="someone else's")

    assert (
        api.post(
            "/commands", {"commandId": "taken", "templateId": "plain", "status": "in_progress", "targets": ["f-1"]}
        ).status
        == 201
    )
    api.drain()

    command = api.get("/commands/taken").json()
    assert command["status"] == "cancelled"
    assert "did not create" in command["statusReason"]
    assert "jobId" not in command
    assert iot.describe_job(jobId="taken")["job"]["status"] != "CANCELED"


def test_a_file_replaced_after_publishing_does_not_reach_devices(
    draft: str, api: HandlerClient, aws: dict[str, str]
) -> None:
    upload(api, draft, content=b"reviewed firmware")
    publish(api, draft)
    s3 = client("s3", aws)
    # An upload URL issued while the command was a draft still works for a while: it writes the draft's key.
    s3.put_object(Bucket=aws["FILES_BUCKET"], Key=f"commands/{draft}/files/firmware", Body=b"EVIL firmware")

    api.drain()

    published_copy = s3.get_object(Bucket=aws["FILES_BUCKET"], Key=f"commands/{draft}/published/firmware")
    assert published_copy["Body"].read() == b"reviewed firmware"


@pytest.mark.parametrize("status", [["in_progress"], {"a": 1}, 7, True])
def test_a_status_that_is_not_a_string_is_a_400(draft: str, api: HandlerClient, status: Any) -> None:
    reply = api.patch(f"/commands/{draft}", {"status": status})

    assert reply.status == 400
    assert reply.json()["error"].startswith("status:")


def test_an_empty_file_is_a_400(draft: str, api: HandlerClient) -> None:
    assert upload(api, draft, content=b"") == 400


def test_booleans_are_not_numbers(api: HandlerClient, template: Callable[..., dict[str, Any]]) -> None:
    template()

    reply = api.post("/commands", {"templateId": "ota", "rolloutMaximumPerMinute": True})

    assert reply.status == 400
    assert reply.json()["error"].startswith("rolloutMaximumPerMinute:")


def test_an_empty_command_id_is_a_400_not_a_generated_one(
    api: HandlerClient, template: Callable[..., dict[str, Any]]
) -> None:
    template()

    assert api.post("/commands", {"templateId": "ota", "commandId": ""}).status == 400
