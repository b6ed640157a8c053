"""The Command Status API: its state names, its status object, its queries and updates."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator

from commands_core.models import THING_NAME_PATTERN, ApiModel
from commands_core.models.executions import ExecutionStatus
from commands_core.validation import is_id, is_thing_name

# The unified status in the Command Status API's state names.
STATES: dict[str, str] = {
    "SCHEDULED": "Command Scheduled",
    "QUEUED": "Command Queued",
    "SENT": "Command Initiated",
    "ACKNOWLEDGED": "Command Acknowledged",
    "IN_PROGRESS": "Command In Progress",
    "SUCCEEDED": "Command Success",
    "FAILED": "Command Failure",
    "REJECTED": "Command Failure",
    "TIMED_OUT": "Command TimeOut",
    "CANCELED": "Command Cancelled",
    "REMOVED": "Command Cancelled",
}
# What a state name means when a device reports it (FAILED for "Command Failure", CANCELED for "Cancelled").
REPORTED: dict[str, ExecutionStatus] = {
    "Command Scheduled": "SCHEDULED",
    "Command Queued": "QUEUED",
    "Command Initiated": "SENT",
    "Command Acknowledged": "ACKNOWLEDGED",
    "Command In Progress": "IN_PROGRESS",
    "Command Success": "SUCCEEDED",
    "Command Failure": "FAILED",
    "Command TimeOut": "TIMED_OUT",
    "Command Cancelled": "CANCELED",
}
# The states a device may set through PUT (the API contract's enum).
SETTABLE = (
    "Command Acknowledged",
    "Command In Progress",
    "Command TimeOut",
    "Command Success",
    "Command Failure",
    "Command Scheduled",
    "Command Cancelled",
)
SEPARATOR = "."  # in no command id and no thing name: a status id is "<commandId>.<thingName>"
MAX_OFFSET = 10_000
MAX_READ = 5_000  # executions a list reads at most (a filter matching little must not read the whole table)


class StatusQuery(ApiModel):
    model_config = ConfigDict(extra="forbid", alias_generator=None)

    request: list[str] = Field(default_factory=list, max_length=100)
    device: list[str] = Field(default_factory=list, max_length=100)
    state: str | None = None
    exclude_internal_commands: bool = False
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)

    @field_validator("request", "device", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            if not parts:
                raise ValueError("must name at least one (comma separated)")
            return parts
        return value

    @field_validator("request")
    @classmethod
    def _command_ids(cls, values: list[str]) -> list[str]:
        if bad := [value for value in values if not is_id(value)]:
            raise ValueError(f"{bad[0]!r} is not a command id (1-64 of [A-Za-z0-9_-])")
        return values

    @field_validator("device")
    @classmethod
    def _thing_names(cls, values: list[str]) -> list[str]:
        if bad := [value for value in values if not is_thing_name(value)]:
            raise ValueError(f"{bad[0]!r} is not a thing name (1-128 of [a-zA-Z0-9:_-])")
        return values

    @field_validator("state")
    @classmethod
    def _known_state(cls, value: str | None) -> str | None:
        if value is not None and value not in REPORTED:
            raise ValueError(f"must be one of {', '.join(REPORTED)}")
        return value

    @field_validator("exclude_internal_commands", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> Any:
        if isinstance(value, str) and value.lower() not in ("true", "false"):
            raise ValueError("must be true or false")
        return value.lower() == "true" if isinstance(value, str) else value


class InboxQuery(ApiModel):
    """The inbox's query: the device (a thing name) whose pending commands to fetch; other parameters are ignored."""

    model_config = ConfigDict(alias_generator=None)

    device_id: str = Field(pattern=rf"^{THING_NAME_PATTERN}$")


class StatusUpdate(ApiModel):
    model_config = ConfigDict(extra="forbid")

    state: str  # one of SETTABLE; checked against the execution, so that the refusal can tell its state
    reason: str | None = Field(default=None, max_length=1024)
