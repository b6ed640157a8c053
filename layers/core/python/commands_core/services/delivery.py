"""The command and inbox deliveries; the job delivery is services/dispatch.py's.

command: one AWS IoT command holds the rendered document (the command's files presigned by the service); the
  dispatch queue's `start` step then starts one execution per thing, in batches in thing-name order, from a
  cursor kept on the command item. Only the run holding the cursor the command item names may advance it (a
  conditional write), so a duplicate message changes nothing; a batch started twice starts nothing twice (the
  client token is derived from command and thing). Executions stay SCHEDULED until AWS IoT's events (or the
  reconciler, reading AWS IoT) say they were created: the dispatcher itself writes nothing per thing.
inbox: nothing is pushed; the executions wait QUEUED for the device to fetch them.

Both time out: an execution with no answer within its timeout becomes TIMED_OUT by the cloud, which a late
device answer may still replace (IoT Commands semantics).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from commands_core.adapters.iot_commands import Start
from commands_core.clock import iso, now
from commands_core.models.commands import Command, Started, published_file_key
from commands_core.models.executions import Execution, ExecutionStatus, Report
from commands_core.models.jobs import DEFAULT_EXECUTION_TIMEOUT_SECONDS
from commands_core.observability import logger, metrics
from commands_core.services import commands, rendering, transitions
from commands_core.services.commands import Ports

BATCH = 500  # executions started per batch without a rate limit; with one, a sixth of the per-minute rate
WORKERS = 16  # StartCommandExecution calls in flight
BUDGET_SECONDS = 240.0  # of the consumer's 300: then the step hands over to a new message
WINDOW = timedelta(seconds=60)
MAX_BACKOFF_SECONDS = 300  # shorter than the reconciler's stall threshold, which resumes a lost step
TIMEOUT_GRACE = timedelta(seconds=30)  # AWS IoT times command executions out itself; this is the backstop
DESCRIPTION = "IoT Commands Service command"  # how an IoT command of this service is known (a retried create)

# IoT Commands execution statuses in the unified names.
STATUSES: dict[str, ExecutionStatus] = {
    "CREATED": "SENT",
    "IN_PROGRESS": "IN_PROGRESS",
    "SUCCEEDED": "SUCCEEDED",
    "FAILED": "FAILED",
    "REJECTED": "REJECTED",
    "TIMED_OUT": "TIMED_OUT",
}


def create(ports: Ports, command: Command) -> str:
    """Creates the AWS IoT command holding the document; its ARN."""
    template = ports.templates.get(command.template_id)
    expiry = template.presigned_url_expires_in_seconds if template else 3600
    document = rendering.presign_files(
        command.document or "{}",
        ports.files.bucket,
        published_file_key(command.command_id, ""),
        lambda key: ports.files.download_url(key, expiry),
    )
    return ports.iot_commands.create(command.command_id, document.encode(), f"{DESCRIPTION} {command.command_id}")


def start(ports: Ports, message: dict[str, Any]) -> None:
    """Starts the next batches of executions from the message's cursor until every target has started, the
    rate limit makes it wait, AWS IoT throttles it, or this run's budget is spent: then the step comes back as
    a new (delayed) message."""
    deadline = time.monotonic() + BUDGET_SECONDS
    command_id = str(message["commandId"])
    cursor = str(message.get("cursor", ""))
    attempt = int(message.get("attempt", 0))
    while (progress := _batch(ports, command_id, cursor, attempt)) is not None:
        cursor, retry = progress
        attempt = attempt + 1 if retry else 0
        if retry or time.monotonic() > deadline:
            send_start(ports, command_id, cursor, attempt, min(2**attempt, MAX_BACKOFF_SECONDS) if retry else 0)
            return


def _batch(ports: Ports, command_id: str, cursor: str, attempt: int) -> tuple[str, bool] | None:
    """Starts the batch after `cursor`: the next cursor and whether AWS IoT must be asked again; None when the
    step is over (every target started, the rate limit sent it back delayed, the command ended, or this is a
    copy of a step that has moved on)."""
    command = ports.commands.get(command_id)
    ours = command is not None and command.dispatch_step == "start" and command.dispatch_cursor == cursor
    if command is None or not ours or command.status != "in_progress":
        return None  # ended (its cancel step does the rest), or a copy of a step that has moved on
    limit = command.rollout_maximum_per_minute
    size = min(BATCH, max(1, limit // 6)) if limit else BATCH
    if (wait := rate_wait(command.dispatch_log, now(), size, limit)) > 0:
        send_start(ports, command_id, cursor, attempt, wait)
        return None
    batch, more = ports.commands.executions_after(command_id, cursor, size)
    outcome = _start_batch(ports, command, batch)
    if outcome is None:
        return None
    started, handled, retry = outcome
    at = now()
    log = [entry for entry in command.dispatch_log if entry.at > at - WINDOW]
    log += [Started(at=at, count=started)] if started else []
    done = not more and not retry
    changes: dict[str, Any] = {
        "dispatchCursor": handled,
        "dispatchLog": [entry.model_dump(mode="json") for entry in log],
        "dispatchBatches": command.dispatch_batches + 1,
        "updatedAt": iso(at),
    } | ({"dispatchStep": "done"} if done else {})
    # The batch count, not the cursor, says nothing moved since the read: a batch that moved nothing (throttled
    # at its first thing) must not be written over either, or its starts would leave the rate's log.
    if not ports.commands.update(
        command_id,
        changes,
        condition="dispatchStep = :start AND dispatchBatches = :batches AND commandStatus = :in_progress",
        values={":start": "start", ":batches": command.dispatch_batches, ":in_progress": "in_progress"},
    ):
        return None  # cancelled meanwhile, or another run of this step got there first
    metrics.add_metric(name="ExecutionsStarted", unit="Count", value=started)
    if done:
        logger.info("every execution started", extra={"cursor": handled})
        if refreshed := ports.commands.get(command_id):
            commands.complete_if_done(ports, refreshed)
        return None
    return handled, retry


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


def _start_batch(ports: Ports, command: Command, batch: list[Execution]) -> tuple[int, str, bool] | None:
    """Starts the batch's SCHEDULED executions in parallel: how many may have started, the last thing of the
    longest prefix dealt with (the next cursor), and whether some must be tried again; None if the command was
    cancelled meanwhile (AWS IoT refuses to start a deprecated command)."""
    scheduled = [execution.thing_name for execution in batch if execution.status == "SCHEDULED"]
    arns = {name: ports.registry.thing_arn(name) for name in scheduled}
    command_arn = command.iot_command_arn or ""
    timeout = command.execution_timeout_seconds
    throttled = threading.Event()
    not_asked = Start("retry", reason="not asked: AWS IoT was refusing this batch")

    def start_one(name: str) -> Start:
        if throttled.is_set():  # back off: the rest of the batch waits for the step's next try
            return not_asked
        result = ports.iot_commands.start(command_arn, arns[name], timeout)
        if result.outcome == "retry":
            throttled.set()
        return result

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = dict(zip(scheduled, pool.map(start_one, scheduled), strict=True))
    # Every call counts against the rate: those past a failure (asked again later, harmlessly), and those that
    # failed, which AWS IoT may have carried out all the same (a timeout).
    started = sum(result.outcome in ("started", "retry") and result is not not_asked for result in results.values())
    handled = command.dispatch_cursor or ""
    for execution in batch:
        result = results.get(execution.thing_name)
        if result is not None and result.outcome == "retry":
            logger.warning("AWS IoT did not start an execution; retrying", extra={"reason": result.reason})
            return started, handled, True
        if result is not None and result.outcome in ("gone", "refused"):
            current = ports.commands.get(command.command_id)
            if current is None or current.status != "in_progress":
                return None
            status: ExecutionStatus = "REMOVED" if result.outcome == "gone" else "FAILED"
            reason = f"AWS IoT did not start it: {result.reason}"
            transitions.report(
                ports.commands, command.command_id, execution.thing_name, status, source="api", reason=reason
            )
        handled = execution.thing_name
    return started, handled, False


def send_start(ports: Ports, command_id: str, cursor: str, attempt: int = 0, delay: float = 0) -> None:
    """Sends the `start` step for the batches after `cursor`, `delay` seconds on."""
    message = {"action": "start", "commandId": command_id, "cursor": cursor, "attempt": attempt}
    ports.queue.send(message, delay_seconds=min(900, math.ceil(delay)))  # SQS delays a message 15 min at most


def cancel(ports: Ports, command: Command, *, force: bool) -> int:
    """For a cancelled or deleted command: AWS IoT starts no more of its executions (its command deprecated),
    the table learns which started, and those that never reached a device are CANCELED (inbox, with force:
    every pending one; the device's later reports are then ignored). The number cancelled."""
    if command.iot_command_arn:
        ports.iot_commands.deprecate(command.command_id)
        reconcile(ports, command, expire_late=False)
    unreached = {"SCHEDULED"} if command.delivery == "command" else {"QUEUED", "SENT", "ACKNOWLEDGED", "IN_PROGRESS"}
    if command.delivery == "inbox" and not force:
        unreached = {"QUEUED", "SENT"}  # handed out but not acknowledged: the device has not begun; it is told so
    cancelled = 0
    for execution in ports.commands.pending_executions(command.command_id):
        if execution.status in unreached:
            cancelled += transitions.report(
                ports.commands,
                command.command_id,
                execution.thing_name,
                "CANCELED",
                source="api",
                reason=f"command {command.status}",
            )
    return cancelled


def reconcile(ports: Ports, command: Command, *, expire_late: bool = True) -> int:
    """Applies what AWS IoT holds for the command's executions where the table differs, then the timeouts;
    the number of executions that changed."""
    changed = 0
    if command.iot_command_arn:
        table = ports.commands.execution_statuses(command.command_id)
        for thing_name, iot_status, execution_id, at in ports.iot_commands.executions(command.iot_command_arn):
            status = STATUSES.get(iot_status)
            if status is None or table.get(thing_name) == status:
                continue
            report = Report(
                command_id=command.command_id,
                thing_name=thing_name,
                status=status,
                at=at or now(),
                source="reconciler",
                execution_id=execution_id,
                # The list does not say who set TIMED_OUT: taking it as the cloud lets a device answer still land.
                cloud_timeout=status == "TIMED_OUT",
            )
            changed += transitions.apply(ports.commands, report, create_missing=False)
    return changed + (expire(ports, command) if expire_late else 0)


def expire(ports: Ports, command: Command) -> int:
    """Pending executions whose timeout passed without an answer become TIMED_OUT (by the cloud): for the
    command delivery counted from the execution's creation, as AWS IoT does; for the inbox from queueing."""
    timeout = command.execution_timeout_seconds
    if command.delivery == "command":
        timeout = timeout or DEFAULT_EXECUTION_TIMEOUT_SECONDS  # a command published before it was set
    if not timeout:
        return 0
    at = now()
    grace = TIMEOUT_GRACE if command.delivery == "command" else timedelta(0)
    changed = 0
    for execution in ports.commands.pending_executions(command.command_id):
        since = _timer_start(execution, command)
        if since is None or at < since + timedelta(seconds=timeout) + grace:
            continue
        reason = f"no answer from the device within {timeout} s"
        changed += transitions.report(
            ports.commands,
            command.command_id,
            execution.thing_name,
            "TIMED_OUT",
            source="reconciler",
            reason=reason,
            cloud_timeout=True,
        )
    return changed


def _timer_start(execution: Execution, command: Command) -> datetime | None:
    if command.delivery == "inbox":
        return execution.queued_at
    if execution.status == "SCHEDULED":
        return None  # not started yet
    sent = [entry.at for entry in execution.history if entry.to_status == "SENT"]
    return sent[0] if sent else execution.started_at or execution.updated_at
