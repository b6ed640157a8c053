"""Delivery command: one AWS IoT command holds the rendered document (the command's files presigned by the
service); the dispatch queue's `start` step then starts one execution per thing, in batches (services/dispatch.py
decides when). A batch started twice starts nothing twice: the client token is derived from command and thing
(and from the attempt, for the new execution a retry policy starts: `retry`).
Executions stay SCHEDULED until AWS IoT's events (or the reconciler, reading AWS IoT) say they were created:
starting writes nothing per thing.

An execution with no answer within its timeout becomes TIMED_OUT by the cloud, which a late device answer may
still replace (IoT Commands semantics). AWS IoT times executions out itself; the reconciler is the backstop.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import ClassVar

from commands_core.adapters.iot_commands import Start as Started
from commands_core.clock import now
from commands_core.errors import Conflict, InvalidInput, RetryLater
from commands_core.models.commands import Command, published_file_key
from commands_core.models.dispatch import Start
from commands_core.models.executions import Execution, ExecutionStatus, Report
from commands_core.models.jobs import DEFAULT_EXECUTION_TIMEOUT_SECONDS, JobSettings
from commands_core.models.templates import Template
from commands_core.observability import logger, metrics
from commands_core.services import commands, rendering, transitions
from commands_core.services.delivery import (
    JOB_ONLY,
    Batch,
    Delivery,
    cancel_pending,
    frozen_rollout,
    refuse,
    time_out_pending,
)
from commands_core.services.ports import Ports
from commands_core.services.targets import Targets

WORKERS = 16  # StartCommandExecution calls in flight
TIMEOUT_GRACE = timedelta(seconds=30)  # AWS IoT times command executions out itself; this is the backstop
DESCRIPTION = "IoT Commands Service command"  # how an IoT command of this service is known (a retried create)
_UNREACHED = frozenset({"SCHEDULED"})

# IoT Commands execution statuses in the unified names.
STATUSES: dict[str, ExecutionStatus] = {
    "CREATED": "SENT",
    "IN_PROGRESS": "IN_PROGRESS",
    "SUCCEEDED": "SUCCEEDED",
    "FAILED": "FAILED",
    "REJECTED": "REJECTED",
    "TIMED_OUT": "TIMED_OUT",
}


class CommandDelivery:
    kind: ClassVar[str] = "command"
    initial_status: ClassVar[ExecutionStatus] = "SCHEDULED"
    presigns_files: ClassVar[bool] = True
    takes_device_reports: ClassVar[bool] = False
    retry_status: ClassVar[ExecutionStatus] = "SCHEDULED"  # until `retry` starts a new AWS IoT execution

    def check(self, settings: JobSettings) -> None:
        refuse(settings, JOB_ONLY, self.kind)

    def publication(self, command: Command, template: Template) -> dict[str, object]:
        # Every execution is started with a timeout of the service's, never AWS IoT's 10 s.
        timeout = command.execution_timeout_seconds or template.execution_timeout_seconds
        return frozen_rollout(command, template) | {
            "execution_timeout_seconds": timeout or DEFAULT_EXECUTION_TIMEOUT_SECONDS
        }

    def deliver(self, ports: Ports, command: Command, targets: Targets, lease: datetime) -> bool:
        try:
            arn = _create(ports, command)
        except Conflict as conflict:
            if ports.commands.stop(command.command_id, lease=lease):
                commands.cancel(ports, command, force=False, reason=conflict.message)
            return True
        if not ports.commands.advance(
            command.command_id,
            "starting",
            iot_command_arn=arn,
            dispatch_cursor="",
            dispatch_batches=0,
            lease_until=None,
            updated_at=now(),
        ):
            # Cancelled or deleted meanwhile: the AWS IoT command must never start anything.
            ports.iot_commands.deprecate(command.command_id)
            if (current := ports.commands.get(command.command_id)) and current.status == "deleted":
                ports.iot_commands.delete(command.command_id)
            return False
        metrics.add_metric(name="CommandPublished", unit="Count", value=1)
        # A step of its own (its own time budget); a lost message is sent again by a repeated expand or the
        # reconciler.
        ports.queue.send(Start(command_id=command.command_id))
        return True

    def start_batch(self, ports: Ports, command: Command, batch: list[Execution]) -> Batch | None:
        """Starts the batch's SCHEDULED executions in parallel. Every call counts against the rate: those past a
        failure (asked again later, harmlessly), and those that failed, which AWS IoT may have carried out all
        the same (a timeout). None if the command was cancelled meanwhile (AWS IoT refuses to start a
        deprecated command)."""
        scheduled = [execution.thing_name for execution in batch if execution.status == "SCHEDULED"]
        arns = {name: ports.registry.thing_arn(name) for name in scheduled}
        command_arn = command.iot_command_arn or ""
        timeout = command.execution_timeout_seconds
        throttled = threading.Event()
        not_asked = Started("retry", reason="not asked: AWS IoT was refusing this batch")

        def start_one(name: str) -> Started:
            if throttled.is_set():  # back off: the rest of the batch waits for the step's next try
                return not_asked
            result = ports.iot_commands.start(command_arn, arns[name], timeout)
            if result.outcome == "retry":
                throttled.set()
            return result

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            results = dict(zip(scheduled, pool.map(start_one, scheduled), strict=True))
        started = sum(result.outcome in ("started", "retry") and result is not not_asked for result in results.values())
        handled = command.dispatch_cursor or ""
        for execution in batch:
            result = results.get(execution.thing_name)
            if result is not None and result.outcome == "retry":
                logger.warning("AWS IoT did not start an execution; retrying", extra={"reason": result.reason})
                return Batch(started, handled, retry=True)
            if (
                result is not None
                and result.outcome in ("gone", "refused")
                and not _not_started(ports, command, execution, result)
            ):
                return None
            handled = execution.thing_name
        return Batch(started, handled, retry=False)

    def retry(self, ports: Ports, command: Command, execution: Execution) -> None:
        """A new AWS IoT execution for the attempt, its client token derived from the attempt too (a message
        delivered twice starts it once); its id recorded, so that events of the earlier ones are told apart."""
        thing_arn = ports.registry.thing_arn(execution.thing_name)
        timeout = command.execution_timeout_seconds
        result = ports.iot_commands.start(command.iot_command_arn or "", thing_arn, timeout, execution.attempt)
        if result.outcome == "retry":
            raise RetryLater(f"AWS IoT did not start attempt {execution.attempt}: {result.reason}")
        if result.outcome == "started" and result.execution_id:
            ports.commands.record_execution_id(execution, result.execution_id)
            metrics.add_metric(name="ExecutionsStarted", unit="Count", value=1)
            return
        _not_started(ports, command, execution, result)

    def all_started(self, ports: Ports, command: Command) -> None:
        return None

    def stop_starting(self, ports: Ports, command: Command, *, force: bool) -> None:
        # By id: the AWS IoT command may be being created right now (its ARN not recorded yet).
        ports.iot_commands.deprecate(command.command_id)

    def cancel(self, ports: Ports, command: Command, *, force: bool) -> int:
        """AWS IoT starts no more executions (its command deprecated), the table learns which started, and
        those never started are CANCELED."""
        if command.iot_command_arn:
            ports.iot_commands.deprecate(command.command_id)
            self.read_back(ports, command)
        return cancel_pending(ports, command, _UNREACHED)

    def cancel_one(self, ports: Ports, command: Command, execution: Execution, *, force: bool) -> str | None:
        # Once its rollout is done every execution has started (its event may be on the way); before, the
        # dispatcher may be starting it now. Only cancelling the command (deprecating it) stops what is left.
        raise InvalidInput(
            "thingName", "AWS IoT Commands cannot cancel one execution; cancel the command to stop those not started"
        )

    def read_back(self, ports: Ports, command: Command, *, ended: bool = False) -> int:
        if not command.iot_command_arn:
            return 0
        changed = 0
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
            # AWS IoT lists every attempt's execution: those of earlier attempts are stale (transitions.stale).
            changed += transitions.apply(ports, report, create_missing=False, restart=ports.queue.send)
        return changed

    def time_out(self, ports: Ports, command: Command) -> int:
        """Counted from the execution's creation, as AWS IoT does."""
        timeout = command.execution_timeout_seconds or DEFAULT_EXECUTION_TIMEOUT_SECONDS  # published before it was set
        return time_out_pending(ports, command, timeout, _created, TIMEOUT_GRACE)

    def fetched(self, ports: Ports, execution: Execution, at: datetime, until: datetime) -> Execution | None:
        return execution  # shown for information: AWS IoT delivers it

    def release(self, ports: Ports, command: Command) -> None:
        return None  # the AWS IoT command stays until the command is deleted: it holds the executions' results

    def delete(self, ports: Ports, command: Command) -> bool:
        # Deprecated first (stop_starting): AWS IoT then starts none of its executions, whatever the cancel step
        # has got to, and deletes it once 12 hours have passed.
        return ports.iot_commands.delete(command.command_id)


DELIVERY: Delivery = CommandDelivery()


def _create(ports: Ports, command: Command) -> str:
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


def _created(execution: Execution) -> datetime | None:
    if execution.status == "SCHEDULED":
        return None  # not started yet
    # Of the current attempt: an earlier one's timer ended with it.
    sent = [entry.at for entry in execution.history if entry.to_status == "SENT" and entry.attempt == execution.attempt]
    return sent[0] if sent else execution.started_at or execution.updated_at


def _not_started(ports: Ports, command: Command, execution: Execution, result: Started) -> bool:
    """Ends the attempt AWS IoT did not start: REMOVED (the thing is gone) or FAILED (refused), which a retry
    policy may start again. False when the command is no longer in progress: cancelled meanwhile (AWS IoT refuses
    a deprecated command), its cancel step ends the execution CANCELED."""
    current = ports.commands.get(command.command_id)
    if current is None or current.status != "in_progress":
        return False
    status: ExecutionStatus = "REMOVED" if result.outcome == "gone" else "FAILED"
    transitions.report(
        ports,
        command.command_id,
        execution.thing_name,
        status,
        source="api",
        reason=f"AWS IoT did not start it: {result.reason}",
        attempt=execution.attempt,
        restart=ports.queue.send,
    )
    return True
