"""The dispatch queue's steps for a published command, each safe to run twice. They decide when; the command's
delivery kind (services/delivery/) decides how. The steps and the dispatch steps they move a command through
are declared in models/dispatch.py and models/lifecycle.py.

expand: every target expanded to things, one execution per thing (SCHEDULED, unless nothing paces them), each
  marked with its wave, the files frozen (copied, at the version publishing recorded, to keys no upload URL
  reaches), then the kind prepares to deliver them (creates its job or its AWS IoT command).
start:  starts the next batches of executions in thing-name order, at the rate now, wave after wave as each
  wave's gate opens (models/rollout.py decides), until every execution has started.
  A schedule (schedulingConfig) holds it: nothing starts before the start time (the command `scheduled`
  until then), nor outside the maintenance windows; at the end time its endBehavior applies (services/schedule.py).
cancel: for a cancelled or deleted command, the kind ends its pending executions and releases what it holds.
join:   for a CONTINUOUS command whose executions of publishing have all started, the things that joined its
  targets since get theirs, started by the kind (services/joiners.py).
end:    at a scheduled command's end time, its endBehavior, when no start step is there to apply it.
retry:  starts the next attempt of an execution that a retry policy retried, where the kind must (a new AWS IoT
  Commands execution); a paused command's wait for its resume, a cancelled one's were ended by its cancel.

A lease on the command item keeps a duplicate `expand` message from running alongside the first; a step that
crashed is taken over when its message comes back after the visibility timeout, once the lease has expired,
and starts over (its executions rewritten).
"""

from __future__ import annotations

import bisect
import contextlib
import math
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from commands_core.clock import now
from commands_core.errors import Conflict
from commands_core.models import rollout, scheduling
from commands_core.models.commands import Command, Started, published_file_key
from commands_core.models.dispatch import Cancel, DispatchMessage, End, Expand, Join, Retry, Start
from commands_core.models.executions import ExecutionStatus
from commands_core.models.lifecycle import PUBLISHED
from commands_core.observability import logger, metrics
from commands_core.services import commands, delivery, joiners, schedule, targets
from commands_core.services.ports import Ports

LEASE = timedelta(seconds=330)  # longer than the consumer's timeout, shorter than the queue's visibility timeout
# The dispatch beat: a step that must wait for another (a cancel while the command is being expanded) comes back
# this much later, and an expand looks whether its command was cancelled at least this often (every CHUNK
# executions written, well under a beat).
BEAT_SECONDS = 5
CHUNK = 1000
BATCH = 500  # executions started per batch without a rate limit; with one, a sixth of the per-minute rate
BUDGET_SECONDS = 240.0  # of the consumer's 300: then the start step hands over to a new message
WINDOW = rollout.WINDOW
MAX_BACKOFF_SECONDS = 300  # shorter than the reconciler's stall threshold, which resumes a lost step
# How often a step waiting at a wave's gate looks again; an execution that ends and decides the gate sends the
# step at once (commands.settle), so this only bounds the wait for a lost message or a timeout.
GATE_POLL_SECONDS = 60
# SQS delays a message 15 minutes at most: a longer wait (a start time, the next maintenance window) comes back in
# hops of this, each recording when the next is due so that the reconciler does not take it for a stalled step.
HOP_SECONDS = 900


def handle(ports: Ports, message: DispatchMessage) -> None:
    logger.append_keys(command_id=message.command_id, step=message.action)
    match message:
        case Expand():
            expand(ports, message)
        case Start():
            start(ports, message)
        case Cancel():
            cancel(ports, message)
        case Join():
            joiners.catch_up(ports, message)
        case End():
            end(ports, message)
        case Retry():
            retry(ports, message)


