from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

import pytest

from commands_core.errors import InvalidInput
from commands_core.models.commands import TargetQuery
from commands_core.services.targets import (
    MAX_GROUPS,
    MAX_JOB_TARGETS,
    MAX_TERMS,
    ancestor_group,
    fleet_query,
    parse,
    query_things,
    select,
)
from commands_core.validation import parse as parse_model

ARN = "arn:aws:iot:eu-west-1:123456789012"


def thing_arn(name: str) -> str:
    return f"{ARN}:thing/{name}"


def group_arn(name: str) -> str:
    return f"{ARN}:thinggroup/{name}"


def no_results(query: str) -> list[str]:
    return []


class FakeRegistry:
    """AWS IoT's registry and fleet index, in memory."""

    def __init__(
        self,
        things: Iterable[str] = (),
        groups: dict[str, list[str]] | None = None,
        search: Callable[[str], list[str]] = no_results,
    ) -> None:
        self.things = set(things)
        self.groups = groups or {}
        self.search = search

    def thing_exists(self, thing_name: str) -> bool:
        return thing_name in self.things

    def group_exists(self, group_name: str) -> bool:
        return group_name in self.groups

    def group_members(self, group_name: str, limit: int | None = None) -> Iterator[str]:
        return islice(iter(self.groups[group_name]), limit)

    def search_things(self, query: str, limit: int | None = None) -> Iterator[str]:
        return islice(iter(self.search(query)), limit)

    def ancestors(self, group_name: str) -> list[str]:
        return []

    def thing_arn(self, thing_name: str) -> str:
        return thing_arn(thing_name)

    def group_arn(self, group_name: str) -> str:
        return group_arn(group_name)


def target_query(**data: Any) -> TargetQuery:
    return parse_model(TargetQuery, data)


# fleet_query


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        (["sensor"], "thingTypeName:sensor"),
        (["sensor", "gateway"], "(thingTypeName:sensor OR thingTypeName:gateway)"),
        (["a", "b", "c"], "(thingTypeName:a OR thingTypeName:b OR thingTypeName:c)"),
    ],
)
def test_types_match_any_of_the_thing_types(types: list[str], expected: str) -> None:
    assert fleet_query(target_query(types=types)) == expected


@pytest.mark.parametrize("path", ["/site/area", "site/area", "/site/area/", "/area"])
def test_an_ancestor_path_targets_the_thing_group_of_its_last_segment_not_a_query_term(path: str) -> None:
    query = target_query(ancestorPath=path)

    assert ancestor_group(query) == "area"
    assert fleet_query(query) is None


def test_an_ancestor_path_reaches_members_of_sub_groups_and_narrows_other_clauses() -> None:
    # Given a group whose (recursive) members include only some of what the index finds
    registry = FakeRegistry(groups={"area": ["in-1", "in-2"]}, search=lambda query: ["out-1", "in-2"])

    # Then the ancestor alone reaches every member, and with a clause only the members the index finds
    assert query_things(target_query(ancestorPath="/site/area"), registry) == ["in-1", "in-2"]
    both = target_query(ancestorPath="/site/area", eq=[{"field": "colour", "value": "red"}])
    assert query_things(both, registry) == ["in-2"]


def test_more_terms_than_aws_iot_takes_are_rejected() -> None:
    clauses = [{"field": f"f{index}", "value": "1"} for index in range(MAX_TERMS + 1)]

    with pytest.raises(InvalidInput) as raised:
        fleet_query(target_query(eq=clauses[:10], neq=clauses[10:]))

    assert raised.value.field == "targetQuery"
    assert fleet_query(target_query(eq=clauses[:MAX_TERMS])) is not None


def test_eq_on_a_plain_field_compares_a_thing_attribute() -> None:
    query = target_query(eq=[{"field": "colour", "value": "red"}])

    assert fleet_query(query) == "attributes.colour:red"


@pytest.mark.parametrize(
    "field",
    [
        "thingName",
        "thingTypeName",
        "thingGroupNames",
        "attributes.colour",
        "shadow.reported.temp",
        "connectivity.connected",
    ],
)
def test_built_in_fields_are_not_prefixed(field: str) -> None:
    query = target_query(eq=[{"field": field, "value": "x"}])

    assert fleet_query(query) == f"{field}:x"


def test_neq_negates_the_comparison() -> None:
    query = target_query(neq=[{"field": "colour", "value": "red"}, {"field": "thingName", "value": "t1"}])

    assert fleet_query(query) == "NOT attributes.colour:red AND NOT thingName:t1"


@pytest.mark.parametrize(
    ("operator", "symbol"),
    [("lt", "<"), ("lte", "<="), ("gt", ">"), ("gte", ">=")],
)
@pytest.mark.parametrize("number", ["5", "0", "-2", "21.75", "-0.5"])
def test_range_comparisons_take_numbers(operator: str, symbol: str, number: str) -> None:
    query = target_query(**{operator: [{"field": "temp", "value": number}]})

    assert fleet_query(query) == f"attributes.temp{symbol}{number}"


