"""Commands: creating, editing, publishing, cancelling and deleting them.

Publishing does in the request what must answer the client (parameters and files complete, the document
rendered and within IoT's limit, every target checked, at least one thing reached), then hands the rest to the
dispatch queue (services/dispatch.py): expanding groups and queries, writing executions, creating the job.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from commands_core.clock import now
from commands_core.errors import AlreadyExists, Conflict, InvalidInput, NotFound, Problems
from commands_core.models import rollout, scheduling
from commands_core.models.commands import (
    LIVE_FIELDS,
    Command,
    CommandChanges,
    CommandFields,
    FileRef,
    NewCommand,
    file_key,
    published_file_key,
)
from commands_core.models.dispatch import Cancel, End, Expand, Join, Retry, Start
from commands_core.models.executions import ExecutionStatus
from commands_core.models.jobs import RolloutConfig
from commands_core.models.lifecycle import PUBLISHED, CommandStatus, StatusEvent, status_after
from commands_core.models.templates import Template
from commands_core.observability import logger, metrics
from commands_core.pagination import Page
from commands_core.services import delivery, joiners, lifecycle_events, rendering, retries, targets, transitions
from commands_core.validation import check_id as check_name
from commands_core.validation import holds, parse

if TYPE_CHECKING:
    from datetime import datetime

    from commands_core.services.ports import Ports

_STATUS_CHANGES = {"in_progress", "paused", "cancelled"}
PRESIGNED_URL_BYTES = 2048  # room for one URL the service presigns (an STS session token makes it ~1.5 KB)


# Settings of a command delivered by AWS IoT Commands or the inbox that publishing copies from its template.
FROZEN_ON_PUBLISH = ("rollout_maximum_per_minute", "execution_timeout_seconds")


def create(ports: Ports, new: NewCommand, default_id: str | None = None) -> Command:
    """A new draft, or with `"status": "in_progress"` a published command; nothing is created if publishing
    would fail. Its id is the body's commandId, else `default_id`, else a new one."""
    command_id = new_id(new.command_id, default_id)
    fields = _fields(ports, new.fields())
    command = draft_of(fields, command_id)
    try:
        if new.status == "draft":
            ports.commands.create(command)
            return command
        published = command.model_copy(
            update=_publication(ports, command) | {"status": _published_status(command), "status_changes": 1}
        )
        ports.commands.create(published)
    except AlreadyExists:
        return _created_before(ports, command_id, fields, new.status)
    _published(ports, published, at=published.created_at)
    _dispatch(ports, published)
    return published


def new_id(given: str | None, default_id: str | None) -> str:
    """A new command's id: the one the request gives, else `default_id` (derived from its Idempotency-Key), else a
    new one."""
    return given or default_id or uuid.uuid4().hex


def draft_of(fields: CommandFields, command_id: str) -> Command:
    """A new draft of these fields, not stored yet."""
    at = now()
    return parse(
        Command, fields.model_dump(by_alias=True) | {"commandId": command_id, "createdAt": at, "updatedAt": at}
    )


def _created_before(ports: Ports, command_id: str, fields: CommandFields, status: str) -> Command:
    """The command a create with the same id made, when this create is that request retried."""
    existing = ports.commands.get(command_id)
    if (
        existing is None
        or not holds(existing, fields, FROZEN_ON_PUBLISH)
        or (status == "in_progress" and existing.status == "draft")
    ):
        raise AlreadyExists(f"command '{command_id}' already exists")
    # A retry after the first attempt wrote the command but could not send its dispatch message: send it now.
    return publish(ports, existing) if existing.status in ("scheduled", "in_progress") else existing


def get(ports: Ports, command_id: str) -> Command:
    check_id(command_id)
    command = ports.commands.get(command_id)
    if command is None:
        raise NotFound("command", command_id)
    return command


def list_commands(ports: Ports, status: str | None, max_results: int, next_token: str | None) -> Page[Command]:
    return ports.commands.page(status, max_results, next_token)


