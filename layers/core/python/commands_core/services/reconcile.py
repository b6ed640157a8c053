"""Reconciling the table with AWS IoT: what events alone cannot guarantee.

AWS IoT publishes no event for IN_PROGRESS and may lose one; a dispatch message may be lost. Every round of
the scheduled reconciler, for every command scheduled, in progress or paused: publishing that stalled is
resumed, the executions of its job (or AWS IoT command) are re-read from AWS IoT and applied through the one
transition function (nothing moves backwards), and executions of the command and inbox deliveries past their
timeout become TIMED_OUT. A schedule's end time passed without its `end` step (a lost message) is applied. A job
`completed` event and a command's cancellation reconcile that one job at once.
"""

from __future__ import annotations

import itertools
import time
from datetime import timedelta

from commands_core.clock import now
from commands_core.models import scheduling
from commands_core.models.commands import Command
from commands_core.models.dispatch import End, Join, Retry
from commands_core.models.lifecycle import PUBLISHED
from commands_core.observability import logger, metrics
from commands_core.services import commands, delivery, dispatch, retries
from commands_core.services.ports import Ports

STALLED = timedelta(minutes=10)  # a dispatch step this old without progress is resumed
BUDGET_SECONDS = 240.0  # of the function's 300: a round stops starting commands after this


def run(ports: Ports, budget_seconds: float = BUDGET_SECONDS) -> dict[str, int]:
    figures = {"commands": 0, "executions_changed": 0, "dispatch_resumed": 0, "failed": 0, "deferred": 0}
    deadline = time.monotonic() + budget_seconds
    for command in itertools.chain.from_iterable(ports.commands.in_status(status) for status in sorted(PUBLISHED)):
        if time.monotonic() > deadline:
            figures["deferred"] += 1  # the next round, five minutes on, starts with these again
            continue
        figures["commands"] += 1
        try:
            kind = delivery.of(command.delivery)
            if command.status != "scheduled":  # (nothing of it has started)
                figures["executions_changed"] += kind.read_back(ports, command) + kind.time_out(ports, command)
            if (
                command.status in ("scheduled", "in_progress")
                and command.dispatch_step not in ("done", "stopped")
                and _stalled(command)
            ):
                dispatch.resume(ports, command)
                figures["dispatch_resumed"] += 1
            if command.type == "CONTINUOUS" and command.dispatch_step == "done":
                # New members and matches (a query has no event; an event may be lost), and joiners not started.
                ports.queue.send(Join(command_id=command.command_id))
            if scheduling.ended(command.scheduling_config, now()):
                dispatch.end(ports, End(command_id=command.command_id))
            if refreshed := ports.commands.get(command.command_id):
                if refreshed.status == "in_progress" and retries.waiting(refreshed):  # a retry message lost
                    ports.queue.send(Retry(command_id=command.command_id))
                commands.settle(ports, refreshed)
        except Exception:  # one command's trouble (its job deleted, throttling) must not stop the round
            figures["failed"] += 1
            logger.exception("could not reconcile", extra={"command_id": command.command_id})
    for name, value in figures.items():
        metrics.add_metric(name=f"Reconciled{name.title().replace('_', '')}", unit="Count", value=value)
    # A round that changed nothing says so only at DEBUG: rounds come every few minutes (seconds, locally), and
    # an idle service's log stays quiet. Its figures are in the metrics either way.
    did_work = any(value for name, value in figures.items() if name != "commands")
    (logger.info if did_work else logger.debug)("reconciled", extra=figures)
    return figures


def read_back(ports: Ports, command: Command, *, ended: bool = False) -> int:
    """Applies what AWS IoT holds for the command's executions where the table differs (`ended`: AWS IoT says
    it has finished with them: a job completed), then completes the command if nothing is left pending; the
    number that changed."""
    changed = delivery.of(command.delivery).read_back(ports, command, ended=ended)
    if refreshed := ports.commands.get(command.command_id):
        commands.settle(ports, refreshed)
    return changed


def _stalled(command: Command) -> bool:
    if command.dispatch_step == "expanding":
        return command.lease_until is not None and command.lease_until < now()
    # A step waiting long (a start time, the next maintenance window) has said when it comes back.
    return max(command.updated_at, command.resume_at or command.updated_at) < now() - STALLED
