"""The lifecycle events the service puts on its EventBridge bus: a command's status changed, an execution ended.

Each is put at most once, by the writer whose conditional write made the change (services/lifecycle_events.py).
Its `eventId` is derived from the change itself, so the same change always has the same id and two changes
never share one: a consumer that may see an event twice (EventBridge delivers at least once) drops a repeat.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from commands_core.clock import iso
from commands_core.models import ApiModel, absent_not_null
from commands_core.models.lifecycle import CommandStatus, StatusEvent
from commands_core.models.templates import Delivery

SOURCE = "iot-commands-service"
EndedStatus = Literal["SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "CANCELED", "REMOVED"]

# The namespace of the name-based (version 5) UUIDs that eventIds are; fixed, so that ids are stable.
_IDS = uuid.UUID("6f1c2a8e-4b7d-5e3f-9a10-2c4e6b8d0f13")


class LifecycleEvent(ApiModel):
    """What every lifecycle event carries: its dedup id and when the change happened."""

    DETAIL_TYPE: ClassVar[str]

    event_id: str = Field(description="The same change always has the same id; two changes never share one.")
    command_id: str
    time: datetime = Field(description="When the change happened (ISO 8601, UTC).")

    def detail(self) -> str:
        """The event's detail as EventBridge carries it: JSON, camelCase; an optional field left out when it has no
        value (a field that is always there, such as a draft's delivery, is null)."""
        absent = {
            field.alias or name
            for name, field in type(self).model_fields.items()
            if field.default is None and getattr(self, name) is None
        }
        data = self.model_dump(mode="json", by_alias=True)
        return json.dumps({key: value for key, value in data.items() if key not in absent}, separators=(",", ":"))


class CommandStatusChanged(LifecycleEvent):
    """A command's status changed: published, scheduled, started, paused, resumed, completed, cancelled, deleted."""

    DETAIL_TYPE: ClassVar[str] = "Command Status Changed"

    template_id: str
    delivery: Delivery | None = Field(
        description="The command's delivery; null for a draft, which has none until it is published."
    )
    event: StatusEvent = Field(description="The lifecycle event that changed the status.")
    from_status: CommandStatus = Field(alias="from")
    to_status: CommandStatus = Field(alias="to")
    status_reason: str | None = Field(
        default=None, description="Why the service changed it by itself.", json_schema_extra=absent_not_null
    )
    counts: dict[str, int] = Field(description="The command's executions by status, as the change read them.")

    @staticmethod
    def id_of(command_id: str, created_at: datetime, change: int, event: StatusEvent) -> str:
        """The id of the command's `change`-th status change (from 1), by `event`. Its creation time tells a
        command from an earlier draft of the same id that was deleted."""
        return str(uuid.uuid5(_IDS, f"command/{command_id}/{iso(created_at)}/{change}/{event}"))


class ExecutionEnded(LifecycleEvent):
    """An execution ended: its last attempt reached a terminal status (a failure that is retried is no end)."""

    DETAIL_TYPE: ClassVar[str] = "Execution Ended"

    thing_name: str
    status: EndedStatus = Field(description="The terminal status the execution ended in.")
    attempt: int = Field(ge=1, description="The attempt that ended it (from 1; a retry policy starts others).")
    status_reason: str | None = Field(
        default=None, description="What the device or AWS IoT said of the end.", json_schema_extra=absent_not_null
    )
    delivery: Delivery

    @staticmethod
    def id_of(command_id: str, thing_name: str, attempt: int, status: str) -> str:
        """An execution ends once per attempt, in one status (a TIMED_OUT that AWS IoT set may still become the
        device's late answer: another status, another id)."""
        return str(uuid.uuid5(_IDS, f"execution/{command_id}/{thing_name}/{attempt}/{status}"))


LIFECYCLE_EVENTS: tuple[type[LifecycleEvent], ...] = (CommandStatusChanged, ExecutionEnded)
