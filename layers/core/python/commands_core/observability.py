"""Powertools Logger and Metrics, set up once for every function.

Service name, namespace and log level come from the POWERTOOLS_* variables that the stack sets.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics

SERVICE = "iot-commands"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="IoTCommands", service=SERVICE)


@contextmanager
def log_keys(**keys: Any) -> Iterator[None]:
    """Adds `keys` to every log line inside the block, and then puts back what they replaced (Powertools'
    append_context_keys would drop a key the request had before, such as a command_id from the path)."""
    current = logger.get_current_keys()
    replaced = {name: current[name] for name in keys if name in current}
    logger.append_keys(**keys)
    try:
        yield
    finally:
        logger.remove_keys([name for name in keys if name not in replaced])
        logger.append_keys(**replaced)
