"""The Command Status API and the device inbox through the real handlers, against moto."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from commands_core.wiring import ROUTES
from local.api import Api
from tests.conftest import HandlerClient
from tests.integration.conftest import upload


@pytest.fixture
def fleet(api: HandlerClient, template: Callable[..., dict[str, Any]], things: Callable[..., list[str]]) -> None:
    """Commands: `mail` (inbox, d-1 and d-2, with a file), `ops` (inbox, internal, d-2), `job` (a job, d-1)."""
    things("d-1", "d-2")
    template("inbox-ota", delivery="inbox", executionTimeoutSeconds=600)
    template("plain", document=json.dumps({"a": 1}), requiredDocumentParameters=[], requiredFiles=[])
    draft = {"commandId": "mail", "templateId": "inbox-ota", "targets": ["d-1", "d-2"]}
    assert api.post("/commands", draft | {"documentParameters": {"version": "1.2"}}).status == 201
    assert upload(api, "mail") == 201
    assert api.patch("/commands/mail", {"status": "in_progress"}).status == 204
    internal = {"commandId": "ops", "templateId": "inbox-ota", "targets": ["d-2"], "internal": True}
    assert api.post("/commands", internal | {"documentParameters": {"version": "9"}}).status == 201
    assert upload(api, "ops") == 201
    assert api.patch("/commands/ops", {"status": "in_progress"}).status == 204
    body = {"commandId": "job", "templateId": "plain", "status": "in_progress", "targets": ["d-1"]}
    assert api.post("/commands", body).status == 201
    api.drain()


def content(reply: Any) -> Any:
    body = reply.json()
    assert set(body) == {"code", "message", "content"}
    assert body["code"] == reply.status
    return body["content"]


def ids(reply: Any) -> list[str]:
    return [item["id"] for item in content(reply)["results"]]


@pytest.mark.usefixtures("fleet")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["job.d-1", "ops.d-2", "mail.d-1", "mail.d-2"]),
        ("?request=mail", ["mail.d-1", "mail.d-2"]),
        ("?request=job,mail", ["job.d-1", "mail.d-1", "mail.d-2"]),
        ("?device=d-2", ["ops.d-2", "mail.d-2"]),
        ("?device=d-1&request=mail", ["mail.d-1"]),
        ("?state=Command%20Queued", ["job.d-1", "ops.d-2", "mail.d-1", "mail.d-2"]),
        ("?state=Command%20Success", []),
        ("?exclude_internal_commands=true", ["job.d-1", "mail.d-1", "mail.d-2"]),
        ("?exclude_internal_commands=true&device=d-2", ["mail.d-2"]),
        ("?request=mail&state=Command%20Queued&device=d-2&exclude_internal_commands=false", ["mail.d-2"]),
        ("?limit=2", ["job.d-1", "ops.d-2"]),
        ("?limit=2&offset=2", ["mail.d-1", "mail.d-2"]),
        ("?offset=4", []),
        ("?request=nothing", []),
    ],
)
def test_statuses_are_filtered_and_paged(api: HandlerClient, query: str, expected: list[str]) -> None:
    reply = api.get(f"/commands/v0/status/{query}")

    assert (reply.status, ids(reply)) == (200, expected)


@pytest.mark.usefixtures("fleet")
def test_a_page_says_whether_more_follow(api: HandlerClient) -> None:
    assert content(api.get("/commands/v0/status?limit=3"))["hasMore"] is True
    assert content(api.get("/commands/v0/status?limit=3&offset=1"))["hasMore"] is False
    assert content(api.get("/commands/v0/status?limit=100"))["limit"] == 100


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("offset=-1", "offset"),
        ("offset=10001", "offset"),
        ("state=Done", "state"),
        ("exclude_internal_commands=maybe", "exclude_internal_commands"),
        ("colour=red", "colour"),
        ("request=" + "x" * 65, "request"),
        ("device=a%20b", "device"),
    ],
)
def test_a_bad_filter_is_a_400_in_the_envelope_naming_it(api: HandlerClient, query: str, field: str) -> None:
    reply = api.get(f"/commands/v0/status/?{query}")

    assert reply.status == 400
    assert content(reply) is None
    assert reply.json()["message"].startswith(field)


@pytest.mark.usefixtures("fleet")
def test_one_status_and_404s(api: HandlerClient) -> None:
    status = content(api.get("/commands/v0/status/mail.d-1/"))

    assert {key: status[key] for key in ("id", "request", "device", "state")} == {
        "id": "mail.d-1",
        "request": "mail",
        "device": "d-1",
        "state": "Command Queued",
    }
    assert [step["state"] for step in status["history"]] == ["Command Queued"]
    for missing in ("mail.d-9", "nothing.d-1", "mail", "bad%20id.d-1", "x" * 70 + ".d-1"):
        reply = api.get(f"/commands/v0/status/{missing}")
        assert (reply.status, content(reply)) == (404, None), missing


@pytest.mark.usefixtures("fleet")
def test_the_full_state_sequence_through_the_inbox_and_puts(api: HandlerClient) -> None:
    fetched = content(api.get("/v2/command-inbox/?device_id=d-2"))

    assert [item["id"] for item in fetched] == ["mail.d-2", "ops.d-2"]  # oldest first
    assert [item["state"] for item in fetched] == ["Command Initiated", "Command Initiated"]
    assert fetched[0]["operation"] == "ota"
    document = json.loads(fetched[0]["document"])
    assert document["version"] == "1.2"
    url = urlsplit(document["url"])
    assert url.path.endswith("/commands/mail/published/firmware")
    assert "X-Amz-Expires" in parse_qs(url.query) or "Expires" in parse_qs(url.query)
    for state in ("Command Acknowledged", "Command In Progress", "Command Success"):
        reply = api.request("PUT", "/commands/v0/status/mail.d-2/", {"state": state, "reason": f"now {state}"})
        assert (reply.status, content(reply)["state"]) == (200, state)

    status = content(api.get("/commands/v0/status/mail.d-2"))
    assert [step["state"] for step in status["history"]] == [
        "Command Queued",
        "Command Initiated",
        "Command Acknowledged",
        "Command In Progress",
        "Command Success",
    ]
    assert status["reason"] == "now Command Success"
    assert api.get("/commands/mail/executions/d-2").json()["executions"][0]["status"] == "SUCCEEDED"
    # Neither is handed out again: mail.d-2 has ended, ops.d-2 is SENT within its lease.
    assert content(api.get("/v2/command-inbox?device_id=d-2")) == []


@pytest.mark.usefixtures("fleet")
def test_a_report_reads_its_execution_once_and_answers_what_a_read_then_gives(
    api: HandlerClient, reads: Counter[str]
) -> None:
    assert len(content(api.get("/v2/command-inbox/?device_id=d-2"))) == 2
    steps = [
        {"state": "Command Acknowledged", "reason": "got it"},
        {"state": "Command In Progress", "reason": "flashing"},
        {"state": "Command In Progress"},  # newer progress, no reason: the last one stays
        {"state": "Command In Progress", "reason": "verifying"},
        {"state": "Command Success", "reason": "done"},
        {"state": "Command Success"},  # again: changes nothing
    ]
    for step in steps:
        reads.clear()

        reply = api.request("PUT", "/commands/v0/status/mail.d-2/", step)

        assert (reply.status, reads["execution"]) == (200, 1), step
        assert content(reply) == content(api.get("/commands/v0/status/mail.d-2")), step


def url_expiry(item: dict[str, Any]) -> int:
    """How long the handed-out document's file URL lasts, in seconds (to the nearest 10: it was signed just now)."""
    query = parse_qs(urlsplit(json.loads(item["document"])["url"]).query)
    if "X-Amz-Expires" in query:
        return int(query["X-Amz-Expires"][0])
    return round((int(query["Expires"][0]) - time.time()) / 10) * 10  # SigV2: the moment it expires


