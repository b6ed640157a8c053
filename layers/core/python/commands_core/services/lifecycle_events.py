"""The lifecycle events (models/lifecycle_events.py), told by the writer whose conditional write made the change.

A command's status changes by one conditional write (the repository's `move`, or the put that publishes or
creates it): of two writers at once only one wins, and only it tells. An execution's report is applied by one
conditional transaction (services/transitions.py): a duplicate, stale or stray report, or one that lost a race,
writes nothing and tells nothing. So each change is put on the bus at most once.

An execution has ended when it reaches a terminal status that stays: a failure that its command's retry policy
retries is not an end (its next attempt begins in the same write), the failure that ends its last attempt is.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from commands_core.models.lifecycle_events import CommandStatusChanged, ExecutionEnded

if TYPE_CHECKING:
    from commands_core.models.commands import Command
    from commands_core.models.executions import Report
    from commands_core.models.lifecycle import CommandStatus, StatusEvent
    from commands_core.models.templates import Delivery
    from commands_core.services.ports import EventPublisher


def command_changed(
    events: EventPublisher,
    command: Command,
    event: StatusEvent,
    *,
    from_status: CommandStatus,
    at: datetime,
    change: int,
    reason: str | None = None,
) -> None:
    """The command (as written, for what it carries: template, delivery, counts) moved from `from_status` by
    `event`, its `change`-th status change."""
    events.put(
        CommandStatusChanged(
            event_id=CommandStatusChanged.id_of(command.command_id, command.created_at, change, event),
            command_id=command.command_id,
            template_id=command.template_id,
            delivery=command.delivery,
            event=event,
            status_reason=reason,
            counts={status: count for status, count in command.counts.items() if count},
            time=at,
            **{"from": from_status, "to": command.status},  # (by alias: `from` is a keyword)
        )
    )


def execution_ended(events: EventPublisher, delivery: Delivery | None, report: Report, attempt: int) -> None:
    """The report ended the execution's `attempt`, and with it the execution, of a command delivered by
    `delivery`."""
    if delivery is None:  # (a command with executions is published: it has one)
        return
    events.put(
        ExecutionEnded(
            event_id=ExecutionEnded.id_of(report.command_id, report.thing_name, attempt, report.status),
            command_id=report.command_id,
            thing_name=report.thing_name,
            status=report.status,  # type: ignore[arg-type]  # the caller tells only terminal statuses
            attempt=attempt,
            status_reason=report.reason,
            delivery=delivery,
            time=report.at,
        )
    )