def update(ports: Ports, command_id: str, changes: CommandChanges, *, force: bool = False) -> Command:
    """Edits a draft; `status` in_progress publishes (or resumes, or starts a scheduled command now), paused
    pauses, cancelled cancels. Once published, only the status, the rollout rate and the abort criteria change."""
    command = get(ports, command_id)
    status = changes.status
    if status is not None and status not in _STATUS_CHANGES and status != command.status:
        raise InvalidInput("status", f"can be changed to in_progress, paused or cancelled, not to {status}")
    if "command_id" in changes.model_fields_set and changes.command_id != command_id:
        raise InvalidInput("commandId", "must be absent or match the commandId of the path")
    if given := changes.model_fields_set - {"status", "command_id"}:
        live = command.status in PUBLISHED and given <= LIVE_FIELDS
        command = _change_rollout(ports, command, changes) if live else _edit(ports, command, changes)
    if status == "in_progress":
        if command.status == "scheduled":
            return start_now(ports, command)
        return resume(ports, command) if command.status == "paused" else publish(ports, command)
    if status == "paused":
        return pause(ports, command)
    if status == "cancelled":
        cancelled = cancel(ports, command, force=force)
        stop_starting(ports, cancelled, force=force)
        return cancelled
    return command


def publish(ports: Ports, command: Command) -> Command:
    """Publishes a draft: in progress, or scheduled when its schedule's start time lies ahead."""
    if command.status in ("scheduled", "in_progress"):
        # A retried publish: resend the dispatch message in case the first was lost; the steps are idempotent.
        if command.dispatch_step == "expand":
            _dispatch(ports, command)
        return command
    if command.status != "draft":
        raise InvalidInput("status", f"a {command.status} command cannot be published")
    at = now()
    published = command.model_copy(
        update=_publication(ports, command)
        | {
            "status": _published_status(command),
            "version": command.version + 1,
            "status_changes": command.status_changes + 1,
        }
    )
    # One conditional write: of two concurrent publishes, one wins and the other gets a 409.
    if not ports.commands.replace(published, expected_version=command.version, expected_status="draft"):
        raise Conflict(f"command '{command.command_id}' changed while it was being published; retry")
    _published(ports, published, at=at)
    _dispatch(ports, published)
    return published


def _published(ports: Ports, command: Command, *, at: datetime) -> None:
    """Tells that the draft was published (in progress, or scheduled), by the write that did it."""
    event: StatusEvent = "schedule" if command.status == "scheduled" else "publish"
    lifecycle_events.command_changed(
        ports.events, command, event, from_status="draft", at=at, change=command.status_changes
    )


def move(
    ports: Ports, command: Command, event: StatusEvent, at: datetime, *, reason: str | None = None, **changes: Any
) -> Command | None:
    """Moves the command's status by `event` from the status it was read in, in one conditional write (with
    `reason` and more `changes`, by field name), and tells it on the bus; the command as moved, or None when it
    changed meanwhile (whoever changed it told of that change)."""
    change = ports.commands.move(command, event, at, reason=reason, **changes)
    if change is None:
        return None
    update = changes | {"status": status_after(event, command.status), "updated_at": at, "status_changes": change}
    moved = command.model_copy(update=update | ({"status_reason": reason} if reason else {}))
    lifecycle_events.command_changed(
        ports.events, moved, event, from_status=command.status, at=at, change=change, reason=reason
    )
    return moved


def _published_status(command: Command) -> CommandStatus:
    """Scheduled while the schedule's start time lies ahead (a start time passed starts now)."""
    start = command.scheduling_config.start() if command.scheduling_config else None
    return "scheduled" if start is not None and start > now() else "in_progress"


