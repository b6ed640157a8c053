"""The synthesized CloudFormation template: routes, functions, the layer, IAM and storage settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from commands_core import resources, wiring
from tests.infra.conftest import ROOT, resources_of

DATA_SERVICES = ("dynamodb:", "s3:", "sqs:", "iot:", "iam:")
# What Lambda's SQS event source needs on its queue, granted by CDK to every consumer.
EVENT_SOURCE_ACTIONS = {
    "sqs:ReceiveMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueUrl",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
}


def _refs(value: Any) -> list[str]:
    """Logical ids referenced anywhere inside `value` (Ref and Fn::GetAtt)."""
    if isinstance(value, dict):
        found = []
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.append(inner)
            elif key == "Fn::GetAtt":
                found.append(inner[0])
            else:
                found += _refs(inner)
        return found
    if isinstance(value, list):
        return [ref for inner in value for ref in _refs(inner)]
    return []


def _resource_paths(template: dict[str, Any]) -> dict[str, str]:
    """Logical id of each API Gateway resource (and of the root, as "") -> its path."""
    nodes = resources_of(template, "AWS::ApiGateway::Resource")
    paths: dict[str, str] = {}

    def path_of(logical_id: str) -> str:
        if logical_id not in nodes:
            return ""  # the RestApi's root resource
        if logical_id not in paths:
            properties = nodes[logical_id]["Properties"]
            parent = properties["ParentId"]
            parent_id = parent.get("Ref", "<root>")
            paths[logical_id] = f"{path_of(parent_id)}/{properties['PathPart']}"
        return paths[logical_id]

    for logical_id in nodes:
        path_of(logical_id)
    return paths


def _methods(template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    paths = _resource_paths(template)
    methods = {}
    for method in resources_of(template, "AWS::ApiGateway::Method").values():
        properties = method["Properties"]
        resource = properties["ResourceId"]
        path = paths[resource["Ref"]] if "Ref" in resource else "/"
        methods[(properties["HttpMethod"], path)] = properties
    return methods


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The service's functions: those with the core layer (CDK adds one of its own for the custom resource)."""
    return {
        logical_id: function
        for logical_id, function in resources_of(template, "AWS::Lambda::Function").items()
        if "Layers" in function["Properties"]
    }


def test_the_only_other_function_is_cdks_provider_of_the_event_configurations(template: dict[str, Any]) -> None:
    others = set(resources_of(template, "AWS::Lambda::Function")) - set(_functions(template))

    assert len(_functions(template)) == len(wiring.functions())
    assert len(others) == 1
    (custom,) = [resource for resource in template["Resources"].values() if resource["Type"] == "Custom::AWS"]
    assert "updateEventConfigurations" in json.dumps(custom["Properties"]["Create"])


def _function_of_route(template: dict[str, Any], route: wiring.Route) -> str:
    method = _methods(template)[(route.method, route.path)]
    targets = [ref for ref in _refs(method["Integration"]["Uri"]) if ref in _functions(template)]
    assert len(targets) == 1
    return targets[0]


def test_every_declared_route_has_a_method_and_no_method_is_undeclared(template: dict[str, Any]) -> None:
    assert set(_methods(template)) == {(route.method, path) for route in wiring.ROUTES for path in route.paths}


def _function_of_folder(template: dict[str, Any], cdk_out: Path, folder: str) -> str:
    """The logical id of the function whose code asset is lambdas/<folder>."""
    source = (ROOT / "lambdas" / folder / "handler.py").read_text()
    found = [
        logical_id
        for logical_id, function in _functions(template).items()
        if (
            cdk_out / f"asset.{function['Properties']['Code']['S3Key'].removesuffix('.zip')}" / "handler.py"
        ).read_text()
        == source
    ]
    assert len(found) == 1, folder
    return found[0]


def test_every_route_has_its_own_function_built_from_its_handler_folder(
    template: dict[str, Any], cdk_out: Path
) -> None:
    functions = {route.function: _function_of_route(template, route) for route in wiring.ROUTES}

    assert len(set(functions.values())) == len(wiring.ROUTES)
    for name, logical_id in functions.items():
        assert _function_of_folder(template, cdk_out, name) == logical_id


def test_every_consumer_is_fed_by_its_queue_and_reports_partial_failures(
    template: dict[str, Any], cdk_out: Path
) -> None:
    mappings = resources_of(template, "AWS::Lambda::EventSourceMapping").values()

    for consumer in wiring.CONSUMERS:
        function = _function_of_folder(template, cdk_out, consumer.function)
        (mapping,) = [mapping for mapping in mappings if _refs(mapping["Properties"]["FunctionName"]) == [function]]
        assert mapping["Properties"]["BatchSize"] == consumer.batch_size
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        queue = template["Resources"][_refs(mapping["Properties"]["EventSourceArn"])[0]]
        (declared,) = [entry for entry in resources.QUEUES if entry.name == consumer.queue]
        assert queue["Properties"]["RedrivePolicy"]["maxReceiveCount"] == declared.max_receive_count
        assert queue["Properties"]["VisibilityTimeout"] > template["Resources"][function]["Properties"]["Timeout"]