@pytest.mark.usefixtures("fleet")
def test_a_fetch_hands_out_the_operation_and_url_expiry_the_template_had_when_the_command_was_published(
    api: HandlerClient, reads: Counter[str]
) -> None:
    edit = {"operation": "reboot", "presignedUrlExpiresInSeconds": 120}
    assert api.patch("/templates/inbox-ota", edit).status == 204
    reads.clear()

    fetched = content(api.get("/v2/command-inbox/?device_id=d-2"))

    handed_out = [(item["id"], item["operation"], url_expiry(item)) for item in fetched]
    assert handed_out == [("mail.d-2", "ota", 3600), ("ops.d-2", "ota", 3600)]
    assert reads["template"] == 0  # the commands hold them


@pytest.mark.usefixtures("fleet")
def test_a_command_published_before_its_operation_was_frozen_is_handed_out_with_its_templates(
    api: HandlerClient, reads: Counter[str]
) -> None:
    from commands_core.adapters import aws as clients
    from commands_core.settings import settings

    clients.client("dynamodb").update_item(
        TableName=settings().commands_table,
        Key={"commandId": {"S": "mail"}, "itemKey": {"S": "command"}},
        UpdateExpression="REMOVE operation, presignedUrlExpiresInSeconds",
    )
    assert api.patch("/templates/inbox-ota", {"presignedUrlExpiresInSeconds": 120}).status == 204
    reads.clear()

    fetched = content(api.get("/v2/command-inbox/?device_id=d-2"))

    handed_out = [(item["id"], item["operation"], url_expiry(item)) for item in fetched]
    assert handed_out == [("mail.d-2", "ota", 120), ("ops.d-2", "ota", 3600)]  # ops holds its own
    assert reads["template"] == 1


