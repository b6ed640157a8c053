"""The service's data resources, declared once as data.

The CDK stack and the local runtime both create the tables and the bucket from these definitions, and the
settings model reads their names from the environment variables named here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: str
    sort_key: str | None = None
    # None projects every attribute; a tuple projects the keys plus these attributes.
    include: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Table:
    name: str
    env: str  # the environment variable that carries the deployed table name
    partition_key: str
    sort_key: str | None = None
    indexes: tuple[Index, ...] = ()
    expiry_attribute: str | None = None  # DynamoDB deletes an item once this epoch-seconds attribute is past

    @property
    def key_attributes(self) -> tuple[str, ...]:
        names = [self.partition_key, self.sort_key]
        for index in self.indexes:
            names += [index.partition_key, index.sort_key]
        return tuple(dict.fromkeys(name for name in names if name))


@dataclass(frozen=True)
class Bucket:
    name: str
    env: str


@dataclass(frozen=True)
class Queue:
    """An SQS queue with its dead-letter queue; the env variable carries the queue URL."""

    name: str
    env: str
    visibility_timeout_seconds: int
    max_receive_count: int  # receives before a message moves to the dead-letter queue


@dataclass(frozen=True)
class Bus:
    """An EventBridge event bus the service puts events on; the env variable carries its name."""

    name: str
    env: str


@dataclass(frozen=True)
class Role:
    """An IAM role the stack creates for AWS IoT to assume; the env variable carries its ARN."""

    name: str
    env: str


TEMPLATES = Table(
    name="templates",
    env="TEMPLATES_TABLE",
    partition_key="templateId",
    # Every template item carries kind="template", so listing is one Query in templateId order, never a Scan.
    indexes=(Index("byKind", partition_key="kind", sort_key="templateId", include=("description",)),),
)

# Command items and their execution items share the partition key commandId, so the executions of a command
# are one Query. Only command items carry kind, commandStatus and templateRef (listing, the status filter,
# "is this template in use"); only execution items carry thingName; only pending ones carry inboxThing.
COMMANDS = Table(
    name="commands",
    env="COMMANDS_TABLE",
    partition_key="commandId",
    sort_key="itemKey",
    indexes=(
        Index("byKind", partition_key="kind", sort_key="createdAt"),
        Index("byStatus", partition_key="commandStatus", sort_key="createdAt"),
        Index("byTemplate", partition_key="templateRef", sort_key="createdAt", include=("commandStatus",)),
        # Keys only: an execution's changes (most of the table's writes) then write no entry here; a thing's
        # executions are read from the table by those keys.
        Index("byThing", partition_key="thingName", sort_key="createdAt", include=()),
        Index("inbox", partition_key="inboxThing", sort_key="queuedAt"),
    ),
)

# Powertools idempotency records of the create routes: the first answer to an Idempotency-Key, kept a day.
IDEMPOTENCY = Table(name="idempotency", env="IDEMPOTENCY_TABLE", partition_key="id", expiry_attribute="expiration")

FILES = Bucket(name="files", env="FILES_BUCKET")

# Publishing work that must not block an API request: expanding targets, filling groups, creating jobs.
DISPATCH = Queue(name="dispatch", env="DISPATCH_QUEUE_URL", visibility_timeout_seconds=360, max_receive_count=5)

# AWS IoT events (through topic rules) and other status reports, for the status-updater.
STATUS = Queue(name="status", env="STATUS_QUEUE_URL", visibility_timeout_seconds=120, max_receive_count=8)

# Things added to thing groups (AWS IoT's registry events, through a topic rule), for the targets' joiners.
MEMBERSHIP = Queue(name="membership", env="MEMBERSHIP_QUEUE_URL", visibility_timeout_seconds=120, max_receive_count=8)

# The lifecycle events of commands and executions (models/lifecycle_events.py), for whoever subscribes.
EVENTS = Bus(name="events", env="EVENT_BUS_NAME")

# Assumed by AWS IoT to presign the S3 URLs of a job document's files when a device fetches it.
PRESIGN = Role(name="presign", env="PRESIGN_ROLE_ARN")

TABLES: tuple[Table, ...] = (TEMPLATES, COMMANDS, IDEMPOTENCY)
BUCKETS: tuple[Bucket, ...] = (FILES,)
QUEUES: tuple[Queue, ...] = (DISPATCH, STATUS, MEMBERSHIP)
ROLES: tuple[Role, ...] = (PRESIGN,)
BUSES: tuple[Bus, ...] = (EVENTS,)
ALL: tuple[Table | Bucket | Queue | Role | Bus, ...] = (*TABLES, *BUCKETS, *QUEUES, *ROLES, *BUSES)
