"""The simulated fleet's things: sim-001... (FLEET_SIZE) in the thing group `simulated`, each with the
attribute simBehavior (succeed by default) that says how it answers."""

from __future__ import annotations

from typing import Any

GROUP = "simulated"


def thing_name(number: int) -> str:
    return f"sim-{number:03d}"


def create(iot: Any, size: int) -> list[str]:
    """The things and their group; things that exist already are kept as they are."""
    existing = {group["groupName"] for group in iot.list_thing_groups()["thingGroups"]}
    if GROUP not in existing:
        iot.create_thing_group(
            thingGroupName=GROUP, thingGroupProperties={"thingGroupDescription": "The simulated fleet"}
        )
    names = [thing_name(number) for number in range(1, size + 1)]
    for name in names:
        try:
            iot.describe_thing(thingName=name)
        except iot.exceptions.ResourceNotFoundException:
            iot.create_thing(thingName=name, attributePayload={"attributes": {"simBehavior": "succeed"}})
        iot.add_thing_to_thing_group(thingGroupName=GROUP, thingName=name)
    return names
