"""The dispatch queue's steps for a published command (job delivery), each safe to run twice.

expand: every target expanded to things, one QUEUED execution per thing, the job's targets decided. Up to 100
  targets, the job names them; beyond, a static thing group per command holds the individually named things,
  filled by `fill` messages of 250 things each, and the job targets that group.
fill:   adds one batch of things to the command's group; the last batch to finish moves on to `create`.
create: creates the AWS IoT job and records its id.
cancel: marks the pending executions of a cancelled command CANCELED and removes its group.

A lease on the command item keeps a duplicate `expand` message from running alongside the first; a step that
crashed is taken over when its message comes back after the visibility timeout, once the lease has expired.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from commands_core.clock import iso, now
from commands_core.models.commands import Command
from commands_core.models.executions import Report
from commands_core.observability import logger, metrics
from commands_core.services import commands, targets, transitions
from commands_core.services.commands import Ports

FILL_BATCH = 250
LEASE = timedelta(seconds=330)  # longer than the consumer's timeout, shorter than the queue's visibility timeout
STALLED_FILL = timedelta(minutes=10)


def handle(ports: Ports, message: dict[str, Any]) -> None:
    steps: dict[str, Callable[[Ports, dict[str, Any]], None]] = {
        "expand": expand,
        "fill": fill,
        "create": create,
        "cancel": cancel,
    }
    logger.append_keys(command_id=message["commandId"], step=message["action"])
    steps[message["action"]](ports, message)


def expand(ports: Ports, message: dict[str, Any]) -> None:
    command = ports.commands.get(message["commandId"])
    if command is None or command.status != "in_progress":
        return
    if command.dispatch_step == "create":  # a retry after the job creation failed: resume there
        create(ports, message)
        return
    if command.dispatch_step == "fill":  # fill batches may be lost or still under way: see where they are
        _create_when_filled(ports, command.command_id)
        if not message.get("resume"):
            return
    if not _take_lease(ports, command, resume=bool(message.get("resume"))):
        return
    unknown = set(command.unknown_targets)
    parsed = targets.parse(command.targets)
    named = [name for name in parsed.things if f"thing/{name}" not in unknown]
    groups = [name for name in parsed.groups if f"thinggroup/{name}" not in unknown]
    members: dict[str, None] = {}
    for group in groups:
        members.update(dict.fromkeys(ports.registry.group_members(group)))
    found = targets.query_things(command.target_query, ports.registry) if command.target_query else []
    # Things the job must name (or put in the command's group); members of a targeted group come with it.
    individual = [name for name in dict.fromkeys([*named, *found]) if name not in members]
    everyone = list(dict.fromkeys([*named, *members, *found]))

    at = now()
    ports.commands.write_executions(command.command_id, everyone, at)
    group_arns = [ports.registry.group_arn(group) for group in groups]
    progress: dict[str, Any] = {"counts": {"QUEUED": len(everyone)}, "leaseUntil": None, "updatedAt": iso(at)}
    if len(individual) + len(group_arns) <= targets.MAX_JOB_TARGETS:
        job_targets = [ports.registry.thing_arn(name) for name in individual] + group_arns
        if _advance(ports, command, "expanding", progress | {"dispatchStep": "create", "jobTargets": job_targets}):
            create(ports, message)
        return
    group_name = f"command-{command.command_id}"
    group_arn = ports.jobs.ensure_group(group_name, f"Targets of command {command.command_id}")
    batches = [individual[start : start + FILL_BATCH] for start in range(0, len(individual), FILL_BATCH)]
    # Sent before the step is recorded: if sending fails, the retried expand sends them all again (harmless).
    for number, batch in enumerate(batches):
        ports.queue.send({"action": "fill", "commandId": command.command_id, "batch": number, "things": batch})
    step = {
        "dispatchStep": "fill",
        "groupName": group_name,
        "fillBatches": len(batches),
        "jobTargets": [*group_arns, group_arn],
    }
    if _advance(ports, command, "expanding", progress | step):
        _create_when_filled(ports, command.command_id)


def fill(ports: Ports, message: dict[str, Any]) -> None:
    command = ports.commands.get(message["commandId"])
    if command is None or command.status != "in_progress" or command.job_id:
        return
    group_name = f"command-{command.command_id}"
    for thing_name in message["things"]:
        ports.jobs.add_to_group(group_name, thing_name)
    ports.commands.add_fill_batch(command.command_id, message["batch"])
    _create_when_filled(ports, command.command_id)


def _create_when_filled(ports: Ports, command_id: str) -> None:
    """Moves on to `create` once every batch is in; whichever of expand and the last fill sees it first (the
    conditional step change lets only one through). Resumes a `create` that failed before."""
    command = ports.commands.get(command_id)
    if command is None:
        return
    filled = command.dispatch_step == "fill" and len(command.fill_done) >= (command.fill_batches or 0)
    if (filled and _advance(ports, command, "fill", {"dispatchStep": "create"})) or command.dispatch_step == "create":
        create(ports, {"commandId": command_id})


def create(ports: Ports, message: dict[str, Any]) -> None:
    command = ports.commands.get(message["commandId"])
    if command is None or command.job_id or command.dispatch_step != "create":
        return
    if command.status != "in_progress":
        cancel(ports, {"commandId": command.command_id, "force": False})
        return
    template = ports.templates.get(command.template_id)
    job_arn = ports.jobs.create_job(_job(ports, command, template))
    if ports.commands.update(
        command.command_id,
        {"jobId": command.command_id, "jobArn": job_arn, "dispatchStep": "done", "updatedAt": iso(now())},
        condition="commandStatus = :in_progress",
        values={":in_progress": "in_progress"},
    ):
        metrics.add_metric(name="CommandPublished", unit="Count", value=1)
        logger.info("job created", extra={"job_arn": job_arn, "targets": len(command.job_targets)})
    else:  # cancelled while the job was being created: cancel the job too
        ports.jobs.cancel_job(command.command_id, force=False, reason="command cancelled while it was published")


def cancel(ports: Ports, message: dict[str, Any]) -> None:
    """Every pending execution CANCELED (with force, those in progress too), then the command's group removed."""
    command = ports.commands.get(message["commandId"])
    if command is None:
        return
    force = bool(message.get("force"))
    cancellable = {"SCHEDULED", "QUEUED", "SENT"} | ({"ACKNOWLEDGED", "IN_PROGRESS"} if force else set())
    at = now()
    cancelled = 0
    for execution in ports.commands.pending_executions(command.command_id):
        if execution.status in cancellable:
            report = Report(
                command_id=command.command_id,
                thing_name=execution.thing_name,
                status="CANCELED",
                at=at,
                source="api",
                reason=f"command {command.status}",
            )
            cancelled += transitions.apply(ports.commands, report, create_missing=False)
    commands.release_group(ports, command)
    if command.dispatch_step != "done":
        ports.commands.update(command.command_id, {"dispatchStep": "stopped"})
    logger.info("pending executions cancelled", extra={"cancelled": cancelled})