@pytest.mark.parametrize("operator", ["lt", "lte", "gt", "gte"])
@pytest.mark.parametrize("value", ["warm", "5 OR thingName:x", "1.", ".5", "1e3", "0x10", "5*"])
def test_a_range_comparison_with_a_non_number_is_rejected_naming_the_clause(operator: str, value: str) -> None:
    # Given a range comparison whose second clause is not a number
    query = target_query(**{operator: [{"field": "temp", "value": "1"}, {"field": "temp", "value": value}]})

    # When it is translated
    with pytest.raises(InvalidInput) as raised:
        fleet_query(query)

    # Then the error names that clause's value
    assert raised.value.field == f"targetQuery.{operator}.1.value"


def test_starts_with_is_a_prefix_search() -> None:
    query = target_query(startsWith=[{"field": "model", "value": "x100"}])

    assert fleet_query(query) == "attributes.model:x100*"


@pytest.mark.parametrize("value", ["two words", 'quo"te', "star*", "a:b"])
def test_starts_with_a_value_that_cannot_be_a_prefix_is_rejected(value: str) -> None:
    query = target_query(startsWith=[{"field": "model", "value": value}])

    with pytest.raises(InvalidInput) as raised:
        fleet_query(query)

    assert raised.value.field == "targetQuery.startsWith.0.value"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("big room", 'attributes.place:"big room"'),
        ("x OR thingName:*", 'attributes.place:"x OR thingName:*"'),
        ("a:b", 'attributes.place:"a:b"'),
        ("NOT", 'attributes.place:"NOT"'),
        ("-5", 'attributes.place:"-5"'),
    ],
)
def test_a_value_with_spaces_syntax_or_a_reserved_word_is_quoted(value: str, expected: str) -> None:
    query = target_query(eq=[{"field": "place", "value": value}])

    assert fleet_query(query) == expected


def test_a_neq_value_with_spaces_is_quoted_too() -> None:
    query = target_query(neq=[{"field": "place", "value": "big room"}])

    assert fleet_query(query) == 'NOT attributes.place:"big room"'


def test_every_part_of_a_query_must_hold() -> None:
    # Given a query using every kind of condition
    query = target_query(
        types=["sensor", "gateway"],
        ancestorPath="/site/area",
        eq=[{"field": "colour", "value": "red"}],
        neq=[{"field": "status", "value": "retired"}],
        gte=[{"field": "firmware", "value": "3"}],
        startsWith=[{"field": "model", "value": "x1"}],
    )

    # When it is translated
    translated = fleet_query(query)

    # Then the conditions are joined with AND
    assert translated == (
        "(thingTypeName:sensor OR thingTypeName:gateway) AND attributes.colour:red"
        " AND NOT attributes.status:retired AND attributes.firmware>=3 AND attributes.model:x1*"
    )


@pytest.mark.parametrize("operator", ["eq", "neq", "lt", "lte", "gt", "gte", "startsWith"])
def test_relation_traversals_are_rejected_as_needing_an_asset_graph(operator: str) -> None:
    # Given a clause that follows asset-library relations
    traversal = [{"relationship": "located_at", "direction": "out"}]
    query = target_query(**{operator: [{"field": "a", "value": "1", "traversals": traversal}]})

    # When it is translated
    with pytest.raises(InvalidInput) as raised:
        fleet_query(query)

    # Then the error names the traversals and says why
    assert raised.value.field.endswith(".traversals")
    assert raised.value.field == f"targetQuery.{operator}.0.traversals"
    assert "asset graph" in raised.value.reason
    assert "AWS IoT" in raised.value.reason


def test_an_empty_query_is_rejected() -> None:
    with pytest.raises(InvalidInput) as raised:
        fleet_query(target_query())

    assert raised.value.field == "targetQuery"


# parse


def test_thing_names_thing_arns_and_group_arns_are_split_and_de_duplicated() -> None:
    # Given targets naming the same things and groups several ways
    targets = [
        "t1",
        thing_arn("t2"),
        group_arn("g1"),
        thing_arn("t1"),
        "t2",
        group_arn("g1"),
        "arn:aws-cn:iot:cn-north-1:123456789012:thinggroup/g2",
        "g1",
    ]

    # When they are parsed
    selection = parse(targets)

    # Then things and groups are told apart, each once, in first-seen order
    assert selection.things == ("t1", "t2", "g1")
    assert selection.groups == ("g1", "g2")
    assert selection.query is None


# select


