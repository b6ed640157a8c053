"""The REST API and one function per route, built in a loop from the wiring declaration."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
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

_AUTHORIZATION = {
    "iam": apigw.AuthorizationType.IAM,
    "api_key": apigw.AuthorizationType.NONE,  # the key is checked by API Gateway (api_key_required)
    "none": apigw.AuthorizationType.NONE,
}


class Api(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, storage: Storage, layer: lambda_.ILayerVersion) -> None:
        super().__init__(scope, construct_id)
        self._storage = storage
        self._layer = layer
        self._environment = {
            **{table.env: storage.tables[table.name].table_name for table in resources.TABLES},
            **{bucket.env: storage.buckets[bucket.name].bucket_name for bucket in resources.BUCKETS},
            "POWERTOOLS_SERVICE_NAME": SERVICE,
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }
        access_logs = logs.LogGroup(self, "AccessLogs", retention=LOG_RETENTION)
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            description="IoT Commands Service",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            deploy_options=apigw.StageOptions(
                stage_name="v1",
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
            ),
        )
        self.functions = {route.function: self._add_route(route) for route in wiring.ROUTES}

    def _add_route(self, route: wiring.Route) -> lambda_.Function:
        function = lambda_.Function(
            self,
            _construct_name(route.function),
            description=f"{route.method} {route.path}: {route.description}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.lambda_handler",
            code=lambda_.Code.from_asset(str(LAMBDAS / route.function), exclude=["__pycache__", "*.pyc"]),
            layers=[self._layer],
            memory_size=512,
            timeout=Duration.seconds(29),  # API Gateway's integration timeout
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            log_group=logs.LogGroup(self, f"{_construct_name(route.function)}Logs", retention=LOG_RETENTION),
            environment=self._environment,
        )
        for access in route.access:
            self._grant(function, access)
        auth = wiring.auth_of(route)
        self.rest_api.root.resource_for_path(route.path).add_method(
            route.method,
            apigw.LambdaIntegration(function, allow_test_invoke=False),
            authorization_type=_AUTHORIZATION[auth],
            api_key_required=auth == "api_key",
        )
        return function

    def _grant(self, function: lambda_.Function, access: wiring.Access) -> None:
        if access.resource in self._storage.tables:
            self._storage.tables[access.resource].grant(function, *access.actions)
        else:
            bucket = self._storage.buckets[access.resource]
            function.add_to_role_policy(
                iam.PolicyStatement(actions=list(access.actions), resources=[bucket.arn_for_objects("commands/*")])
            )


def _construct_name(function: str) -> str:
    return "".join(part.capitalize() for part in function.split("_"))