def start_now(ports: Ports, command: Command) -> Command:
    """A scheduled command starts now, before its start time (the operator's decision; maintenance windows and
    the end time still hold): the waiting start step is sent at once."""
    started = move(ports, command, "start", now())
    if started is None:
        raise Conflict(f"command '{command.command_id}' changed meanwhile; retry")
    if command.dispatch_step == "start":  # (before, the expand sends it)
        ports.queue.send(Start(command_id=command.command_id, cursor=command.dispatch_cursor or ""))
    logger.info("rollout started before its start time", extra={"command_id": command.command_id})
    return started


def stop_starting(ports: Ports, command: Command, *, force: bool) -> None:
    """What a cancel or a delete does before it answers, so that no execution of the command starts after: its
    delivery has AWS IoT start nothing more (an expand or a start step under way sees the status and stops
    too). The cancel step, sent already, does the rest."""
    if command.published_at is not None:
        delivery.of(command.delivery).stop_starting(ports, command, force=force)


def cancel(ports: Ports, command: Command, *, force: bool, to: str = "cancelled", reason: str | None = None) -> Command:
    """Cancels the command (or marks it deleted); the dispatch queue's `cancel` step then cancels its job and
    its pending executions. Asking again sends the step again (it is idempotent), so that a retry repairs a
    step that failed."""
    event: StatusEvent = "delete" if to == "deleted" else "cancel"
    if command.status != to and status_after(event, command.status) is None:
        raise InvalidInput("status", f"a {command.status} command cannot be {to}")
    at = now()
    if command.status != to and move(ports, command, event, at, reason=reason) is None:
        raise Conflict(f"command '{command.command_id}' changed meanwhile; retry")
    if command.published_at is not None:
        ports.queue.send(Cancel(command_id=command.command_id, force=force))
    return command.model_copy(update={"status": to, "updated_at": at, "status_reason": reason or command.status_reason})


def delete(ports: Ports, command_id: str, *, force: bool = False) -> bool:
    """A draft is deleted with its files; a published command is cancelled and marked deleted, and its AWS IoT
    command (delivery command) deprecated and deleted. True while AWS IoT holds that deletion pending (it
    deletes a command deprecated less than 12 hours ago only then). An absent command is NotFound (404), also a
    draft whose DELETE is retried after it succeeded; a deleted published command is still there (GET shows it,
    with its executions and counts), so deleting it again answers as the first time did and resends the cancel
    step."""
    command = get(ports, command_id)
    if command.status == "draft":
        if not ports.commands.delete_draft(command_id):
            if ports.commands.get(command_id) is None:  # a concurrent DELETE took it first
                raise NotFound("command", command_id)
            raise Conflict(f"command '{command_id}' was published meanwhile; retry")
        deleted = command.model_copy(update={"status": "deleted", "status_changes": command.status_changes + 1})
        lifecycle_events.command_changed(
            ports.events, deleted, "delete", from_status="draft", at=now(), change=deleted.status_changes
        )
        template = ports.templates.get(command.template_id)
        # Every file it may have, also those put with an upload URL (deleting an absent key is harmless).
        for file_id in set(command.files) | set(template.required_files if template else ()):
            ports.files.delete(file_key(command_id, file_id))
        return False
    stop_starting(ports, cancel(ports, command, force=force, to="deleted"), force=force)
    return delivery.of(command.delivery).delete(ports, command)


def check_id(command_id: str) -> None:
    check_name("commandId", command_id)


def _fields(ports: Ports, fields: CommandFields) -> CommandFields:
    """The fields, checked against their template: it exists and declares every parameter given."""
    check_fields(fields, ports.templates.get(fields.template_id), Problems())
    return fields


def check_fields(fields: CommandFields, template: Template | None, problems: Problems) -> None:
    """What a create checks of a command's fields, against their template (None: there is none)."""
    if template is None:
        problems.add(_no_template(fields.template_id))
    elif unknown := sorted(set(fields.document_parameters) - set(template.required_document_parameters)):
        problems.add(
            InvalidInput(
                "documentParameters", f"template '{template.template_id}' has no parameter {', '.join(unknown)}"
            )
        )
    if fields.target_query:
        with problems.check():  # a query that cannot be translated is a 400 now, not at publish
            targets.fleet_query(fields.target_query)
    if template is not None:
        with problems.check():
            _check_delivery(fields, template)


