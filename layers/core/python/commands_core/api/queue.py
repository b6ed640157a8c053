"""What every queue consumer shares: one message at a time, failures reported as partial batch failures (SQS
redelivers them, then moves them to the dead-letter queue)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from commands_core import dependencies
from commands_core.observability import logger, publish_metrics


def consumer(
    handle: Callable[[Any], None], decode: Callable[[str], Any] = json.loads
) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda handler of a consumer whose messages are JSON objects, each given to `handle` as `decode` reads
    its body (what it raises fails the message)."""
    processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(record: SQSRecord) -> None:
        logger.set_correlation_id(record.message_id)  # a message's log lines, across its receives
        handle(decode(record.body))

    @logger.inject_lambda_context(clear_state=True)
    @publish_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        try:
            response = process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )
        finally:
            dependencies.flush_events()  # also those of a message that failed after its change was written
        return dict(response)

    return lambda_handler
