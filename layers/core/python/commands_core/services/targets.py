"""Targets: thing names, thing ARNs, thing-group ARNs and fleet-indexing queries, resolved to things."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from commands_core.errors import InvalidInput
from commands_core.models.commands import GROUP_ARN, THING_ARN, Clause, TargetQuery

MAX_JOB_TARGETS = 100  # AWS IoT CreateJob takes at most 100 targets
MAX_GROUPS = MAX_JOB_TARGETS - 1
_LOOKUP_THREADS = 16


class Registry(Protocol):
    """The AWS IoT registry and fleet index, as target resolution needs them."""

    def thing_exists(self, thing_name: str) -> bool: ...
    def group_exists(self, group_name: str) -> bool: ...
    def group_members(self, group_name: str, limit: int | None = None) -> Iterator[str]: ...
    def ancestors(self, group_name: str) -> list[str]: ...
    def search_things(self, query: str, limit: int | None = None) -> Iterator[str]: ...
    def thing_arn(self, thing_name: str) -> str: ...
    def group_arn(self, group_name: str) -> str: ...


@dataclass(frozen=True)
class Selection:
    """What a command targets: things by name, thing groups by name, and a query."""

    things: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    query: TargetQuery | None = None
    unknown: tuple[str, ...] = field(default=())


def parse(targets: Iterable[str], registry: Registry | None = None) -> Selection:
    """Names from thing names, thing ARNs and group ARNs (already checked by the model), de-duplicated. With a
    registry, an ARN of another account, region or partition is not taken for a local thing: it is unknown."""
    things: dict[str, None] = {}
    groups: dict[str, None] = {}
    foreign: dict[str, None] = {}
    for target in targets:
        if match := GROUP_ARN.fullmatch(target):
            name, kind, names = match.group(1), "group", groups
        elif match := THING_ARN.fullmatch(target):
            name, kind, names = match.group(1), "thing", things
        else:
            things[target] = None
            continue
        local = registry is None or target == (
            registry.group_arn(name) if kind == "group" else registry.thing_arn(name)
        )
        (names if local else foreign)[name if local else target] = None
    return Selection(tuple(things), tuple(groups), unknown=tuple(foreign))


# The API contract's comparison operators, as fleet-indexing query syntax.
_OPERATORS = {"eq": ":", "neq": ":", "lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "starts_with": ":"}
_BUILT_IN_FIELDS = {"thingName", "thingTypeName", "thingGroupNames", "thingId"}
_BUILT_IN_PREFIXES = ("attributes.", "shadow.", "connectivity.", "registry.")
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_.+][A-Za-z0-9_.+-]*")
_UNSUPPORTED = re.compile(r"[`@#%\\/';,\"]")  # characters the query syntax has no way to express in a value
_RESERVED = {"AND", "OR", "NOT"}
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")  # [0-9]: \d would take any Unicode digit
MAX_TERMS = 12  # AWS IoT's limit on the terms of one fleet-indexing query


def fleet_query(query: TargetQuery) -> str | None:
    """The fleet-indexing query for the API contract's targetQuery (every clause must hold); None when the query is only
    an ancestorPath, which is resolved as thing-group membership instead (see `ancestor_group`)."""
    terms: list[str] = []
    if query.types:
        terms.append(_any_of("thingTypeName", query.types))
    for operator, symbol in _OPERATORS.items():
        for position, clause in enumerate(getattr(query, operator)):
            location = f"targetQuery.{_camel(operator)}.{position}"
            terms.append(_term(clause, operator, symbol, location))
    if not terms and not query.ancestor_path:
        raise InvalidInput("targetQuery", "must have at least one of types, ancestorPath or a comparison")
    if (count := len(query.types) + sum(len(getattr(query, operator)) for operator in _OPERATORS)) > MAX_TERMS:
        raise InvalidInput("targetQuery", f"has {count} terms; AWS IoT takes at most {MAX_TERMS} in one query")
    return " AND ".join(terms) or None


def ancestor_group(query: TargetQuery | None) -> str | None:
    """The thing group of the API contract's ancestorPath: its last segment. AWS IoT's hierarchy is thing groups, and
    the fleet index knows only a thing's direct groups, so the group is expanded recursively instead."""
    if query is None or not query.ancestor_path:
        return None
    return query.ancestor_path.strip("/").split("/")[-1]


