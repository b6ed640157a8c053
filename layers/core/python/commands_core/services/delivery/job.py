"""Delivery job: one AWS IoT job per command, whose id is the command's, paced by the rollout engine like every
kind. The job is CONTINUOUS and targets a static thing group of the command's own (`command-<commandId>`): the
dispatch queue's start step adds each batch of things to that group, and AWS IoT then queues the thing's
execution and notifies its device. So the rollout's rate, waves, pause and abort decide who gets the job and
when, as for the other kinds, and the job's id stays the command's for every AWS IoT tool and event. AWS IoT
applies the job's timeout and retry policies (the table follows a retry as for every kind: services/retries.py);
its events and the reconciler bring the executions' statuses back.

A CONTINUOUS command's things that join its targets later are added to the same group, one by one, as the
service finds them (services/joiners.py): the job never targets the operator's groups, so it reaches no thing the
service did not choose (one whose execution was cancelled, one past maximumTargets). The job never completes by
itself (it is continuous): the service cancels it when the command completes, and deletes the group.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel

from commands_core.clock import now
from commands_core.errors import Conflict, InvalidInput, RetryLater
from commands_core.models.commands import Command
from commands_core.models.dispatch import Start
from commands_core.models.executions import PENDING, Execution, ExecutionStatus, Report
from commands_core.models.jobs import JobSettings
from commands_core.models.templates import Template
from commands_core.observability import logger, metrics
from commands_core.services import commands, transitions
from commands_core.services.delivery import Batch, Delivery, cancel_pending
from commands_core.services.ports import Ports
from commands_core.services.targets import SERVICE_GROUP_PREFIX, Targets

WORKERS = 16  # AddThingToThingGroup calls in flight
DESCRIPTION = "IoT Commands Service command"  # how a job of this service is known (a retried create)
_NOT_ADDED = frozenset({"SCHEDULED"})
_UNREACHED = frozenset({"SCHEDULED", "QUEUED", "SENT"})
_ADDED = PENDING - _NOT_ADDED

# IoT Jobs' execution statuses are the unified names.
STATUSES: dict[str, ExecutionStatus] = {
    name: name
    for name in ("QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "CANCELED", "REMOVED")
}


class JobDelivery:
    kind: ClassVar[str] = "job"
    initial_status: ClassVar[ExecutionStatus] = "SCHEDULED"
    presigns_files: ClassVar[bool] = False
    takes_device_reports: ClassVar[bool] = False
    retry_status: ClassVar[ExecutionStatus] = "QUEUED"  # AWS IoT queues the next attempt itself (the job's policy)

    def check(self, settings: JobSettings) -> None:
        if settings.execution_timeout_seconds is not None:
            raise InvalidInput(
                "executionTimeoutSeconds", "applies to delivery command or inbox; a job's timeout is timeoutConfig"
            )

    def publication(self, command: Command, template: Template) -> dict[str, object]:
        from commands_core.services.delivery import frozen_rollout

        return frozen_rollout(command, template)

    def deliver(self, ports: Ports, command: Command, targets: Targets, lease: datetime) -> bool:
        group_name = group_of(command.command_id)
        group_arn = ports.jobs.ensure_group(group_name, f"Targets of command {command.command_id}")
        job = _job(ports, command, ports.templates.get(command.template_id), group_arn)
        try:
            job_arn = ports.jobs.create_job(job)
        except Conflict as conflict:
            if ports.commands.stop(command.command_id, lease=lease):
                commands.cancel(ports, command, force=False, reason=conflict.message)
            return True
        if not ports.commands.advance(
            command.command_id,
            "starting",
            job_id=command.command_id,
            job_arn=job_arn,
            group_name=group_name,
            dispatch_cursor="",
            dispatch_batches=0,
            lease_until=None,
            updated_at=now(),
        ):
            # Cancelled or deleted meanwhile: the job must never reach anything.
            ports.jobs.cancel_job(command.command_id, force=False, reason=f"command {command.command_id} ended")
            return False
        metrics.add_metric(name="CommandPublished", unit="Count", value=1)
        logger.info("job created", extra={"job_arn": job_arn})
        ports.queue.send(Start(command_id=command.command_id))
        return True

    def start_batch(self, ports: Ports, command: Command, batch: list[Execution]) -> Batch | None:
        """Adds the batch's things not added yet to the command's group, in parallel: AWS IoT then queues their
        executions. A thing AWS IoT cannot add (deleted since, or in 10 static groups already) is REMOVED."""
        scheduled = [execution.thing_name for execution in batch if execution.status in _NOT_ADDED]
        group = command.group_name or group_of(command.command_id)
        throttled = threading.Event()

        def add(name: str) -> str | RetryLater | None:
            if throttled.is_set():  # back off: the rest of the batch waits for the step's next try
                return RetryLater("not asked: AWS IoT was refusing this batch")
            try:
                return ports.jobs.add_to_group(group, name)
            except RetryLater as error:
                throttled.set()
                return error

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            results = dict(zip(scheduled, pool.map(add, scheduled), strict=True))
        started = sum(not isinstance(result, RetryLater) for result in results.values())
        current = ports.commands.get(command.command_id)
        if current is None or current.status != "in_progress":
            return None  # cancelled meanwhile: its cancel step reads back what AWS IoT queued
        handled = command.dispatch_cursor or ""
        for execution in batch:
            name = execution.thing_name
            if name in results:
                result = results[name]
                if isinstance(result, RetryLater):
                    logger.warning("AWS IoT did not add a thing; retrying", extra={"reason": str(result)})
                    return Batch(started, handled, retry=True)
                _added(ports, command, execution, result)
            handled = name
        return Batch(started, handled, retry=False)

    def retry(self, ports: Ports, command: Command, execution: Execution) -> None:
        return None  # AWS IoT has queued the next attempt itself, and notifies the device

    def all_started(self, ports: Ports, command: Command) -> None:
        return None  # a thing that joins a CONTINUOUS command later is added to the group too (services/joiners.py)

    def stop_starting(self, ports: Ports, command: Command, *, force: bool) -> None:
        # By id: the job may be being created right now (its id not recorded yet); one not made is no trouble.
        ports.jobs.cancel_job(command.command_id, force=force, reason=f"command {command.status} through the API")

    def cancel(self, ports: Ports, command: Command, *, force: bool) -> int:
        """AWS IoT decides what it could cancel (a device may have started meanwhile): what it says now is
        applied, what it finishes cancelling later arrives as events; the things never added are CANCELED."""
        if not command.job_id:
            return cancel_pending(ports, command, _UNREACHED)  # no job: nothing reached a device
        ports.jobs.cancel_job(command.job_id, force=force, reason=f"command {command.status} through the API")
        changed = self.read_back(ports, command)
        # Not added, or added as the job was being cancelled (AWS IoT queued nothing for it): never reached.
        listed = {name for name, *_ in ports.jobs.executions(command.job_id)}
        return changed + cancel_pending(
            ports, command, _NOT_ADDED, also=lambda e: e.status == "QUEUED" and e.thing_name not in listed
        )

    def cancel_one(self, ports: Ports, command: Command, execution: Execution, *, force: bool) -> str | None:
        if not command.job_id or execution.status in _NOT_ADDED:
            return "CANCELED"  # not added to the job's group: nothing reached the device
        return ports.jobs.cancel_execution(command.job_id, execution.thing_name, force=force)

    def read_back(self, ports: Ports, command: Command, *, ended: bool = False) -> int:
        """With `ended` (AWS IoT's job completed), an execution AWS IoT does not list will never come: it is
        REMOVED, so the command can complete."""
        if not command.job_id:
            return 0
        table = ports.commands.execution_statuses(command.command_id)
        changed = 0
        listed = set()
        for thing_name, iot_status, at, number in ports.jobs.executions(command.job_id):
            listed.add(thing_name)
            status = STATUSES.get(iot_status)
            if status and table.get(thing_name) != status:
                # AWS IoT's execution number is the attempt (its events do not say): exact, where events guess.
                report = Report(
                    command_id=command.command_id,
                    thing_name=thing_name,
                    status=status,
                    at=at,
                    source="reconciler",
                    attempt=number,
                )
                # Listed by AWS IoT itself: an execution the table lacks is real (a thing that joined a group).
                changed += transitions.apply(ports, report, create_missing=True)
        if ended:  # (a thing not added to the group yet is not the job's)
            unlisted = [name for name, status in table.items() if status in _ADDED and name not in listed]
            for thing_name in unlisted:
                reason = "AWS IoT's completed job has no execution for this thing"
                changed += (
                    transitions.report(
                        ports, command.command_id, thing_name, "REMOVED", source="reconciler", reason=reason
                    )
                    is not None
                )
        return changed

    def time_out(self, ports: Ports, command: Command) -> int:
        return 0  # AWS IoT times a job's executions out itself (timeoutConfig)

    def fetched(self, ports: Ports, execution: Execution, at: datetime, until: datetime) -> Execution | None:
        return execution  # shown for information: the job delivers it

    def release(self, ports: Ports, command: Command) -> None:
        """The job, continuous, never completes by itself: cancelled (a no-op once cancelled); the group deleted
        (a thing can be in only 10 static groups)."""
        if command.job_id:
            ports.jobs.cancel_job(command.job_id, force=False, reason=f"command {command.command_id} {command.status}")
        ports.jobs.delete_group(command.group_name or group_of(command.command_id))  # (made before it was recorded)

    def delete(self, ports: Ports, command: Command) -> bool:
        return False  # the job stays in AWS IoT's history, cancelled


DELIVERY: Delivery = JobDelivery()


def _added(ports: Ports, command: Command, execution: Execution, problem: str | None) -> None:
    """Records a thing added to the job's group (QUEUED), or why AWS IoT would not add it (REMOVED). One
    cancelled alone while it was being added is cancelled in AWS IoT too: AWS IoT has queued it all the same."""
    status: ExecutionStatus = "QUEUED" if problem is None else "REMOVED"
    name = execution.thing_name
    if transitions.report(ports, command.command_id, name, status, source="api", reason=problem, read=execution):
        return
    now_there = ports.commands.get_execution(command.command_id, name)
    if problem is None and command.job_id and now_there is not None and now_there.status == "CANCELED":
        ports.jobs.cancel_execution(command.job_id, name, force=True)


def group_of(command_id: str) -> str:
    return SERVICE_GROUP_PREFIX + command_id


def _job(ports: Ports, command: Command, template: Template | None, group_arn: str) -> dict[str, Any]:
    """CreateJob's arguments: a CONTINUOUS job on the command's group, with the command's timeout and retry
    policies, else the template's. Its rate and abort criteria are the rollout's, applied by the service."""

    def setting(name: str) -> Any:
        value = getattr(command, name) or getattr(template, name, None)
        return value.model_dump(by_alias=True, exclude_none=True) if isinstance(value, BaseModel) else value

    job: dict[str, Any] = {
        "jobId": command.command_id,
        "targets": [group_arn],
        "document": command.document,
        "description": f"{DESCRIPTION} {command.command_id} ({getattr(template, 'operation', '')})"[:2028],
        "targetSelection": "CONTINUOUS",
    }
    for name, argument in (
        ("timeout_config", "timeoutConfig"),
        ("job_executions_retry_config", "jobExecutionsRetryConfig"),
    ):
        if value := setting(name):
            job[argument] = value
    if command.files:
        expiry = getattr(template, "presigned_url_expires_in_seconds", 3600)
        job["presignedUrlConfig"] = {"roleArn": ports.presign_role_arn, "expiresInSec": expiry}
    return job
