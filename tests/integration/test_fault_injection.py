"""AWS failing under the real handlers and consumers: throttling, AWS trouble (5xx), no connection, timeouts,
injected per adapter (DynamoDB, S3, SQS, AWS IoT, the AWS IoT Commands data plane) through botocore's
`before-send` event, so botocore's own retries with backoff run as they would against AWS."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from botocore.retries.standard import ExponentialBackoff
from pydantic import BaseModel

from commands_core import dependencies, resources
from commands_core.adapters import aws as clients
from commands_core.services import dispatch, ingest
from local import aws as local_aws
from tests.conftest import HandlerClient, Reply, refuse
from tests.integration.conftest import job_execution_event, job_things, multipart, publish, thing_arn, upload

# How each service says it is throttling, and that it is in trouble: (HTTP status, error code).
THROTTLING = {
    "dynamodb": (400, "ProvisionedThroughputExceededException"),
    "s3": (503, "SlowDown"),
    "sqs": (400, "RequestThrottled"),
    "iot": (429, "ThrottlingException"),
    "iot-jobs-data": (429, "ThrottlingException"),
}
TROUBLE = {
    "dynamodb": (500, "InternalServerError"),
    "s3": (500, "InternalError"),
    "sqs": (500, "InternalFailure"),
    "iot": (503, "ServiceUnavailableException"),
    "iot-jobs-data": (500, "InternalServerException"),
}
ATTEMPTS = clients.RETRIES + 1  # what botocore makes of one call before it gives up


@dataclass
class Fault:
    """AWS failing the requests of one operation that `matches` picks (by URL and body): `kind` is `throttled`,
    `failing` (5xx), `unreachable` (no connection) or `timeout` (no answer in time), on the first `times`
    attempts (None: every one). `attempts` counts every attempt botocore made of those requests."""

    service: str
    kind: str
    times: int | None
    matches: Callable[[bytes], bool]
    attempts: int = 0

    def __call__(self, request: Any, **_: Any) -> Any:
        if not self.matches(request.url.encode() + _body(request)):
            return None
        self.attempts += 1
        if self.times is not None and self.attempts > self.times:
            return None
        if self.kind == "unreachable":
            raise EndpointConnectionError(endpoint_url=request.url)
        if self.kind == "timeout":
            raise ReadTimeoutError(endpoint_url=request.url, error="read timed out")
        status, code = (THROTTLING if self.kind == "throttled" else TROUBLE)[self.service]
        return refuse(request, status, code)

    def clear(self) -> None:
        self.times = self.attempts


@dataclass
class Faults:
    add: Callable[..., Fault]
    delays: list[float] = field(default_factory=list)  # the backoff botocore computed before each retry


def _body(request: Any) -> bytes:
    body = request.body.read() if hasattr(request.body, "read") else request.body
    if hasattr(request.body, "seek"):
        request.body.seek(0)
    return body.encode() if isinstance(body, str) else body or b""


@pytest.fixture
def faults(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Faults]:
    """Injects faults into the service's clients; botocore's backoff is computed and recorded, not slept."""
    compute = ExponentialBackoff.delay_amount
    injected = Faults(add=lambda *args, **kwargs: add(*args, **kwargs))  # noqa: PLW0108 (add is defined below)

    def recorded(self: ExponentialBackoff, context: Any) -> float:
        injected.delays.append(compute(self, context))
        return 0

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", recorded)
    events = clients.session().events
    registered: list[tuple[str, str]] = []

    def add(operation: str, kind: str, times: int | None = None, matches: bytes = b"") -> Fault:
        service, _ = operation.split(".")
        fault = Fault(service, kind, times, lambda body: matches in body)
        registered.append((f"before-send.{operation}", f"fault-{len(registered)}"))
        events.register_first(registered[-1][0], fault, unique_id=registered[-1][1])
        dependencies.reset()  # clients copy the session's handlers when made
        return fault

    yield injected
    for event, unique_id in registered:
        events.unregister(event, unique_id=unique_id)
    dependencies.reset()


# --- API routes: each family, each adapter ---------------------------------------------------------------


def _job(api: HandlerClient, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("things")("j-1")
    body = {"jobId": "j", "targets": ["j-1"], "targetSelection": "SNAPSHOT", "document": "{}"}
    assert api.post("/jobs", body).status == 200


def _draft_with_file(api: HandlerClient, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("draft")
    assert upload(api, "cmd-1") == 201


def _published(api: HandlerClient, request: pytest.FixtureRequest) -> None:
    _draft_with_file(api, request)
    assert publish(api, "cmd-1") == 204
    api.drain()


def _upload(api: HandlerClient) -> Reply:
    body, headers = multipart("file", b"\x00\x01firmware")
    return api.request("PUT", "/commands/cmd-1/files/firmware", body, headers=headers)


def _publish(api: HandlerClient) -> Reply:
    return api.patch("/commands/cmd-1", {"status": "in_progress"})


@dataclass(frozen=True)
class Route:
    family: str  # v1, jobs or status: the shape of its errors
    operation: str  # the AWS call that fails: "<service>.<Operation>"
    setup: Callable[[HandlerClient, pytest.FixtureRequest], None]
    call: Callable[[HandlerClient], Reply]
    success: int
    matches: bytes = b""  # the requests of the operation that fail (all by default)


TEMPLATE = {"templateId": "t", "operation": "t", "document": "{}"}

ROUTES = {
    "templates_get/dynamodb": Route(
        "v1",
        "dynamodb.GetItem",
        lambda api, request: request.getfixturevalue("template")(),
        lambda api: api.get("/templates/ota"),
        200,
    ),
    "templates_create/dynamodb": Route(  # the Idempotency-Key's record, which Powertools writes
        "v1",
        "dynamodb.PutItem",
        lambda api, request: None,
        lambda api: api.post("/templates", TEMPLATE, headers={"Idempotency-Key": "k"}),
        201,
        b"-idempotency",
    ),
    "files_upload/s3": Route("v1", "s3.PutObject", lambda api, request: request.getfixturevalue("draft"), _upload, 201),
    "commands_update/sqs": Route("v1", "sqs.SendMessage", _draft_with_file, _publish, 204),
    "commands_update/iot": Route("v1", "iot.DescribeThing", _draft_with_file, _publish, 204, b"dev-1"),
    "jobs_get/iot": Route("jobs", "iot.DescribeJob", _job, lambda api: api.get("/jobs/j"), 200),
    "status_get/dynamodb": Route(
        "status", "dynamodb.GetItem", _published, lambda api: api.get("/commands/v0/status/cmd-1.dev-1"), 200
    ),
    "inbox_fetch/dynamodb": Route(
        "status",
        "dynamodb.Query",
        _published,
        lambda api: api.get("/v2/command-inbox/?device_id=dev-1"),
        200,
        b'"inbox"',  # the device's inbox (the index), not the read of its command
    ),
}


def message(family: str, reply: Reply) -> str:
    """The error message in the family's shape, checking the shape."""
    body = reply.json()
    if family == "status":
        assert body == {"code": reply.status, "message": body["message"], "content": None}
        return str(body["message"])
    assert set(body) == {"error"}
    return str(body["error"])


