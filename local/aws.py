"""The embedded AWS endpoint (moto in server mode) and the service's resources in it."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

from commands_core import resources
from commands_core.wiring import EVENT_CONFIGURATIONS

if TYPE_CHECKING:
    from local.dynamodb import Dynamodb
    from local.eventbridge import EventBridge
    from local.iot_commands import IotCommands
    from local.jobs_data import JobsData
    from local.sqs import Sqs
    from local.wire import Emulator

REGION = "us-east-1"
PREFIX = "iot-commands-local"


ACCOUNT = "123456789012"  # moto's default account


def environment(aws_port: int | None) -> dict[str, str]:
    """What a function sees locally: the endpoint (None: boto3's default), fake credentials, resource names."""
    env = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    endpoint = f"http://127.0.0.1:{aws_port}" if aws_port is not None else None
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    for table in resources.TABLES:
        env[table.env] = f"{PREFIX}-{table.name}"
    for bucket in resources.BUCKETS:
        env[bucket.env] = f"{PREFIX}-{bucket.name}"
    for queue in resources.QUEUES:
        env[queue.env] = f"{endpoint or 'https://sqs.' + REGION + '.amazonaws.com'}/{ACCOUNT}/{PREFIX}-{queue.name}"
    for role in resources.ROLES:
        env[role.env] = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-{role.name}"
    for bus in resources.BUSES:
        env[bus.env] = f"{PREFIX}-{bus.name}"
    return env


class Endpoint:
    """The embedded AWS endpoint: a server on a thread of its own, and the emulators behind it."""

    def __init__(self, server: Any, emulators: tuple[Emulator, ...], event_bridge: EventBridge) -> None:
        self._server = server
        self.emulators = emulators
        self.event_bridge = event_bridge  # what the service's lifecycle events were put on

    def shutdown(self) -> None:
        self._server.shutdown()

    def close(self) -> None:
        """Lets go of what the emulators hold outside memory (the DynamoDB emulator's file): once nothing calls
        them any more, as a call in flight would fail."""
        for emulator in self.emulators:
            emulator.close()


def start_endpoint(port: int, iot_commands: IotCommands, jobs: JobsData | None = None) -> Endpoint:
    """moto in server mode, with the emulators of IoT Commands, the Jobs data plane (`jobs`, else one publishing
    nothing), SQS, DynamoDB and EventBridge in front of it."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from local import moto_iot

    moto_iot.install()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    buses = eventbridge()
    emulators = (iot_commands, jobs or jobs_data(lambda topic, payload: None), sqs(), dynamodb(), buses)
    app: Any = DomainDispatcherApplication(create_backend_app)
    for emulator in reversed(emulators):
        app = emulator.wsgi(app)
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True, name="aws-endpoint").start()
    return Endpoint(server, emulators, buses)


def iot_commands(
    publish: Callable[[str, dict[str, Any]], object], clock: Callable[[], float] = time.time
) -> IotCommands:
    """The IoT Commands emulator (local/iot_commands.py), knowing the things of moto's registry."""
    from moto.iot.models import iot_backends

    from local.iot_commands import IotCommands

    prefix = f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/"
    return IotCommands(
        account=ACCOUNT,
        region=REGION,
        clock=clock,
        thing_exists=lambda name: prefix + name in iot_backends[ACCOUNT][REGION].things,  # keyed by ARN
        publish=publish,
    )


def jobs_data(publish: Callable[[str, dict[str, Any]], object]) -> JobsData:
    """The emulator of AWS IoT Jobs' device side (local/jobs_data.py), over moto's AWS IoT of the local account and
    region; it publishes the events of executions it ends through `publish`."""
    from moto.iot.models import iot_backends

    from local.jobs_data import JobsData

    return JobsData(backend=lambda: iot_backends[ACCOUNT][REGION], publish=publish)


def sqs() -> Sqs:
    """The SQS emulator (local/sqs.py) of the local account and region."""
    from local.sqs import Sqs

    return Sqs(account=ACCOUNT, region=REGION)


def dynamodb() -> Dynamodb:
    """The DynamoDB emulator (local/dynamodb.py) of the local account and region."""
    from local.dynamodb import Dynamodb

    return Dynamodb(account=ACCOUNT, region=REGION)


def eventbridge() -> EventBridge:
    """The EventBridge emulator (local/eventbridge.py) of the local account and region."""
    from local.eventbridge import EventBridge

    return EventBridge(account=ACCOUNT, region=REGION)


def answer_in_process(*emulators: Emulator) -> Callable[[], None]:
    """The emulators answer, in process, the calls of every client of this process: the service's and the local
    runtime's own (ahead of moto's in-process mock, in the tests). What it returns stops that."""
    from commands_core.adapters import aws as service_clients

    events = [service_clients.session().events, _session().events]
    names = [f"embedded-{type(emulator).__name__}-{id(emulator)}" for emulator in emulators]
    for emitter in events:
        for emulator, name in zip(emulators, names, strict=True):
            emitter.register_first("before-send", emulator.botocore_hook, unique_id=name)

    def stop() -> None:
        for emitter in events:
            for name in names:
                emitter.unregister("before-send", unique_id=name)

    return stop


@contextmanager
def in_process(*emulators: Emulator) -> Iterator[None]:
    """The emulators answer the calls of every client in process meanwhile; they are closed after."""
    stop = answer_in_process(*emulators)
    try:
        yield
    finally:
        stop()
        for emulator in emulators:
            emulator.close()


_lock = threading.Lock()


@cache
def _session() -> Any:
    import boto3

    return boto3.session.Session(region_name=REGION)


def client(service: str, env: dict[str, str]) -> Any:
    """A client of the local endpoint; without AWS_ENDPOINT_URL (tests under moto's in-process mock), of the
    default endpoint, which the mock intercepts."""
    with _lock:
        return _session().client(
            service,
            endpoint_url=env.get("AWS_ENDPOINT_URL"),
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )


def create_resources(env: dict[str, str]) -> None:
    """The tables, bucket, queues and roles, from the same definitions as the stack; existing ones are kept."""
    dynamodb = client("dynamodb", env)
    existing = set(dynamodb.list_tables()["TableNames"])
    for table in resources.TABLES:
        if env[table.env] not in existing:
            dynamodb.create_table(**table_definition(table, env[table.env]))
    s3 = client("s3", env)
    for bucket in resources.BUCKETS:
        s3.create_bucket(Bucket=env[bucket.env])
        s3.put_bucket_versioning(Bucket=env[bucket.env], VersioningConfiguration={"Status": "Enabled"})
    sqs = client("sqs", env)
    for queue in resources.QUEUES:
        name = env[queue.env].rsplit("/", 1)[1]
        dead_letters = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dead_letters_arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])
        redrive = {
            "deadLetterTargetArn": dead_letters_arn["Attributes"]["QueueArn"],
            "maxReceiveCount": queue.max_receive_count,
        }
        sqs.create_queue(
            QueueName=name,
            Attributes={
                "VisibilityTimeout": str(queue.visibility_timeout_seconds),
                "RedrivePolicy": json.dumps(redrive),
            },
        )
    events = client("events", env)
    for bus in resources.BUSES:
        with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
            events.create_event_bus(Name=env[bus.env])
    # As the stack's custom resource does: AWS IoT publishes these events only once they are enabled.
    configurations = {name: {"Enabled": True} for name in EVENT_CONFIGURATIONS}
    client("iot", env).update_event_configurations(eventConfigurations=configurations)
    iam = client("iam", env)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "iot.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    for role in resources.ROLES:
        name = env[role.env].rsplit("/", 1)[1]
        if name not in {existing["RoleName"] for existing in iam.list_roles()["Roles"]}:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))


def table_definition(table: resources.Table, name: str) -> dict[str, Any]:
    """CreateTable arguments for `table` (on-demand, as in the stack)."""

    def key_schema(partition: str, sort: str | None) -> list[dict[str, str]]:
        schema = [{"AttributeName": partition, "KeyType": "HASH"}]
        return schema + ([{"AttributeName": sort, "KeyType": "RANGE"}] if sort else [])

    definition: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": key, "AttributeType": "S"} for key in table.key_attributes],
        "KeySchema": key_schema(table.partition_key, table.sort_key),
    }
    if table.indexes:
        definition["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": key_schema(index.partition_key, index.sort_key),
                "Projection": _projection(index),
            }
            for index in table.indexes
        ]
    return definition


def _projection(index: resources.Index) -> dict[str, Any]:
    if index.include is None:
        return {"ProjectionType": "ALL"}
    if not index.include:
        return {"ProjectionType": "KEYS_ONLY"}
    return {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.include)}
