"""The dispatch queue's steps for a published command, each safe to run twice. The job delivery's are here;
the command delivery's `start` step, and what the command and inbox deliveries do instead of a job, are in
services/delivery.py.

expand: every target expanded to things, one QUEUED execution per thing, the files frozen (copied, at the
  version publishing recorded, to keys no upload URL reaches), the job's targets decided. Up to 100 targets the
  job names them; beyond, a static thing group per command holds the individually named things, filled by
  `fill` messages of 250 things each, and the job targets that group.
fill:   adds one batch of things to the command's group; the last batch to finish moves on to `create`.
create: creates the AWS IoT job and records its id.
(The command and inbox deliveries have no group and no job: expand writes their executions, SCHEDULED to be
  started or QUEUED for the device to fetch, and the command delivery goes on to create its AWS IoT command.)
cancel: cancels the job of a cancelled command, marks its pending executions CANCELED, removes its group.

A lease on the command item keeps a duplicate `expand` message from running alongside the first; a step that
crashed is taken over when its message comes back after the visibility timeout, once the lease has expired,
and starts over (its executions rewritten, a new generation of fill batches).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from commands_core.clock import iso, now
from commands_core.errors import Conflict
from commands_core.models.commands import Command, published_file_key
from commands_core.models.executions import ExecutionStatus
from commands_core.models.templates import Template
from commands_core.observability import logger, metrics
from commands_core.services import commands, delivery, reconcile, targets, transitions
from commands_core.services.commands import Ports

FILL_BATCH = 250
LEASE = timedelta(seconds=330)  # longer than the consumer's timeout, shorter than the queue's visibility timeout
STALLED_FILL = timedelta(minutes=10)
# The dispatch beat: a step that must wait for another (a cancel while the command is being expanded) comes back
# this much later, and an expand looks whether its command was cancelled at least this often (every CHUNK
# executions written, well under a beat).
BEAT_SECONDS = 5
CHUNK = 1000


def handle(ports: Ports, message: dict[str, Any]) -> None:
    steps: dict[str, Callable[[Ports, dict[str, Any]], None]] = {
        "expand": expand,
        "fill": fill,
        "create": create,
        "cancel": cancel,
        "start": delivery.start,
    }
    logger.append_keys(command_id=message["commandId"], step=message["action"])
    steps[message["action"]](ports, message)


def expand(ports: Ports, message: dict[str, Any]) -> None:
    command = ports.commands.get(message["commandId"])
    if command is None or command.status != "in_progress" or _past_expanding(ports, command, message):
        return
    generation = _take_lease(ports, command, resume=bool(message.get("resume")))
    if generation is None:
        return
    if command.dispatch_step in ("expanding", "fill"):  # taking over a run that crashed: start over
        ports.commands.delete_executions(command.command_id)
    groups, individual, everyone = _resolve(ports, command)
    if command.delivery in ("command", "inbox"):
        _expand_direct(ports, command, everyone, generation)
    elif not everyone and not groups:
        if _advance(ports, command, "expanding", {"dispatchStep": "stopped", "leaseUntil": None}):
            commands.cancel(ports, command, force=False, reason="no thing matched the targets when it was published")
    elif _write_executions(ports, command, everyone, "QUEUED", generation):
        _freeze_files(ports, command)
        _job_targets(ports, command, groups, individual, generation)


def _job_targets(ports: Ports, command: Command, groups: list[str], individual: list[str], generation: str) -> None:
    """Expand for the job delivery, once its executions are written: up to 100 targets the job names them, and
    the job is created at once; beyond, they are put in the command's group by `fill` steps first."""
    group_arns = [ports.registry.group_arn(group) for group in groups]
    done_expanding: dict[str, Any] = {"leaseUntil": None, "updatedAt": iso(now())}
    if len(individual) + len(group_arns) <= targets.MAX_JOB_TARGETS:
        job_targets = [ports.registry.thing_arn(name) for name in individual] + group_arns
        if _advance(
            ports, command, "expanding", done_expanding | {"dispatchStep": "create", "jobTargets": job_targets}
        ):
            create(ports, {"commandId": command.command_id})
        else:
            _stop_expanding(ports, command.command_id, generation)
        return
    group_name = command_group(command.command_id)
    group_arn = ports.jobs.ensure_group(group_name, f"Targets of command {command.command_id}")
    batches = [individual[start : start + FILL_BATCH] for start in range(0, len(individual), FILL_BATCH)]
    # Sent before the step is recorded: if sending fails, the retried expand sends them all again (harmless).
    for number, batch in enumerate(batches):
        ports.queue.send(
            {
                "action": "fill",
                "commandId": command.command_id,
                "generation": generation,
                "batch": number,
                "things": batch,
            }
        )
    step = {
        "dispatchStep": "fill",
        "groupName": group_name,
        "fillBatches": len(batches),
        "fillGeneration": generation,
        "jobTargets": [*group_arns, group_arn],
    }
    if _advance(ports, command, "expanding", done_expanding | step):
        _create_when_filled(ports, command.command_id)
    else:
        _stop_expanding(ports, command.command_id, generation)


