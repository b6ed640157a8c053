"""Executions: one per (command, thing), with the unified status of DESIGN.md section 3."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from commands_core.models import ApiModel

ExecutionStatus = Literal[
    "SCHEDULED",
    "QUEUED",
    "SENT",
    "ACKNOWLEDGED",
    "IN_PROGRESS",
    "SUCCEEDED",
    "FAILED",
    "REJECTED",
    "TIMED_OUT",
    "CANCELED",
    "REMOVED",
]
PENDING: frozenset[str] = frozenset({"SCHEDULED", "QUEUED", "SENT", "ACKNOWLEDGED", "IN_PROGRESS"})
TERMINAL: frozenset[str] = frozenset({"SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "CANCELED", "REMOVED"})


class Transition(ApiModel):
    at: datetime
    from_status: ExecutionStatus | None = Field(default=None, alias="from")
    to_status: ExecutionStatus = Field(alias="to")
    reason: str | None = None
    source: str


class Execution(ApiModel):
    command_id: str
    thing_name: str
    status: ExecutionStatus
    created_at: datetime
    updated_at: datetime
    queued_at: datetime | None = None
    history: list[Transition] = Field(default_factory=list)
