"""What every scheduled function shares: structured logs, metrics and lifecycle events around one run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from commands_core import dependencies
from commands_core.observability import logger, publish_metrics


def scheduled(run: Callable[[], dict[str, int]]) -> Callable[[dict[str, Any], LambdaContext], dict[str, int]]:
    """The Lambda handler of a scheduled function: the EventBridge event carries nothing it needs."""

    @logger.inject_lambda_context(clear_state=True)
    @publish_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
        try:
            return run()
        finally:
            dependencies.flush_events()

    return lambda_handler
