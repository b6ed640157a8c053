"""AWS IoT events, as the topic rules deliver them, turned into execution reports and command changes.

Events arrive at least once and in any order; everything here goes through transitions.apply or conditional
command updates, so a duplicate or a stale event changes nothing. Events of jobs and AWS IoT commands this
service did not create for the command of that id are ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from commands_core.models.executions import Report
from commands_core.observability import logger, metrics
from commands_core.services import commands, delivery, transitions
from commands_core.services.commands import Ports
from commands_core.services.reconcile import JOB_STATUSES, reconcile_job

_NO_RESPONSE = "$NO_RESPONSE_FROM_DEVICE"


def handle(ports: Ports, event: dict[str, Any]) -> None:
    kind = event.get("eventType")
    if kind == "JOB_EXECUTION":
        _job_execution(ports, event)
    elif kind == "JOB":
        _job(ports, event)
    elif kind == "COMMAND_EXECUTION":
        _command_execution(ports, event)
    else:
        logger.warning("not an AWS IoT job or command event; dropped", extra={"event_type": kind})
    metrics.add_metric(name="StatusEventsIngested", unit="Count", value=1)
    if isinstance(event.get("timestamp"), int | float):  # how late events arrive (rules, queue, retries)
        lag = (datetime.now(UTC) - _moment(event["timestamp"])).total_seconds()
        metrics.add_metric(name="IngestionLagSeconds", unit="Seconds", value=max(0.0, lag))


def _job_execution(ports: Ports, event: dict[str, Any]) -> None:
    # An execution deleted in AWS IoT will never report again: for the command it is REMOVED.
    raw = "REMOVED" if str(event.get("operation", "")).lower() == "deleted" else str(event.get("status", ""))
    status = JOB_STATUSES.get(raw.upper())
    if status is None:
        logger.warning("job execution event without a known status; dropped", extra={"status": event.get("status")})
        return
    job_id = str(event.get("jobId"))
    command = ports.commands.get(job_id)  # a command's job id is its command id
    if command is None or command.job_id != job_id:
        logger.info("event of a job this service did not create; dropped", extra={"job_id": job_id})
        return
    details = event.get("statusDetails") or None
    report = Report(
        command_id=job_id,
        thing_name=event["thingArn"].rsplit("/", 1)[-1],
        status=status,
        at=_moment(event.get("timestamp")),
        source="jobs-event",
        details={str(key): str(value) for key, value in details.items()} if isinstance(details, dict) else None,
    )
    _apply(ports, report)


def _command_execution(ports: Ports, event: dict[str, Any]) -> None:
    status = delivery.STATUSES.get(str(event.get("status", "")).upper())
    if status is None:
        logger.warning("command execution event without a known status; dropped", extra={"status": event.get("status")})
        return
    command_arn = str(event.get("commandArn"))
    command = ports.commands.get(command_arn.rsplit("/", 1)[-1])  # a command's IoT command id is its command id
    if command is None or command.iot_command_arn != command_arn:
        logger.info("event of an AWS IoT command this service did not create; dropped", extra={"arn": command_arn})
        return
    reason = event.get("statusReason") or {}
    report = Report(
        command_id=command.command_id,
        thing_name=event["targetArn"].rsplit("/", 1)[-1],
        status=status,
        at=_moment(event.get("timestamp")),
        source="commands-event",
        reason=" ".join(str(part) for part in (reason.get("reasonCode"), reason.get("reasonDescription")) if part)
        or None,
        cloud_timeout=status == "TIMED_OUT" and reason.get("reasonCode") == _NO_RESPONSE,
        execution_id=str(event["executionId"]) if event.get("executionId") else None,
    )
    _apply(ports, report)


def _apply(ports: Ports, report: Report) -> None:
    if transitions.apply(ports.commands, report) and report.status != "IN_PROGRESS":
        command = ports.commands.get(report.command_id)
        if command:
            commands.complete_if_done(ports, command)


def _job(ports: Ports, event: dict[str, Any]) -> None:
    job_id = str(event.get("jobId"))
    command = ports.commands.get(job_id)
    if command is None or command.job_id != job_id or command.status != "in_progress":
        return
    operation = str(event.get("operation") or event.get("status") or "").lower()
    if operation == "completed":
        # AWS IoT says every execution has ended: read them all, in case an event was lost.
        reconcile_job(ports, command, job_completed=True)
    elif operation in ("canceled", "cancellation_in_progress", "deleted", "deletion_in_progress"):
        commands.cancel(ports, command, force=False, reason=f"its AWS IoT job was {operation.replace('_', ' ')}")


def _moment(timestamp: Any) -> datetime:
    """An event's time: AWS IoT sends epoch seconds (jobs) or milliseconds (commands)."""
    if not isinstance(timestamp, int | float):
        return datetime.now(UTC)
    return datetime.fromtimestamp(timestamp / 1000 if timestamp > 1e11 else timestamp, UTC)
