"""The queue consumers of the wiring declaration, each fed by its queue with partial batch failures."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from commands_core import wiring
from stacks.functions import FunctionFactory
from stacks.storage import Storage


class Consumers(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, functions: FunctionFactory, storage: Storage) -> None:
        super().__init__(scope, construct_id)
        self.functions: dict[str, lambda_.Function] = {}
        for consumer in wiring.CONSUMERS:
            function = functions.build(
                consumer, timeout=Duration.seconds(consumer.timeout_seconds), description=consumer.description
            )
            function.add_event_source(
                sources.SqsEventSource(
                    storage.queues[consumer.queue], batch_size=consumer.batch_size, report_batch_item_failures=True
                )
            )
            self.functions[consumer.function] = function