@pytest.mark.usefixtures("fleet")
@pytest.mark.parametrize(
    ("steps", "refused", "current"),
    [
        (["Command In Progress"], "Command Acknowledged", "Command In Progress"),  # backwards
        (["Command Success"], "Command Failure", "Command Success"),  # out of an end
        (["Command Cancelled"], "Command In Progress", "Command Cancelled"),
        ([], "Command Scheduled", "Command Queued"),
    ],
)
def test_a_state_the_execution_cannot_take_is_a_400_giving_the_current_one(
    api: HandlerClient, steps: list[str], refused: str, current: str
) -> None:
    for state in steps:
        assert api.request("PUT", "/commands/v0/status/mail.d-1", {"state": state}).status == 200

    reply = api.request("PUT", "/commands/v0/status/mail.d-1", {"state": refused})

    assert reply.status == 400
    assert reply.json()["message"].endswith(f"the state is '{current}'")


@pytest.mark.usefixtures("fleet")
@pytest.mark.parametrize("state", ["Command Queued", "Command Initiated", "Done", ""])
def test_a_state_the_contract_does_not_let_a_device_set_is_a_400_giving_the_current_one(
    api: HandlerClient, state: str
) -> None:
    reply = api.request("PUT", "/commands/v0/status/mail.d-1", {"state": state})

    assert (reply.status, content(reply)) == (400, None)
    assert reply.json()["message"].endswith("the state is 'Command Queued'")


@pytest.mark.usefixtures("fleet")
@pytest.mark.parametrize("body", [{"reason": "x"}, {"state": "Command Success", "extra": 1}, {"state": 3}])
def test_a_put_body_the_contract_does_not_allow_is_a_400(api: HandlerClient, body: dict[str, Any]) -> None:
    reply = api.request("PUT", "/commands/v0/status/mail.d-1", body)

    assert (reply.status, content(reply)) == (400, None)


@pytest.mark.usefixtures("fleet")
def test_a_put_to_an_unknown_status_is_a_404(api: HandlerClient) -> None:
    reply = api.request("PUT", "/commands/v0/status/mail.d-9", {"state": "Command Success"})

    assert reply.status == 404


@pytest.mark.usefixtures("fleet")
def test_the_inbox_lists_every_delivery_but_initiates_only_inbox_executions(api: HandlerClient) -> None:
    fetched = content(api.get("/v2/command-inbox?device_id=d-1"))

    assert [(item["id"], item["state"]) for item in fetched] == [
        ("mail.d-1", "Command Initiated"),
        ("job.d-1", "Command Queued"),  # its job delivers it; the device may still see it here
    ]
    assert content(api.get("/v2/command-inbox?device_id=nobody")) == []


@pytest.mark.parametrize("query", ["", "?device_id=", "?device_id=a%20b", "?device_id=" + "x" * 129])
def test_the_inbox_needs_a_device_id_that_can_be_a_thing_name(api: HandlerClient, query: str) -> None:
    reply = api.get(f"/v2/command-inbox/{query}")

    assert (reply.status, reply.json()["message"].split(":")[0]) == (400, "device_id")