def expand(ports: Ports, message: Expand) -> None:
    command = ports.commands.get(message.command_id)
    if command is None or command.status not in PUBLISHED:
        return
    if command.dispatch_step == "start":  # a copy of the expand, or the reconciler's: the start step is lost
        ports.queue.send(Start(command_id=command.command_id, cursor=command.dispatch_cursor or ""))
        return
    at = now()
    lease = at + LEASE
    if not ports.commands.take_lease(command.command_id, lease, at):
        return  # another run holds it, or it is done
    if command.dispatch_step == "expanding":  # taking over a run that crashed: start over
        ports.commands.delete_executions(command.command_id)
    kind = delivery.of(command.delivery)
    joiners.watch(ports, command)  # before the groups are listed: a thing added after is an event's
    reached = targets.resolve(ports, command)
    # A CONTINUOUS command reaches its groups' later members and its query's later matches: an empty group or
    # query still has a rollout.
    if not reached.things and not (command.type == "CONTINUOUS" and (reached.groups or command.target_query)):
        if ports.commands.stop(command.command_id, lease=lease):
            commands.cancel(ports, command, force=False, reason="no thing matched the targets when it was published")
        return
    if not _write_executions(ports, command, reached.things, lease):
        return
    _freeze_files(ports, command)
    if not kind.deliver(ports, command, reached, lease):
        stop_expanding(ports, command.command_id, lease)
    elif command.type == "CONTINUOUS":  # delivered whole already (an inbox not paced): its joiners from now
        ports.queue.send(Join(command_id=command.command_id))


def _write_executions(ports: Ports, command: Command, things: list[str], lease: datetime) -> bool:
    """One execution per thing, in the first status of the command's rollout, a chunk at a time, each marked
    with its wave (waves take the targets in thing-name order, as the start step does); False (the expand
    stopped, and the cancel done) when the command was cancelled or deleted meanwhile: cancel wins within a
    beat, also over a long expand."""
    status = first_status(command)
    ordered = sorted(things)
    ends = rollout.wave_ends(command.waves, len(ordered))
    waves = [bisect.bisect_right(ends, position) if command.waves else None for position in range(len(ordered))]
    at = now()
    # Counts first, for every thing: an execution is visible (to a fetching device) as soon as it is written.
    sizes = rollout.wave_sizes(command.waves, len(ordered))
    wave_counts: list[dict[str, int]] = [{status: size} for size in sizes] if command.waves else []
    ports.commands.reset_counts(command.command_id, {status: len(ordered)}, wave_counts, at)
    for start_at in range(0, len(ordered), CHUNK):
        current = ports.commands.get(command.command_id)
        if current is None or current.status not in PUBLISHED:
            ports.commands.add_count(command.command_id, status, start_at - len(ordered))  # the unwritten are none
            stop_expanding(ports, command.command_id, lease)
            return False
        chunk = list(zip(ordered[start_at : start_at + CHUNK], waves[start_at : start_at + CHUNK], strict=True))
        ports.commands.write_executions(command.command_id, chunk, at, status)
    return True


def first_status(command: Command) -> ExecutionStatus:
    """SCHEDULED while the rollout decides when each execution starts; else the kind's own first status."""
    return "SCHEDULED" if rollout.paced(command) else delivery.of(command.delivery).initial_status


def stop_expanding(ports: Ports, command_id: str, lease: datetime) -> None:
    """An expand that found its command cancelled or deleted gives up its lease and does the cancel itself, at
    once: the cancel step, which waits while the command is being expanded, would come only a beat later."""
    if ports.commands.stop(command_id, lease=lease):
        cancel(ports, Cancel(command_id=command_id))


def _freeze_files(ports: Ports, command: Command) -> None:
    for file_id, ref in command.files.items():
        ports.files.copy(ref.s3_object_key, ref.version_id, published_file_key(command.command_id, file_id))


def start(ports: Ports, message: Start) -> None:
    """Starts the next batches of executions from the message's cursor until every target has started, the
    rate limit makes it wait, AWS IoT throttles it, or this run's budget is spent: then the step comes back as
    a new (delayed) message."""
    deadline = time.monotonic() + BUDGET_SECONDS
    cursor, attempt = message.cursor, message.attempt
    while (progress := _batch(ports, message.command_id, cursor, attempt)) is not None:
        cursor, retry = progress
        attempt = attempt + 1 if retry else 0
        if retry or time.monotonic() > deadline:
            delay = min(2**attempt, MAX_BACKOFF_SECONDS) if retry else 0
            ports.queue.send(Start(command_id=message.command_id, cursor=cursor, attempt=attempt), delay)
            return