def _no_template(template_id: str) -> InvalidInput:
    return InvalidInput("templateId", f"there is no template '{template_id}'")


def _check_delivery(fields: CommandFields, template: Template) -> None:
    """The command's settings suit its template's delivery (checked again on publish: templates change)."""
    delivery.of(template.delivery).check(fields)


def _edit(ports: Ports, command: Command, changes: CommandChanges) -> Command:
    given = [name for name in CommandFields.model_fields if name in changes.model_fields_set]
    if command.status != "draft":
        field = CommandFields.model_fields[given[0]].alias or given[0]
        raise InvalidInput(field, f"is frozen once the command is published (status {command.status})")
    current = command.model_dump(by_alias=True, include=set(CommandFields.model_fields))
    # Validated merged, as on create: a field given as null is refused unless it may be null (templateId may not).
    fields = _fields(ports, parse(CommandFields, current | changes.model_dump(by_alias=True, include=set(given))))
    if command.rerun_of is not None and (fields.targets or fields.target_query or fields.type != "SNAPSHOT"):
        field = "targets" if fields.targets else "targetQuery" if fields.target_query else "type"
        raise InvalidInput(field, "a rerun targets the executions of its source (rerunOf) alone, once")
    edited = command.model_copy(update=dict(fields) | {"updated_at": now(), "version": command.version + 1})
    if not ports.commands.replace(edited, expected_version=command.version, expected_status="draft"):
        raise Conflict(f"command '{command.command_id}' changed meanwhile; retry")
    return edited


def _change_rollout(ports: Ports, command: Command, changes: CommandChanges) -> Command:
    """Changes the rollout rate or the abort criteria of a published command; the dispatch steps take them up
    within a beat."""
    given = changes.model_fields_set
    settings = parse(
        CommandFields,
        {"templateId": command.template_id} | changes.model_dump(by_alias=True, include=given & LIVE_FIELDS),
    )
    new_rollout = command.rollout()
    if "job_executions_rollout_config" in given:
        new_rollout = settings.rollout()
    elif "rollout_maximum_per_minute" in given:  # the shorthand: the maximum changes, an exponential rate stays
        new_rollout = (new_rollout or RolloutConfig()).model_copy(
            update={"maximum_per_minute": settings.rollout_maximum_per_minute}
        )
    if new_rollout is not None and new_rollout == RolloutConfig():
        new_rollout = None
    live = {
        "job_executions_rollout_config": new_rollout,
        "rollout_maximum_per_minute": new_rollout.maximum_per_minute if new_rollout else None,
        "abort_config": settings.abort_config if "abort_config" in given else command.abort_config,
    }
    kind = delivery.of(command.delivery)
    kind.check(settings)
    if not ports.commands.change_live(command, **live):
        raise Conflict(f"command '{command.command_id}' changed meanwhile; retry")
    changed = command.model_copy(update=live | {"updated_at": now()})
    if command.dispatch_step == "start" and command.status == "in_progress":  # at once, not after its wait
        ports.queue.send(Start(command_id=command.command_id, cursor=command.dispatch_cursor or ""))
    logger.info("rollout changed", extra={"command_id": command.command_id, "fields": sorted(given)})
    return changed


def _publication(ports: Ports, command: Command) -> dict[str, Any]:
    """What publishing sets on the command; InvalidInput (nothing changed) when it cannot be published."""
    return publication(ports, command, ports.templates.get(command.template_id), Problems())


