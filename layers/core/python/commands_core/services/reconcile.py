"""Reconciling the table with AWS IoT: what events alone cannot guarantee.

AWS IoT publishes no event for IN_PROGRESS and may lose one; a dispatch message may be lost. Every round of
the scheduled reconciler, for every command in progress: publishing that stalled is resumed, the executions of
its job (or AWS IoT command) are re-read from AWS IoT and applied through the one transition function (nothing
moves backwards), and executions of the command and inbox deliveries past their timeout become TIMED_OUT.
A job `completed` event and a command's cancellation reconcile that one job at once.
"""

from __future__ import annotations

import time
from datetime import timedelta

from commands_core.clock import now
from commands_core.models.commands import Command
from commands_core.models.executions import PENDING, ExecutionStatus, Report
from commands_core.observability import logger, metrics
from commands_core.services import commands, delivery, transitions
from commands_core.services.commands import Ports

STALLED = timedelta(minutes=10)  # a dispatch step this old without progress is resumed
BUDGET_SECONDS = 240.0  # of the function's 300: a round stops starting commands after this

JOB_STATUSES: dict[str, ExecutionStatus] = {
    name: name  # IoT Jobs' names are the unified ones
    for name in ("QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "CANCELED", "REMOVED")
}


def run(ports: Ports, budget_seconds: float = BUDGET_SECONDS) -> dict[str, int]:
    figures = {"commands": 0, "executions_changed": 0, "dispatch_resumed": 0, "failed": 0, "deferred": 0}
    deadline = time.monotonic() + budget_seconds
    for command in ports.commands.in_status("in_progress"):
        if time.monotonic() > deadline:
            figures["deferred"] += 1  # the next round, five minutes on, starts with these again
            continue
        figures["commands"] += 1
        try:
            if command.delivery in ("command", "inbox"):
                figures["executions_changed"] += delivery.reconcile(ports, command)
            elif command.dispatch_step == "done":
                figures["executions_changed"] += reconcile_job(ports, command)
            if command.dispatch_step not in ("done", "stopped") and _stalled(command):
                _resume(ports, command)
                figures["dispatch_resumed"] += 1
            if command.delivery in ("command", "inbox") and (refreshed := ports.commands.get(command.command_id)):
                commands.complete_if_done(ports, refreshed)
        except Exception:  # one command's trouble (its job deleted, throttling) must not stop the round
            figures["failed"] += 1
            logger.exception("could not reconcile", extra={"command_id": command.command_id})
    for name, value in figures.items():
        metrics.add_metric(name=f"Reconciled{name.title().replace('_', '')}", unit="Count", value=value)
    logger.info("reconciled", extra=figures)
    return figures


def reconcile_job(ports: Ports, command: Command, *, job_completed: bool = False) -> int:
    """Applies what AWS IoT holds for the command's job where the table differs; the number that changed.

    Once the job has completed, an execution AWS IoT does not list (its thing left the group, or it was
    deleted) will never come: it is REMOVED, so the command can complete.
    """
    if not command.job_id:
        return 0
    table = ports.commands.execution_statuses(command.command_id)
    changed = 0
    listed = set()
    for thing_name, iot_status, at in ports.jobs.executions(command.job_id):
        listed.add(thing_name)
        status = JOB_STATUSES.get(iot_status)
        if status and table.get(thing_name) != status:
            report = Report(
                command_id=command.command_id, thing_name=thing_name, status=status, at=at, source="reconciler"
            )
            # Listed by AWS IoT itself: an execution the table lacks is real (a thing that joined the group).
            changed += transitions.apply(ports.commands, report, create_missing=True)
    if job_completed:
        for thing_name in [name for name, status in table.items() if status in PENDING and name not in listed]:
            reason = "AWS IoT's completed job has no execution for this thing"
            changed += transitions.report(
                ports.commands, command.command_id, thing_name, "REMOVED", source="reconciler", reason=reason
            )
    refreshed = ports.commands.get(command.command_id)
    if refreshed:
        commands.complete_if_done(ports, refreshed, job_completed=job_completed)
    return changed


def _resume(ports: Ports, command: Command) -> None:
    """Sends the lost message of a stalled step again (a copy of one still under way changes nothing)."""
    if command.dispatch_step == "start":
        delivery.send_start(ports, command.command_id, cursor=command.dispatch_cursor or "")
    else:
        ports.queue.send({"action": "expand", "commandId": command.command_id, "resume": True})


def _stalled(command: Command) -> bool:
    if command.dispatch_step == "expanding":
        return command.lease_until is not None and command.lease_until < now()
    return command.updated_at < now() - STALLED
