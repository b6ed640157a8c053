"""The one rule for execution status changes, and the one function that applies it.

Every path goes through `apply`: AWS IoT events, device reports over HTTP, cancellations, the reconciler.
Events arrive at least once and in any order, so `apply` reads the execution, decides, and writes under the
condition that nothing changed since: a duplicate or stale report changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from commands_core.clock import now
from commands_core.models import scheduling
from commands_core.models.dispatch import Retry
from commands_core.models.executions import PENDING, TERMINAL, Execution, ExecutionStatus, Report, Source
from commands_core.models.lifecycle import PUBLISHED
from commands_core.observability import log_keys, logger, metrics
from commands_core.services import delivery, lifecycle_events, retries

if TYPE_CHECKING:
    from datetime import datetime

    from commands_core.adapters.commands import CommandRepository
    from commands_core.models.commands import Command
    from commands_core.services.ports import Ports

_RANK = {"SCHEDULED": 0, "QUEUED": 1, "SENT": 2, "ACKNOWLEDGED": 3, "IN_PROGRESS": 4}
_DEVICE_FINAL = frozenset({"SUCCEEDED", "FAILED", "REJECTED"})
_ATTEMPTS = 8
# Sources whose report times are AWS IoT's (or the reconciler's reading of AWS IoT): a report from before the
# failure that ended the last attempt is of an earlier attempt. The others are the service's own, made now.
_TIMED_BY_AWS = frozenset({"jobs-event", "commands-event", "reconciler"})
Restart = Callable[[Retry], object]


def allowed(current: str, new: str, *, cloud_timeout: bool = False) -> bool:
    """Whether an execution in `current` may move to `new`.

    Forward only; IN_PROGRESS may repeat (newer progress); a terminal status is final, except a TIMED_OUT set
    by the cloud, which a late device report of SUCCEEDED, FAILED or REJECTED still replaces.
    """
    if current in TERMINAL:
        return current == "TIMED_OUT" and cloud_timeout and new in _DEVICE_FINAL
    if new in TERMINAL:
        return True
    return _RANK[new] > _RANK[current] or new == current == "IN_PROGRESS"


def report(
    ports: Ports,
    command_id: str,
    thing_name: str,
    status: ExecutionStatus,
    *,
    source: Source,
    reason: str | None = None,
    cloud_timeout: bool = False,
    lease_until: datetime | None = None,
    read: Execution | None = None,
    attempt: int | None = None,
    restart: Restart | None = None,
) -> Execution | None:
    """Applies what the service itself learnt now of an execution the command has (never creating one): the
    execution as written, None when the report changes nothing.
    `lease_until`: the lease of an inbox execution handed out, recorded in the same write as its move.
    `read`: the execution as the caller has just read it, used instead of reading it again: a strongly consistent
    read, or one that may lag (an index, a Query) when the report moves on from what it says; the write is
    conditional on it all the same, and a retry reads afresh. `attempt`: the attempt the report is about (a
    device's): if a later one is current by then, it changes nothing. `restart`: sends the message that starts
    the next attempt, when the report is a failure the command's retry policy retries."""
    happened = Report(
        command_id=command_id,
        thing_name=thing_name,
        status=status,
        at=now(),
        source=source,
        reason=reason,
        cloud_timeout=cloud_timeout,
        lease_until=lease_until,
        attempt=attempt,
    )
    with log_keys(command_id=command_id, thing_name=thing_name):
        return _apply(ports, happened, create_missing=False, read=read, restart=restart)


class ExecutionChurn(Exception):
    """The execution kept changing under us; the caller retries later (a queue message comes back)."""


def apply(
    ports: Ports,
    report: Report,
    *,
    create_missing: bool = False,
    read: Execution | None = None,
    restart: Restart | None = None,
) -> bool:
    """Applies the report if the rule allows it; False when it changes nothing (duplicate, stale, unknown).

    An execution the command does not have yet is created only with `create_missing` (if the command exists):
    for one AWS IoT itself holds (a thing that joined the group of a CONTINUOUS job), never for a thing an event
    merely names. A failure the command's retry policy retries moves the execution to its next attempt instead
    (see `_next_attempt`); `restart` sends the message that starts it, where the delivery must. A report that
    ends the execution is told on the bus (services/lifecycle_events.py), by this write alone.
    """
    # Every log line about this execution names it, whichever function applies the report.
    with log_keys(command_id=report.command_id, thing_name=report.thing_name):
        return _apply(ports, report, create_missing=create_missing, read=read, restart=restart) is not None


def _apply(
    ports: Ports,
    report: Report,
    *,
    create_missing: bool,
    read: Execution | None,
    restart: Restart | None,
) -> Execution | None:
    store = ports.commands
    for attempt in range(_ATTEMPTS):
        execution = read if attempt == 0 and read else store.get_execution(report.command_id, report.thing_name)
        if execution is None:
            if not create_missing or store.get(report.command_id) is None:
                return None
            if report.status in retries.RETRYABLE:
                # Created as its attempt began (QUEUED), then the failure applied to it: the retry rule decides.
                store.record(None, report.model_copy(update={"status": "QUEUED", "reason": None, "details": None}))
                continue
        elif stale(execution, report):
            return None  # of an earlier attempt
        elif execution.reported_at and report.at <= execution.reported_at and execution.status == report.status:
            return None  # a duplicate, or an older IN_PROGRESS than the one applied
        elif not allowed(execution.status, report.status, cloud_timeout=execution.timed_out_by == "cloud"):
            return None
        again = _next_attempt(store, execution, report) if execution else None
        if (written := store.record(execution, report, again=again)) is not None:
            _applied(ports, execution, report, again=again, restart=restart)
            return written
    raise ExecutionChurn(f"execution {report.command_id}/{report.thing_name} kept changing")


def _applied(
    ports: Ports,
    execution: Execution | None,
    report: Report,
    *,
    again: ExecutionStatus | None,
    restart: Restart | None,
) -> None:
    """What follows the report's write, which this writer alone made: logs and metrics, the next attempt's start
    (`again`), or the end told on the bus."""
    moved = {"from": execution.status if execution else None, "to": report.status, "source": report.source}
    if again is not None and execution is not None:
        metrics.add_metric(name="ExecutionRetried", unit="Count", value=1)
        next_one = report.attempt_on(execution) + 1
        logger.info("execution retried", extra=moved | {"attempt": next_one, "as": again})
        if again == "SCHEDULED" and restart is not None:  # its delivery starts it again (dispatch queue)
            restart(Retry(command_id=report.command_id, thing_name=report.thing_name, attempt=next_one))
    elif report.status in TERMINAL:
        metrics.add_metric(name=f"Execution{report.status.title().replace('_', '')}", unit="Count", value=1)
        logger.info("execution ended", extra=moved)
        attempt = report.attempt_on(execution) if execution else 1
        lifecycle_events.execution_ended(ports.events, ports.commands.delivery_of(report.command_id), report, attempt)
    else:
        logger.debug("execution moved", extra=moved)


def stale(execution: Execution, report: Report) -> bool:
    """Whether the report is of an earlier attempt than the execution's current one: it says an earlier attempt,
    or names an AWS IoT Commands execution of an earlier one; else, when neither is known, it happened (in AWS
    IoT's time) before the failure that ended the last attempt, or at that moment as a failure again (AWS IoT
    Jobs' events count whole seconds)."""
    if report.attempt is not None:  # an attempt the table has not reached yet is one whose failures were lost
        return report.attempt < execution.attempt
    if report.execution_id is not None:  # AWS IoT Commands' execution: one per attempt
        return report.execution_id in execution.retired_execution_ids
    since = execution.attempt_since
    if since is None or report.source not in _TIMED_BY_AWS:
        return False
    return report.at < since or (report.at == since and report.status in retries.RETRYABLE)


def _next_attempt(store: CommandRepository, execution: Execution, report: Report) -> ExecutionStatus | None:
    """The status the execution's next attempt starts in, when the report is a failure of its current attempt
    that the command's retry policy retries; None when the failure ends the execution. A command no longer
    published (cancelled, deleted) retries nothing, nor one whose schedule has ended (nothing more starts)."""
    if report.status not in retries.RETRYABLE or execution.status in TERMINAL:
        return None
    command = store.get(report.command_id)
    if command is None or command.status not in PUBLISHED or scheduling.ended(command.scheduling_config, now()):
        return None
    policy = command.job_executions_retry_config
    if not retries.retried(policy, execution, report.status, attempt=report.attempt_on(execution)):
        return None
    return delivery.of(command.delivery).retry_status


def ended(command: Command) -> bool:
    """Whether a command whose executions have all started has none left pending: a SNAPSHOT command, or a
    CONTINUOUS one whose schedule has ended (no thing joins it any more)."""
    closed = command.type == "SNAPSHOT" or scheduling.ended(command.scheduling_config, now())
    if command.status != "in_progress" or not closed or command.dispatch_step != "done":
        return False
    return bool(command.counts) and not any(command.counts.get(status, 0) > 0 for status in PENDING)
