"""What an operator reads: JSON log lines that name their request or message and the execution they are about,
and the service's metrics in CloudWatch's embedded metric format."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

from moto.iot.models import iot_backends

from local.aws import ACCOUNT, REGION
from tests.conftest import HandlerClient
from tests.integration.conftest import Output, job_execution_event, sqs_event


def metrics_in(records: list[dict[str, Any]]) -> dict[str, float]:
    """Metric name -> the sum of its values, from the embedded-metric-format records."""
    found: dict[str, float] = {}
    for record in records:
        for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
            for name in (metric["Name"] for metric in directive["Metrics"]):
                values = record[name] if isinstance(record[name], list) else [record[name]]
                found[name] = found.get(name, 0) + sum(values)
    return found


def test_an_ingested_event_logs_its_message_and_execution_and_counts_the_outcome(
    api: HandlerClient, published: Callable[..., str], output: Output
) -> None:
    published("cmd", ["dev-1", "dev-2"])
    output.records()
    at = int(time.time())  # AWS IoT's time of the events: after publishing
    events = [
        job_execution_event("cmd", "dev-1", "SUCCEEDED", at),
        job_execution_event("cmd", "dev-2", "FAILED", at + 1),
    ]

    api.functions.invoke("status_ingest", sqs_event(events, prefix="msg-"))

    records = output.records()
    ended = [record for record in records if record.get("message") == "execution ended"]
    assert [(line["thing_name"], line["to"], line["correlation_id"]) for line in ended] == [
        ("dev-1", "SUCCEEDED", "msg-0"),
        ("dev-2", "FAILED", "msg-1"),
    ]
    assert {line["command_id"] for line in ended} == {"cmd"}
    assert all(line["level"] == "INFO" and line["service"] == "iot-commands" for line in ended)
    metrics = metrics_in(records)
    assert (metrics["ExecutionSucceeded"], metrics["ExecutionFailed"], metrics["StatusEventsIngested"]) == (1, 1, 2)
    assert "IngestionLagSeconds" in metrics


def test_a_request_logs_its_request_id_and_the_resource_of_its_path(
    api: HandlerClient, published: Callable[..., str], output: Output
) -> None:
    published("cmd", ["dev-1", "dev-2"])
    output.records()

    assert api.delete("/commands/cmd/executions/dev-1").status == 204

    (ended,) = [record for record in output.records() if record.get("message") == "execution ended"]
    assert (ended["function_name"], ended["command_id"], ended["thing_name"]) == ("executions_cancel", "cmd", "dev-1")
    assert (ended["to"], ended["source"]) == ("CANCELED", "api")
    assert ended["correlation_id"]  # API Gateway's request id


def test_an_invocation_that_counts_nothing_publishes_no_metric_and_warns_nothing(
    api: HandlerClient, output: Output
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert api.get("/templates/absent").status == 404

    assert [str(warning.message) for warning in caught] == []
    assert metrics_in(output.records()) == {}


def test_a_reconciler_round_logs_only_when_it_changed_something(
    api: HandlerClient, published: Callable[..., str], output: Output
) -> None:
    published("cmd", ["dev-1", "dev-2"])
    output.records()

    api.functions.invoke("reconcile", {})  # AWS IoT and the table agree: nothing to do
    assert [record for record in output.records() if "message" in record] == []

    iot_backends[ACCOUNT][REGION].job_executions[("cmd", "dev-1")].status = "SUCCEEDED"  # its event lost
    api.functions.invoke("reconcile", {})

    (line,) = [record for record in output.records() if record.get("message") == "reconciled"]
    assert (line["level"], line["commands"], line["executions_changed"]) == ("INFO", 1, 1)