def _batch(ports: Ports, command_id: str, cursor: str, attempt: int) -> tuple[str, bool] | None:
    """Starts the batch after `cursor`: the next cursor and whether AWS IoT must be asked again; None when the
    step is over (every target started, the rate limit or a wave's gate sent it back delayed, the command
    paused or ended, or this is a copy of a step that has moved on)."""
    command = ports.commands.get(command_id)
    ours = command is not None and command.dispatch_step == "start" and command.dispatch_cursor == cursor
    if command is None or not ours or command.status not in ("scheduled", "in_progress"):
        return None  # paused (a resume sends the step again), ended (its cancel step does the rest), or moved on
    at = now()
    if command.status == "scheduled" and (command := _start_on_time(ports, command, cursor, attempt, at)) is None:
        return None
    if _ends_here(ports, command, at):
        return None
    if command.dispatched >= command.total:
        _finish(ports, command)
        return None
    ends = rollout.wave_ends(command.waves, command.total)
    if command.dispatched >= ends[command.wave]:  # every execution of the wave has started: its gate
        return _gate(ports, command, cursor, attempt, now())
    return _start_next(ports, command, cursor, attempt, ends[command.wave] - command.dispatched)


def _ends_here(ports: Ports, command: Command, at: datetime) -> bool:
    """An abort criterion met, or the schedule's end time come: what follows done, True."""
    if reason := rollout.abort_reason(command.abort_config, command.counts):
        commands.abort(ports, command, reason)
        return True
    if scheduling.ended(command.scheduling_config, at):
        schedule.end(ports, command, at)
        return True
    return False


def _start_on_time(ports: Ports, command: Command, cursor: str, attempt: int, at: datetime) -> Command | None:
    """A scheduled command: at its start time it is in progress (the command as it is then); before, the step
    comes back then (None)."""
    start = command.scheduling_config.start() if command.scheduling_config else None
    if start is not None and at < start:
        _come_back(ports, command, cursor, attempt, math.ceil((start - at).total_seconds()))
        return None
    if commands.move(ports, command, "start", at) is None:
        return None  # cancelled, or started by the operator, meanwhile: a copy of the step, if any, goes on
    logger.info("rollout started at its start time")
    return ports.commands.get(command.command_id)


def _finish(ports: Ports, command: Command) -> None:
    """Every execution has started: what the kind does then, before the step is recorded done (a failure
    there brings the step back to do it again), then what follows for the command."""
    delivery.of(command.delivery).all_started(ports, command)
    if ports.commands.record_progress(command, done=True, updated_at=now()):
        logger.info("every execution started", extra={"started": command.dispatched})
        if command.type == "CONTINUOUS":  # the things that joined while it rolled out, and the joiners from now
            ports.queue.send(Join(command_id=command.command_id))
        if refreshed := ports.commands.get(command.command_id):
            commands.settle(ports, refreshed)


