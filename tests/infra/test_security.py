"""Security of the deployed stack: who may call each route, what each function may do, cdk-nag and cfn-lint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from commands_core import resources, wiring
from stacks import auth
from tests.infra.conftest import resources_of, synthesize, template_of
from tests.infra.test_stack import EVENT_SOURCE_ACTIONS, _as_list, _function_of_folder, _methods, _refs, _statements

# One synth for the switches away from the defaults: Cognito, the explicit opt-out, and API key + IAM.
SWITCHED = {"v1Auth": "cognito", "jobsAuth": "none", "statusAuth": "api_key+iam"}
POOL_ARN = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Operators"
IOT_ARN = "arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:"


@pytest.fixture(scope="session")
def switched(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return synthesize(tmp_path_factory.mktemp("switched"), SWITCHED)


@pytest.fixture(scope="session")
def switched_template(switched: Any) -> dict[str, Any]:
    return template_of(switched)


def _methods_of(template: dict[str, Any], family: wiring.Family) -> list[dict[str, Any]]:
    methods = _methods(template)
    return [methods[(route.method, path)] for route in wiring.ROUTES if route.family == family for path in route.paths]


def test_by_default_operator_routes_want_iam_and_the_status_family_its_api_key_and_none_is_anonymous(
    template: dict[str, Any],
) -> None:
    for family in ("v1", "jobs"):
        assert {method["AuthorizationType"] for method in _methods_of(template, family)} == {"AWS_IAM"}
    for method in _methods_of(template, "status"):
        assert method["AuthorizationType"] == "NONE"
        assert method["ApiKeyRequired"] is True
    assert not resources_of(template, "AWS::Cognito::UserPool")


def test_cognito_switch_puts_operator_routes_behind_a_user_pool_authorizer_of_a_secure_pool(
    switched_template: dict[str, Any],
) -> None:
    (authorizer_id, authorizer), *others = resources_of(switched_template, "AWS::ApiGateway::Authorizer").items()
    (pool_id, pool), *more_pools = resources_of(switched_template, "AWS::Cognito::UserPool").items()

    assert not others
    assert not more_pools
    assert authorizer["Properties"]["Type"] == "COGNITO_USER_POOLS"
    assert _refs(authorizer["Properties"]["ProviderARNs"]) == [pool_id]
    for method in _methods_of(switched_template, "v1"):
        assert method["AuthorizationType"] == "COGNITO_USER_POOLS"
        assert _refs(method["AuthorizerId"]) == [authorizer_id]
    properties = pool["Properties"]
    assert properties["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert properties["MfaConfiguration"] == "ON"
    assert properties["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12
    assert pool["DeletionPolicy"] == "Retain"


def test_cognito_switch_uses_the_deployers_pool_when_its_arn_is_given(tmp_path: Path) -> None:
    template = template_of(synthesize(tmp_path, {"v1Auth": "cognito", "cognitoUserPoolArn": POOL_ARN}))

    (authorizer,) = resources_of(template, "AWS::ApiGateway::Authorizer").values()
    assert authorizer["Properties"]["ProviderARNs"] == [POOL_ARN]
    assert not resources_of(template, "AWS::Cognito::UserPool")
    assert {method["AuthorizationType"] for method in _methods_of(template, "jobs")} == {"AWS_IAM"}


def test_status_family_can_add_iam_to_its_api_key(switched_template: dict[str, Any]) -> None:
    for method in _methods_of(switched_template, "status"):
        assert method["AuthorizationType"] == "AWS_IAM"
        assert method["ApiKeyRequired"] is True
    assert resources_of(switched_template, "AWS::ApiGateway::UsagePlanKey")


def test_a_family_is_anonymous_only_when_the_deployer_names_none(switched_template: dict[str, Any]) -> None:
    methods = _methods(switched_template)
    anonymous = {
        key
        for key, method in methods.items()
        if method["AuthorizationType"] == "NONE" and not method.get("ApiKeyRequired")
    }

    assert anonymous == {(route.method, path) for route in wiring.JOB_ROUTES for path in route.paths}


@pytest.mark.parametrize(("key", "value"), [("v1Auth", "open"), ("statusAuth", "iam"), ("jobsAuth", "NONE")])
def test_an_unknown_auth_value_stops_the_synth_naming_the_key_and_the_allowed_values(
    key: str, value: str, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=f"context {key}=") as raised:
        synthesize(tmp_path, {key: value})

    family = next(family for family, name in auth.CONTEXT_KEYS.items() if name == key)
    assert key in str(raised.value)
    assert all(mode in str(raised.value) for mode in auth.ALLOWED[family])


def _rendered(value: Any) -> str:
    """A policy resource as text, as cdk-nag shows it: `<Id>` for a Ref, `<Id.Arn>` for a GetAtt."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    separator, parts = value["Fn::Join"]
    return str(separator).join(_rendered(part) for part in parts)


