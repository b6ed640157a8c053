"""AWS IoT events as the topic rules deliver them to the status queue, parsed before anything reads them.

Only the fields the service uses are declared (AWS IoT may add more; the topic rule adds `topic`). A value that
could not come from AWS IoT fails validation with an error type naming why (`not_a_thing`, `unknown_status`,
`bad_timestamp`), so that the event is dropped for that reason.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from commands_core.models import ID_PATTERN, ApiModel
from commands_core.models.commands import THING_ARN

JOB_EXECUTION_STATUSES = frozenset(
    {"QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "CANCELED", "REMOVED"}
)
COMMAND_EXECUTION_STATUSES = frozenset({"CREATED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT"})
COMMAND_ARN_PATTERN = r"^arn:aws[a-z-]*:iot:[a-z0-9-]+:[0-9]{12}:command/[A-Za-z0-9_-]{1,64}$"

Id = Annotated[str, Field(pattern=ID_PATTERN)]


def _moment(value: Any, per_second: int) -> datetime:
    # A JSON number only: text or a boolean is no time, and json.loads reads NaN and Infinity too.
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise PydanticCustomError("bad_timestamp", "must be a finite number")
    try:
        return datetime.fromtimestamp(value / per_second, UTC)
    except (OverflowError, OSError, ValueError):
        raise PydanticCustomError("bad_timestamp", "is no moment a calendar holds") from None


EpochSeconds = Annotated[datetime, BeforeValidator(lambda value: _moment(value, 1))]
EpochMillis = Annotated[datetime, BeforeValidator(lambda value: _moment(value, 1000))]


def _thing_name(arn: str) -> str:
    """The thing an ARN names; not_a_thing for anything else (a client, a malformed ARN, a name that is not a
    thing name)."""
    match = THING_ARN.fullmatch(arn)
    if match is None:
        raise PydanticCustomError("not_a_thing", "is not the ARN of an AWS IoT thing")
    return match.group(1)


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


ThingArn = Annotated[str, AfterValidator(_thing_name)]
"""Validated as a thing ARN, and held as the thing's name."""


class JobExecutionEvent(ApiModel):
    """`$aws/events/jobExecution/<jobId>/<status>`: one thing's execution of a job ended (or was deleted)."""

    event_type: Literal["JOB_EXECUTION"]
    event_id: str | None = None
    job_id: Id
    operation: str = ""
    thing_name: ThingArn = Field(alias="thingArn")
    status: Annotated[str, BeforeValidator(_upper)] = Field(default="", validate_default=True)
    timestamp: EpochSeconds
    status_details: dict[str, Any] | None = None

    @field_validator("status")
    @classmethod
    def _a_job_status(cls, status: str, info: ValidationInfo) -> str:
        if info.data.get("operation", "").lower() == "deleted":
            return status  # a deleted execution is REMOVED, whatever it was
        if status not in JOB_EXECUTION_STATUSES:
            raise PydanticCustomError("unknown_status", "is not a status of an AWS IoT job execution")
        return status

    @property
    def deleted(self) -> bool:
        return self.operation.lower() == "deleted"


class StatusReason(ApiModel):
    reason_code: str | None = None
    reason_description: str | None = None


class CommandExecutionEvent(ApiModel):
    """`$aws/events/commandExecution/<commandId>/<status>`: one execution of an AWS IoT command changed."""

    event_type: Literal["COMMAND_EXECUTION"]
    execution_id: str = Field(min_length=1, max_length=256)
    command_arn: str = Field(pattern=COMMAND_ARN_PATTERN)
    thing_name: ThingArn = Field(alias="targetArn")
    status: Annotated[str, BeforeValidator(_upper)]
    status_reason: StatusReason | None = None
    timestamp: EpochMillis

    @field_validator("status")
    @classmethod
    def _a_command_status(cls, status: str) -> str:
        if status not in COMMAND_EXECUTION_STATUSES:
            raise PydanticCustomError("unknown_status", "is not a status of an AWS IoT command execution")
        return status

    @property
    def command_id(self) -> str:
        return self.command_arn.rsplit("/", 1)[-1]


class JobEvent(ApiModel):
    """`$aws/events/job/<jobId>/<operation>`: a job completed, was cancelled or deleted."""

    event_type: Literal["JOB"]
    job_id: Id
    operation: str = ""
    status: str = ""
    timestamp: EpochSeconds | None = None


StatusEvent = JobExecutionEvent | CommandExecutionEvent | JobEvent
EVENTS: TypeAdapter[StatusEvent] = TypeAdapter(
    Annotated[StatusEvent, Field(discriminator="event_type")],
    config=ConfigDict(defer_build=True),  # built at its first event, not at the import of every function
)
"""Parses a message of the status queue into its event (a ValidationError when it is none of them)."""

VALIDATION_REASONS = frozenset({"not_a_thing", "unknown_status", "bad_timestamp"})
"""The error types above: why an event that fails validation with one of them is dropped (else malformed)."""
