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
from stacks.checks import acknowledge, acknowledge_wildcards, arn_of
from stacks.layer import ARCHITECTURE, RUNTIME
from stacks.storage import Storage

LAMBDAS = Path(__file__).resolve().parent.parent / "lambdas"
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
# The DynamoDB actions that read an index; they get the table's declared indexes by name, never `index/*`.
INDEX_ACTIONS = ("dynamodb:Query", "dynamodb:Scan")
IOT_ARN = "arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:"  # as cdk-nag renders an AWS IoT ARN


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
            **{bus.env: storage.buses[bus.name].event_bus_name for bus in resources.BUSES},
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
        acknowledge(
            function,
            "The core layer is bundled for Python 3.13 (stacks/layer.py); moving the layer and every function to a "
            "newer Python is a change of its own, tested as one.",
            "AwsSolutions-L1",
        )
        # Active tracing's X-Ray actions take no resource; every other wildcard comes from the wiring.
        wildcards: dict[str, list[str]] = {"*": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]}
        for access in entry.access:
            for resource in self._grant(role, access):
                wildcards.setdefault(resource, []).extend(access.actions)
        for resource, actions in wildcards.items():
            acknowledge_wildcards(role, [resource], _why_wildcard(resource, actions))
        return function

    def _grant(self, role: iam.Role, access: wiring.Access) -> list[str]:
        """Adds the access to the role; returns its wildcard resources, as cdk-nag names them."""
        storage = self._storage
        actions = list(access.actions)
        if access.resource in storage.tables:
            table = storage.tables[access.resource]
            role.add_to_policy(iam.PolicyStatement(actions=actions, resources=[table.table_arn]))
            index_actions = [action for action in actions if action in INDEX_ACTIONS]
            indexes = [f"{table.table_arn}/index/{index.name}" for index in _TABLES[access.resource].indexes]
            if index_actions and indexes:
                role.add_to_policy(iam.PolicyStatement(actions=index_actions, resources=indexes))
            return []
        if access.resource in storage.queues:
            storage.queues[access.resource].grant(role, *actions)
            return []
        if access.resource in storage.buckets:
            bucket = storage.buckets[access.resource]
            keys = list(access.scope or ("*",))
            if actions == ["s3:ListBucket"]:  # a bucket-level action: the bucket, for those keys only
                role.add_to_policy(
                    iam.PolicyStatement(
                        actions=actions, resources=[bucket.bucket_arn], conditions={"StringLike": {"s3:prefix": keys}}
                    )
                )
                return []
            role.add_to_policy(
                iam.PolicyStatement(actions=actions, resources=[bucket.arn_for_objects(k) for k in keys])
            )
            return [f"{arn_of(bucket)}/{key}" for key in keys if "*" in key]
        # The presign role (PassRole) and the service's bus (PutEvents): that one resource alone.
        single = {name: presign.role_arn for name, presign in storage.roles.items()}
        single |= {name: bus.event_bus_arn for name, bus in storage.buses.items()}
        if access.resource in single:
            role.add_to_policy(iam.PolicyStatement(actions=actions, resources=[single[access.resource]]))
            return []
        if access.resource == "iot":
            arns = [
                "*" if scope == "*" else f"arn:{Aws.PARTITION}:iot:{Aws.REGION}:{Aws.ACCOUNT_ID}:{scope}"
                for scope in access.scope
            ]
            role.add_to_policy(iam.PolicyStatement(actions=actions, resources=arns))
            return [scope if scope == "*" else f"{IOT_ARN}{scope}" for scope in access.scope if "*" in scope]
        raise ValueError(f"{access.resource} is not a resource of the stack")


_TABLES = {table.name: table for table in resources.TABLES}


def _why_wildcard(resource: str, actions: list[str]) -> str:
    names = ", ".join(dict.fromkeys(actions))
    if resource == "*":
        return f"{names}: actions that accept no resource ARN."
    if resource.startswith(IOT_ARN):
        return (
            f"{names}: AWS IoT things, groups, jobs, job templates and commands are named at run time by operators "
            "and commands; the resource type (or the service's own name prefix) is as narrow as IAM allows."
        )
    return f"{names}: command files are keyed by command and file ids chosen at run time, under this prefix only."


def construct_name(function: str) -> str:
    return "".join(part.capitalize() for part in function.split("_"))
