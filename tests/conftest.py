"""Fixtures shared by the test suites."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from commands_core import dependencies
from commands_core.adapters import aws as clients
from commands_core.wiring import CONSUMERS, ROUTES, functions
from local import aws as local_aws
from local import moto_iot, queues
from local.api import Api, proxy_event
from local.eventbridge import EventBridge
from local.iot_commands import IotCommands
from local.lambdas import Functions
from local.simulated_time import SimulatedTime


class Clock:
    """Time that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


def same_answer(first: Reply, again: Reply) -> bool:
    """Whether two replies are the same answer: status, body and location."""
    return (first.status, first.body, first.headers.get("location")) == (
        again.status,
        again.body,
        again.headers.get("location"),
    )


class HandlerClient:
    """Calls the real handlers with the API Gateway events the local runtime builds, without a socket."""

    def __init__(self, env: dict[str, str], instances: int = 1) -> None:
        self.env = env
        self.functions = Functions((function.function for function in functions()), instances)
        self.api = Api(ROUTES, self.functions)

    def drain(self) -> int:
        """Runs the queue consumers until their queues are empty, as their event sources would."""
        return queues.drain(local_aws.client("sqs", self.env), CONSUMERS, self.env, self.functions)

    def request(self, method: str, target: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        url = urlsplit(target)
        match = self.api.router.match(method, url.path)
        assert not isinstance(match, list), f"no route for {method} {url.path}"
        raw = body if isinstance(body, str | bytes) else (b"" if body is None else json.dumps(body))
        payload = raw.encode() if isinstance(raw, str) else raw
        sent = {"Content-Type": "application/json"} if payload else {}
        event = proxy_event(
            match, method=method, raw_path=url.path, query=url.query, headers=sent | (headers or {}), body=payload
        )
        response = self.api.invoke(match, event)
        merged = dict(response.get("headers") or {})
        for name, values in (response.get("multiValueHeaders") or {}).items():
            merged[name] = ", ".join(values)
        return Reply(response["statusCode"], {k.lower(): v for k, v in merged.items()}, response.get("body") or "")

    def get(self, target: str, **kwargs: Any) -> Reply:
        return self.request("GET", target, **kwargs)

    def post(self, target: str, body: Any, **kwargs: Any) -> Reply:
        return self.request("POST", target, body, **kwargs)

    def patch(self, target: str, body: Any, **kwargs: Any) -> Reply:
        return self.request("PATCH", target, body, **kwargs)

    def delete(self, target: str, **kwargs: Any) -> Reply:
        return self.request("DELETE", target, **kwargs)


@dataclass
class EmulatedCommands:
    """The IoT Commands emulator the service talks to in tests, its clock, and the events it published."""

    emulator: IotCommands
    clock: SimulatedTime  # AWS IoT's; tests move it (and, with the dispatcher's queue, run on it)
    events: list[dict[str, Any]]

    def take_events(self) -> list[dict[str, Any]]:
        """The events published since last asked, as the topic rule delivers them (with their topic)."""
        taken, self.events[:] = list(self.events), []
        return taken


@pytest.fixture
def iot_commands() -> EmulatedCommands:
    clock = SimulatedTime(time.time())
    events: list[dict[str, Any]] = []
    emulator = local_aws.iot_commands(lambda topic, payload: events.append(payload | {"topic": topic}), clock)
    return EmulatedCommands(emulator, clock, events)


@pytest.fixture
def event_bridge() -> EventBridge:
    """The EventBridge emulator the service puts its lifecycle events on in tests."""
    return local_aws.eventbridge()


@pytest.fixture
def aws(
    monkeypatch: pytest.MonkeyPatch, iot_commands: EmulatedCommands, event_bridge: EventBridge
) -> Iterator[dict[str, str]]:
    """moto's in-process mock with the service's tables and bucket, and the settings that name them; the IoT
    Commands emulator answers the service's clients (what moto lacks), and the SQS, DynamoDB and EventBridge
    emulators theirs."""
    from moto import mock_aws

    env = local_aws.environment(aws_port=None) | {"POWERTOOLS_METRICS_DISABLED": "true"}
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    moto_iot.install()
    # Registered before the service's clients are made (they copy the session's handlers), ahead of moto's.
    events = clients.session().events
    events.register_first("before-send", iot_commands.emulator.botocore_hook, unique_id=_EMULATOR)
    try:
        with mock_aws(), local_aws.in_process(local_aws.sqs(), local_aws.dynamodb(), event_bridge):
            dependencies.reset()
            local_aws.create_resources(env)
            yield env
    finally:
        events.unregister("before-send", unique_id=_EMULATOR)
        dependencies.reset()


_EMULATOR = "iot-commands-emulator"


@pytest.fixture
def api(aws: dict[str, str]) -> HandlerClient:
    return HandlerClient(aws)


INSTANCES = 4


@pytest.fixture
def parallel(aws: dict[str, str]) -> HandlerClient:
    """The API with four instances of every function, for requests at the same time (as Lambda scales out)."""
    return HandlerClient(aws, instances=INSTANCES)


def aws_error(url: str, status: int, code: str, message: str = "Rate exceeded") -> Any:
    """An AWS error response as botocore receives it (from a `before-send` handler): JSON, or XML for S3."""
    from botocore.awsrequest import AWSResponse

    class Raw:
        def __init__(self, body: bytes) -> None:
            self._body = body

        def stream(self, **_: Any) -> Iterator[bytes]:
            yield self._body

        def read(self, *_: Any) -> bytes:
            body, self._body = self._body, b""
            return body

    host = urlsplit(url).netloc
    if host.startswith("s3.") or ".s3." in host:
        body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
        return AWSResponse(url, status, {"Content-Type": "application/xml"}, Raw(body))
    body = json.dumps({"__type": code, "message": message}).encode()  # the JSON protocol's code, in the body
    return AWSResponse(url, status, {"x-amzn-ErrorType": code, "Content-Type": "application/json"}, Raw(body))


def refuse(request: Any, status: int, code: str) -> Any:
    """From a `before-send` handler: the AWS error for `request`, which no later handler (moto's, the IoT
    Commands emulator's) then carries out, as AWS would not have."""
    url, request.url = request.url, _REFUSED
    return aws_error(url, status, code)


_REFUSED = "http://refused.iot-commands.invalid/"  # botocore calls every before-send handler: none knows this
