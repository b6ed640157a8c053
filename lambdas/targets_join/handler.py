"""Consumer of the membership queue: AWS IoT's events of things added to thing groups, joined to the CONTINUOUS
commands that target those groups."""

from typing import Any

from commands_core.api import queue
from commands_core.dependencies import ports
from commands_core.services import joiners


def _handle(event: Any) -> None:
    joiners.handle(ports(), event)


lambda_handler = queue.consumer(_handle, decode=joiners.decode)
