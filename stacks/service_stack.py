"""The IoT Commands Service: storage, the core layer, the API and the queue consumers, composed."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks import auth
from stacks.api import Api
from stacks.events import Schedules, StatusEvents
from stacks.functions import FunctionFactory
from stacks.layer import CoreLayer
from stacks.lifecycle_events import (
    EMAIL_KEY,
    WEBHOOK_HEADER_KEY,
    WEBHOOK_SECRET_KEY,
    WEBHOOK_URL_KEY,
    LifecycleEvents,
)
from stacks.monitoring import Monitoring
from stacks.queues import Consumers
from stacks.storage import Storage


class ServiceStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, production: bool = False, **kwargs: object) -> None:
        super().__init__(scope, construct_id, description="IoT Commands Service", **kwargs)  # type: ignore[arg-type]
        context = self.node.try_get_context
        storage = Storage(self, "Storage", production=production)
        functions = FunctionFactory(self, storage=storage, layer=CoreLayer(self, "Core").layer)
        api = Api(
            self,
            "Api",
            functions=functions,
            modes=auth.modes(context),
            user_pool_arn=context(auth.USER_POOL_ARN_KEY),
            manage_account_role=str(context("apiGatewayCloudWatchRole") or "true").lower() != "false",
            rate_limit=int(context("apiRateLimit") or 100),
            burst_limit=int(context("apiBurstLimit") or 200),
        )
        Consumers(self, "Consumers", functions=functions, storage=storage)
        StatusEvents(self, "StatusEvents", storage=storage)
        lifecycle = LifecycleEvents(
            self,
            "LifecycleEvents",
            bus=storage.buses["events"],
            webhook_url=context(WEBHOOK_URL_KEY),
            webhook_secret_arn=context(WEBHOOK_SECRET_KEY),
            webhook_header=context(WEBHOOK_HEADER_KEY),
            email=context(EMAIL_KEY),
        )
        schedules = Schedules(self, "Schedules", functions=functions)
        Monitoring(self, "Monitoring", api=api.rest_api, storage=storage, reconciler=schedules.functions["reconcile"])
        CfnOutput(self, "ApiUrl", value=api.rest_api.url)
        CfnOutput(self, "FilesBucketName", value=storage.buckets["files"].bucket_name)
        CfnOutput(self, "EventBusName", value=storage.buses["events"].event_bus_name)
        CfnOutput(self, "EventLogGroupName", value=lifecycle.log_group.log_group_name)
