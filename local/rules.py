"""Emulation of AWS IoT topic rules: a message published on a topic reaches every declared rule whose topic
filter matches, and the rule's SELECT result goes into its queue, as the stack's rules do."""

from __future__ import annotations

import json
from typing import Any

from commands_core import resources
from commands_core.wiring import RULES, Rule
from local import aws as local_aws
from local.iot_commands import RESPONSE_TOPIC, IotCommands


def matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic filter matching: `+` is one level, `#` (last) any number of levels."""
    filters, levels = topic_filter.split("/"), topic.split("/")
    for index, part in enumerate(filters):
        if part == "#":
            return True
        if index >= len(levels) or (part != "+" and part != levels[index]):
            return False
    return len(filters) == len(levels)


def selected(rule: Rule, topic: str, payload: dict[str, Any]) -> dict[str, Any]:
    """What the rule's SQL (`SELECT *, topic() AS topic`) makes of the message."""
    return {**payload, "topic": topic}


class Broker:
    """The message broker: rules, and the topics AWS IoT Commands itself listens on (a device's response)."""

    def __init__(self, env: dict[str, str], iot_commands: IotCommands | None = None) -> None:
        self._sqs = local_aws.client("sqs", env)
        self._queues = {queue.name: env[queue.env] for queue in resources.QUEUES}
        self.iot_commands = iot_commands

    def publish(self, topic: str, payload: dict[str, Any]) -> list[str]:
        """Delivers the message to every matching rule; the names of the rules it reached."""
        if self.iot_commands and matches(RESPONSE_TOPIC, topic):
            levels = topic.split("/")
            self.iot_commands.device_response(levels[3], levels[5], payload)
        reached = []
        for rule in RULES:
            if matches(rule.topic_filter, topic) and rule.takes(topic):
                body = json.dumps(selected(rule, topic, payload), default=str)
                self._sqs.send_message(QueueUrl=self._queues[rule.queue], MessageBody=body)
                reached.append(rule.name)
        return reached
