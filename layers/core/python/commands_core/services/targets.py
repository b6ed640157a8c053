"""Targets: thing names, thing ARNs, thing-group ARNs and fleet-indexing queries, resolved to things."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from commands_core.errors import InvalidInput, Problems
from commands_core.models.commands import GROUP_ARN, THING_ARN, Clause, TargetQuery

if TYPE_CHECKING:
    from commands_core.models.commands import Command
    from commands_core.services.ports import Ports

MAX_JOB_TARGETS = 100  # AWS IoT CreateJob takes at most 100 targets
MAX_GROUPS = MAX_JOB_TARGETS - 1
_LOOKUP_THREADS = 16
# The thing groups the service makes for its jobs (`command-<commandId>`, filled as things start). They are not
# targets: their membership events are not routed, and a command aimed at one would take another's things.
SERVICE_GROUP_PREFIX = "command-"


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


def unknown(targets: Iterable[str], registry: Registry) -> list[str]:
    """The targets (thing names, thing or thing-group ARNs) AWS IoT has no thing or thing group for, as given,
    each once."""
    given = list(dict.fromkeys(targets))
    with ThreadPoolExecutor(max_workers=_LOOKUP_THREADS) as pool:
        found = list(pool.map(lambda target: _exists(target, registry), given))
    return [target for target, exists in zip(given, found, strict=True) if not exists]


def _exists(target: str, registry: Registry) -> bool:
    """Whether AWS IoT has the target; an ARN of another account, region or partition is not a local one."""
    if match := GROUP_ARN.fullmatch(target):
        return target == registry.group_arn(match.group(1)) and registry.group_exists(match.group(1))
    if match := THING_ARN.fullmatch(target):
        return target == registry.thing_arn(match.group(1)) and registry.thing_exists(match.group(1))
    return registry.thing_exists(target)


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


def select(
    targets: Iterable[str], query: TargetQuery | None, registry: Registry, problems: Problems | None = None
) -> Selection:
    """Checks every target against AWS IoT: unknown things and groups are reported, not dropped.

    InvalidInput (to `problems`) when nothing at all resolves to a thing. Group members and query results are
    only sampled here (one each); the dispatch queue expands them fully, away from the API request.
    """
    problems = problems or Problems()
    parsed = parse(targets, registry)
    fleet, ancestor = None, ancestor_group(query)
    if query:
        with problems.check():
            fleet = fleet_query(query)
    if len(parsed.groups) > MAX_GROUPS:
        problems.add(
            InvalidInput(
                "targets",
                f"may name at most {MAX_GROUPS} thing groups (an AWS IoT job takes {MAX_JOB_TARGETS} targets, and "
                "one is kept for the group of things named one by one)",
            )
        )
    if own := [name for name in parsed.groups if name.startswith(SERVICE_GROUP_PREFIX)]:
        problems.add(
            InvalidInput(
                "targets",
                f"thing group '{own[0]}' is one the service makes for a command's job (every "
                f"'{SERVICE_GROUP_PREFIX}' group is): target the things or the groups they came from",
            )
        )
    if ancestor and not registry.group_exists(ancestor):
        problems.add(InvalidInput("targetQuery.ancestorPath", f"there is no thing group '{ancestor}'"))
        ancestor = None
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
    if fleet or ancestor:
        samples.append(
            registry.search_things(fleet, limit=1) if fleet else registry.group_members(str(ancestor), limit=1)
        )
    with problems.check():  # (the fleet index may refuse the query: a problem too)
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


@dataclass(frozen=True)
class Targets:
    """What a command's targets reach now: the thing groups (which a job may target as they are), the things
    outside them, and every thing, each once."""

    groups: list[str]
    individual: list[str]
    things: list[str]


def known_groups(ports: Ports, command: Command) -> list[str]:
    """The thing groups the command targets that AWS IoT knew when it was published."""
    unknown = set(command.unknown_targets)
    return [name for name in parse(command.targets, ports.registry).groups if f"thinggroup/{name}" not in unknown]


def resolve(ports: Ports, command: Command) -> Targets:
    """Every thing the command reaches now, its unknown targets left out: the expand writes an execution for each,
    a preview counts them. A rerun reaches the things of its source's executions in the statuses it names."""
    if command.rerun_of is not None:
        things = ports.commands.things_in(command.rerun_of.command_id, command.rerun_of.statuses)
        return Targets([], things, things)
    unknown = set(command.unknown_targets)
    named = [name for name in parse(command.targets, ports.registry).things if f"thing/{name}" not in unknown]
    groups = known_groups(ports, command)
    members: dict[str, None] = {}
    for group in groups:
        members.update(dict.fromkeys(ports.registry.group_members(group)))
    found = query_things(command.target_query, ports.registry) if command.target_query else []
    individual = [name for name in dict.fromkeys([*named, *found]) if name not in members]
    return Targets(groups, individual, list(dict.fromkeys([*named, *members, *found])))