def _condition(statement: dict[str, Any]) -> str:
    condition = {
        operator: {key: sorted(_as_list(values)) for key, values in clauses.items()}
        for operator, clauses in statement.get("Condition", {}).items()
    }
    return json.dumps(condition, sort_keys=True)


def _declared(
    entry: wiring.Route | wiring.Consumer | wiring.Schedule, ids: dict[str, str]
) -> set[tuple[str, str, str]]:
    """(action, resource, condition) for every access the wiring declares for this function."""
    tables = {table.name: table for table in resources.TABLES}
    declared = set()
    for access in entry.access:
        arn = f"<{ids.get(access.resource)}.Arn>"
        for action in access.actions:
            if access.resource in tables:
                declared.add((action, arn, "{}"))
                if action in ("dynamodb:Query", "dynamodb:Scan"):
                    declared |= {
                        (action, f"{arn}/index/{index.name}", "{}") for index in tables[access.resource].indexes
                    }
            elif action == "s3:ListBucket":
                prefixes = json.dumps({"StringLike": {"s3:prefix": sorted(access.scope)}}, sort_keys=True)
                declared.add((action, arn, prefixes))
            elif access.resource == resources.FILES.name:
                declared |= {(action, f"{arn}/{key}", "{}") for key in access.scope}
            elif access.resource == "iot":
                declared |= {(action, "*" if scope == "*" else f"{IOT_ARN}{scope}", "{}") for scope in access.scope}
            else:  # a queue or the presign role
                declared.add((action, arn, "{}"))
    return declared


def test_each_functions_role_allows_exactly_the_actions_and_resources_its_wiring_entry_declares(
    template: dict[str, Any], cdk_out: Path
) -> None:
    statements = _statements(template)

    for entry in wiring.functions():
        function = template["Resources"][_function_of_folder(template, cdk_out, entry.function)]["Properties"]
        variables = function["Environment"]["Variables"]
        ids = {resource.name: _refs(variables[resource.env])[0] for resource in resources.ALL}
        (role,) = _refs(function["Role"])
        granted = {
            (action, _rendered(resource), _condition(statement))
            for owner, statement in statements
            if owner == role
            for action in _as_list(statement["Action"])
            for resource in _as_list(statement["Resource"])
        }
        (log_group,) = _refs(function["LoggingConfig"]["LogGroup"])
        expected = _declared(entry, ids) | {
            ("xray:PutTraceSegments", "*", "{}"),
            ("xray:PutTelemetryRecords", "*", "{}"),
            ("logs:CreateLogStream", f"<{log_group}.Arn>", "{}"),
            ("logs:PutLogEvents", f"<{log_group}.Arn>", "{}"),
        }
        if isinstance(entry, wiring.Consumer):
            expected |= {(action, f"<{ids[entry.queue]}.Arn>", "{}") for action in EVENT_SOURCE_ACTIONS}
        assert granted == expected, entry.function


def _findings(stack: Any) -> list[str]:
    from stacks.checks import checks

    report = checks().validate_scope(stack)
    return [
        f"{violation.rule_name} ({violation.severity}) at {resource.construct_path}"
        for violation in report.violations
        for resource in violation.violating_resources
    ]


def test_cdk_nag_aws_solutions_checks_find_nothing_unacknowledged(stack: Any, switched: Any) -> None:
    assert _findings(stack) == []
    assert _findings(switched) == []


def test_cfn_lint_finds_no_error_in_the_template(stack: Any, cdk_out: Path) -> None:
    from cfnlint.api import lint_file

    matches = lint_file(cdk_out / f"{stack.stack_name}.template.json")

    assert [str(match) for match in matches if match.rule.id.startswith("E")] == []
