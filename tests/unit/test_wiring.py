"""The wiring declaration is consistent with the handlers, the resources and the settings."""

from pathlib import Path

from commands_core import resources, wiring
from commands_core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_function_has_a_handler_folder_and_every_handler_folder_a_function() -> None:
    folders = {path.parent.name for path in (ROOT / "lambdas").glob("*/handler.py")}

    assert folders == {function.function for function in wiring.functions()}


def test_each_function_serves_one_route_and_each_method_and_path_is_declared_once() -> None:
    functions = [function.function for function in wiring.functions()]
    endpoints = [(route.method, path) for route in wiring.ROUTES for path in route.paths]

    assert len(set(functions)) == len(functions)
    assert len(set(endpoints)) == len(endpoints)


def test_each_handler_registers_the_route_the_wiring_declares_for_it() -> None:
    for route in wiring.ROUTES:
        source = (ROOT / "lambdas" / route.function / "handler.py").read_text()
        assert f'http.route(app, "{route.function}")' in source


def test_functions_only_reach_declared_resources_with_named_actions() -> None:
    names = {resource.name for resource in resources.ALL} | {"iot"}

    for function in wiring.functions():
        for access in function.access:
            assert access.resource in names
            assert access.actions
            assert not any("*" in action for action in access.actions)
            assert access.resource != "iot" or access.scope, "IoT access names its resource types"


def test_consumers_read_declared_queues() -> None:
    queues = {queue.name for queue in resources.QUEUES}

    assert all(consumer.queue in queues for consumer in wiring.CONSUMERS)


def test_the_required_settings_are_exactly_the_variables_the_resources_declare() -> None:
    required = {field.alias for field in Settings.model_fields.values() if field.is_required()}

    assert required == {resource.env for resource in resources.ALL}


def test_resolver_rules_use_the_powertools_syntax() -> None:
    route = wiring.route("templates_get")

    assert route.resolver_rules == ("/templates/<templateId>",)


def test_the_membership_rule_takes_additions_to_operators_groups_not_to_the_services_own() -> None:
    (rule,) = [rule for rule in wiring.RULES if rule.queue == "membership"]
    topic = "$aws/events/thingGroupMembership/thingGroup/{}/thing/t-1/added"

    assert rule.takes(topic.format("site"))
    assert not rule.takes(topic.format("command-ota-42"))  # a job's own group, which every job start fills
    assert rule.sql.endswith("WHERE NOT startswith(topic(5), 'command-')")
    assert "THING_GROUP_MEMBERSHIP" in wiring.EVENT_CONFIGURATIONS
