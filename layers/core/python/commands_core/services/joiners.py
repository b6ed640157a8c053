"""Things that join a CONTINUOUS command's targets after it was published, for every delivery kind.

A joiner is found two ways: AWS IoT's registry event for a thing added to a thing group (the membership queue's
consumer, `handle`), for a group the command targets or a group nested in one; and the dispatch queue's `join`
step (`catch_up`), which lists the targeted groups' members and the target query's matches again and joins those
the command lacks (the reconciler sends it every round, and the rollout at its end; events can be lost, and a
query has no event). Either way the thing gets its execution through one conditional write (the repository's
`join`): only if it has none, the command is still published, and fewer than `maximumTargets` joined before; then
the `join` step starts it through the command's delivery, as the rollout starts any other (job: added to the
command's group; command: StartCommandExecution; inbox: QUEUED for the next fetch). An event's thing must still
be in the registry, and its group and thing of this account and region. A paused command's joiner
waits SCHEDULED until the command resumes; a cancelled, completed or deleted command gets none. A thing that
leaves a group keeps its execution.

Joiners belong to no wave (the rollout of the targets at publishing is over by then: a joiner found while it is
under way is left to the look at its end); their starts are held to the command's rate, in the same log as the
rollout's, and to its maintenance windows; none joins once its schedule's end time has passed.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from commands_core.adapters.commands import Joined
from commands_core.clock import now
from commands_core.models import rollout, scheduling
from commands_core.models.commands import Command, Started
from commands_core.models.dispatch import Join
from commands_core.models.executions import Execution
from commands_core.models.lifecycle import PUBLISHED
from commands_core.models.registry import MEMBERSHIP, VALIDATION_REASONS
from commands_core.observability import count_by, log_keys, logger, metrics
from commands_core.services import delivery, targets
from commands_core.services.ports import Ports

BATCH = 500  # joiners started at once by the join step
NAMED = 1000  # joiners a join step's message names at most
# Expected in the normal course: logged as info.
_ROUTINE = frozenset({"unwatched", "duplicate", "rolling_out", "full", "gone"})


def watched_groups(ports: Ports, command: Command) -> list[str]:
    """The groups whose new members join the command: the known thing groups it targets, and the ancestor group
    of a target query that names nothing else (with more terms, only the join step's look finds new matches)."""
    groups = list(targets.known_groups(ports, command))
    query = command.target_query
    if query is not None and targets.fleet_query(query) is None and (ancestor := targets.ancestor_group(query)):
        groups.append(ancestor)
    return list(dict.fromkeys(groups))


def watch(ports: Ports, command: Command) -> None:
    """A CONTINUOUS command, as it expands: its groups' membership events are looked up to it from now on."""
    if command.type == "CONTINUOUS":
        for group in watched_groups(ports, command):
            ports.commands.watch(group, command.command_id)


def unwatch(ports: Ports, command: Command) -> None:
    """A command that ended: its groups' events no longer look it up (one left behind is dropped as ended)."""
    if command.type == "CONTINUOUS":
        for group in watched_groups(ports, command):
            ports.commands.unwatch(group, command.command_id)


def decode(body: str) -> Any:
    """A membership message's body, as `handle` takes it: its JSON value, or the text itself when it is not JSON
    (which no receive could read: `handle` drops it as malformed rather than it failing until the dead-letter
    queue takes it)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # (RecursionError: nested deeper than the parser goes)
        return _NotJson(body)


class _NotJson(str):
    """A body that is not JSON, as `handle` is given it."""


def handle(ports: Ports, message: Any) -> None:
    """One message of the membership queue (a JSON value, whatever it holds): a thing added to a group joins
    every CONTINUOUS command watching the group or one of its ancestors."""
    if isinstance(message, _NotJson):
        _drop("malformed", "the message is not JSON", message)
        return
    try:
        event = MEMBERSHIP.validate_python(message)
    except ValidationError as error:
        problem = error.errors(include_url=False, include_input=False)[0]
        reason = problem["type"] if problem["type"] in VALIDATION_REASONS else "malformed"
        _drop(reason, f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}", message)
        return
    if event.operation != "ADDED":
        _drop("removed", "a thing that leaves a group keeps its execution", message)
        return
    if (message.get("groupArn"), message.get("thingArn")) != (
        ports.registry.group_arn(event.group_name),
        ports.registry.thing_arn(event.thing_name),
    ):
        # Only AWS IoT of this account and region sends the queue events: the same names elsewhere are others.
        _drop("foreign", "the group or the thing is of another account, region or partition", message)
        return
    groups = [event.group_name, *ports.registry.ancestors(event.group_name)]
    watching = list(dict.fromkeys(command_id for group in groups for command_id in ports.commands.watchers(group)))
    if not watching:
        _drop("unwatched", "no CONTINUOUS command in progress targets the group or a group it is nested in", message)
        return
    if not ports.registry.thing_exists(event.thing_name):
        # Deleted since it was added (events come late): an execution would wait for a device that is gone.
        _drop("gone", "the thing is not in the registry", message)
        return
    for command_id in watching:
        with log_keys(command_id=command_id, thing_name=event.thing_name):
            if dropped := _join_event(ports, command_id, event.thing_name):
                _drop(*dropped, message)


def _join_event(ports: Ports, command_id: str, thing_name: str) -> tuple[str, str] | None:
    """Why the event gives the command no joiner, if it does not."""
    command = ports.commands.get(command_id)
    if command is None or command.status not in PUBLISHED or command.type != "CONTINUOUS":
        return "ended", "the command is no longer in progress"
    if scheduling.ended(command.scheduling_config, now()):
        return "ended", "the command's schedulingConfig.endTime has passed: nothing more starts"
    if command.dispatch_step != "done":
        # The look at the rollout's end lists the groups after this event's change: it finds the thing.
        return "rolling_out", "the command's rollout at publishing is under way; its end looks for new members"
    outcome = join(ports, command, thing_name)
    if outcome == "joined":
        ports.queue.send(Join(command_id=command_id, things=(thing_name,)))  # started if in progress
        return None
    return _OUTCOMES[outcome]


_OUTCOMES: dict[Joined, tuple[str, str]] = {
    "has_one": ("duplicate", "the thing has an execution of the command already"),
    "full": ("full", "maximumTargets things have joined the command already"),
    "ended": ("ended", "the command is no longer in progress"),
    "joined": ("joined", ""),
}


def join(ports: Ports, command: Command, thing_name: str) -> Joined:
    """The thing joins the command (a SCHEDULED execution), if it may; what happened."""
    outcome = ports.commands.join(command.command_id, thing_name, now(), maximum=command.maximum_targets)
    if outcome == "joined":
        metrics.add_metric(name="ThingsJoined", unit="Count", value=1)
        logger.info("thing joined", extra={"command_id": command.command_id, "thing_name": thing_name})
    return outcome


def catch_up(ports: Ports, message: Join) -> None:
    """The dispatch queue's `join` step: starts the joiners `message.things` names, or, without them, joins the
    members and matches the command lacks and starts every joiner waiting. A paused command's wait (its resume
    sends the step again)."""
    command = ports.commands.get(message.command_id)
    if (
        command is None
        or command.type != "CONTINUOUS"
        or command.status not in PUBLISHED
        or command.dispatch_step != "done"
        or scheduling.ended(command.scheduling_config, now())  # nothing more starts (endBehavior)
    ):
        return
    if message.things:
        found = (ports.commands.get_execution(command.command_id, name) for name in message.things)
        waiting = [execution for execution in found if execution is not None and execution.status == "SCHEDULED"]
    else:
        _look_for_joiners(ports, command)
        waiting = [e for e in ports.commands.pending_executions(command.command_id) if e.status == "SCHEDULED"]
    if command.status == "in_progress" and waiting:
        _start(ports, command, waiting)


def _look_for_joiners(ports: Ports, command: Command) -> None:
    """Joins the things the command's targets reach now (resolved as its expand resolved them) that it has no
    execution for: events may have been lost, and a query's new matches have none."""
    if command.maximum_targets is not None and command.joined_late >= command.maximum_targets:
        return
    reached = targets.resolve(ports, command).things
    known = ports.commands.execution_statuses(command.command_id)
    for thing_name in sorted(set(reached) - set(known)):
        if join(ports, command, thing_name) in ("full", "ended"):
            return