@pytest.mark.parametrize(
    ("kind", "status"), [("throttled", 429), ("failing", 503), ("unreachable", 503), ("timeout", 503)]
)
@pytest.mark.parametrize("name", ROUTES)
def test_aws_failing_past_the_retries_is_a_429_or_503_with_retry_after_in_the_family_s_shape(
    api: HandlerClient, faults: Faults, request: pytest.FixtureRequest, name: str, kind: str, status: int
) -> None:
    # Given a route whose AWS call fails on every attempt
    route = ROUTES[name]
    route.setup(api, request)
    fault = faults.add(route.operation, kind, matches=route.matches)

    # When a client calls it
    reply = route.call(api)

    # Then botocore tried with backoff, and the client is told to come back, in its family's shape
    assert fault.attempts == ATTEMPTS
    assert len(faults.delays) == clients.RETRIES
    assert reply.status == status
    assert int(reply.headers["retry-after"]) > 0
    text = message(route.family, reply)
    assert ("throttling" if status == 429 else "unavailable") in text
    for internal in (route.operation.split(".")[1], "Exception", "Error", "botocore", "Traceback", "iot-commands-"):
        assert internal not in text


@pytest.mark.parametrize("kind", ["throttled", "failing", "unreachable"])
@pytest.mark.parametrize("name", ROUTES)
def test_a_fault_that_clears_within_botocore_s_retries_goes_unnoticed(
    api: HandlerClient, faults: Faults, request: pytest.FixtureRequest, name: str, kind: str
) -> None:
    route = ROUTES[name]
    route.setup(api, request)
    fault = faults.add(route.operation, kind, times=2, matches=route.matches)

    reply = route.call(api)

    assert reply.status == route.success, reply.body
    assert fault.attempts == 3  # two refused, the third answered


