"""One Lambda function per entry of the wiring declaration (a route or a queue consumer), built the same way."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from commands_core import resources, wiring
from commands_core.observability import SERVICE
from stacks.layer import ARCHITECTURE, RUNTIME
from stacks.storage import Storage

LAMBDAS = Path(__file__).resolve().parent.parent / "lambdas"
LOG_RETENTION = logs.RetentionDays.ONE_MONTH


class FunctionFactory:
    def __init__(self, scope: Construct, *, storage: Storage, layer: lambda_.ILayerVersion) -> None:
        self._scope = scope
        self._storage = storage
        self._layer = layer
        self._environment = {
            **{table.env: storage.tables[table.name].table_name for table in resources.TABLES},
            **{bucket.env: storage.buckets[bucket.name].bucket_name for bucket in resources.BUCKETS},
            **{queue.env: storage.queues[queue.name].queue_url for queue in resources.QUEUES},
            **{role.env: storage.roles[role.name].role_arn for role in resources.ROLES},
            "POWERTOOLS_SERVICE_NAME": SERVICE,
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }

    def build(
        self,
        entry: wiring.Route | wiring.Consumer | wiring.Schedule,
        *,
        timeout: Duration,
        description: str,
        concurrency: int | None = None,
    ) -> lambda_.Function:
        name = construct_name(entry.function)
        log_group = logs.LogGroup(self._scope, f"{name}Logs", retention=LOG_RETENTION)
        # A role of its own with no managed policy: only its log group, X-Ray, and what the wiring declares.
        role = iam.Role(self._scope, f"{name}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        log_group.grant_write(role)
        function = lambda_.Function(
            self._scope,
            name,
            description=description[:256],
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.lambda_handler",
            code=lambda_.Code.from_asset(str(LAMBDAS / entry.function), exclude=["__pycache__", "*.pyc"]),
            layers=[self._layer],
            memory_size=512,
            timeout=timeout,
            reserved_concurrent_executions=concurrency,
            role=role,
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            log_group=log_group,
            environment=self._environment,
        )
        for access in entry.access:
            self._grant(role, access)
        return function

    def _grant(self, role: iam.Role, access: wiring.Access) -> None:
        storage = self._storage
        if access.resource in storage.tables:
            storage.tables[access.resource].grant(role, *access.actions)
        elif access.resource in storage.queues:
            storage.queues[access.resource].grant(role, *access.actions)
        elif access.resource in storage.buckets:
            bucket = storage.buckets[access.resource]
            keys = list(access.scope or ("*",))
            if access.actions == ("s3:ListBucket",):  # a bucket-level action: the bucket, for those keys only
                role.add_to_policy(
                    iam.PolicyStatement(
                        actions=["s3:ListBucket"],
                        resources=[bucket.bucket_arn],
                        conditions={"StringLike": {"s3:prefix": keys}},
                    )
                )
            else:
                arns = [bucket.arn_for_objects(key) for key in keys]
                role.add_to_policy(iam.PolicyStatement(actions=list(access.actions), resources=arns))
        elif access.resource in storage.roles:
            role.add_to_policy(
                iam.PolicyStatement(actions=list(access.actions), resources=[storage.roles[access.resource].role_arn])
            )
        elif access.resource == "iot":
            arns = [
                "*" if scope == "*" else f"arn:{Aws.PARTITION}:iot:{Aws.REGION}:{Aws.ACCOUNT_ID}:{scope}"
                for scope in access.scope
            ]
            role.add_to_policy(iam.PolicyStatement(actions=list(access.actions), resources=arns))
        else:
            raise ValueError(f"{access.resource} is not a resource of the stack")


def construct_name(function: str) -> str:
    return "".join(part.capitalize() for part in function.split("_"))