def _start(ports: Ports, command: Command, waiting: list[Execution]) -> None:
    """Starts a batch of the waiting joiners through the command's delivery, within the command's rate (the
    starts reserved in its log first); the rest, and what AWS IoT refused for now, come back as a step of their
    own."""
    from commands_core.services.dispatch import WINDOW, rate_wait, wait_for_window

    at = now()
    names = [execution.thing_name for execution in waiting]
    if (outside := scheduling.wait(command.scheduling_config, at, started=True)[0]) > 0:
        # Outside every maintenance window: one join step per command comes back when one opens, for every joiner
        # waiting then.
        wait_for_window(ports, command, Join(command_id=command.command_id), outside, at)
        return
    size = min(BATCH, len(waiting))
    if limit := rollout.rate_of(command, at):
        recent = [entry for entry in command.dispatch_log if entry.at > at - WINDOW]
        size = min(size, max(1, limit - sum(entry.count for entry in recent)))
        if (wait := rate_wait(recent, at, size, limit)) > 0:
            _again(ports, command.command_id, names, wait)
            return
        if not ports.commands.reserve_starts(command, [*recent, Started(at=at, count=size)]):
            _again(ports, command.command_id, names)  # another join step reserved first: read again
            return
    result = delivery.of(command.delivery).start_batch(ports, command, waiting[:size])
    if result is None:
        return  # the command ended meanwhile
    metrics.add_metric(name="ExecutionsStarted", unit="Count", value=result.started)
    if result.retry:
        done = names.index(result.handled) + 1 if result.handled in names else 0
        _again(ports, command.command_id, names[done:], 30)
    elif size < len(names):
        _again(ports, command.command_id, names[size:])


def _again(ports: Ports, command_id: str, names: list[str], delay: float = 0) -> None:
    """The join step again for these joiners; for many, a step that looks for every joiner waiting (a message
    holds 256 KB)."""
    ports.queue.send(Join(command_id=command_id, things=tuple(names) if len(names) <= NAMED else ()), delay)


def _drop(reason: str, detail: str, message: Any) -> None:
    event = {key: message.get(key) for key in ("eventId", "groupArn", "thingArn")} if isinstance(message, dict) else {}
    level = logger.info if reason in _ROUTINE else logger.warning
    level("membership event dropped", extra={"reason": reason, "detail": detail, "event": event})
    count_by("MembershipEventsDropped", reason=reason)