def test_select_reports_unknown_things_and_groups_and_keeps_the_known_ones() -> None:
    # Given a registry that knows some of the targets
    registry = FakeRegistry(things={"t1"}, groups={"g1": ["m1"]})

    # When targets are selected
    selection = select(["t1", "ghost", group_arn("g1"), thing_arn("phantom"), group_arn("nogroup")], None, registry)

    # Then the known ones are kept and the rest are reported by kind
    assert selection.things == ("t1",)
    assert selection.groups == ("g1",)
    assert selection.unknown == ("thing/ghost", "thing/phantom", "thinggroup/nogroup")


def test_select_keeps_a_query_the_fleet_index_answers() -> None:
    registry = FakeRegistry(search=lambda query: ["s1"] if query == "attributes.colour:red" else [])
    query = target_query(eq=[{"field": "colour", "value": "red"}])

    selection = select([], query, registry)

    assert selection.query == query
    assert selection.things == ()


@pytest.mark.parametrize("value", ['say "hi"', "back\\slash", "a/b", "user@host", "50%", "it's", "a;b", "a,b", "#1"])
def test_a_value_the_query_syntax_cannot_express_is_rejected(value: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        fleet_query(target_query(eq=[{"field": "place", "value": value}]))

    assert raised.value.field == "targetQuery.eq.0.value"


def test_an_unknown_ancestor_group_is_rejected() -> None:
    with pytest.raises(InvalidInput) as raised:
        select([], target_query(ancestorPath="/nowhere"), FakeRegistry())

    assert raised.value.field == "targetQuery.ancestorPath"


def test_select_rejects_targets_when_nothing_resolves_and_names_the_unknown_ones() -> None:
    registry = FakeRegistry(things={"other"})

    with pytest.raises(InvalidInput) as raised:
        select(["ghost", group_arn("nogroup")], None, registry)

    assert raised.value.field == "targets"
    assert "thing/ghost" in raised.value.reason
    assert "thinggroup/nogroup" in raised.value.reason


@pytest.mark.parametrize(
    ("targets", "query"),
    [
        pytest.param([group_arn("empty")], None, id="empty-group"),
        pytest.param([], {"types": ["sensor"]}, id="query-without-results"),
        pytest.param([group_arn("empty")], {"types": ["sensor"]}, id="both"),
        pytest.param([], None, id="no-targets"),
    ],
)
def test_select_rejects_targets_that_reach_no_thing(targets: list[str], query: dict[str, Any] | None) -> None:
    registry = FakeRegistry(groups={"empty": []})

    with pytest.raises(InvalidInput) as raised:
        select(targets, target_query(**query) if query else None, registry)

    assert raised.value.field == "targets"


@pytest.mark.parametrize(
    ("targets", "query"),
    [
        pytest.param(["t1", group_arn("empty")], None, id="known-thing"),
        pytest.param([group_arn("empty"), group_arn("full")], None, id="group-with-members"),
        pytest.param([group_arn("empty")], {"types": ["sensor"]}, id="query-with-results"),
    ],
)
def test_select_accepts_an_empty_group_when_something_else_reaches_a_thing(
    targets: list[str], query: dict[str, Any] | None
) -> None:
    registry = FakeRegistry(
        things={"t1"},
        groups={"empty": [], "full": ["m1"]},
        search=lambda q: ["s1"] if q == "thingTypeName:sensor" else [],
    )

    selection = select(targets, target_query(**query) if query else None, registry)

    assert "empty" in selection.groups


def test_select_rejects_more_thing_groups_than_a_job_takes() -> None:
    names = [f"g{index}" for index in range(MAX_GROUPS + 1)]
    registry = FakeRegistry(groups={name: ["m"] for name in names})

    with pytest.raises(InvalidInput) as raised:
        select([group_arn(name) for name in names], None, registry)

    assert raised.value.field == "targets"
    assert str(MAX_JOB_TARGETS) in raised.value.reason


def test_select_accepts_as_many_thing_groups_as_a_job_takes_beside_the_commands_own_group() -> None:
    names = [f"g{index}" for index in range(MAX_GROUPS)]
    registry = FakeRegistry(groups={name: ["m"] for name in names})

    selection = select([group_arn(name) for name in names], None, registry)

    assert selection.groups == tuple(names)


def test_an_arn_of_another_account_or_region_is_unknown_not_taken_for_a_local_thing() -> None:
    registry = FakeRegistry(things={"dev-1"}, groups={"g1": ["dev-1"]})
    elsewhere = "arn:aws:iot:us-west-2:999999999999"

    selection = select(["dev-1", f"{elsewhere}:thing/dev-1", f"{elsewhere}:thinggroup/g1"], None, registry)

    assert selection.things == ("dev-1",)
    assert selection.groups == ()
    assert selection.unknown == (f"{elsewhere}:thing/dev-1", f"{elsewhere}:thinggroup/g1")


def test_select_counts_a_repeated_group_once_against_the_limit() -> None:
    registry = FakeRegistry(groups={"g1": ["m"]})

    selection = select([group_arn("g1")] * (MAX_JOB_TARGETS + 1), None, registry)

    assert selection.groups == ("g1",)
