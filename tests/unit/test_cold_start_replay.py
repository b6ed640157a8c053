"""The cold-start bench's replay of recorded AWS calls, and the hand-written function made from a recording."""

from __future__ import annotations

import json
import sys
import types
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest

from bench.replay import Call, Recording, Replay, ReplayServer, handwritten, request_key

GET = ("POST", "/", "DynamoDB_20120810.GetItem", "dynamodb")
PUT = ("POST", "/", "DynamoDB_20120810.PutItem", "dynamodb")


def call(key: tuple[str, str, str, str], body: bytes, operation: str = "get_item", status: int = 200) -> Call:
    return Call("dynamodb", operation, {"TableName": "t"}, key, status, {"Content-Type": "application/json"}, body)


def test_the_replay_answers_each_key_in_recorded_order_and_notes_what_it_has_no_answer_for() -> None:
    # Given a recording of two reads and a write between them
    replay = Replay([call(GET, b"first"), call(PUT, b"written", "put_item"), call(GET, b"second")])

    # When the same requests come again, then one more read
    answers = [replay.answer(GET), replay.answer(PUT), replay.answer(GET), replay.answer(GET)]

    # Then each read gets its own answer in order, and the one too many none
    assert [answer.body if answer else None for answer in answers] == [b"first", b"written", b"second", None]
    assert replay.missed == [GET]


def test_the_replay_server_answers_over_http_with_the_recorded_status_headers_and_body() -> None:
    recorded = call(GET, b'{"Item": {}}', status=400)
    with ReplayServer().serving() as server:
        server.replay = Replay([recorded])
        headers = {
            "X-Amz-Target": "DynamoDB_20120810.GetItem",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, ...",
        }
        request = urllib.request.Request(server.url + "/", data=b"{}", headers=headers, method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)

    assert (refused.value.code, refused.value.read()) == (400, b'{"Item": {}}')
    assert refused.value.headers["Content-Type"] == "application/json"
    assert server.replay.missed == []


def test_a_request_is_keyed_by_method_path_target_and_the_service_it_is_signed_for() -> None:
    headers = {"X-Amz-Target": b"AmazonSQS.SendMessage", "Authorization": "Credential=k/20260101/us-east-1/sqs/aws4"}

    assert request_key("POST", "http://127.0.0.1:1/?x=1", headers) == ("POST", "/", "AmazonSQS.SendMessage", "sqs")


class FakeClient:
    def __init__(self, service: str, made: list[tuple[str, str, dict[str, Any]]]) -> None:
        self._service = service
        self._made = made
        self.exceptions = types.SimpleNamespace(ClientError=RuntimeError)

    def __getattr__(self, operation: str) -> Any:
        def make(*args: Any, **params: Any) -> None:
            self._made.append((self._service, operation, {"args": list(args)} | params if args else params))
            if params.get("TableName") == "missing":
                raise RuntimeError("refused")

        return make


def test_the_hand_written_function_makes_the_recorded_calls_in_order_and_answers_the_same_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a recording of a read AWS refused, a write with a time, a presigned URL and an API response
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    calls = [
        Call("dynamodb", "get_item", {"TableName": "missing"}, GET, 400),
        Call("events", "put_events", {"Entries": [{"Time": when, "Detail": "{}"}]}, PUT, 200),
        Call("s3", "put_object", {"Bucket": "b", "Key": "k"}),
    ]
    response = {"statusCode": 201, "headers": {"Location": "/x"}, "body": json.dumps({"id": "x", "n": [1]})}
    source = handwritten(Recording("things_create", {}, calls, response))

    # When it is imported with only json and (a fake) boto3, and called
    made: list[tuple[str, str, dict[str, Any]]] = []
    monkeypatch.setitem(sys.modules, "boto3", types.SimpleNamespace(client=lambda name: FakeClient(name, made)))
    namespace: dict[str, Any] = {}
    exec(compile(source, "handler.py", "exec"), namespace)
    answered = namespace["lambda_handler"]({}, None)

    # Then it made the same calls, in order, with the same params (a time as its ISO text), and the same response
    assert made == [
        ("dynamodb", "get_item", {"TableName": "missing"}),
        ("events", "put_events", {"Entries": [{"Time": "2026-01-02T03:04:05+00:00", "Detail": "{}"}]}),
        (
            "s3",
            "generate_presigned_url",
            {"args": ["put_object"], "Params": {"Bucket": "b", "Key": "k"}, "ExpiresIn": 900},
        ),
    ]
    assert answered == response
    assert {line.split()[1] for line in source.splitlines() if line.startswith("import")} == {"json", "boto3"}
