"""Executions: one per (command, thing), with the unified status (services/transitions.py holds its rule)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from commands_core.models import ApiModel, PageQuery

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
    attempt: int = 1  # which attempt of the execution the change belongs to (a retry policy starts others)


class Execution(ApiModel):
    command_id: str
    thing_name: str
    status: ExecutionStatus
    created_at: datetime
    updated_at: datetime
    queued_at: datetime | None = None
    started_at: datetime | None = None
    status_details: dict[str, str] | None = None
    status_reason: str | None = None
    execution_id: str | None = None  # AWS IoT Commands' id of the execution (delivery command)
    attempt: int = 1  # from 1; a retry policy starts the execution again after a failure (services/retries.py)
    history: list[Transition] = Field(default_factory=list)
    wave: int | None = Field(default=None, exclude=True)  # of a rollout in waves: which one (from 0)
    # When the last applied report happened (its own time, not ours): a repeated IN_PROGRESS must be newer.
    reported_at: datetime | None = Field(default=None, exclude=True)
    # "cloud" when AWS IoT set TIMED_OUT for want of an answer: a late device report may still replace it.
    timed_out_by: Literal["cloud", "device"] | None = Field(default=None, exclude=True)
    # An inbox execution handed out (SENT) is its device's to acknowledge until then; after it, the next fetch
    # hands it out again, since the answer may have been lost (delivery at least once).
    lease_until: datetime | None = Field(default=None, exclude=True)
    # Of an execution started again: when the failure that ended its last attempt happened (a report from before
    # is of an earlier attempt), and the AWS IoT Commands executions of its earlier attempts (their events are
    # stale).
    attempt_since: datetime | None = Field(default=None, exclude=True)
    retired_execution_ids: list[str] = Field(default_factory=list, exclude=True)

    @property
    def summary(self) -> dict[str, str]:
        return {"thingName": self.thing_name, "status": self.status}


Source = Literal["jobs-event", "commands-event", "device", "api", "reconciler"]


class Report(ApiModel):
    """What happened to one execution, from any source: an AWS IoT event, a device, the API, the reconciler."""

    command_id: str
    thing_name: str
    status: ExecutionStatus
    at: datetime
    source: Source
    reason: str | None = None
    details: dict[str, str] | None = None
    cloud_timeout: bool = False
    execution_id: str | None = None
    lease_until: datetime | None = None  # an inbox execution handed out: its lease, written with the move to SENT
    # The attempt the report is about, when its source knows (a device that read it, AWS IoT's executionNumber):
    # a report of an earlier attempt changes nothing.
    attempt: int | None = None

    def attempt_on(self, execution: Execution) -> int:
        """The attempt of `execution` the report is about: its current one, or a later one that AWS IoT has begun
        (it retried a failure whose event has not arrived yet) and which the report brings the execution up to."""
        return max(execution.attempt, self.attempt or 0)


class ExecutionQuery(PageQuery):
    status: ExecutionStatus | None = None
    max_results: int = Field(default=100, ge=1, le=250)
