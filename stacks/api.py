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
        if any(wiring.auth_of(route) == "api_key" for route in wiring.ROUTES):
            self._add_api_key()

    def _add_api_key(self) -> None:
        """The key of the routes that require one (the status family): a usage plan on the stage holds it; a
        missing or wrong key is a 401 in the family's envelope."""
        plan = self.rest_api.add_usage_plan(
            "StatusUsagePlan",
            name="iot-commands-status",
            description="The Command Status API and the device inbox",
            api_stages=[apigw.UsagePlanPerApiStage(api=self.rest_api, stage=self.rest_api.deployment_stage)],
        )
        plan.add_api_key(self.rest_api.add_api_key("StatusApiKey", description="Key of the Command Status API"))
        self.rest_api.add_gateway_response(
            "GatewayInvalidApiKey",
            type=apigw.ResponseType.INVALID_API_KEY,
            status_code="401",
            templates={"application/json": '{"code": 401, "message": $context.error.messageString, "content": null}'},
        )

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
