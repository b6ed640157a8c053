"""Consumer of the dispatch queue: the steps that publish a command without blocking an API request."""

from typing import Any

from commands_core.api import queue
from commands_core.dependencies import ports
from commands_core.models.dispatch import MESSAGES
from commands_core.services import dispatch


def _handle(message: dict[str, Any]) -> None:
    dispatch.handle(ports(), MESSAGES.validate_python(message))


lambda_handler = queue.consumer(_handle)
