"""Delivery job: one AWS IoT job per command, whose id is the command's. AWS IoT holds the executions, notifies
the devices at the command's rate and applies its abort, timeout and retry policies; its events and the
reconciler bring the executions' statuses back.

AWS IoT takes at most 100 targets per job. Up to that the job names the things and groups; beyond, a static
thing group per command holds the individually named things, filled by `fill` messages of 250 things each,
and the job targets that group (with the targeted groups). The last batch to finish moves on to `create`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel

from commands_core.clock import iso, now
from commands_core.errors import Conflict, InvalidInput
from commands_core.models.commands import Command
from commands_core.models.dispatch import Cancel, Create, Fill
from commands_core.models.executions import PENDING, Execution, ExecutionStatus, Report
from commands_core.models.jobs import JobSettings
from commands_core.models.templates import Template
from commands_core.observability import logger, metrics
from commands_core.services import commands, targets, transitions
from commands_core.services.delivery import Batch, Delivery, Targets, cancel_pending
from commands_core.services.ports import Ports

FILL_BATCH = 250
MAX_TARGETS = targets.MAX_JOB_TARGETS
_UNREACHED = frozenset({"SCHEDULED", "QUEUED", "SENT"})
DESCRIPTION = "IoT Commands Service command"  # how a job of this service is known (a retried create)

# IoT Jobs' execution statuses are the unified names.
STATUSES: dict[str, ExecutionStatus] = {
    name: name
    for name in ("QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "CANCELED", "REMOVED")
}


class JobDelivery:
    kind: ClassVar[str] = "job"
    initial_status: ClassVar[ExecutionStatus] = "QUEUED"
    targets_groups: ClassVar[bool] = True
    presigns_files: ClassVar[bool] = False
    paced: ClassVar[bool] = False
    continuous: ClassVar[bool] = True
    takes_device_reports: ClassVar[bool] = False

    def check(self, settings: JobSettings) -> None:
        if settings.waves is not None:
            raise InvalidInput("waves", "applies to delivery command or inbox; a job rolls out at its rate")
        if settings.execution_timeout_seconds is not None:
            raise InvalidInput(
                "executionTimeoutSeconds", "applies to delivery command or inbox; a job's timeout is timeoutConfig"
            )

    def publication(self, command: Command, template: Template) -> dict[str, object]:
        return {}  # the job is created from the command's settings, else the template's, when it is created

    def deliver(self, ports: Ports, command: Command, targets: Targets, lease: datetime) -> bool:
        group_arns = [ports.registry.group_arn(group) for group in targets.groups]
        if len(targets.individual) + len(group_arns) <= MAX_TARGETS:
            job_targets = [ports.registry.thing_arn(name) for name in targets.individual] + group_arns
            if not ports.commands.advance(command.command_id, "named", job_targets=job_targets, lease_until=None):
                return False
            create(ports, Create(command_id=command.command_id))
            return True
        group_name = group_of(command.command_id)
        group_arn = ports.jobs.ensure_group(group_name, f"Targets of command {command.command_id}")
        things = targets.individual
        batches = [things[start : start + FILL_BATCH] for start in range(0, len(things), FILL_BATCH)]
        generation = iso(lease)
        # Sent before the step is recorded: if sending fails, the retried expand sends them all again (harmless).
        for number, batch in enumerate(batches):
            fill_message = Fill(command_id=command.command_id, generation=generation, batch=number, things=batch)
            ports.queue.send(fill_message)
        if not ports.commands.advance(
            command.command_id,
            "filling",
            group_name=group_name,
            fill_batches=len(batches),
            fill_generation=generation,
            job_targets=[*group_arns, group_arn],
            lease_until=None,
            updated_at=now(),
        ):
            return False
        _create_when_filled(ports, command.command_id)
        return True

    def resume(self, ports: Ports, command: Command, *, reconciling: bool) -> bool:
        if command.dispatch_step == "create":  # a retry after the job creation failed: resume there
            create(ports, Create(command_id=command.command_id))
            return True
        if command.dispatch_step == "fill":  # fill batches may be lost or still under way: see where they are
            _create_when_filled(ports, command.command_id)
            return not reconciling  # the reconciler resumes a stalled fill by expanding again
        return False

    def start_batch(self, ports: Ports, command: Command, batch: list[Execution]) -> Batch | None:
        raise NotImplementedError("AWS IoT starts a job's executions itself")

    def stop_starting(self, ports: Ports, command: Command, *, force: bool) -> None:
        if command.job_id:
            ports.jobs.cancel_job(command.job_id, force=force, reason=f"command {command.status} through the API")

    def cancel(self, ports: Ports, command: Command, *, force: bool) -> int:
        if command.job_id:
            # AWS IoT decides what it could cancel (a device may have started meanwhile): apply what it says now;
            # what it finishes cancelling later arrives as events.
            ports.jobs.cancel_job(command.job_id, force=force, reason=f"command {command.status} through the API")
            return self.read_back(ports, command)
        return cancel_pending(ports, command, _UNREACHED)  # no job: nothing reached a device

    def cancel_one(self, ports: Ports, command: Command, execution: Execution, *, force: bool) -> str | None:
        if not command.job_id:
            return "CANCELED"  # no job: nothing reached the device
        return ports.jobs.cancel_execution(command.job_id, execution.thing_name, force=force)

    def read_back(self, ports: Ports, command: Command, *, ended: bool = False) -> int:
        """Once the job has completed (`ended`), an execution AWS IoT does not list (its thing left the group,
        or it was deleted) will never come: it is REMOVED, so the command can complete."""
        if not command.job_id:
            return 0
        table = ports.commands.execution_statuses(command.command_id)
        changed = 0
        listed = set()
        for thing_name, iot_status, at in ports.jobs.executions(command.job_id):
            listed.add(thing_name)
            status = STATUSES.get(iot_status)
            if status and table.get(thing_name) != status:
                report = Report(
                    command_id=command.command_id, thing_name=thing_name, status=status, at=at, source="reconciler"
                )
                # Listed by AWS IoT itself: an execution the table lacks is real (a thing that joined the group).
                changed += transitions.apply(ports.commands, report, create_missing=True)
        if ended:
            for thing_name in [name for name, status in table.items() if status in PENDING and name not in listed]:
                reason = "AWS IoT's completed job has no execution for this thing"
                changed += transitions.report(
                    ports.commands, command.command_id, thing_name, "REMOVED", source="reconciler", reason=reason
                )
        return changed

    def time_out(self, ports: Ports, command: Command) -> int:
        return 0  # AWS IoT times a job's executions out itself (timeoutConfig)

    def fetched(self, ports: Ports, execution: Execution, at: datetime, until: datetime) -> Execution | None:
        return execution  # shown for information: the job delivers it

    def rollout_changed(self, ports: Ports, command: Command) -> None:
        """AWS IoT paces and aborts the job: UpdateJob (a job not created yet takes them when it is)."""
        if command.job_id:
            rollout = command.rollout()
            ports.jobs.update_job(
                command.job_id,
                rollout=rollout.model_dump(by_alias=True, exclude_none=True) if rollout else None,
                abort=command.abort_config.model_dump(by_alias=True, exclude_none=True)
                if command.abort_config
                else None,
            )

    def release(self, ports: Ports, command: Command) -> None:
        """Deletes the command's thing group (a thing can be in only 10 static groups)."""
        if command.group_name:
            ports.jobs.delete_group(command.group_name)

    def delete(self, ports: Ports, command: Command) -> bool:
        return False  # the job stays in AWS IoT's history, cancelled


