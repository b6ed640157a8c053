"""The lifecycle events in the synthesized template: the bus, the rule that always keeps every event in a log
group, PutEvents granted only to the functions that change commands and executions, on that bus alone, and what
each context option adds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from commands_core import resources, wiring
from commands_core.models.lifecycle_events import SOURCE
from tests.infra.conftest import resources_of, synthesize, template_of
from tests.infra.test_security import _findings
from tests.infra.test_stack import _function_of_folder, _refs

WEBHOOK = {
    "eventsWebhookUrl": "https://hooks.example.com/iot-commands",
    "eventsWebhookSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:iot-commands-hook-AbCdEf",
}
EMAIL = {"eventsEmail": "fleet-ops@example.com"}


@pytest.fixture(scope="module")
def optioned(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The stack with every context option of the lifecycle events."""
    return synthesize(tmp_path_factory.mktemp("lifecycle"), WEBHOOK | EMAIL)


def _bus(template: dict[str, Any]) -> str:
    (bus,) = resources_of(template, "AWS::Events::EventBus")
    return bus


def _rules_on_bus(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    bus = _bus(template)
    return {
        name: rule["Properties"]
        for name, rule in resources_of(template, "AWS::Events::Rule").items()
        if rule["Properties"].get("EventBusName") == {"Ref": bus}
    }


def test_the_bus_keeps_every_event_in_a_log_group_with_a_retention(template: dict[str, Any]) -> None:
    (rule,) = _rules_on_bus(template).values()

    assert rule["EventPattern"] == {"source": [SOURCE]}
    (target,) = rule["Targets"]
    (log_group,) = [ref for ref in _refs(target["Arn"]) if not ref.startswith("AWS::")]
    assert template["Resources"][log_group]["Properties"]["RetentionInDays"] == 30
    (policy,) = resources_of(template, "AWS::Logs::ResourcePolicy").values()
    assert "events.amazonaws.com" in policy["Properties"]["PolicyDocument"]["Fn::Join"][1][0]
    assert not resources_of(template, "Custom::CloudwatchLogResourcePolicy")  # no Lambda function to write it


def test_functions_learn_the_bus_name_and_only_those_that_change_things_may_put_events_on_it(
    template: dict[str, Any], cdk_out: Path
) -> None:
    bus = _bus(template)
    policies = resources_of(template, "AWS::IAM::Policy")
    telling = {"commands_create", "commands_update", "commands_delete", "commands_rerun", "executions_cancel"}
    telling |= {"status_update", "commands_dispatch", "status_ingest", "reconcile"}

    for entry in wiring.functions():
        function = template["Resources"][_function_of_folder(template, cdk_out, entry.function)]["Properties"]
        assert function["Environment"]["Variables"][resources.EVENTS.env] == {"Ref": bus}
        (role,) = _refs(function["Role"])
        granted = [
            statement
            for policy in policies.values()
            if {"Ref": role} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if "events:PutEvents" in statement["Action"]
        ]
        if entry.function in telling:
            (statement,) = granted
            assert statement["Resource"] == {"Fn::GetAtt": [bus, "Arn"]}, entry.function
        else:
            assert granted == [], entry.function


def test_the_webhook_option_adds_an_api_destination_with_a_key_from_secrets_manager(optioned: Any) -> None:
    template = template_of(optioned)

    (connection,) = resources_of(template, "AWS::Events::Connection").values()
    api_key = connection["Properties"]["AuthParameters"]["ApiKeyAuthParameters"]
    assert api_key["ApiKeyName"] == "x-api-key"
    assert WEBHOOK["eventsWebhookSecretArn"] in str(api_key["ApiKeyValue"])
    assert "resolve:secretsmanager" in str(api_key["ApiKeyValue"])  # resolved at deploy time, never in the template
    (destination,) = resources_of(template, "AWS::Events::ApiDestination").values()
    assert destination["Properties"]["InvocationEndpoint"] == WEBHOOK["eventsWebhookUrl"]
    assert destination["Properties"]["HttpMethod"] == "POST"
    (name,) = resources_of(template, "AWS::Events::ApiDestination")
    to_webhook = [rule for rule in _rules_on_bus(template).values() if name in str(rule["Targets"])]
    (rule,) = to_webhook
    assert rule["EventPattern"] == {"source": [SOURCE]}
    assert "DeadLetterConfig" in rule["Targets"][0]


def test_the_email_option_adds_an_encrypted_topic_with_an_email_subscription(optioned: Any) -> None:
    template = template_of(optioned)

    (topic_name, topic) = next(iter(resources_of(template, "AWS::SNS::Topic").items()))
    assert "KmsMasterKeyId" in topic["Properties"]
    (subscription,) = resources_of(template, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == EMAIL["eventsEmail"]
    (rule,) = [
        rule for rule in _rules_on_bus(template).values() if {"Ref": topic_name} in [t["Arn"] for t in rule["Targets"]]
    ]
    assert rule["EventPattern"] == {"detail-type": ["Command Status Changed"], "source": [SOURCE]}
    assert len(_rules_on_bus(template)) == 3  # the log group's, the webhook's and the e-mail's


def test_the_options_pass_cdk_nag(optioned: Any) -> None:
    assert _findings(optioned) == []


@pytest.mark.parametrize(
    "context",
    [
        {"eventsWebhookUrl": "https://hooks.example.com/x"},
        {"eventsWebhookSecretArn": WEBHOOK["eventsWebhookSecretArn"]},
        {"eventsWebhookUrl": "http://hooks.example.com/x", "eventsWebhookSecretArn": "arn:x"},
    ],
)
def test_a_webhook_without_https_or_its_secret_stops_the_synth_naming_both_keys(
    tmp_path: Path, context: dict[str, str]
) -> None:
    with pytest.raises(ValueError, match="eventsWebhookUrl") as raised:
        synthesize(tmp_path, context)

    assert "eventsWebhookSecretArn" in str(raised.value)
