"""AWS IoT events, as the topic rules deliver them, turned into execution reports and command changes.

Events arrive at least once and in any order; everything here goes through transitions.apply or conditional
command updates, so a duplicate or a stale event changes nothing. An execution event changes a command only
when it is about an execution the command created (or, for a job, one AWS IoT confirms it has); anything else
(another job or AWS IoT command, a thing the command never targeted, a malformed event, an absurd time) is
dropped: counted in StatusEventsDropped by reason and logged once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, NamedTuple

from pydantic import ValidationError

from commands_core.clock import now
from commands_core.models.commands import Published
from commands_core.models.events import (
    EVENTS,
    VALIDATION_REASONS,
    CommandExecutionEvent,
    JobEvent,
    JobExecutionEvent,
    StatusEvent,
)
from commands_core.models.executions import TERMINAL, Execution, ExecutionStatus, Report
from commands_core.models.lifecycle import PUBLISHED
from commands_core.observability import count_by, logger, metrics
from commands_core.services import commands, reconcile, transitions
from commands_core.services.delivery import command as command_delivery
from commands_core.services.delivery import job as job_delivery
from commands_core.services.ports import Ports

SKEW = timedelta(minutes=5)  # how far AWS IoT's clock and ours may disagree
_NO_RESPONSE = "$NO_RESPONSE_FROM_DEVICE"
_FOREIGN = frozenset({"unknown_job", "unknown_command"})  # other jobs of the account: routine, not suspect
_LOGGED_FIELDS = ("eventType", "eventId", "jobId", "commandArn", "thingArn", "targetArn", "executionId", "status")


class Drop(NamedTuple):
    """Why an event changes nothing: `reason`, a dimension of StatusEventsDropped, and the detail logged."""

    reason: str
    detail: str


def handle(ports: Ports, message: Any) -> None:
    """Applies one message of the status queue (a JSON value, whatever it holds)."""
    try:
        event: StatusEvent = EVENTS.validate_python(message)
    except ValidationError as error:
        problems = error.errors(include_url=False, include_input=False)
        reason = problems[0]["type"] if problems[0]["type"] in VALIDATION_REASONS else "malformed"
        dropped: Drop | None = Drop(reason, _problem(problems))
    else:
        if isinstance(event, JobExecutionEvent):
            dropped = _job_execution(ports, event)
        elif isinstance(event, CommandExecutionEvent):
            dropped = _command_execution(ports, event)
        else:
            dropped = _job(ports, event)
        if dropped is None and event.timestamp is not None:  # how late events arrive (rules, queue, retries)
            lag = (now() - event.timestamp).total_seconds()
            metrics.add_metric(name="IngestionLagSeconds", unit="Seconds", value=max(0.0, lag))
    if dropped is not None:
        _drop(dropped, message)
    metrics.add_metric(name="StatusEventsIngested", unit="Count", value=1)  # received, dropped or not


def _job_execution(ports: Ports, event: JobExecutionEvent) -> Drop | None:
    command = ports.commands.published(event.job_id)  # a command's job id is its command id
    if command is None or command.job_id != event.job_id:
        return Drop("unknown_job", "no command of this service has this AWS IoT job")
    if late := _out_of_time(command, event):
        return late
    # An execution deleted in AWS IoT will never report again: for the command it is REMOVED.
    status: ExecutionStatus = (
        "REMOVED" if event.deleted else job_delivery.STATUSES[event.status]
    )  # the model checked it
    execution = ports.commands.get_execution(command.command_id, event.thing_name)
    # A thing the table lacks may still be the job's: one that joined the group of a CONTINUOUS job, or a
    # group member AWS IoT found at CreateJob that was not one when the command expanded. AWS IoT knows.
    if execution is None and ports.jobs.execution_status(event.job_id, event.thing_name) is None:
        return Drop("untargeted", "neither the command nor its AWS IoT job has an execution for this thing")
    details = event.status_details
    report = Report(
        command_id=command.command_id,
        thing_name=event.thing_name,
        status=status,
        at=event.timestamp,
        source="jobs-event",
        details={str(key): str(value) for key, value in details.items()} if details else None,
    )
    _apply(ports, report, execution)
    return None


def _command_execution(ports: Ports, event: CommandExecutionEvent) -> Drop | None:
    command = ports.commands.published(event.command_id)  # a command's IoT command id is its command id
    if command is None or command.iot_command_arn != event.command_arn:
        return Drop("unknown_command", "no command of this service has this AWS IoT command")
    if late := _out_of_time(command, event):
        return late
    status = command_delivery.STATUSES[event.status]  # the model checked it
    # The command started an execution on each of its targets, and only there: nothing is created from an event.
    execution = ports.commands.get_execution(command.command_id, event.thing_name)
    if execution is None:
        return Drop("untargeted", "the command has no execution for this thing")
    if event.execution_id in execution.retired_execution_ids:
        return Drop("other_execution", "an execution of an earlier attempt, which a retry policy retried")
    if execution.execution_id and execution.execution_id != event.execution_id:
        return Drop("other_execution", f"the command's execution on this thing is {execution.execution_id}")
    reason = event.status_reason
    code, description = (reason.reason_code, reason.reason_description) if reason else (None, None)
    report = Report(
        command_id=command.command_id,
        thing_name=event.thing_name,
        status=status,
        at=event.timestamp,
        source="commands-event",
        reason=" ".join(part for part in (code, description) if part) or None,
        cloud_timeout=status == "TIMED_OUT" and code == _NO_RESPONSE,
        execution_id=event.execution_id,
    )
    _apply(ports, report, execution)
    return None


def _apply(ports: Ports, report: Report, execution: Execution | None) -> None:
    """Applies the report to the execution just read (creating it when None: the command's ingest checked that
    AWS IoT holds it); an execution that ended may decide the command (abort, a wave's gate, completion)."""
    applied = transitions.apply(
        ports, report, create_missing=execution is None, read=execution, restart=ports.queue.send
    )
    if applied and report.status in TERMINAL:
        command = ports.commands.get(report.command_id)
        if command:
            commands.settle(ports, command)


def _job(ports: Ports, event: JobEvent) -> Drop | None:
    command = ports.commands.get(event.job_id)
    if command is None or command.job_id != event.job_id:
        return Drop("unknown_job", "no command of this service has this AWS IoT job")
    if command.status not in PUBLISHED:
        return None  # ended already: nothing left to do
    operation = (event.operation or event.status).lower()
    if operation == "completed":
        # AWS IoT says every execution has ended: read them all, in case an event was lost.
        reconcile.read_back(ports, command, ended=True)
    elif transitions.ended(command):
        return None  # the service cancelled the job itself: its command has nothing pending (and completes)
    elif operation in ("canceled", "cancellation_in_progress", "deleted", "deletion_in_progress"):
        commands.cancel(ports, command, force=False, reason=f"its AWS IoT job was {operation.replace('_', ' ')}")
    return None


def _out_of_time(command: Published, event: JobExecutionEvent | CommandExecutionEvent) -> Drop | None:
    """An event time no execution of the command can have: later than now, or earlier than its publishing."""
    if event.timestamp > now() + SKEW:
        return Drop("bad_timestamp", f"{event.timestamp.isoformat()} is more than {SKEW} in the future")
    if event.timestamp < command.published_at - SKEW:
        return Drop("bad_timestamp", f"{event.timestamp.isoformat()} is before the command was published")
    return None


def _problem(problems: list[Any]) -> str:
    """What validation found, in a line: `field: problem` for each (the first five)."""
    return "; ".join(
        ": ".join(filter(None, (".".join(str(part) for part in problem["loc"][1:]), problem["msg"])))
        for problem in problems[:5]
    )


def _drop(dropped: Drop, message: Any) -> None:
    # What identifies the event, as it came (cut short: a malformed event may carry anything).
    event = {key: value[:300] for key in _LOGGED_FIELDS if isinstance(value := _field(message, key), str)}
    level = logger.info if dropped.reason in _FOREIGN else logger.warning
    level("status event dropped", extra={"reason": dropped.reason, "detail": dropped.detail, "event": event})
    count_by("StatusEventsDropped", reason=dropped.reason)


def _field(message: Any, key: str) -> Any:
    return message.get(key) if isinstance(message, dict) else None
