"""The scheduled reconciler: what events alone cannot guarantee.

AWS IoT publishes no event for IN_PROGRESS and may lose one; a dispatch message may be lost. Every round,
for every command in progress: publishing that stalled is resumed, and the job's executions are re-read from
AWS IoT and applied (through the one transition function, so nothing moves backwards).
"""

from __future__ import annotations

from datetime import timedelta

from commands_core.clock import now
from commands_core.models.commands import Command
from commands_core.observability import logger, metrics
from commands_core.services import ingest
from commands_core.services.commands import Ports

STALLED = timedelta(minutes=10)  # a dispatch step this old without progress is resumed


def run(ports: Ports) -> dict[str, int]:
    figures = {"commands": 0, "executions_changed": 0, "dispatch_resumed": 0}
    for command in ports.commands.in_status("in_progress"):
        figures["commands"] += 1
        if command.dispatch_step == "done":
            figures["executions_changed"] += ingest.reconcile_job(ports, command.command_id)
        elif _stalled(command):
            ports.queue.send({"action": "expand", "commandId": command.command_id, "resume": True})
            figures["dispatch_resumed"] += 1
    for name, value in figures.items():
        metrics.add_metric(name=f"Reconciled{name.title().replace('_', '')}", unit="Count", value=value)
    logger.info("reconciled", extra=figures)
    return figures


def _stalled(command: Command) -> bool:
    if command.dispatch_step == "expanding":
        return command.lease_until is not None and command.lease_until < now()
    return command.updated_at < now() - STALLED
