"""A command's schedule at its end time: `schedulingConfig.endBehavior` applied, for every delivery kind.
When executions may start (start time, maintenance windows) is models/scheduling.py's, asked by the start step
(services/dispatch.py); this module does what the end time asks, from the start step when it reaches the end time
and from the dispatch queue's `end` step (services/dispatch.py) when no start step is running (everything
started, or the command paused).

- STOP_ROLLOUT: nothing more starts. The executions the start step has not reached end CANCELED, saying why;
  those started go on, and the command completes as usual.
- CANCEL, FORCE_CANCEL: the command is cancelled (with force: also what is in progress), as by the API, its
  statusReason naming the end time.
"""

from __future__ import annotations

from datetime import datetime

from commands_core.errors import Conflict
from commands_core.models.commands import Command
from commands_core.observability import logger, metrics
from commands_core.services import commands, delivery
from commands_core.services.ports import Ports


def reason(command: Command) -> str:
    config = command.scheduling_config
    assert config is not None
    assert config.end_time is not None
    return f"schedulingConfig.endTime {config.end_time} passed (endBehavior {config.behavior()})"


def end(ports: Ports, command: Command, at: datetime) -> None:
    """Applies the command's endBehavior, its end time having come (each is safe to apply twice)."""
    config = command.scheduling_config
    assert config is not None
    why = reason(command)
    if config.behavior() == "STOP_ROLLOUT":
        stop_rollout(ports, command, why, at)
        return
    force = config.behavior() == "FORCE_CANCEL"
    try:
        cancelled = commands.cancel(ports, command, force=force, reason=why)
    except Conflict:
        return  # it changed meanwhile (cancelled, paused): whoever changed it carries on, or a later end step
    commands.stop_starting(ports, cancelled, force=force)
    metrics.add_metric(name="CommandEndedBySchedule", unit="Count", value=1)
    logger.info("schedule ended: command cancelled", extra={"command_id": command.command_id, "reason": why})


def stop_rollout(ports: Ports, command: Command, why: str, at: datetime) -> None:
    """Nothing more starts: the executions the start step has not reached (after its cursor: it starts them in
    thing-name order) that are still SCHEDULED end CANCELED, and so do the next attempts and the joiners waiting
    to start; those started go on (an AWS IoT command execution stays SCHEDULED until its event arrives, so the
    cursor, not the status alone, tells them apart; once every execution has started, what AWS IoT holds is read
    back first). The start step is then done, and the command completes once what started has ended."""
    if command.dispatch_step not in ("start", "done"):
        return  # before the start step: it applies the end time at its first batch
    if command.dispatch_step == "done":
        delivery.of(command.delivery).read_back(ports, command)
        stopped = delivery.cancel_pending(ports, command, frozenset({"SCHEDULED"}), reason=why)
    else:
        cursor = command.dispatch_cursor or ""
        stopped = delivery.cancel_pending(
            ports,
            command,
            frozenset(),
            also=lambda execution: (
                (execution.status == "SCHEDULED" and execution.thing_name > cursor) or delivery.waiting_retry(execution)
            ),
            reason=why,
        )
    logger.info("schedule ended: rollout stopped", extra={"command_id": command.command_id, "cancelled": stopped})
    step_done = command.dispatch_step == "done" or (
        command.status == "in_progress" and ports.commands.record_progress(command, done=True, updated_at=at)
    )
    if step_done:
        metrics.add_metric(name="CommandEndedBySchedule", unit="Count", value=1)
        if refreshed := ports.commands.get(command.command_id):
            commands.settle(ports, refreshed)
