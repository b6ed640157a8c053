"""Consumer of the status queue: AWS IoT job and command execution events, applied to executions."""

from typing import Any

from commands_core.api import queue
from commands_core.dependencies import ports
from commands_core.services import ingest


def _handle(event: dict[str, Any]) -> None:
    ingest.handle(ports(), event)


lambda_handler = queue.consumer(_handle)
