"""The synthesized CloudFormation template: routes, functions, the layer, IAM and storage settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from commands_core import resources, wiring
from tests.infra.conftest import ROOT, resources_of

DATA_SERVICES = ("dynamodb:", "s3:")


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
    return resources_of(template, "AWS::Lambda::Function")


def _function_of_route(template: dict[str, Any], route: wiring.Route) -> str:
    method = _methods(template)[(route.method, route.path)]
    targets = [ref for ref in _refs(method["Integration"]["Uri"]) if ref in _functions(template)]
    assert len(targets) == 1
    return targets[0]


def test_every_declared_route_has_a_method_and_no_method_is_undeclared(template: dict[str, Any]) -> None:
    assert set(_methods(template)) == {(route.method, route.path) for route in wiring.ROUTES}


def test_every_route_has_its_own_function_built_from_its_handler_folder(
    template: dict[str, Any], cdk_out: Path
) -> None:
    functions = {route.function: _function_of_route(template, route) for route in wiring.ROUTES}

    assert len(set(functions.values())) == len(wiring.ROUTES)
    for name, logical_id in functions.items():
        asset = template["Resources"][logical_id]["Properties"]["Code"]["S3Key"].removesuffix(".zip")
        staged = cdk_out / f"asset.{asset}" / "handler.py"
        assert staged.read_text() == (ROOT / "lambdas" / name / "handler.py").read_text()


def test_operator_routes_require_iam_signatures(template: dict[str, Any]) -> None:
    methods = _methods(template)

    for route in wiring.ROUTES:
        properties = methods[(route.method, route.path)]
        if wiring.auth_of(route) == "iam":
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


def test_no_wildcard_actions_or_resources_on_data(template: dict[str, Any]) -> None:
    for _, statement in _statements(template):
        actions = _as_list(statement["Action"])
        data_actions = [action for action in actions if action.startswith(DATA_SERVICES)]
        assert "*" not in actions
        assert not [action for action in data_actions if "*" in action]
        if data_actions:
            assert "*" not in _as_list(statement["Resource"])


def test_each_function_may_do_only_what_its_route_declares(template: dict[str, Any]) -> None:
    statements = _statements(template)

    for route in wiring.ROUTES:
        function = template["Resources"][_function_of_route(template, route)]
        (role,) = _refs(function["Properties"]["Role"])
        granted = {
            action
            for owner, statement in statements
            if owner == role
            for action in _as_list(statement["Action"])
            if action.startswith(DATA_SERVICES)
        }
        assert granted == {action for access in route.access for action in access.actions}


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


def test_tables_have_the_declared_keys_and_indexes(template: dict[str, Any]) -> None:
    by_key = {
        tuple(key["AttributeName"] for key in table["Properties"]["KeySchema"]): table["Properties"]
        for table in resources_of(template, "AWS::DynamoDB::GlobalTable").values()
    }

    for declared in resources.TABLES:
        key = tuple(name for name in (declared.partition_key, declared.sort_key) if name)
        indexes = {index["IndexName"] for index in by_key[key].get("GlobalSecondaryIndexes", [])}
        assert indexes == {index.name for index in declared.indexes}


def test_the_files_bucket_is_private_encrypted_versioned_and_tls_only(template: dict[str, Any]) -> None:
    (bucket_id, bucket), *_ = resources_of(template, "AWS::S3::Bucket").items()
    properties = bucket["Properties"]

    assert all(properties["PublicAccessBlockConfiguration"].values())
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    policies = [
        policy
        for policy in resources_of(template, "AWS::S3::BucketPolicy").values()
        if _refs(policy["Properties"]["Bucket"]) == [bucket_id]
    ]
    denials = [
        statement
        for policy in policies
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny"
    ]
    assert any(statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for statement in denials)


def test_functions_are_told_the_names_of_every_resource(template: dict[str, Any]) -> None:
    names = {resource.env for resource in resources.ALL}

    for function in _functions(template).values():
        assert names <= set(function["Properties"]["Environment"]["Variables"])
