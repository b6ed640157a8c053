"""Retried creates: POST /templates, /commands and /jobs with the same Idempotency-Key (or the same explicit id)
create one resource and answer as the first time."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import INSTANCES, HandlerClient, same_answer

TEMPLATE = {
    "templateId": "ota",
    "operation": "ota",
    "document": '{"version": "${version}"}',
    "requiredDocumentParameters": ["version"],
}
COMMAND = {"templateId": "ota", "targets": ["dev-1"], "documentParameters": {"version": "2"}}
JOB = {"targets": ["dev-1"], "targetSelection": "SNAPSHOT", "document": '{"op": "reboot"}'}


@pytest.fixture
def fleet(api: HandlerClient, things: Callable[..., list[str]]) -> HandlerClient:
    """The API, with thing dev-1 and, unless a test registers its own, template ota."""
    things("dev-1")
    return api


def key(name: str) -> dict[str, str]:
    return {"Idempotency-Key": name}


def template_ids(api: HandlerClient) -> list[str]:
    return [item["templateId"] for item in api.get("/templates").json()["results"]]


def command_ids(api: HandlerClient) -> list[str]:
    return [item["commandId"] for item in api.get("/commands").json()["results"]]


def job_ids(api: HandlerClient) -> list[str]:
    return [job["jobId"] for job in api.get("/jobs").json()["jobs"]]


def test_a_template_created_again_with_the_same_key_is_created_once(fleet: HandlerClient) -> None:
    first = fleet.post("/templates", TEMPLATE, headers=key("t-1"))
    again = fleet.post("/templates", TEMPLATE, headers=key("t-1"))

    assert first.status == 201
    assert same_answer(first, again)
    assert template_ids(fleet) == ["ota"]


def test_a_command_created_again_with_the_same_key_is_created_once(fleet: HandlerClient) -> None:
    fleet.post("/templates", TEMPLATE)

    first = fleet.post("/commands", COMMAND, headers=key("c-1"))
    again = fleet.post("/commands", COMMAND, headers=key("c-1"))

    assert first.status == 201
    assert same_answer(first, again)
    assert command_ids(fleet) == [first.json()["commandId"]]


def test_a_published_command_created_again_with_the_same_key_is_published_once(fleet: HandlerClient) -> None:
    fleet.post("/templates", TEMPLATE)
    body = COMMAND | {"status": "in_progress"}

    first = fleet.post("/commands", body, headers=key("c-1"))
    again = fleet.post("/commands", body, headers=key("c-1"))
    fleet.drain()

    assert same_answer(first, again)
    assert command_ids(fleet) == [first.json()["commandId"]]
    assert len(job_ids(fleet)) == 1


def test_a_job_created_again_with_the_same_key_is_created_once(fleet: HandlerClient) -> None:
    first = fleet.post("/jobs", JOB, headers=key("j-1"))
    again = fleet.post("/jobs", JOB, headers=key("j-1"))

    assert first.status == 200
    assert same_answer(first, again)
    assert job_ids(fleet) == [first.json()["jobId"]]


def test_different_keys_are_different_requests(fleet: HandlerClient) -> None:
    fleet.post("/jobs", JOB, headers=key("j-1"))
    fleet.post("/jobs", JOB, headers=key("j-2"))

    assert len(job_ids(fleet)) == 2


def test_the_header_name_is_case_insensitive(fleet: HandlerClient) -> None:
    first = fleet.post("/jobs", JOB, headers={"idempotency-key": "j-1"})
    again = fleet.post("/jobs", JOB, headers={"IDEMPOTENCY-KEY": "j-1"})

    assert same_answer(first, again)
    assert len(job_ids(fleet)) == 1


@pytest.mark.parametrize(
    ("path", "body", "changed", "status"),
    [
        ("/templates", TEMPLATE, {"description": "other"}, 400),
        ("/jobs", JOB, {"description": "other"}, 422),
    ],
)
def test_a_key_used_again_for_a_different_request_is_refused_naming_the_header(
    fleet: HandlerClient, path: str, body: dict[str, Any], changed: dict[str, Any], status: int
) -> None:
    fleet.post(path, body, headers=key("k-1"))

    reply = fleet.post(path, body | changed, headers=key("k-1"))

    assert reply.status == status
    assert reply.json()["error"].startswith("Idempotency-Key:")


def test_a_key_is_per_route(fleet: HandlerClient) -> None:
    fleet.post("/templates", TEMPLATE, headers=key("k-1"))

    reply = fleet.post("/commands", COMMAND, headers=key("k-1"))

    assert reply.status == 201


def test_a_failed_request_keeps_nothing_so_its_key_can_be_used_again(fleet: HandlerClient) -> None:
    refused = fleet.post("/commands", COMMAND, headers=key("c-1"))  # template ota does not exist yet
    fleet.post("/templates", TEMPLATE)

    created = fleet.post("/commands", COMMAND, headers=key("c-1"))

    assert refused.status == 400
    assert created.status == 201


@pytest.mark.parametrize("value", ["", "x" * 256, "clé", "a\tb"])
def test_a_malformed_key_is_a_400_naming_the_header(fleet: HandlerClient, value: str) -> None:
    reply = fleet.post("/templates", TEMPLATE, headers=key(value))

    assert reply.status == 400
    assert reply.json()["error"].startswith("Idempotency-Key:")
    assert template_ids(fleet) == []


def test_the_same_key_sent_at_once_creates_one_command(fleet: HandlerClient, parallel: HandlerClient) -> None:
    fleet.post("/templates", TEMPLATE)

    with ThreadPoolExecutor(INSTANCES) as pool:
        replies = list(pool.map(lambda _: parallel.post("/commands", COMMAND, headers=key("c-1")), range(INSTANCES)))

    assert len(command_ids(fleet)) == 1
    # The second either waited for the first's answer or was told the first is still in progress.
    assert {reply.status for reply in replies} <= {201, 409}
    assert len({reply.body for reply in replies if reply.status == 201}) == 1


def test_a_template_created_again_with_its_id_answers_as_the_first_time(fleet: HandlerClient) -> None:
    first = fleet.post("/templates", TEMPLATE)
    again = fleet.post("/templates", TEMPLATE)
    other = fleet.post("/templates", TEMPLATE | {"description": "other"})

    assert (again.status, again.headers["location"]) == (201, first.headers["location"])
    assert other.status == 409


def test_a_command_created_again_with_its_id_answers_as_the_first_time(fleet: HandlerClient) -> None:
    fleet.post("/templates", TEMPLATE)
    body = COMMAND | {"commandId": "cmd-1", "status": "in_progress"}

    first = fleet.post("/commands", body)
    fleet.drain()
    again = fleet.post("/commands", body)
    other = fleet.post("/commands", body | {"documentParameters": {"version": "3"}})

    assert (again.status, again.json()["commandId"]) == (201, first.json()["commandId"])
    assert other.status == 409
    assert command_ids(fleet) == ["cmd-1"]
    assert len(job_ids(fleet)) == 1


def test_a_job_created_again_with_its_id_answers_as_the_first_time(fleet: HandlerClient) -> None:
    body = JOB | {"jobId": "reboot-1"}

    first = fleet.post("/jobs", body)
    again = fleet.post("/jobs", body)
    other = fleet.post("/jobs", body | {"document": '{"op": "other"}'})

    assert first.status == 200
    assert same_answer(first, again)
    assert other.status == 422
    assert job_ids(fleet) == ["reboot-1"]