def publication(
    ports: Ports,
    command: Command,
    template: Template | None,
    problems: Problems,
    files: dict[str, FileRef] | None = None,
) -> dict[str, Any]:
    """What publishing the command would set on it, built from `template` (None: there is none); every check of
    publishing reports to `problems` (whose first problem stops a publish; a preview collects them all and
    gets what could be worked out). `files`: those the command will have (else those it has now)."""
    found: dict[str, Any] = {"published_at": now(), "dispatch_step": "expand", "counts": {}}
    if template is None:
        problems.add(_no_template(command.template_id))
    else:
        with problems.check():
            _check_delivery(command, template)
        files = _uploaded_files(ports, command, template) if files is None else files
        missing_parameters = sorted(set(template.required_document_parameters) - set(command.document_parameters))
        missing_files = sorted(set(template.required_files) - set(files))
        if missing_parameters or missing_files:
            missing = [f"documentParameters {', '.join(missing_parameters)}"] if missing_parameters else []
            missing += [f"files {', '.join(missing_files)}"] if missing_files else []
            problems.add(
                InvalidInput(
                    "documentParameters" if missing_parameters else "files",
                    f"cannot publish: missing {'; missing '.join(missing)}",
                )
            )
        if not missing_parameters:
            with problems.check():
                found["document"] = _render(ports, command, template)
        found |= {"files": files, "delivery": template.delivery}
        found |= delivery.of(template.delivery).publication(command, template)
    if command.scheduling_config:
        with problems.check():
            scheduling.check_publishable(command.scheduling_config, now())
    return found | {"unknown_targets": list(_selection(ports, command, problems).unknown)}


def _selection(ports: Ports, command: Command, problems: Problems) -> targets.Selection:
    """The command's targets as checked against AWS IoT; a rerun's, against its source's executions."""
    if command.rerun_of is not None:
        source = ports.commands.get(command.rerun_of.command_id)
        if reason := nothing_to_rerun(command.rerun_of.command_id, source, command.rerun_of.statuses):
            problems.add(InvalidInput("rerunOf", reason))
        return targets.Selection()
    if problems.about("targets", "targetQuery"):  # (a preview's) what was said of them stands for them
        return targets.Selection()
    if not command.targets and not command.target_query:
        problems.add(InvalidInput("targets", "give targets or a targetQuery to publish"))
        return targets.Selection()
    return targets.select(command.targets, command.target_query, ports.registry, problems)


def nothing_to_rerun(source_id: str, source: Command | None, statuses: list[ExecutionStatus]) -> str | None:
    """Why a rerun of the source's executions in `statuses` would reach nothing; None when one matches."""
    if source is not None and any(source.counts.get(status, 0) > 0 for status in statuses):
        return None
    return f"nothing to rerun: no execution of command '{source_id}' is {' or '.join(statuses)}"


def _uploaded_files(ports: Ports, command: Command, template: Template) -> dict[str, FileRef]:
    """The command's files as they are now (the version of each is what gets published): those uploaded
    through the API and those put with an upload URL."""
    files: dict[str, FileRef] = {}
    for file_id in template.required_files:
        key = file_key(command.command_id, file_id)
        if version := ports.files.version(key):
            files[file_id] = FileRef(bucket_name=ports.files.bucket, s3_object_key=key, version_id=version)
    return files


def _render(ports: Ports, command: Command, template: Template) -> str:
    urls = {
        file_id: rendering.iot_presigned_placeholder(
            ports.files.bucket, published_file_key(command.command_id, file_id)
        )
        for file_id in template.required_files
    }
    reserved = 0
    if delivery.of(template.delivery).presigns_files:  # its presigned URLs are longer than AWS IoT's placeholders
        reserved = sum(max(0, PRESIGNED_URL_BYTES - len(url)) for url in urls.values())
    return rendering.render(template.document, command.document_parameters, urls, reserved)


def _dispatch(ports: Ports, command: Command) -> None:
    ports.queue.send(Expand(command_id=command.command_id))
    if command.scheduling_config and command.scheduling_config.end():
        ports.queue.send(End(command_id=command.command_id))  # it comes back until the end time


