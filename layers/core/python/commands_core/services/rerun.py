"""Reruns: a new command with a command's template, parameters, files and rollout settings, targeting exactly the
things whose executions of it are in the statuses asked (by default every status but SUCCEEDED and CANCELED).

The new command holds where it comes from (`rerunOf`: the source and the statuses), not the thing names: a rerun
of a fleet far larger than the 1,000 targets a client may list would not fit in an item. Its things are resolved
from the source's executions where every command's targets are resolved (services/targets.resolve): when it is
published (the expand), and in a preview. The source lists its reruns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from commands_core.errors import AlreadyExists, Conflict, Problems
from commands_core.models.commands import Command, CommandFields, FileRef, RerunOf, RerunRequest, file_key
from commands_core.models.jobs import JobSettings
from commands_core.observability import logger
from commands_core.services import commands, preview
from commands_core.validation import parse

if TYPE_CHECKING:
    from commands_core.models.responses import Preview
    from commands_core.services.ports import Ports


def create(ports: Ports, source_id: str, request: RerunRequest, default_id: str | None = None) -> Command:
    """The rerun, a draft or (`"status": "in_progress"`) published; with `status` in_progress nothing is created
    if publishing would fail. The same request again (the same id, source and statuses) carries on from where the
    first stopped and answers the same."""
    source, command = _rerun(ports, source_id, request, default_id)
    template = ports.templates.get(command.template_id)
    commands.check_fields(command, template, Problems())
    if request.status == "in_progress":
        commands.publication(ports, command, template, Problems(), files=command.files)
    try:
        ports.commands.create(command)
    except AlreadyExists:
        command = _created_before(ports, command)
    if command.status == "draft":
        # Only once the command is ours: the file keys of a command of the same id are not written over.
        for file_id, ref in source.files.items():
            ports.files.copy(ref.s3_object_key, ref.version_id, file_key(command.command_id, file_id))
    ports.commands.add_rerun(source_id, command.command_id)
    logger.info("rerun created", extra={"rerun_id": command.command_id, "statuses": request.statuses})
    return commands.publish(ports, command) if request.status == "in_progress" else command


def preview_of(ports: Ports, source_id: str, request: RerunRequest, default_id: str | None = None) -> Preview:
    """The preview of the rerun (`?dryRun=true`): what creating and publishing it would do, nothing stored."""
    _, command = _rerun(ports, source_id, request, default_id)
    return preview.of_created(ports, command, Problems(collect=True), request.command_id, command.files)


def _rerun(ports: Ports, source_id: str, request: RerunRequest, default_id: str | None) -> tuple[Command, Command]:
    """The source, and the rerun of it the request asks for (not stored): its fields are the source's, its files
    the source's published ones (copied to its own keys once it is created)."""
    source = commands.get(ports, source_id)
    if source.status == "draft":
        raise Conflict(f"nothing to rerun: command '{source_id}' is a draft, it has no executions")
    if reason := commands.nothing_to_rerun(source_id, source, request.statuses):
        raise Conflict(reason)
    settings = source.model_dump(by_alias=True, exclude_none=True, include=set(JobSettings.model_fields))
    same = {
        "templateId": source.template_id,
        "documentParameters": source.document_parameters,
        "internal": source.internal,
        "type": "SNAPSHOT",
    }
    command_id = commands.new_id(request.command_id, default_id)
    files = {
        file_id: FileRef(bucket_name=ports.files.bucket, s3_object_key=file_key(command_id, file_id))
        for file_id in source.files
    }
    rerun_of = RerunOf(command_id=source_id, statuses=request.statuses)
    command = commands.draft_of(parse(CommandFields, settings | same), command_id)
    return source, command.model_copy(update={"rerun_of": rerun_of, "files": files})


def _created_before(ports: Ports, command: Command) -> Command:
    """The rerun a request with the same id made, when this request is that one again."""
    existing = ports.commands.get(command.command_id)
    if existing is None or existing.rerun_of != command.rerun_of:
        raise AlreadyExists(f"command '{command.command_id}' already exists")
    return existing