def _expand_direct(ports: Ports, command: Command, everyone: list[str], generation: str) -> None:
    """Expand for the command and inbox deliveries: no group or job, the executions and the files are all."""
    if not everyone:
        if _advance(ports, command, "expanding", {"dispatchStep": "stopped", "leaseUntil": None}):
            commands.cancel(ports, command, force=False, reason="no thing matched the targets when it was published")
        return
    status: ExecutionStatus = "SCHEDULED" if command.delivery == "command" else "QUEUED"
    if not _write_executions(ports, command, everyone, status, generation):
        return
    _freeze_files(ports, command)
    done: dict[str, Any] = {"leaseUntil": None, "updatedAt": iso(now())}
    if command.delivery == "inbox":
        if _advance(ports, command, "expanding", done | {"dispatchStep": "done"}):
            metrics.add_metric(name="CommandPublished", unit="Count", value=1)
        else:
            _stop_expanding(ports, command.command_id, generation)
        return
    try:
        arn = delivery.create(ports, command)
    except Conflict as conflict:
        _advance(ports, command, "expanding", {"dispatchStep": "stopped", "leaseUntil": None})
        commands.cancel(ports, command, force=False, reason=conflict.message)
        return
    step = {"dispatchStep": "start", "iotCommandArn": arn, "dispatchCursor": "", "dispatchBatches": 0}
    if not _advance(ports, command, "expanding", done | step):
        # Cancelled or deleted meanwhile: the AWS IoT command must never start anything.
        ports.iot_commands.deprecate(command.command_id)
        if (current := ports.commands.get(command.command_id)) and current.status == "deleted":
            ports.iot_commands.delete(command.command_id)
        _stop_expanding(ports, command.command_id, generation)
        return
    metrics.add_metric(name="CommandPublished", unit="Count", value=1)
    # A step of its own (its own time budget); a lost message is sent again by a repeated expand (below) or
    # the reconciler.
    delivery.send_start(ports, command.command_id, cursor="")


def _write_executions(
    ports: Ports, command: Command, things: list[str], status: ExecutionStatus, generation: str
) -> bool:
    """One execution per thing, in `status`, a chunk at a time; False (the expand stopped, and the cancel done)
    when the command was cancelled or deleted meanwhile: cancel wins within a beat, also over a long expand."""
    at = now()
    # Counts first, for every thing: an execution is visible (to a fetching device) as soon as it is written.
    ports.commands.update(command.command_id, {"counts": {status: len(things)}, "updatedAt": iso(at)})
    for start in range(0, len(things), CHUNK):
        current = ports.commands.get(command.command_id)
        if current is None or current.status != "in_progress":
            ports.commands.add_count(command.command_id, status, start - len(things))  # the unwritten are none
            _stop_expanding(ports, command.command_id, generation)
            return False
        ports.commands.write_executions(command.command_id, things[start : start + CHUNK], at, status)
    return True


