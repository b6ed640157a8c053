"""AWS IoT registry events as the topic rule delivers them to the membership queue, parsed before anything reads
them: `$aws/events/thingGroupMembership/thingGroup/<group>/thing/<thing>/added` (and `/removed`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, TypeAdapter
from pydantic_core import PydanticCustomError

from commands_core.models import ApiModel
from commands_core.models.commands import GROUP_ARN
from commands_core.models.events import EpochMillis, ThingArn


def _group_name(arn: str) -> str:
    match = GROUP_ARN.fullmatch(arn)
    if match is None:
        raise PydanticCustomError("not_a_group", "is not the ARN of an AWS IoT thing group")
    return match.group(1)


class MembershipEvent(ApiModel):
    """A thing was added to (or removed from) a thing group. Only the fields the service uses are declared."""

    event_type: Literal["THING_GROUP_MEMBERSHIP_EVENT"]
    event_id: str | None = None
    operation: Annotated[Literal["ADDED", "REMOVED"], BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v)]
    group_name: Annotated[str, AfterValidator(_group_name)] = Field(alias="groupArn")
    thing_name: ThingArn = Field(alias="thingArn")
    timestamp: EpochMillis


MEMBERSHIP: TypeAdapter[MembershipEvent] = TypeAdapter(MembershipEvent)
VALIDATION_REASONS = frozenset({"not_a_thing", "not_a_group", "bad_timestamp"})
"""The error types above: why an event that fails validation with one of them is dropped (else malformed)."""
