"""The dispatch queue's messages: one model per step, told apart by `action`. Every step is safe to run twice,
and a message may come more than once, late, or after its command ended."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, TypeAdapter

from commands_core.models import ApiModel


class _Message(ApiModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    command_id: str


class Expand(_Message):
    """Expand a published command's targets to things, write their executions and deliver them."""

    action: Literal["expand"] = "expand"


class Start(_Message):
    """Start the batches of executions after `cursor` (in thing-name order); `attempt` counts the tries AWS IoT
    refused in a row, for the backoff."""

    action: Literal["start"] = "start"
    cursor: str = ""
    attempt: int = 0


class Cancel(_Message):
    """Stop what a cancelled or deleted command still has pending; with `force`, also what is in progress."""

    action: Literal["cancel"] = "cancel"
    force: bool = False


class Join(_Message):
    """Start the executions of things that joined a CONTINUOUS command's targets after publishing: `things`, or
    without them, every one waiting, after looking for new members and matches the events may have missed."""

    action: Literal["join"] = "join"
    things: tuple[str, ...] = ()


class End(_Message):
    """At the command's schedulingConfig.endTime, its endBehavior applies; sent on publishing, it comes back in
    hops until then."""

    action: Literal["end"] = "end"


class Retry(_Message):
    """Start again an execution that a retry policy gave another attempt, once its command is in progress: the
    thing's, at `attempt`; without a thing, every execution of the command waiting for its next attempt (a
    resume, or the reconciler after a lost message)."""

    action: Literal["retry"] = "retry"
    thing_name: str | None = None
    attempt: int = 0


DispatchMessage = Annotated[Expand | Start | Cancel | Join | End | Retry, Field(discriminator="action")]
# Built at its first message: a function that never reads one does not pay for the union's schema at import.
MESSAGES: TypeAdapter[DispatchMessage] = TypeAdapter(DispatchMessage, config=ConfigDict(defer_build=True))