def test_every_dead_letter_queue_has_an_alarm(template: dict[str, Any]) -> None:
    queues = resources_of(template, "AWS::SQS::Queue")
    dead_letter_queues = {
        _refs(queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])[0]
        for queue in queues.values()
        if "RedrivePolicy" in queue["Properties"]
    }
    alarmed = {
        ref
        for alarm in resources_of(template, "AWS::CloudWatch::Alarm").values()
        for dimension in alarm["Properties"].get("Dimensions", [])
        for ref in _refs(dimension["Value"])
    }

    assert dead_letter_queues
    assert dead_letter_queues <= alarmed


def test_operator_routes_require_iam_signatures(template: dict[str, Any]) -> None:
    methods = _methods(template)

    for route in wiring.ROUTES:
        for path in route.paths:
            properties = methods[(route.method, path)]
            if wiring.FAMILY_AUTH[route.family] == "iam":
                assert properties["AuthorizationType"] == "AWS_IAM"
            assert properties["AuthorizationType"] != "NONE" or properties.get("ApiKeyRequired") is True


def test_every_function_is_arm64_python313_with_the_core_layer_tracing_and_json_logs(template: dict[str, Any]) -> None:
    layers = resources_of(template, "AWS::Lambda::LayerVersion")
    log_groups = resources_of(template, "AWS::Logs::LogGroup")
    assert len(layers) == 1
    (layer_id,) = layers

    for properties in (function["Properties"] for function in _functions(template).values()):
        assert properties["Architectures"] == ["arm64"]
        assert properties["Runtime"] == "python3.13"
        assert properties["Handler"] == "handler.lambda_handler"
        assert _refs(properties["Layers"]) == [layer_id]
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert properties["LoggingConfig"]["LogFormat"] == "JSON"
        (log_group,) = _refs(properties["LoggingConfig"]["LogGroup"])
        assert log_groups[log_group]["Properties"]["RetentionInDays"] > 0


def test_the_layer_targets_the_functions_platform(template: dict[str, Any]) -> None:
    (layer,) = resources_of(template, "AWS::Lambda::LayerVersion").values()

    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]