def settle(ports: Ports, command: Command) -> None:
    """What follows executions that changed, read in `command`: the rollout aborts when an abort criterion is
    met; a wave's gate that this decided wakes the start step; a command with no execution left pending
    completes."""
    if command.status in PUBLISHED and (reason := rollout.abort_reason(command.abort_config, command.counts)):
        abort(ports, command, reason)
        return
    if _at_decided_gate(command):
        ports.queue.send(Start(command_id=command.command_id, cursor=command.dispatch_cursor or ""))
    _complete_if_done(ports, command)


def _at_decided_gate(command: Command) -> bool:
    """Whether the start step waits at a wave's gate that the counts have just decided: met (its soak not yet
    begun, or over), or out of reach."""
    if command.status != "in_progress" or command.dispatch_step != "start" or command.waves is None:
        return False
    ends = rollout.wave_ends(command.waves, command.total)
    if command.dispatched >= command.total or command.dispatched < ends[command.wave]:
        return False
    verdict = rollout.gate_of(command, now(), started_at=None, met_at=command.wave_met_at, beat=0)
    return verdict.verdict != "wait"


def _complete_if_done(ports: Ports, command: Command) -> bool:
    """A command with no pending execution, and none to come (SNAPSHOT, or CONTINUOUS past its schedule's end
    time), becomes completed (a failure being retried is pending: its next attempt). What its delivery holds for
    it alone is released first, and its groups' membership events no longer look it up, so that a crash in
    between leaves nothing behind."""
    if not transitions.ended(command):
        return False
    delivery.of(command.delivery).release(ports, command)
    joiners.unwatch(ports, command)
    if move(ports, command, "complete", now()) is not None:
        metrics.add_metric(name="CommandCompleted", unit="Count", value=1)
        return True
    return False


def abort(ports: Ports, command: Command, reason: str) -> None:
    """An abort criterion is met: the command ends cancelled, saying which; nothing more starts, and the cancel
    step ends its pending executions."""
    try:
        cancelled = cancel(ports, command, force=False, reason=reason)
    except Conflict:
        return  # it changed meanwhile (another abort, a cancel): whoever changed it carries on
    stop_starting(ports, cancelled, force=False)
    metrics.add_metric(name="CommandAborted", unit="Count", value=1)
    logger.warning("rollout aborted", extra={"command_id": command.command_id, "reason": reason})


def pause(ports: Ports, command: Command, reason: str | None = None, *, at_gate: bool = False) -> Command:
    """Stops every new start: executions already started go on and are tracked. `at_gate`: a wave's gate paused
    it (`reason` says why), and a resume goes past that gate."""
    if command.status == "paused":
        return command
    if status_after("pause", command.status) is None:
        raise InvalidInput("status", f"a {command.status} command cannot be paused")
    paused = move(ports, command, "pause", now(), reason=reason, paused_at_gate=at_gate)
    if paused is None:
        raise Conflict(f"command '{command.command_id}' changed meanwhile; retry")
    logger.info("rollout paused", extra={"command_id": command.command_id, "reason": reason})
    return paused.model_copy(update={"status_reason": reason})


def resume(ports: Ports, command: Command) -> Command:
    """Starts again where the rollout stopped; paused at a wave's gate, with the next wave (the operator has
    decided to go on)."""
    at = now()
    changes: dict[str, Any] = {"paused_at_gate": False, "status_reason": None}
    if command.paused_at_gate:
        changes |= {"wave": command.wave + 1, "wave_started_at": None, "wave_met_at": None}
    resumed = move(ports, command, "resume", at, **changes)
    if resumed is None:
        raise Conflict(f"command '{command.command_id}' changed meanwhile; retry")
    if retries.waiting(command):  # retried executions the pause held back
        ports.queue.send(Retry(command_id=command.command_id))
    if command.dispatch_step == "start":
        ports.queue.send(Start(command_id=command.command_id, cursor=command.dispatch_cursor or ""))
    else:
        if command.type == "CONTINUOUS" and command.dispatch_step == "done":  # the joiners that waited
            ports.queue.send(Join(command_id=command.command_id))
        _complete_if_done(ports, resumed)
    logger.info("rollout resumed", extra={"command_id": command.command_id})
    return resumed
