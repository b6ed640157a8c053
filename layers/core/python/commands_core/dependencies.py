"""The adapters a function uses, built from the settings on first use and then kept for the warm container.

Each factory imports its adapter when first called, so a function imports only the adapters it uses.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from commands_core.adapters import aws
from commands_core.settings import settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from commands_core.adapters.commands import CommandRepository
    from commands_core.adapters.templates import TemplateRepository
    from commands_core.services.jobs import JobsPorts
    from commands_core.services.ports import Ports


@cache
def template_repository() -> TemplateRepository:
    from commands_core.adapters.templates import TemplateRepository

    return TemplateRepository(aws.client("dynamodb"), settings().templates_table)


@cache
def command_repository() -> CommandRepository:
    from commands_core.adapters.commands import CommandRepository

    return CommandRepository(aws.client("dynamodb"), settings().commands_table)


@cache
def ports() -> Ports:
    """The adapters of the command services."""
    from commands_core.adapters.event_bus import EventBus
    from commands_core.adapters.files import FileStore
    from commands_core.adapters.iot import IotJobs, IotRegistry
    from commands_core.adapters.iot_commands import IotCommands
    from commands_core.adapters.queue import DispatchQueue
    from commands_core.services.ports import Ports

    config = settings()
    return Ports(
        templates=template_repository(),
        commands=command_repository(),
        files=FileStore(aws.client("s3"), config.files_bucket),
        registry=IotRegistry(aws.client("iot")),
        jobs=IotJobs(aws.client("iot")),
        iot_commands=IotCommands(aws.client("iot")),
        queue=DispatchQueue(aws.client("sqs"), config.dispatch_queue_url),
        presign_role_arn=config.presign_role_arn,
        events=EventBus(lambda: aws.client("events"), config.event_bus_name),
    )


def flush_events() -> None:
    """Puts the lifecycle events the invocation collected (the entry points' last step); none when it built no
    adapters."""
    if ports.cache_info().currsize:
        ports().events.flush()


@cache
def jobs_ports() -> JobsPorts:
    """The adapters of the Jobs API."""
    from commands_core.adapters.iot import IotRegistry
    from commands_core.adapters.jobs import JobsApi
    from commands_core.services.jobs import JobsPorts

    client = aws.client("iot")
    return JobsPorts(api=JobsApi(client), registry=IotRegistry(client), presign_role_arn=settings().presign_role_arn)


def idempotency_store() -> DynamoDBPersistenceLayer:
    """Where the create routes keep the first answer to an Idempotency-Key. A new one per request: Powertools
    keeps the route's key prefix on it, which requests of other routes in the same process must not change."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(settings().idempotency_table, boto3_client=aws.client("dynamodb"))


def reset() -> None:
    """Forgets every cached client, adapter and setting (tests and the local runtime switch endpoints)."""
    for cached in (template_repository, command_repository, ports, jobs_ports, aws.client, settings):
        cached.cache_clear()