def _statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(role logical id, statement) for every inline policy statement."""
    found = []
    for policy in resources_of(template, "AWS::IAM::Policy").values():
        for role in _refs(policy["Properties"]["Roles"]):
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                found.append((role, statement))
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# Account-level actions with no resource to narrow them to.
ACCOUNT_LEVEL_ACTIONS = {
    "iot:UpdateEventConfigurations",
    "iot:DescribeEndpoint",
    "iot:ListJobs",
    "iot:ListJobTemplates",
}


def test_no_wildcard_actions_or_resources_on_data(template: dict[str, Any]) -> None:
    for _, statement in _statements(template):
        actions = [action for action in _as_list(statement["Action"]) if action not in ACCOUNT_LEVEL_ACTIONS]
        data_actions = [action for action in actions if action.startswith(DATA_SERVICES)]
        assert "*" not in actions
        assert not [action for action in data_actions if "*" in action]
        if data_actions:
            assert "*" not in _as_list(statement["Resource"])


def test_functions_have_no_managed_policies_and_write_only_their_own_logs(template: dict[str, Any]) -> None:
    for function in _functions(template).values():
        (role_id,) = _refs(function["Properties"]["Role"])
        assert "ManagedPolicyArns" not in template["Resources"][role_id]["Properties"]
        (log_group,) = _refs(function["Properties"]["LoggingConfig"]["LogGroup"])
        log_statements = [
            statement
            for owner, statement in _statements(template)
            if owner == role_id and any(action.startswith("logs:") for action in _as_list(statement["Action"]))
        ]
        assert log_statements
        assert all(_refs(statement["Resource"]) == [log_group] for statement in log_statements)


def test_tables_are_on_demand_encrypted_with_point_in_time_recovery(template: dict[str, Any]) -> None:
    tables = resources_of(template, "AWS::DynamoDB::GlobalTable")
    assert len(tables) == len(resources.TABLES)

    for table in tables.values():
        properties = table["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["SSESpecification"]["SSEEnabled"] is True
        for replica in properties["Replicas"]:
            assert replica["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert table["DeletionPolicy"] == "Retain"


def test_tables_have_the_declared_keys_indexes_and_expiry(template: dict[str, Any]) -> None:
    by_key = {
        tuple(key["AttributeName"] for key in table["Properties"]["KeySchema"]): table["Properties"]
        for table in resources_of(template, "AWS::DynamoDB::GlobalTable").values()
    }

    for declared in resources.TABLES:
        key = tuple(name for name in (declared.partition_key, declared.sort_key) if name)
        indexes = {
            index["IndexName"]: (tuple(part["AttributeName"] for part in index["KeySchema"]), index["Projection"])
            for index in by_key[key].get("GlobalSecondaryIndexes", [])
        }
        assert set(indexes) == {index.name for index in declared.indexes}
        for index in declared.indexes:
            keys, projection = indexes[index.name]
            assert keys == tuple(name for name in (index.partition_key, index.sort_key) if name)
            assert projection["ProjectionType"] == (
                "ALL" if index.include is None else "INCLUDE" if index.include else "KEYS_ONLY"
            )
        expiry = by_key[key].get("TimeToLiveSpecification", {})
        assert expiry.get("AttributeName") == declared.expiry_attribute
        assert expiry.get("Enabled", False) is (declared.expiry_attribute is not None)


def test_every_bucket_is_private_encrypted_and_tls_only(template: dict[str, Any]) -> None:
    buckets = resources_of(template, "AWS::S3::Bucket")
    denials = {
        bucket_id: [
            statement
            for policy in resources_of(template, "AWS::S3::BucketPolicy").values()
            if _refs(policy["Properties"]["Bucket"]) == [bucket_id]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if statement["Effect"] == "Deny"
        ]
        for bucket_id in buckets
    }

    for bucket_id, bucket in buckets.items():
        properties = bucket["Properties"]
        assert all(properties["PublicAccessBlockConfiguration"].values())
        assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert any(
            statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for statement in denials[bucket_id]
        )


def test_the_files_bucket_is_versioned_and_its_access_is_logged_to_another_bucket(template: dict[str, Any]) -> None:
    (files_id,) = {
        ref
        for function in _functions(template).values()
        for ref in _refs(function["Properties"]["Environment"]["Variables"][resources.FILES.env])
    }
    properties = template["Resources"][files_id]["Properties"]

    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    (logs_id,) = _refs(properties["LoggingConfiguration"]["DestinationBucketName"])
    assert logs_id != files_id
    assert template["Resources"][logs_id]["Type"] == "AWS::S3::Bucket"


def test_errors_api_gateway_answers_itself_have_the_v1_error_shape(template: dict[str, Any]) -> None:
    responses = {
        response["Properties"]["ResponseType"]: response["Properties"]
        for response in resources_of(template, "AWS::ApiGateway::GatewayResponse").values()
    }

    for response_type in ("DEFAULT_4XX", "DEFAULT_5XX"):
        assert (
            responses[response_type]["ResponseTemplates"]["application/json"]
            == '{"error": $context.error.messageString}'
        )


def test_the_stage_is_throttled_traced_and_access_logged(template: dict[str, Any]) -> None:
    (stage,) = resources_of(template, "AWS::ApiGateway::Stage").values()
    properties = stage["Properties"]

    assert properties["TracingEnabled"] is True
    assert "$context.error.message" in properties["AccessLogSetting"]["Format"]
    (settings,) = properties["MethodSettings"]
    assert settings["ThrottlingRateLimit"] > 0
    assert settings["ThrottlingBurstLimit"] > 0


def test_functions_are_told_the_names_of_every_resource(template: dict[str, Any]) -> None:
    names = {resource.env for resource in resources.ALL}

    for function in _functions(template).values():
        assert names <= set(function["Properties"]["Environment"]["Variables"])


def test_every_declared_iot_rule_delivers_its_events_to_its_queue_and_errors_to_the_dead_letters(
    template: dict[str, Any],
) -> None:
    rules = {
        rule["Properties"]["TopicRulePayload"]["Sql"]: rule
        for rule in resources_of(template, "AWS::IoT::TopicRule").values()
    }
    queues = resources_of(template, "AWS::SQS::Queue")

    assert len(rules) == len(wiring.RULES)
    for declared in wiring.RULES:
        payload = rules[declared.sql]["Properties"]["TopicRulePayload"]
        assert payload["AwsIotSqlVersion"] == "2016-03-23"
        assert payload["RuleDisabled"] is False
        (action,) = payload["Actions"]
        (queue_id,) = _refs(action["Sqs"]["QueueUrl"])
        dead_letters = _refs(queues[queue_id]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        assert _refs(payload["ErrorAction"]["Sqs"]["QueueUrl"]) == dead_letters


def test_thing_group_membership_events_are_enabled_and_only_additions_to_operators_groups_reach_the_joiners(
    template: dict[str, Any], cdk_out: Path
) -> None:
    (custom,) = [resource for resource in template["Resources"].values() if resource["Type"] == "Custom::AWS"]
    call = json.dumps(custom["Properties"]["Create"])
    assert all(f'\\"{name}\\":{{\\"Enabled\\":true}}' in call for name in wiring.EVENT_CONFIGURATIONS), call
    assert "THING_GROUP_MEMBERSHIP" in wiring.EVENT_CONFIGURATIONS
    (rule,) = [
        rule["Properties"]["TopicRulePayload"]
        for rule in resources_of(template, "AWS::IoT::TopicRule").values()
        if "thingGroupMembership" in rule["Properties"]["TopicRulePayload"]["Sql"]
    ]
    assert rule["Sql"] == (
        "SELECT *, topic() AS topic FROM '$aws/events/thingGroupMembership/thingGroup/+/thing/+/added' "
        "WHERE NOT startswith(topic(5), 'command-')"
    )
    (queue_id,) = _refs(rule["Actions"][0]["Sqs"]["QueueUrl"])
    mappings = resources_of(template, "AWS::Lambda::EventSourceMapping").values()
    consumer = _function_of_folder(template, cdk_out, "targets_join")
    (mapping,) = [mapping for mapping in mappings if _refs(mapping["Properties"]["FunctionName"]) == [consumer]]
    assert _refs(mapping["Properties"]["EventSourceArn"]) == [queue_id]


def test_every_schedule_runs_its_function_at_its_rate(template: dict[str, Any], cdk_out: Path) -> None:
    rules = [rule["Properties"] for rule in resources_of(template, "AWS::Events::Rule").values()]

    for schedule in wiring.SCHEDULES:
        function = _function_of_folder(template, cdk_out, schedule.function)
        (rule,) = [rule for rule in rules if any(_refs(target["Arn"]) == [function] for target in rule["Targets"])]
        assert rule["ScheduleExpression"] == f"rate({schedule.every_minutes} minutes)"
        (target,) = rule["Targets"]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] == 0
        assert template["Resources"][function]["Properties"]["ReservedConcurrentExecutions"] == 1


def test_the_status_family_wants_the_stacks_api_key_and_a_bad_key_gets_its_envelope(template: dict[str, Any]) -> None:
    methods = _methods(template)
    keyed = {(route.method, route.path) for route in wiring.ROUTES if wiring.FAMILY_AUTH[route.family] == "api_key"}

    assert keyed == {
        (method, path) for (method, path), properties in methods.items() if properties.get("ApiKeyRequired")
    }
    assert keyed >= {("GET", "/commands/v0/status"), ("PUT", "/commands/v0/status/{id}"), ("GET", "/v2/command-inbox")}
    (plan,) = resources_of(template, "AWS::ApiGateway::UsagePlan").values()
    assert plan["Properties"]["ApiStages"]
    (key,) = resources_of(template, "AWS::ApiGateway::ApiKey").values()
    assert key["Properties"]["Enabled"] is True
    (attachment,) = resources_of(template, "AWS::ApiGateway::UsagePlanKey").values()
    assert attachment["Properties"]["KeyType"] == "API_KEY"
    responses = {
        response["Properties"]["ResponseType"]: response["Properties"]
        for response in resources_of(template, "AWS::ApiGateway::GatewayResponse").values()
    }
    invalid_key = responses["INVALID_API_KEY"]
    assert invalid_key["StatusCode"] == "401"
    assert '"code": 401' in invalid_key["ResponseTemplates"]["application/json"]


def test_alarms_watch_dead_letters_server_errors_and_the_reconciler_and_a_dashboard_shows_them(
    template: dict[str, Any], cdk_out: Path
) -> None:
    alarms = resources_of(template, "AWS::CloudWatch::Alarm")
    rate = [alarm for alarm in alarms.values() if "Metrics" in alarm["Properties"]]
    (server_errors,) = rate
    expressions = [metric.get("Expression", "") for metric in server_errors["Properties"]["Metrics"]]
    assert "IF(requests >= 20, 100 * errors / requests, 0)" in expressions
    names = {
        metric["MetricStat"]["Metric"]["MetricName"]
        for metric in server_errors["Properties"]["Metrics"]
        if "MetricStat" in metric
    }
    assert names == {"5XXError", "Count"}
    reconciler = _function_of_folder(template, cdk_out, "reconcile")
    errors = [
        alarm["Properties"]
        for alarm in alarms.values()
        if alarm["Properties"].get("MetricName") == "Errors"
        and alarm["Properties"]["Dimensions"][0]["Value"] == {"Ref": reconciler}
    ]
    assert len(errors) == 1
    assert errors[0]["Threshold"] == 1
    (dashboard,) = resources_of(template, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for shown in ("ExecutionsStarted", "CommandPublished", "ApproximateAgeOfOldestMessage", "Latency"):
        assert shown in body
    assert len(alarms) == len(resources.QUEUES) + 2  # a dead-letter alarm per queue, server errors, the reconciler