def _start_next(ports: Ports, command: Command, cursor: str, attempt: int, left: int) -> tuple[str, bool] | None:
    """Starts the next batch of at most `left` executions (those of the current wave not started yet), at the
    rate now, inside a maintenance window (when the schedule has any); see _batch."""
    if (wait := scheduling.wait(command.scheduling_config, now(), started=True)[0]) > 0:  # outside every window
        # (In whole seconds, rounded up, as SQS delays: the step never comes back just before the window.)
        _come_back(ports, command, cursor, attempt, math.ceil(min(wait, HOP_SECONDS)))
        return None
    limit = rollout.rate_of(command, now())
    size = min(BATCH, max(1, limit // 6) if limit else BATCH, left)
    if limit:  # the last starts a window allows, rather than a whole batch a window later
        in_window = sum(entry.count for entry in command.dispatch_log if entry.at > now() - WINDOW)
        size = min(size, max(1, limit - in_window))
    if (wait := rate_wait(command.dispatch_log, now(), size, limit)) > 0:
        _come_back(ports, command, cursor, attempt, wait)
        return None
    executions, _ = ports.commands.executions_after(command.command_id, cursor, size)
    batch = delivery.of(command.delivery).start_batch(ports, command, executions)
    if batch is None:
        return None
    at = now()
    names = [execution.thing_name for execution in executions]
    dispatched = command.dispatched + (names.index(batch.handled) + 1 if batch.handled in names else 0)
    log = [entry for entry in command.dispatch_log if entry.at > at - WINDOW]
    log += [Started(at=at, count=batch.started)] if batch.started else []
    if not ports.commands.record_progress(
        command,
        dispatch_cursor=batch.handled,
        dispatch_log=log,
        dispatched=dispatched,
        wave_started_at=command.wave_started_at or at,
        updated_at=at,
    ):
        return None  # paused or cancelled meanwhile, or another run of this step got there first
    metrics.add_metric(name="ExecutionsStarted", unit="Count", value=batch.started)
    return batch.handled, batch.retry


def _come_back(ports: Ports, command: Command, cursor: str, attempt: int, seconds: float) -> None:
    """The step comes back `seconds` on. Recorded first, so that of copies of the step (a message delivered
    twice, a gate woken, the reconciler) one waits on and the others end here; the record also tells the
    reconciler the step is alive."""
    at = now()
    seconds = _until_end(command, at, min(seconds, HOP_SECONDS))
    if ports.commands.record_progress(command, updated_at=at, resume_at=at + timedelta(seconds=seconds)):
        ports.queue.send(Start(command_id=command.command_id, cursor=cursor, attempt=attempt), seconds)


def _until_end(command: Command, at: datetime, seconds: float) -> float:
    """A wait of the start step, ending no later than the schedule's end time (in whole seconds, rounded up, as
    SQS delays: not just before it): the step applies it then."""
    left = scheduling.end_in(command.scheduling_config, at) if command.scheduling_config else math.inf
    return seconds if left == math.inf else max(0.0, min(seconds, math.ceil(left)))


def _gate(ports: Ports, command: Command, cursor: str, attempt: int, at: datetime) -> tuple[str, bool] | None:
    """Every execution of the current wave has started: the next starts when the gate says so."""
    wave = command.wave
    verdict = rollout.gate_of(
        command, at, started_at=command.wave_started_at, met_at=command.wave_met_at, beat=GATE_POLL_SECONDS
    )
    if verdict.verdict == "pause":
        with contextlib.suppress(Conflict):  # paused or cancelled by another meanwhile: theirs stands
            commands.pause(ports, command, verdict.reason, at_gate=True)
        return None
    if verdict.verdict == "open" or (verdict.verdict == "soak" and not verdict.seconds):
        if not ports.commands.record_progress(
            command, wave=wave + 1, wave_started_at=None, wave_met_at=None, updated_at=at
        ):
            return None
        logger.info("wave started", extra={"wave": wave + 2, "after": rollout.wave_counts(command, wave)})
        return cursor, False
    if verdict.verdict == "soak":
        if ports.commands.record_progress(command, wave_met_at=at, updated_at=at):
            seconds = _until_end(command, at, verdict.seconds)
            ports.queue.send(Start(command_id=command.command_id, cursor=cursor, attempt=attempt), seconds)
        return None
    _come_back(ports, command, cursor, attempt, verdict.seconds)
    return None


def rate_wait(log: Sequence[Started], at: datetime, size: int, limit: int | None) -> float:
    """Seconds to wait before `size` more executions may start without any 60-second window holding more than
    `limit` starts.

    Batches run one after another and each entry holds its batch's last start. If the batches whose last start
    is less than 60 s before this batch begins, plus this batch, stay within the limit, then so does any window
    holding a start of this batch: every other batch in it is among those (an older one ended 60 s or more
    before this one began, so no 60-second window reaches both).
    """
    if not limit:
        return 0.0
    recent = sorted((entry for entry in log if entry.at > at - WINDOW), key=lambda entry: entry.at)
    total = sum(entry.count for entry in recent) + size
    until = at
    for entry in recent:
        if total <= limit:
            break
        total -= entry.count
        until = entry.at + WINDOW
    return max(0.0, (until - at).total_seconds())


def cancel(ports: Ports, message: Cancel) -> None:
    """For a cancelled (or deleted) command: its pending executions end (with force, those in progress too),
    what AWS IoT holds for it alone is released, and the dispatch stops."""
    command = ports.commands.get(message.command_id)
    if command is None or command.status not in ("cancelled", "deleted"):
        return
    if command.dispatch_step == "expanding" and command.lease_until and command.lease_until > now():
        # The expand under way notices the cancel and does it; this comes back a beat later in case it crashed.
        ports.queue.send(message, BEAT_SECONDS)
        return
    kind = delivery.of(command.delivery)
    cancelled = kind.cancel(ports, command, force=message.force)
    kind.release(ports, command)
    joiners.unwatch(ports, command)
    if command.dispatch_step != "done":
        ports.commands.stop(command.command_id)
    logger.info("pending executions cancelled", extra={"cancelled": cancelled})


def end(ports: Ports, message: End) -> None:
    """At the command's end time, its endBehavior, unless the start step applies it: STOP_ROLLOUT is the start
    step's while it runs (its waits end at the end time), so that it never stops one batch halfway; CANCEL and
    FORCE_CANCEL end the command whatever step it is at. Before the end time, it comes back (in hops)."""
    command = ports.commands.get(message.command_id)
    config = command.scheduling_config if command else None
    if command is None or config is None or config.end() is None or command.status not in PUBLISHED:
        return
    at = now()
    if (left := scheduling.end_in(config, at)) > 0:
        ports.queue.send(message, math.ceil(min(left, HOP_SECONDS)))  # (whole seconds, as SQS: not just before)
        return
    if config.behavior() == "STOP_ROLLOUT" and command.status != "paused" and command.dispatch_step == "start":
        return  # the start step's: its waits end at the end time
    schedule.end(ports, command, at)


def resume(ports: Ports, command: Command) -> None:
    """Sends the lost message of a stalled step again (a copy of one still under way changes nothing)."""
    if command.dispatch_step == "start":
        ports.queue.send(Start(command_id=command.command_id, cursor=command.dispatch_cursor or ""))
    else:
        ports.queue.send(Expand(command_id=command.command_id))


def retry(ports: Ports, message: Retry) -> None:
    """Starts the next attempt of the message's execution (or of each execution of the command waiting for one),
    if its command is in progress, its schedule has not ended and a maintenance window is open (else it waits for
    one: one message per command, recorded, however many ask), and the execution still waits at that attempt: a
    copy of the message, or one late, starts nothing."""
    command = ports.commands.get(message.command_id)
    if command is None or command.status != "in_progress":
        return  # paused: its resume sends the message again; ended: its cancel step ended the execution
    kind = delivery.of(command.delivery)
    if message.thing_name is not None:
        found = ports.commands.get_execution(command.command_id, message.thing_name)
        waiting = [found] if found is not None and found.attempt == message.attempt else []
    else:
        waiting = list(ports.commands.pending_executions(command.command_id))
    waiting = [execution for execution in waiting if delivery.waiting_retry(execution)]
    at = now()
    if not waiting:
        return
    if scheduling.ended(command.scheduling_config, at):  # nothing more starts
        why = schedule.reason(command)
        delivery.cancel_pending(ports, command, frozenset(), also=delivery.waiting_retry, reason=why)
        if refreshed := ports.commands.get(command.command_id):
            commands.settle(ports, refreshed)
        return
    if (outside := scheduling.wait(command.scheduling_config, at, started=True)[0]) > 0:
        wait_for_window(ports, command, Retry(command_id=command.command_id), outside, at)
        return
    for execution in waiting:
        kind.retry(ports, command, execution)


def wait_for_window(ports: Ports, command: Command, message: Retry | Join, seconds: float, at: datetime) -> None:
    """A step that may start executions only inside a maintenance window comes back when one opens (in hops), once
    per command and step: its wait is recorded first, and a copy (another failure retried, the reconciler's
    round) finding a wait recorded ends there. No window opening again: nothing comes back."""
    if math.isinf(seconds):
        return
    until = at + timedelta(seconds=math.ceil(min(seconds, HOP_SECONDS)))
    if ports.commands.book_wait(command.command_id, message.action, until, at):
        ports.queue.send(message, (until - at).total_seconds())