@pytest.mark.usefixtures("fleet")
def test_every_status_route_wants_the_api_key_when_one_is_set(api: HandlerClient) -> None:
    keyed = Api(ROUTES, api.functions, api_key="s3cret")
    for method, path in (
        ("GET", "/commands/v0/status"),
        ("GET", "/commands/v0/status/mail.d-1"),
        ("PUT", "/commands/v0/status/mail.d-1"),
        ("GET", "/v2/command-inbox"),
    ):
        match = keyed.router.match(method, path)
        assert not isinstance(match, list)
        for headers in ({}, {"x-api-key": "wrong"}):
            event = {"headers": headers, "httpMethod": method, "path": path}
            response = keyed.invoke(match, event)
            assert response["statusCode"] == 401
            assert json.loads(response["body"])["code"] == 401
    api.api = keyed
    reply = api.get("/commands/v0/status/mail.d-1", headers={"X-Api-Key": "s3cret"})
    assert reply.status == 200
    assert api.get("/templates", headers={}).status == 200  # the v1 family has no API key


@pytest.mark.usefixtures("fleet")
def test_repeated_reports_change_nothing_and_progress_does_not_grow_the_history(api: HandlerClient) -> None:
    def put(state: str) -> Any:
        return api.request("PUT", "/commands/v0/status/mail.d-1", {"state": state})

    for _ in range(5):
        assert put("Command In Progress").status == 200
    assert put("Command Failure").status == 200
    assert put("Command Failure").status == 200  # again: the same answer

    status = content(api.get("/commands/v0/status/mail.d-1"))
    assert [step["state"] for step in status["history"]] == ["Command Queued", "Command In Progress", "Command Failure"]
    assert api.get("/commands/mail").json()["counts"] == {"FAILED": 1, "QUEUED": 1}


@pytest.mark.usefixtures("fleet")
def test_a_device_timeout_is_final_but_a_cloud_timeout_gives_way_to_a_late_answer(
    api: HandlerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from commands_core import clock
    from commands_core.services import delivery

    assert api.request("PUT", "/commands/v0/status/mail.d-1", {"state": "Command TimeOut"}).status == 200
    assert api.request("PUT", "/commands/v0/status/mail.d-1", {"state": "Command Success"}).status == 400
    later = clock.now() + timedelta(seconds=601)  # the template's executionTimeoutSeconds passed
    monkeypatch.setattr(delivery, "now", lambda: later)
    api.functions.invoke("reconcile", {})
    assert content(api.get("/commands/v0/status/mail.d-2"))["state"] == "Command TimeOut"

    reply = api.request("PUT", "/commands/v0/status/mail.d-2", {"state": "Command Success"})

    assert (reply.status, content(reply)["state"]) == (200, "Command Success")


@pytest.mark.usefixtures("fleet")
def test_only_inbox_executions_are_reported_through_the_status_api(api: HandlerClient) -> None:
    reply = api.request("PUT", "/commands/v0/status/job.d-1", {"state": "Command Cancelled"})

    assert (reply.status, reply.json()["message"].split(":")[0]) == (400, "id")
    assert content(api.get("/commands/v0/status/job.d-1"))["state"] == "Command Queued"


def test_the_inbox_leaves_out_what_a_rollout_has_not_started(
    api: HandlerClient, template: Callable[..., dict[str, Any]], things: Callable[..., list[str]]
) -> None:
    things("d-1")
    template("later", document="{}", requiredDocumentParameters=[], requiredFiles=[], delivery="command")
    body = {"commandId": "later", "templateId": "later", "status": "in_progress", "targets": ["d-1"]}
    assert api.post("/commands", body).status == 201
    api.functions.invoke("commands_dispatch", _expand_only("later"))  # executions SCHEDULED, none started

    assert content(api.get("/v2/command-inbox?device_id=d-1")) == []


def _expand_only(command_id: str) -> dict[str, Any]:
    from tests.integration.conftest import sqs_event

    return sqs_event([{"action": "expand", "commandId": command_id}])


@pytest.mark.usefixtures("fleet")
def test_internal_commands_are_left_out_with_any_other_filter(api: HandlerClient) -> None:
    assert ids(api.get("/commands/v0/status?request=ops,mail&device=d-2&exclude_internal_commands=true")) == [
        "mail.d-2"
    ]
    assert ids(api.get("/commands/v0/status?request=ops&device=d-2")) == ["ops.d-2"]
    assert api.get("/commands/v0/status?device=,,").status == 400
