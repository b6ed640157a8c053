"""The dispatch queue."""

from __future__ import annotations

import json
from typing import Any


class DispatchQueue:
    def __init__(self, client: Any, url: str) -> None:
        self._client = client
        self._url = url

    def send(self, message: dict[str, Any], delay_seconds: int = 0) -> None:
        self._client.send_message(QueueUrl=self._url, MessageBody=json.dumps(message), DelaySeconds=delay_seconds)
