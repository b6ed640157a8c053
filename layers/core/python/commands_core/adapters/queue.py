"""The dispatch queue."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from commands_core.models.dispatch import DispatchMessage

MAX_DELAY_SECONDS = 900  # SQS delays a message 15 minutes at most


def delay_of(seconds: float) -> int:
    """The delay SQS is asked for: whole seconds, rounded up, at most its 15 minutes."""
    return max(0, math.ceil(min(seconds, MAX_DELAY_SECONDS)))


class DispatchQueue:
    def __init__(self, client: Any, url: str) -> None:
        self._client = client
        self._url = url

    def send(self, message: DispatchMessage, delay_seconds: float = 0) -> None:
        """Sends `message`, delivered `delay_seconds` on (rounded up; at most SQS's 15 minutes)."""
        body = message.model_dump_json(by_alias=True)
        self._client.send_message(QueueUrl=self._url, MessageBody=body, DelaySeconds=delay_of(delay_seconds))
