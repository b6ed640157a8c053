"""Scheduled: re-reads executions of active commands from AWS IoT and resumes stalled publishing."""

from commands_core.api.schedule import scheduled
from commands_core.dependencies import ports
from commands_core.services import reconcile


def _run() -> dict[str, int]:
    return reconcile.run(ports())


lambda_handler = scheduled(_run)