def _job(ports: Ports, command: Command, template: Any) -> dict[str, Any]:
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
        "description": f"IoT Commands Service command {command.command_id} ({getattr(template, 'operation', '')})"[
            :2028
        ],
        "targetSelection": command.type,
    }
    if rate := setting("rollout_maximum_per_minute"):
        job["jobExecutionsRolloutConfig"] = {"maximumPerMinute": rate}
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


def _take_lease(ports: Ports, command: Command, *, resume: bool = False) -> bool:
    """The right to expand: a fresh command, an expired lease, or (the reconciler resuming) a stalled fill,
    whose batches are then all sent again."""
    at = now()
    condition = "dispatchStep = :expand OR (dispatchStep = :expanding AND leaseUntil < :now)"
    values = {":expand": "expand", ":expanding": "expanding", ":now": iso(at)}
    if resume:
        condition += " OR (dispatchStep = :fill AND updatedAt < :stalled)"
        values |= {":fill": "fill", ":stalled": iso(at - STALLED_FILL)}
    return ports.commands.update(
        command.command_id,
        {"dispatchStep": "expanding", "leaseUntil": iso(at + LEASE)},
        condition=condition,
        values=values,
    )


def _advance(ports: Ports, command: Command, step: str, changes: dict[str, Any]) -> bool:
    """Records the next step if the command is still published and at `step`."""
    return ports.commands.update(
        command.command_id,
        changes,
        condition="dispatchStep = :step AND commandStatus = :in_progress",
        values={":step": step, ":in_progress": "in_progress"},
    )
