"""AWS IoT events into the status and membership queues (event configurations and topic rules), and the schedules."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from commands_core import wiring
from stacks.checks import acknowledge_wildcards
from stacks.functions import LOG_RETENTION, FunctionFactory, construct_name
from stacks.storage import Storage

_SQL_VERSION = "2016-03-23"


class StatusEvents(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, storage: Storage) -> None:
        super().__init__(scope, construct_id)
        # AWS IoT publishes job, job execution and group membership events only once they are enabled for the
        # account.
        call = cr.AwsSdkCall(
            service="Iot",
            action="updateEventConfigurations",
            parameters={"eventConfigurations": {name: {"Enabled": True} for name in wiring.EVENT_CONFIGURATIONS}},
            physical_resource_id=cr.PhysicalResourceId.of("iot-job-event-configurations"),
        )
        # The provider's own role and log group: no managed policy, logs written to its group only.
        provider_logs = logs.LogGroup(self, "JobEventConfigurationsLogs", retention=LOG_RETENTION)
        provider_role = iam.Role(
            self, "JobEventConfigurationsRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
        )
        provider_logs.grant_write(provider_role)
        configurations = cr.AwsCustomResource(
            self,
            "JobEventConfigurations",
            on_create=call,
            on_update=call,
            install_latest_aws_sdk=False,
            role=provider_role,
            log_group=provider_logs,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["iot:UpdateEventConfigurations"], resources=["*"])]
            ),
        )
        acknowledge_wildcards(
            configurations, ["*"], "iot:UpdateEventConfigurations: an account-level setting, with no resource ARN."
        )
        role = iam.Role(
            self,
            "RulesRole",
            assumed_by=iam.ServicePrincipal("iot.amazonaws.com"),
            description="AWS IoT topic rules of the IoT Commands Service deliver events to its queues",
        )
        for rule in wiring.RULES:
            queue = storage.queues[rule.queue]
            dead_letters = storage.dead_letter_queues[rule.queue]
            role.add_to_policy(
                iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn, dead_letters.queue_arn])
            )
            iot.CfnTopicRule(
                self,
                construct_name(rule.name),
                topic_rule_payload=iot.CfnTopicRule.TopicRulePayloadProperty(
                    sql=rule.sql,
                    aws_iot_sql_version=_SQL_VERSION,
                    rule_disabled=False,
                    description=f"{rule.topic_filter} into the {rule.queue} queue",
                    actions=[_to_queue(queue.queue_url, role.role_arn)],
                    # A message the queue refused (throttled, too large) still lands where the alarm watches.
                    error_action=_to_queue(dead_letters.queue_url, role.role_arn),
                ),
            )


def _to_queue(queue_url: str, role_arn: str) -> iot.CfnTopicRule.ActionProperty:
    return iot.CfnTopicRule.ActionProperty(
        sqs=iot.CfnTopicRule.SqsActionProperty(queue_url=queue_url, role_arn=role_arn, use_base64=False)
    )


class Schedules(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, functions: FunctionFactory) -> None:
        super().__init__(scope, construct_id)
        self.functions: dict[str, lambda_.Function] = {}
        for schedule in wiring.SCHEDULES:
            # One run at a time, and a failed run is not retried: the next beat is the retry.
            function = self.functions[schedule.function] = functions.build(
                schedule,
                timeout=Duration.seconds(schedule.timeout_seconds),
                description=schedule.description,
                concurrency=1,
            )
            events.Rule(
                self,
                f"{construct_name(schedule.function)}Schedule",
                schedule=events.Schedule.rate(Duration.minutes(schedule.every_minutes)),
                targets=[targets.LambdaFunction(function, retry_attempts=0)],
            )