def test_a_publish_refused_for_lack_of_the_queue_is_completed_by_asking_again(
    api: HandlerClient, faults: Faults, request: pytest.FixtureRequest
) -> None:
    # Given a publish answered 503 because the dispatch queue could not be reached
    _draft_with_file(api, request)
    fault = faults.add("sqs.SendMessage", "unreachable")
    assert publish(api, "cmd-1") == 503

    # When the queue is back and the client asks again
    fault.clear()
    assert publish(api, "cmd-1") == 204
    api.drain()

    # Then the command has one job and one execution per thing
    command = api.get("/commands/cmd-1").json()
    assert (command["jobId"], command["counts"]) == ("cmd-1", {"QUEUED": 2})
    jobs = local_aws.client("iot", api.env).list_jobs()["jobs"]
    assert [job["jobId"] for job in jobs] == ["cmd-1"]


@pytest.mark.parametrize(
    ("retry", "headers"),
    [("with its Idempotency-Key", {"Idempotency-Key": "publish-1"}), ("naming the id it created", {})],
)
def test_a_create_and_publish_refused_for_lack_of_the_queue_is_completed_by_its_retry(
    api: HandlerClient,
    faults: Faults,
    template: Callable[..., dict[str, Any]],
    things: Callable[..., list[str]],
    retry: str,
    headers: dict[str, str],
) -> None:
    # Given a create-and-publish answered 503 after its command was written, the dispatch queue unreachable
    template("plain", document="{}", requiredDocumentParameters=[], requiredFiles=[])
    things("dev-1")
    body = {"templateId": "plain", "targets": ["dev-1"], "status": "in_progress"}
    body |= {} if headers else {"commandId": "cmd-1"}
    fault = faults.add("sqs.SendMessage", "unreachable")
    assert api.post("/commands", body, headers=headers).status == 503

    # When the queue is back and the client sends the same request again
    fault.clear()
    reply = api.post("/commands", body, headers=headers)
    api.drain()

    # Then there is one command, and its rollout went ahead
    assert reply.status == 201, retry
    (listed,) = api.get("/commands").json()["results"]
    command = api.get(f"/commands/{listed['commandId']}").json()
    assert (command["commandId"], command["counts"]) == (reply.json()["commandId"], {"QUEUED": 1})
    assert [job["jobId"] for job in local_aws.client("iot", api.env).list_jobs()["jobs"]] == [command["commandId"]]


# --- queue consumers: nothing lost, nothing doubled, the dead-letter queue after bounded receives ---------


def _sqs(api: HandlerClient) -> Any:
    return local_aws.client("sqs", api.env)


def _redeliver_at_once(api: HandlerClient, queue: resources.Queue) -> str:
    """The queue's URL, its visibility timeout set to 0: a failed message comes back at the next poll, as it
    would once the timeout passed."""
    url = api.env[queue.env]
    _sqs(api).set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})
    return url


def _dead_letters(api: HandlerClient, queue: resources.Queue) -> list[dict[str, Any]]:
    sqs = _sqs(api)
    url = sqs.get_queue_url(QueueName=api.env[queue.env].rsplit("/", 1)[1] + "-dlq")["QueueUrl"]
    return list(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []))


def _send_events(api: HandlerClient, events: list[dict[str, Any]]) -> None:
    url = _redeliver_at_once(api, resources.STATUS)
    for event in events:
        _sqs(api).send_message(QueueUrl=url, MessageBody=json.dumps(event))


@pytest.mark.parametrize("kind", ["throttled", "failing", "timeout"])
def test_a_status_event_whose_write_failed_comes_back_and_counts_once(
    api: HandlerClient, faults: Faults, request: pytest.FixtureRequest, kind: str
) -> None:
    # Given a published command to two things, and DynamoDB refusing dev-1's transition for one delivery
    _published(api, request)
    fault = faults.add("dynamodb.TransactWriteItems", kind, times=ATTEMPTS, matches=b"execution#dev-1")

    # When both devices' SUCCEEDED events arrive through the status queue
    at = int(time.time())
    _send_events(api, [job_execution_event("cmd-1", thing, "SUCCEEDED", at) for thing in ("dev-1", "dev-2")])
    api.drain()

    # Then dev-1's event failed once, came back and was applied: each counted once, nothing left over
    assert fault.attempts == ATTEMPTS + 1
    command = api.get("/commands/cmd-1").json()
    assert (command["counts"], command["status"]) == ({"SUCCEEDED": 2}, "completed")
    history = api.get("/commands/cmd-1/executions/dev-1").json()["executions"][0]["history"]
    assert [entry["to"] for entry in history].count("SUCCEEDED") == 1
    assert _dead_letters(api, resources.STATUS) == []