def _term(clause: Clause, operator: str, symbol: str, location: str) -> str:
    if clause.traversals:
        raise InvalidInput(
            f"{location}.traversals",
            "relation traversals need an asset graph, which AWS IoT does not have; "
            "target the things, their thing groups or their attributes instead",
        )
    builtin = clause.field in _BUILT_IN_FIELDS or clause.field.startswith(_BUILT_IN_PREFIXES)
    name = clause.field if builtin else f"attributes.{clause.field}"
    if operator in ("lt", "lte", "gt", "gte"):
        if not _NUMBER.fullmatch(clause.value):
            raise InvalidInput(f"{location}.value", "must be a number for a range comparison")
        return f"{name}{symbol}{clause.value}"
    if _UNSUPPORTED.search(clause.value):
        raise InvalidInput(f"{location}.value", "may not hold any of ` @ # % \\ / ' ; , \" (AWS IoT query syntax)")
    if operator == "starts_with":
        if not _plain(clause.value):
            raise InvalidInput(f"{location}.value", "may hold only letters, digits and _ . + - for startsWith")
        return f"{name}:{clause.value}*"
    return f"{'NOT ' if operator == 'neq' else ''}{name}:{_value(clause.value)}"


def _plain(value: str) -> bool:
    return bool(_PLAIN_VALUE.fullmatch(value)) and value.upper() not in _RESERVED


def _value(value: str) -> str:
    """A value as a query term holds it: quoted unless plain (no syntax, no reserved word, no leading -)."""
    return value if _plain(value) else f'"{value}"'


def _any_of(name: str, values: list[str]) -> str:
    alternatives = " OR ".join(f"{name}:{_value(value)}" for value in values)
    return alternatives if len(values) == 1 else f"({alternatives})"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def select(targets: Iterable[str], query: TargetQuery | None, registry: Registry) -> Selection:
    """Checks every target against AWS IoT: unknown things and groups are reported, not dropped.

    InvalidInput when nothing at all resolves to a thing. Group members and query results are only sampled
    here (one each); the dispatch queue expands them fully, away from the API request.
    """
    parsed = parse(targets, registry)
    fleet = fleet_query(query) if query else None
    ancestor = ancestor_group(query)
    if len(parsed.groups) > MAX_GROUPS:
        raise InvalidInput(
            "targets",
            f"may name at most {MAX_GROUPS} thing groups (an AWS IoT job takes {MAX_JOB_TARGETS} targets, and one "
            "is kept for the group of things named one by one)",
        )
    if ancestor and not registry.group_exists(ancestor):
        raise InvalidInput("targetQuery.ancestorPath", f"there is no thing group '{ancestor}'")
    with ThreadPoolExecutor(max_workers=_LOOKUP_THREADS) as pool:
        things_known = list(pool.map(registry.thing_exists, parsed.things))
        groups_known = list(pool.map(registry.group_exists, parsed.groups))
    things = tuple(name for name, known in zip(parsed.things, things_known, strict=True) if known)
    groups = tuple(name for name, known in zip(parsed.groups, groups_known, strict=True) if known)
    unknown = tuple(
        list(parsed.unknown)
        + [f"thing/{name}" for name, known in zip(parsed.things, things_known, strict=True) if not known]
        + [f"thinggroup/{name}" for name, known in zip(parsed.groups, groups_known, strict=True) if not known]
    )
    samples = [registry.group_members(group, limit=1) for group in groups]
    if query:
        samples.append(
            registry.search_things(fleet, limit=1) if fleet else registry.group_members(str(ancestor), limit=1)
        )
    if not things and not _any(samples):
        detail = f" (unknown: {', '.join(unknown)})" if unknown else ""
        raise InvalidInput("targets", f"no target resolves to a thing{detail}")
    return Selection(things, groups, query, unknown)


def _any(iterators: Iterable[Iterator[str]]) -> bool:
    return any(next(iterator, None) is not None for iterator in iterators)


def query_things(query: TargetQuery, registry: Registry) -> list[str]:
    """The things a targetQuery reaches: the fleet index's answer, within the ancestor group if one is given."""
    fleet = fleet_query(query)
    ancestor = ancestor_group(query)
    if ancestor is None:
        return list(dict.fromkeys(registry.search_things(str(fleet))))
    members = list(dict.fromkeys(registry.group_members(ancestor)))
    if fleet is None:
        return members
    inside = set(members)
    return [name for name in dict.fromkeys(registry.search_things(fleet)) if name in inside]
