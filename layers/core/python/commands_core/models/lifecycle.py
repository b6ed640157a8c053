"""The two state machines of a command, declared once: its status, which the API shows, and its dispatch step,
which says how far the dispatch queue has taken a published command. Every change of either names the event
that causes it; the repository writes it under the condition that the command is still in a state the event
leaves from, so that of two changes at once only one happens.

Status:

    draft ----publish----> in_progress --complete--> completed
      |                     ^      |  ^
      |                 start  pause  resume   (pause: the operator, or a wave that cannot reach its threshold)
      |                     |      v  |
      +--schedule--> scheduled     paused      (schedule: published, its startTime ahead; start: at startTime,
      |                     |        |          or the operator's "start now")
      +------cancel---------+--------+--> cancelled   (cancel: the operator, an abort criterion, or endTime)
    any status but deleted --delete--> deleted

Dispatch step (of a published command):

    expand --lease--> expanding --starting--> start --all_started--> done  (job, command; inbox paced)
                          |--queued--> done                                (inbox, neither rate nor waves)
    any step but done --stop--> stopped (cancelled, deleted, or nothing to deliver)

A lease (`lease`) is also taken over from an `expanding` whose lease expired (its run crashed).
"""

from __future__ import annotations

from typing import Literal

CommandStatus = Literal["draft", "scheduled", "in_progress", "paused", "cancelled", "deleted", "completed"]
StatusEvent = Literal["publish", "schedule", "start", "pause", "resume", "complete", "cancel", "delete"]

STATUS_EVENTS: dict[StatusEvent, tuple[frozenset[CommandStatus], CommandStatus]] = {
    "publish": (frozenset({"draft"}), "in_progress"),
    "schedule": (frozenset({"draft"}), "scheduled"),
    "start": (frozenset({"scheduled"}), "in_progress"),
    "pause": (frozenset({"in_progress"}), "paused"),
    "resume": (frozenset({"paused"}), "in_progress"),
    "complete": (frozenset({"in_progress"}), "completed"),
    "cancel": (frozenset({"draft", "scheduled", "in_progress", "paused"}), "cancelled"),
    "delete": (frozenset({"draft", "scheduled", "in_progress", "paused", "cancelled", "completed"}), "deleted"),
}
# Live, and its executions tracked (a scheduled command's wait, SCHEDULED, for its start time).
PUBLISHED: frozenset[CommandStatus] = frozenset({"scheduled", "in_progress", "paused"})

Step = Literal["expand", "expanding", "start", "done", "stopped"]
StepEvent = Literal["lease", "starting", "queued", "all_started"]

STEP_EVENTS: dict[StepEvent, tuple[frozenset[Step], Step]] = {
    "lease": (frozenset({"expand", "expanding"}), "expanding"),
    "starting": (frozenset({"expanding"}), "start"),
    "queued": (frozenset({"expanding"}), "done"),
    "all_started": (frozenset({"start"}), "done"),
}
# `stop` leaves from any step but done: a cancel may come at any point of the dispatch.
STOPPABLE: frozenset[Step] = frozenset({"expand", "expanding", "start"})


def status_after(event: StatusEvent, current: CommandStatus) -> CommandStatus | None:
    """The status `event` moves a command in `current` to; None when the event does not apply to it."""
    sources, target = STATUS_EVENTS[event]
    return target if current in sources else None
