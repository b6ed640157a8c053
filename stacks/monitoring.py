"""What an operator watches: alarms on what needs a person (dead letters, server errors, a failing reconciler)
and one dashboard of the API, the queues and the service's own metrics (Powertools, namespace IoTCommands)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from commands_core.observability import SERVICE
from stacks.storage import Storage

_PERIOD = Duration.minutes(5)
_TERMINAL = ("Succeeded", "Failed", "Rejected", "TimedOut", "Canceled", "Removed")


def _service_metric(name: str, statistic: str = "Sum") -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="IoTCommands",
        metric_name=name,
        dimensions_map={"service": SERVICE},
        statistic=statistic,
        period=_PERIOD,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: apigw.RestApi,
        storage: Storage,
        reconciler: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        # A rate, not a count: a busy hour's few 5xx are noise, most of a quiet hour's requests failing is not.
        server_error_rate = cloudwatch.MathExpression(
            expression="IF(requests >= 20, 100 * errors / requests, 0)",
            using_metrics={
                "errors": api.metric_server_error(period=_PERIOD, statistic="Sum"),
                "requests": api.metric_count(period=_PERIOD, statistic="Sum"),
            },
            period=_PERIOD,
            label="5xx (% of requests)",
        )
        self.alarms = [
            *storage.dead_letter_alarms,
            server_error_rate.create_alarm(
                self,
                "ServerErrorRate",
                alarm_description="More than 1% of API requests were answered 5xx in 5 minutes (20 requests or more)",
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            reconciler.metric_errors(period=Duration.minutes(15), statistic="Sum").create_alarm(
                self,
                "ReconcilerErrors",
                alarm_description="The reconciler failed in the last 15 minutes (three runs)",
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        ]
        dashboard = cloudwatch.Dashboard(self, "Dashboard")
        dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[api.metric_count(period=_PERIOD), api.metric_client_error(period=_PERIOD)],
                right=[server_error_rate],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="API latency (p99)",
                left=[
                    api.metric_latency(period=_PERIOD, statistic="p99"),
                    api.metric_integration_latency(period=_PERIOD, statistic="p99"),
                ],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Commands and executions",
                left=[
                    _service_metric(name)
                    for name in ("CommandPublished", "CommandCompleted", "ExecutionsStarted", "ThingsJoined")
                ],
                right=[_service_metric(f"Execution{status}") for status in _TERMINAL],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Queues: age of the oldest message (s)",
                left=[
                    queue.metric_approximate_age_of_oldest_message(period=_PERIOD) for queue in storage.queues.values()
                ],
                right=[_service_metric("StatusEventsIngested"), _service_metric("IngestionLagSeconds", "p90")],
                width=12,
            ),
        )