def _stop_expanding(ports: Ports, command_id: str, generation: str) -> None:
    """An expand that found its command cancelled or deleted gives up its lease and does the cancel itself, at
    once: the cancel step, which waits while the command is being expanded, would come only a beat later."""
    if ports.commands.update(
        command_id,
        {"dispatchStep": "stopped", "leaseUntil": None},
        condition="dispatchStep = :expanding AND leaseUntil = :lease",
        values={":expanding": "expanding", ":lease": generation},
    ):
        cancel(ports, {"commandId": command_id, "force": False})


def _freeze_files(ports: Ports, command: Command) -> None:
    for file_id, ref in command.files.items():
        ports.files.copy(ref.s3_object_key, ref.version_id, published_file_key(command.command_id, file_id))


def _past_expanding(ports: Ports, command: Command, message: dict[str, Any]) -> bool:
    """Picks up the later step where the command is past expanding; True when that is all there is to do."""
    if command.dispatch_step == "create":  # a retry after the job creation failed: resume there
        create(ports, message)
        return True
    if (
        command.dispatch_step == "start"
    ):  # the command delivery's starting: send its step again (duplicates are harmless)
        delivery.send_start(ports, command.command_id, cursor=command.dispatch_cursor or "")
        return True
    if command.dispatch_step == "fill":  # fill batches may be lost or still under way: see where they are
        _create_when_filled(ports, command.command_id)
        return not message.get("resume")  # the reconciler resumes a stalled fill by expanding again
    return False


def _resolve(ports: Ports, command: Command) -> tuple[list[str], list[str], list[str]]:
    """The command's known thing groups; the things the job must name itself (or put in the command's group:
    members of a targeted group come with it); and every thing reached."""
    unknown = set(command.unknown_targets)
    parsed = targets.parse(command.targets, ports.registry)
    named = [name for name in parsed.things if f"thing/{name}" not in unknown]
    groups = [name for name in parsed.groups if f"thinggroup/{name}" not in unknown]
    members: dict[str, None] = {}
    for group in groups:
        members.update(dict.fromkeys(ports.registry.group_members(group)))
    found = targets.query_things(command.target_query, ports.registry) if command.target_query else []
    individual = [name for name in dict.fromkeys([*named, *found]) if name not in members]
    return groups, individual, list(dict.fromkeys([*named, *members, *found]))


def fill(ports: Ports, message: dict[str, Any]) -> None:
    command = ports.commands.get(message["commandId"])
    if command is None or command.status != "in_progress" or command.job_id:
        return
    for thing_name in message["things"]:
        if problem := ports.jobs.add_to_group(command_group(command.command_id), thing_name):
            # A thing deleted since, or in 10 static groups already: it cannot be reached; say so and go on.
            transitions.report(ports.commands, command.command_id, thing_name, "REMOVED", source="api", reason=problem)
    ports.commands.add_fill_batch(command.command_id, f"{message.get('generation')}|{message['batch']}")
    _create_when_filled(ports, command.command_id)


def command_group(command_id: str) -> str:
    return f"command-{command_id}"


def _create_when_filled(ports: Ports, command_id: str) -> None:
    """Moves on to `create` once every batch of the current generation is in; whichever of expand and the
    last fill sees it first (the conditional step change lets only one through). Resumes a failed `create`."""
    command = ports.commands.get(command_id)
    if command is None:
        return
    done = {entry for entry in command.fill_done if entry.startswith(f"{command.fill_generation}|")}
    filled = command.dispatch_step == "fill" and len(done) >= (command.fill_batches or 0)
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
    job = _job(ports, command, template)
    try:
        job_arn = ports.jobs.create_job(job)
    except Conflict as conflict:
        commands.cancel(ports, command, force=False, reason=conflict.message)
        return
    if ports.commands.update(
        command.command_id,
        {
            "jobId": command.command_id,
            "jobArn": job_arn,
            "jobRetries": "jobExecutionsRetryConfig" in job,
            "dispatchStep": "done",
            "updatedAt": iso(now()),
        },
        condition="commandStatus = :in_progress",
        values={":in_progress": "in_progress"},
    ):
        metrics.add_metric(name="CommandPublished", unit="Count", value=1)
        logger.info("job created", extra={"job_arn": job_arn, "targets": len(command.job_targets)})
    else:  # cancelled while the job was being created: the cancel step, run again, cancels the job too
        cancel(ports, {"commandId": command.command_id, "force": False})


