"""The REST API: a method per route of the wiring declaration, each with its own function."""

from __future__ import annotations

import json

from aws_cdk import CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_logs as logs
from constructs import Construct

from commands_core import wiring
from stacks import auth
from stacks.checks import acknowledge
from stacks.functions import LOG_RETENTION, FunctionFactory

_AUTHORIZATION = {
    "iam": apigw.AuthorizationType.IAM,
    "cognito": apigw.AuthorizationType.COGNITO,
    "api_key": apigw.AuthorizationType.NONE,  # the key is checked by API Gateway (api_key_required)
    "api_key+iam": apigw.AuthorizationType.IAM,
    "none": apigw.AuthorizationType.NONE,
}
# Why a method passes cdk-nag's authorization rules in each mode (APIG4: any authorization; COG4: Cognito).
_NOT_COGNITO = {
    "iam": "Operators sign requests with IAM (SigV4); a Cognito authorizer is the opt-in alternative "
    "(-c v1Auth=cognito / -c jobsAuth=cognito).",
    "api_key": "Devices present the stack's API key, held in a usage plan; IAM can be added "
    "with -c statusAuth=api_key+iam.",
    "api_key+iam": "Devices present the stack's API key and sign requests with IAM (SigV4).",
    "none": "The deployer opted this family out of authorization explicitly, by CDK context.",
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
        modes: dict[wiring.Family, auth.Mode],
        user_pool_arn: str | None,
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
        if manage_account_role:
            acknowledge(
                self.rest_api.node.find_child("CloudWatchRole"),
                "API Gateway's one logging role per account and region: AWS's managed policy is the one API Gateway "
                "documents for it, and a policy narrowed to this service's log groups would break the account's "
                "other APIs.",
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
            )
        acknowledge(
            self.rest_api.deployment_stage,
            "A WAF web ACL is billed per ACL and rule, and is often attached account-wide by AWS Firewall Manager: "
            "the deployer's choice. Routes are authenticated (unless a family is opted out); the stage is throttled.",
            "AwsSolutions-APIG3",
        )
        # Each function validates its request against its models and answers in its family's error shape; the
        # validator applies whatever a method declares (parameters, models) before a function is invoked.
        self.validator = self.rest_api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        self.modes = modes
        self.authorizer = self._add_authorizer(user_pool_arn) if "cognito" in modes.values() else None
        self.functions = {route.function: self._add_route(functions, route) for route in wiring.ROUTES}
        if any(modes[route.family].startswith("api_key") for route in wiring.ROUTES):
            self._add_api_key()

    def _add_authorizer(self, user_pool_arn: str | None) -> apigw.CognitoUserPoolsAuthorizer:
        """The Cognito authorizer of the operator families: the deployer's user pool, else one of the stack's."""
        if user_pool_arn:
            pool = cognito.UserPool.from_user_pool_arn(self, "Operators", user_pool_arn)
        else:
            pool = cognito.UserPool(
                self,
                "Operators",
                user_pool_name="iot-commands-operators",
                self_sign_up_enabled=False,  # an administrator invites each operator
                sign_in_aliases=cognito.SignInAliases(email=True),
                password_policy=cognito.PasswordPolicy(
                    min_length=12,
                    require_digits=True,
                    require_lowercase=True,
                    require_uppercase=True,
                    require_symbols=True,
                ),
                mfa=cognito.Mfa.REQUIRED,
                mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
                account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
                feature_plan=cognito.FeaturePlan.PLUS,
                standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
                deletion_protection=True,
                removal_policy=RemovalPolicy.RETAIN,
            )
            client = pool.add_client("Cli", auth_flows=cognito.AuthFlow(user_srp=True), generate_secret=False)
            CfnOutput(self, "OperatorUserPoolId", value=pool.user_pool_id)
            CfnOutput(self, "OperatorUserPoolClientId", value=client.user_pool_client_id)
        return apigw.CognitoUserPoolsAuthorizer(self, "OperatorAuthorizer", cognito_user_pools=[pool])

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
        mode = self.modes[route.family]
        integration = apigw.LambdaIntegration(function, allow_test_invoke=False)
        for path in route.paths:
            method = self.rest_api.root.resource_for_path(path).add_method(
                route.method,
                integration,
                authorization_type=_AUTHORIZATION[mode],
                authorizer=self.authorizer if mode == "cognito" else None,
                api_key_required=mode.startswith("api_key"),
                request_validator=self.validator,
            )
            if mode != "cognito":
                acknowledge(method, _NOT_COGNITO[mode], "AwsSolutions-COG4")
            if _AUTHORIZATION[mode] == apigw.AuthorizationType.NONE:
                acknowledge(method, _NOT_COGNITO[mode], "AwsSolutions-APIG4")
        return function