DELIVERY: Delivery = JobDelivery()


def group_of(command_id: str) -> str:
    return f"command-{command_id}"


def fill(ports: Ports, message: Fill) -> None:
    command = ports.commands.get(message.command_id)
    if command is None or command.status != "in_progress" or command.job_id:
        return
    for thing_name in message.things:
        if problem := ports.jobs.add_to_group(group_of(command.command_id), thing_name):
            # A thing deleted since, or in 10 static groups already: it cannot be reached; say so and go on.
            transitions.report(ports.commands, command.command_id, thing_name, "REMOVED", source="api", reason=problem)
    ports.commands.add_fill_batch(command.command_id, f"{message.generation}|{message.batch}")
    _create_when_filled(ports, command.command_id)


def _create_when_filled(ports: Ports, command_id: str) -> None:
    """Moves on to `create` once every batch of the current generation is in; whichever of expand and the
    last fill sees it first (the conditional step change lets only one through). Resumes a failed `create`."""
    command = ports.commands.get(command_id)
    if command is None:
        return
    done = {entry for entry in command.fill_done if entry.startswith(f"{command.fill_generation}|")}
    filled = command.dispatch_step == "fill" and len(done) >= (command.fill_batches or 0)
    if (filled and ports.commands.advance(command_id, "filled")) or command.dispatch_step == "create":
        create(ports, Create(command_id=command_id))


def create(ports: Ports, message: Create) -> None:
    command = ports.commands.get(message.command_id)
    if command is None or command.job_id or command.dispatch_step != "create":
        return
    if command.status != "in_progress":
        _cancel_step(ports, command.command_id)
        return
    job = _job(ports, command, ports.templates.get(command.template_id))
    try:
        job_arn = ports.jobs.create_job(job)
    except Conflict as conflict:
        commands.cancel(ports, command, force=False, reason=conflict.message)
        return
    if ports.commands.advance(
        command.command_id,
        "job_created",
        job_id=command.command_id,
        job_arn=job_arn,
        job_retries="jobExecutionsRetryConfig" in job,
        updated_at=now(),
    ):
        metrics.add_metric(name="CommandPublished", unit="Count", value=1)
        logger.info("job created", extra={"job_arn": job_arn, "targets": len(command.job_targets)})
    else:  # cancelled while the job was being created: the cancel step, run again, cancels the job too
        _cancel_step(ports, command.command_id)


def _cancel_step(ports: Ports, command_id: str) -> None:
    from commands_core.services import dispatch  # which routes this module's steps: imported when needed

    dispatch.cancel(ports, Cancel(command_id=command_id))


def _job(ports: Ports, command: Command, template: Template | None) -> dict[str, Any]:
    """CreateJob's arguments: the command's settings, else the template's."""

    def setting(name: str) -> Any:
        value = getattr(command, name) or getattr(template, name, None)
        if isinstance(value, BaseModel):
            return value.model_dump(by_alias=True, exclude_none=True)
        return value

    job: dict[str, Any] = {
        "jobId": command.command_id,
        "targets": command.job_targets,
        "document": command.document,
        "description": f"{DESCRIPTION} {command.command_id} ({getattr(template, 'operation', '')})"[:2028],
        "targetSelection": command.type,
    }
    if rollout := command.rollout() or (template.rollout() if template else None):
        job["jobExecutionsRolloutConfig"] = rollout.model_dump(by_alias=True, exclude_none=True)
    for name, argument in (
        ("abort_config", "abortConfig"),
        ("timeout_config", "timeoutConfig"),
        ("job_executions_retry_config", "jobExecutionsRetryConfig"),
    ):
        if value := setting(name):
            job[argument] = value
    if command.files:
        expiry = getattr(template, "presigned_url_expires_in_seconds", 3600)
        job["presignedUrlConfig"] = {"roleArn": ports.presign_role_arn, "expiresInSec": expiry}
    return job