def cancel(ports: Ports, message: dict[str, Any]) -> None:
    """For a cancelled (or deleted) command: its job cancelled (force if asked), every pending execution
    CANCELED (with force, those in progress too), its group removed."""
    command = ports.commands.get(message["commandId"])
    if command is None or command.status not in ("cancelled", "deleted"):
        return
    if command.dispatch_step == "expanding" and command.lease_until and command.lease_until > now():
        # The expand under way notices the cancel and does it; this comes back a beat later in case it crashed.
        ports.queue.send(message, delay_seconds=BEAT_SECONDS)
        return
    force = bool(message.get("force"))
    if command.delivery in ("command", "inbox"):
        cancelled = delivery.cancel(ports, command, force=force)
        if command.dispatch_step != "done":
            ports.commands.update(command.command_id, {"dispatchStep": "stopped"})
        logger.info("pending executions cancelled", extra={"cancelled": cancelled})
        return
    if command.job_id:
        # AWS IoT decides what it could cancel (a device may have started meanwhile): apply what it says now;
        # what it finishes cancelling later arrives as events.
        ports.jobs.cancel_job(command.job_id, force=force, reason=f"command {command.status} through the API")
        reconcile.reconcile_job(ports, command)
        commands.release_group(ports, command)
        return
    cancelled = 0
    for execution in ports.commands.pending_executions(command.command_id):
        if execution.status in ("SCHEDULED", "QUEUED", "SENT"):  # no job: nothing reached a device
            reason = f"command {command.status}"
            cancelled += transitions.report(
                ports.commands, command.command_id, execution.thing_name, "CANCELED", source="api", reason=reason
            )
    commands.release_group(ports, command)
    if command.dispatch_step != "done":
        ports.commands.update(command.command_id, {"dispatchStep": "stopped"})
    logger.info("pending executions cancelled", extra={"cancelled": cancelled})


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
        "description": f"{JOB_DESCRIPTION} {command.command_id} ({getattr(template, 'operation', '')})"[:2028],
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


JOB_DESCRIPTION = "IoT Commands Service command"  # how a job of this service is known (a retried create)


def _take_lease(ports: Ports, command: Command, *, resume: bool = False) -> str | None:
    """The right to expand, and the generation of this run: a fresh command, an expired lease, or (the
    reconciler resuming) a stalled fill, whose batches are then all sent again. None if another holds it."""
    at = now()
    lease = iso(at + LEASE)
    condition = "dispatchStep = :expand OR (dispatchStep = :expanding AND leaseUntil < :now)"
    values = {":expand": "expand", ":expanding": "expanding", ":now": iso(at)}
    if resume:
        condition += " OR (dispatchStep = :fill AND updatedAt < :stalled)"
        values |= {":fill": "fill", ":stalled": iso(at - STALLED_FILL)}
    taken = ports.commands.update(
        command.command_id, {"dispatchStep": "expanding", "leaseUntil": lease}, condition=condition, values=values
    )
    return lease if taken else None


def _advance(ports: Ports, command: Command, step: str, changes: dict[str, Any]) -> bool:
    """Records the next step if the command is still published and at `step`."""
    return ports.commands.update(
        command.command_id,
        changes,
        condition="dispatchStep = :step AND commandStatus = :in_progress",
        values={":step": step, ":in_progress": "in_progress"},
    )
