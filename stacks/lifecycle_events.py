"""Who hears the service's lifecycle events (commands_core/models/lifecycle_events.py) on its bus.

Always: every event, into a CloudWatch Logs group that operators can read and query (a month's retention).
With CDK context values, each through a rule of its own:
- `eventsWebhookUrl` (https) and `eventsWebhookSecretArn` (a Secrets Manager secret holding the key the webhook
  expects; `eventsWebhookHeader` names its header, x-api-key unless given): every event, POSTed to the URL by
  an EventBridge API destination, retried for a day, then kept in a dead-letter queue;
- `eventsEmail`: every Command Status Changed, by e-mail through an SNS topic (executions' ends would flood a
  mailbox).
"""

from __future__ import annotations

import jsii
from aws_cdk import ArnFormat, Duration, SecretValue, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import Construct

from commands_core.models.lifecycle_events import SOURCE, CommandStatusChanged
from stacks.checks import acknowledge
from stacks.functions import LOG_RETENTION
from stacks.storage import dead_letter_queue

WEBHOOK_URL_KEY = "eventsWebhookUrl"
WEBHOOK_SECRET_KEY = "eventsWebhookSecretArn"
WEBHOOK_HEADER_KEY = "eventsWebhookHeader"
EMAIL_KEY = "eventsEmail"
_RETRY = Duration.hours(24)


@jsii.implements(events.IRuleTarget)
class _IntoLogGroup:
    """A rule's target writing into a log group whose resource policy allows EventBridge."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._log_group = log_group

    def bind(self, rule: IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        group = self._log_group
        arn = Stack.of(group).format_arn(
            service="logs",
            resource="log-group",
            resource_name=group.log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        return events.RuleTargetConfig(arn=arn)


class LifecycleEvents(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: events.IEventBus,
        webhook_url: str | None = None,
        webhook_secret_arn: str | None = None,
        webhook_header: str | None = None,
        email: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        every_event = events.EventPattern(source=[SOURCE])
        self.log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION)
        # The log group's resource policy lets EventBridge write to it: a native resource, where CDK's log group
        # target would add a custom resource (a Lambda function) to write the same policy.
        logs.ResourcePolicy(
            self,
            "LogsPolicy",
            policy_statements=[
                iam.PolicyStatement(
                    principals=[
                        iam.ServicePrincipal("events.amazonaws.com"),
                        iam.ServicePrincipal("delivery.logs.amazonaws.com"),
                    ],
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn],
                )
            ],
        )
        events.Rule(
            self,
            "ToLogs",
            event_bus=bus,
            event_pattern=every_event,
            description="Every lifecycle event of the IoT Commands Service, into its log group",
            targets=[_IntoLogGroup(self.log_group)],
        )
        if webhook_url or webhook_secret_arn:
            self._webhook(bus, every_event, webhook_url, webhook_secret_arn, webhook_header or "x-api-key")
        if email:
            self._email(bus, email)

    def _webhook(
        self, bus: events.IEventBus, pattern: events.EventPattern, url: str | None, secret_arn: str | None, header: str
    ) -> None:
        if not url or not url.startswith("https://") or not secret_arn:
            raise ValueError(
                f"-c {WEBHOOK_URL_KEY}=https://... and -c {WEBHOOK_SECRET_KEY}=<Secrets Manager secret ARN> go "
                "together: an API destination POSTs to an https URL, with the key the secret holds"
            )
        connection = events.Connection(
            self,
            "WebhookConnection",
            description="The key the lifecycle events' webhook expects",
            authorization=events.Authorization.api_key(header, SecretValue.secrets_manager(secret_arn)),
        )
        destination = events.ApiDestination(
            self, "Webhook", connection=connection, endpoint=url, http_method=events.HttpMethod.POST
        )
        dead_letters, _ = dead_letter_queue(self, "Webhook", "Lifecycle events the webhook did not take within a day")
        acknowledge(
            dead_letters,
            "The dead-letter queue of the webhook rule's target (EventBridge's DeadLetterConfig), not a queue that "
            "consumers read; its alarm says when an event could not be delivered.",
            "AwsSolutions-SQS3",
        )
        events.Rule(
            self,
            "ToWebhook",
            event_bus=bus,
            event_pattern=pattern,
            description="Every lifecycle event of the IoT Commands Service, to the deployer's webhook",
            targets=[targets.ApiDestination(destination, dead_letter_queue=dead_letters, max_event_age=_RETRY)],
        )

    def _email(self, bus: events.IEventBus, address: str) -> None:
        # EventBridge publishes to an encrypted topic only with a customer managed key that allows it to.
        key = kms.Key(self, "NotificationsKey", enable_key_rotation=True, description="The event notifications topic")
        key.grant(iam.ServicePrincipal("events.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        topic = sns.Topic(self, "Notifications", master_key=key, enforce_ssl=True)
        topic.add_subscription(subscriptions.EmailSubscription(address))
        events.Rule(
            self,
            "ToEmail",
            event_bus=bus,
            event_pattern=events.EventPattern(source=[SOURCE], detail_type=[CommandStatusChanged.DETAIL_TYPE]),
            description="Command status changes of the IoT Commands Service, by e-mail",
            targets=[targets.SnsTopic(topic)],
        )