def _receives(monkeypatch: pytest.MonkeyPatch, service: Any) -> Counter[str]:
    """How often the consumer was given each message (by its JSON), counted at `service.handle`."""
    received: Counter[str] = Counter()
    handle = service.handle

    def counting(ports: Any, message: Any) -> None:
        received[
            message.model_dump_json() if isinstance(message, BaseModel) else json.dumps(message, sort_keys=True)
        ] += 1
        handle(ports, message)

    monkeypatch.setattr(service, "handle", counting)
    return received


def test_a_status_event_that_fails_every_time_reaches_the_dead_letter_queue_after_the_bounded_receives(
    api: HandlerClient, faults: Faults, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    _published(api, request)
    faults.add("dynamodb.TransactWriteItems", "failing", matches=b"execution#dev-1")
    received = _receives(monkeypatch, ingest)
    events = [job_execution_event("cmd-1", thing, "SUCCEEDED", int(time.time())) for thing in ("dev-1", "dev-2")]

    _send_events(api, events)
    api.drain()

    assert [received[json.dumps(event, sort_keys=True)] for event in events] == [resources.STATUS.max_receive_count, 1]
    (dead,) = _dead_letters(api, resources.STATUS)
    assert json.loads(dead["Body"])["thingArn"] == thing_arn("dev-1")
    assert api.get("/commands/cmd-1").json()["counts"] == {"QUEUED": 1, "SUCCEEDED": 1}


def _dispatch_comes_back_at_once(api: HandlerClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed dispatch message comes back at the next poll, its step's lease expired, as both would once the
    visibility timeout (longer than the lease) passed."""
    _redeliver_at_once(api, resources.DISPATCH)
    monkeypatch.setattr(dispatch, "LEASE", timedelta(0))


@pytest.mark.parametrize(
    ("operation", "kind"),
    [
        ("iot.CreateJob", "failing"),
        ("iot.CreateJob", "throttled"),
        ("s3.CopyObject", "throttled"),
        ("dynamodb.BatchWriteItem", "unreachable"),
    ],
)
def test_a_dispatch_step_that_failed_comes_back_and_publishes_once(
    api: HandlerClient,
    faults: Faults,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    operation: str,
    kind: str,
) -> None:
    # Given a publish whose dispatch step fails for one delivery (after botocore's retries)
    _draft_with_file(api, request)
    _dispatch_comes_back_at_once(api, monkeypatch)
    fault = faults.add(operation, kind, times=ATTEMPTS)

    # When the dispatch queue runs
    assert publish(api, "cmd-1") == 204
    api.drain()

    # Then the step came back and did its work once: one job, one execution per thing
    assert fault.attempts > ATTEMPTS
    command = api.get("/commands/cmd-1").json()
    assert (command["jobId"], command["counts"]) == ("cmd-1", {"QUEUED": 2})
    executions = api.get("/commands/cmd-1/executions").json()["executions"]
    assert sorted(execution["thingName"] for execution in executions) == ["dev-1", "dev-2"]
    assert job_things(local_aws.client("iot", api.env), "cmd-1") == ["dev-1", "dev-2"]
    assert _dead_letters(api, resources.DISPATCH) == []


def test_a_dispatch_step_that_fails_every_time_reaches_the_dead_letter_queue_after_the_bounded_receives(
    api: HandlerClient, faults: Faults, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    _draft_with_file(api, request)
    _dispatch_comes_back_at_once(api, monkeypatch)
    faults.add("iot.CreateJob", "failing")
    received = _receives(monkeypatch, dispatch)

    assert publish(api, "cmd-1") == 204
    api.drain()

    assert list(received.values()) == [resources.DISPATCH.max_receive_count]
    (dead,) = _dead_letters(api, resources.DISPATCH)
    assert json.loads(dead["Body"])["commandId"] == "cmd-1"
    assert "jobId" not in api.get("/commands/cmd-1").json()
