from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from commands_core.adapters.commands import CommandRepository
from commands_core.adapters.queue import DispatchQueue
from commands_core.adapters.templates import TemplateRepository
from commands_core.observability import logger
from commands_core.services import commands, delivery, dispatch, ingest, joiners, transitions
from commands_core.services.delivery import command as command_delivery
from local import aws as local_aws
from local.simulated_time import SimulatedTime
from tests.conftest import EmulatedCommands, HandlerClient

ACCOUNT = "123456789012"
REGION = "us-east-1"


def thing_arn(name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/{name}"


def group_arn(name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/{name}"


@pytest.fixture
def iot(aws: dict[str, str]) -> Any:
    return local_aws.client("iot", aws)


@pytest.fixture
def things(iot: Any) -> Callable[..., list[str]]:
    """Creates things (optionally in a group, with attributes or a type); their names."""

    def create(
        *names: str, group: str | None = None, attributes: dict[str, str] | None = None, type_name: str | None = None
    ) -> list[str]:
        if type_name:
            iot.create_thing_type(thingTypeName=type_name)
        for name in names:
            arguments: dict[str, Any] = {"thingName": name}
            if attributes:
                arguments["attributePayload"] = {"attributes": attributes}
            if type_name:
                arguments["thingTypeName"] = type_name
            iot.create_thing(**arguments)
            if group:
                iot.add_thing_to_thing_group(thingGroupName=group, thingName=name)
        return list(names)

    return create


@pytest.fixture
def template(api: HandlerClient) -> Callable[..., dict[str, Any]]:
    """Registers a template (a parameter and a file unless told otherwise); its body."""

    def register(template_id: str = "ota", **overrides: Any) -> dict[str, Any]:
        body = {
            "templateId": template_id,
            "operation": "ota",
            "document": json.dumps(
                {"version": "${version}", "again": "${cdf:parameter:version}", "url": "${cdf:file:firmware}"}
            ),
            "requiredDocumentParameters": ["version"],
            "requiredFiles": ["firmware"],
        } | overrides
        reply = api.post("/templates", body)
        assert reply.status == 201, reply.body
        return body

    return register


def multipart(field: str, content: bytes, filename: str = "firmware.bin") -> tuple[bytes, dict[str, str]]:
    boundary = "----boundary7MA4YWxkTrZu0gW"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def upload(api: HandlerClient, command_id: str, file_id: str = "firmware", content: bytes = b"\x00\x01firmware") -> int:
    body, headers = multipart("file", content)
    return api.request("PUT", f"/commands/{command_id}/files/{file_id}", body, headers=headers).status


@pytest.fixture
def draft(api: HandlerClient, template: Callable[..., dict[str, Any]], things: Callable[..., list[str]]) -> str:
    """A draft command of template ota with its parameter, targeting two things; its id."""
    template()
    things("dev-1", "dev-2")
    reply = api.post(
        "/commands",
        {
            "commandId": "cmd-1",
            "templateId": "ota",
            "targets": ["dev-1", thing_arn("dev-2")],
            "documentParameters": {"version": "2.0"},
        },
    )
    assert reply.status == 201, reply.body
    return "cmd-1"


def publish(api: HandlerClient, command_id: str, **query: str) -> int:
    suffix = "?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else ""
    return api.patch(f"/commands/{command_id}{suffix}", {"status": "in_progress"}).status


def stored(command_id: str, **attributes: Any) -> None:
    """Sets attributes of a command item (by their stored names), bypassing every rule: a test arranging a state
    that only a crash or a race between functions would leave."""
    from commands_core.adapters import aws as clients
    from commands_core.adapters.commands import COUNT_SHARDS
    from commands_core.adapters.dynamo import to_item
    from commands_core.settings import settings

    # The counts are items of their own, in shards: the first takes them, the others are emptied.
    counted: dict[str, Any] = {name: attributes.pop(name) for name in ("counts", "waveCounts") if name in attributes}
    emptied: dict[str, Any] = {"counts": {}}
    if "waveCounts" in counted:
        emptied["waveCounts"] = [{} for _ in counted["waveCounts"]]
    changes: list[tuple[str, dict[str, Any]]] = [("command", attributes), ("counts#0", counted)]
    changes += [(f"counts#{shard}", emptied if counted else {}) for shard in range(1, COUNT_SHARDS)]
    for item_key, chosen in changes:
        if not chosen:
            continue
        names = {f"#a{index}": name for index, name in enumerate(chosen)}
        values = to_item({f":v{index}": value for index, value in enumerate(chosen.values())})
        clients.client("dynamodb").update_item(
            TableName=settings().commands_table,
            Key={"commandId": {"S": command_id}, "itemKey": {"S": item_key}},
            UpdateExpression="SET " + ", ".join(f"{alias} = :v{index}" for index, alias in enumerate(names)),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )


def job_things(iot: Any, job_id: str) -> list[str]:
    """The things the job has an execution for, as AWS IoT lists them."""
    names: list[str] = []
    arguments: dict[str, Any] = {"jobId": job_id, "maxResults": 250}
    while True:
        page = iot.list_job_executions_for_job(**arguments)
        names += [summary["thingArn"].rsplit("/", 1)[-1] for summary in page["executionSummaries"]]
        if not page.get("nextToken"):
            return sorted(names)
        arguments["nextToken"] = page["nextToken"]


def sqs_event(bodies: list[Any], *, prefix: str = "m") -> dict[str, Any]:
    """An SQS event as Lambda delivers it, one record per body, a JSON value or a model (message ids
    <prefix><index>)."""
    return {
        "Records": [
            {
                "messageId": f"{prefix}{index}",
                "receiptHandle": f"handle-{index}",
                "body": body.model_dump_json(by_alias=True) if isinstance(body, BaseModel) else json.dumps(body),
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:status",
                "awsRegion": "us-east-1",
            }
            for index, body in enumerate(bodies)
        ]
    }


def job_execution_event(
    job_id: str, thing: str, status: str, timestamp: int, details: dict[str, str] | None = None
) -> dict[str, Any]:
    """A `$aws/events/jobExecution/<jobId>/<status>` event as the topic rule delivers it."""
    return {
        "eventType": "JOB_EXECUTION",
        "eventId": f"{job_id}-{thing}-{status}-{timestamp}",
        "timestamp": timestamp,
        "operation": status.lower(),
        "jobId": job_id,
        "thingArn": thing_arn(thing),
        "status": status,
        "statusDetails": details or {},
        "topic": f"$aws/events/jobExecution/{job_id}/{status.lower()}",
    }


@pytest.fixture
def published(
    api: HandlerClient, template: Callable[..., dict[str, Any]], things: Callable[..., list[str]]
) -> Callable[..., str]:
    """Publishes a command (template `plain`) to the given things and lets the queue create its job; its id."""
    template("plain", document=json.dumps({"a": 1}), requiredDocumentParameters=[], requiredFiles=[])

    def publish_to(command_id: str, names: list[str], **fields: Any) -> str:
        missing = [name for name in names if not api.env.get(f"_thing_{name}")]
        if missing:
            things(*missing)
            api.env.update({f"_thing_{name}": "1" for name in missing})
        body = {"commandId": command_id, "templateId": "plain", "status": "in_progress", "targets": names} | fields
        assert api.post("/commands", body).status == 201
        api.drain()
        assert api.get(f"/commands/{command_id}").json()["jobId"] == command_id
        return command_id

    return publish_to


class Output:
    """What the functions print: log lines (through the logger's handler) and metric records (printed)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.logs = io.StringIO()
        self._capsys = capsys

    def records(self) -> list[dict[str, Any]]:
        """The JSON objects printed since last asked."""
        lines = self.logs.getvalue().splitlines() + self._capsys.readouterr().out.splitlines()
        self.logs.seek(0)
        self.logs.truncate()
        return [json.loads(line) for line in lines if line.startswith("{")]


@pytest.fixture
def output(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Output]:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # the other tests keep their output short
    captured = Output(capsys)
    handler = logger.registered_handler  # bound to the sys.stdout of when the logger was made
    previous = handler.setStream(captured.logs)  # type: ignore[attr-defined]
    yield captured
    handler.setStream(previous)  # type: ignore[attr-defined]


@pytest.fixture
def simulated(iot_commands: EmulatedCommands, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatedTime]:
    clock = iot_commands.clock
    monkeypatch.setattr(
        DispatchQueue, "send", lambda self, message, delay_seconds=0: clock.send(message, delay_seconds)
    )
    with clock.installed(delivery, dispatch, command_delivery, commands, ingest, transitions, joiners):
        yield clock


@pytest.fixture
def registry_events(aws: dict[str, str]) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The registry events AWS IoT (moto) publishes, as (topic, payload), in order."""
    from local import moto_iot

    published: list[tuple[str, dict[str, Any]]] = []
    stop = moto_iot.on_registry_events(lambda topic, payload: published.append((topic, payload)))
    yield published
    stop()


@pytest.fixture
def rollout(
    api: HandlerClient,
    template: Callable[..., dict[str, Any]],
    things: Callable[..., list[str]],
    iot_commands: EmulatedCommands,
    simulated: SimulatedTime,
    registry_events: list[tuple[str, dict[str, Any]]],
) -> Callable[..., Any]:
    """A template `roll` of the kind and `size` things t-000...; publishing is the test's."""

    def make(kind: str, size: int, **template_settings: Any) -> Any:
        from tests.integration.rollouts import Fleet

        fields = {"document": json.dumps({"op": "update"}), "requiredDocumentParameters": [], "requiredFiles": []}
        template("roll", **fields | {"delivery": kind} | template_settings)
        names = things(*[f"t-{number:03d}" for number in range(size)])
        return Fleet(api, iot_commands, kind, names, registry_events)

    return make


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many execution items (GetItem of one) and templates the service reads, from now on."""
    counted: Counter[str] = Counter()

    def counting(name: str, read: Callable[..., Any]) -> Callable[..., Any]:
        def counted_read(*args: Any, **kwargs: Any) -> Any:
            counted[name] += 1
            return read(*args, **kwargs)

        return counted_read

    monkeypatch.setattr(CommandRepository, "get_execution", counting("execution", CommandRepository.get_execution))
    monkeypatch.setattr(TemplateRepository, "get", counting("template", TemplateRepository.get))
    return counted
