"""The REST API: a method per route of the wiring declaration, each with its own function."""

from __future__ import annotations

import json

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_logs as logs
from constructs import Construct

from commands_core import wiring
from stacks.functions import LOG_RETENTION, FunctionFactory

_AUTHORIZATION = {
    "iam": apigw.AuthorizationType.IAM,
    "api_key": apigw.AuthorizationType.NONE,  # the key is checked by API Gateway (api_key_required)
    "none": apigw.AuthorizationType.NONE,
}

# Access log fields: who, what, the outcome, and why it failed when it did.
_ACCESS_LOG = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "user": "$context.identity.user",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "error": "$context.error.message",
    "integrationError": "$context.integration.error",
}


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: FunctionFactory,
        manage_account_role: bool,
        rate_limit: int,
        burst_limit: int,
    ) -> None:
        super().__init__(scope, construct_id)
        access_logs = logs.LogGroup(self, "AccessLogs", retention=LOG_RETENTION)
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name="iot-commands",
            description="IoT Commands Service",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            binary_media_types=list(wiring.BINARY_MEDIA_TYPES),
            # API Gateway logs through one CloudWatch role per account and region; the stack sets it unless
            # the deployer says the account has one already (context apiGatewayCloudWatchRole=false).
            cloud_watch_role=manage_account_role,
            deploy_options=apigw.StageOptions(
                stage_name="v1",
                tracing_enabled=True,
                metrics_enabled=True,
                throttling_rate_limit=rate_limit,
                throttling_burst_limit=burst_limit,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(_ACCESS_LOG)),
            ),
        )
        # Errors API Gateway answers itself (denied, throttled, too large, timed out) in the v1 error shape.
        template = {"application/json": '{"error": $context.error.messageString}'}
        for response_type in (apigw.ResponseType.DEFAULT_4_XX, apigw.ResponseType.DEFAULT_5_XX):
            self.rest_api.add_gateway_response(
                f"Gateway{response_type.response_type}", type=response_type, templates=template
            )
        self.functions = {route.function: self._add_route(functions, route) for route in wiring.ROUTES}

    def _add_route(self, functions: FunctionFactory, route: wiring.Route) -> object:
        function = functions.build(
            route,
            timeout=Duration.seconds(29),  # API Gateway's integration timeout
            description=f"{route.method} {route.path}: {route.description}",
        )
        auth = wiring.auth_of(route)
        integration = apigw.LambdaIntegration(function, allow_test_invoke=False)
        for path in route.paths:
            self.rest_api.root.resource_for_path(path).add_method(
                route.method,
                integration,
                authorization_type=_AUTHORIZATION[auth],
                api_key_required=auth == "api_key",
            )
        return function
