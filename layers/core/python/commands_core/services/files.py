"""The files of a command: uploaded while it is a draft, to commands/<commandId>/files/<fileId>."""

from __future__ import annotations

from typing import Any

from commands_core.clock import now
from commands_core.errors import InvalidInput, NotFound
from commands_core.models.commands import Command, FileRef, file_key
from commands_core.services import commands
from commands_core.services.ports import Ports
from commands_core.validation import check_id

UPLOAD_URL_SECONDS = 900


def upload(ports: Ports, command_id: str, file_id: str, content: bytes, content_type: str) -> FileRef:
    command = _draft_with_file(ports, command_id, file_id)
    if not content:
        raise InvalidInput("file", "is empty")
    key = file_key(command.command_id, file_id)
    version = ports.files.put(key, content, content_type)
    ref = FileRef(bucket_name=ports.files.bucket, s3_object_key=key, version_id=version)
    if not ports.commands.record_file(command_id, file_id, ref, now()):
        raise InvalidInput("status", "files can only change while the command is a draft")
    return ref


def delete(ports: Ports, command_id: str, file_id: str) -> None:
    command = _draft_with_file(ports, command_id, file_id)
    key = file_key(command_id, file_id)
    if file_id not in command.files and not ports.files.exists(key):
        raise NotFound("file", file_id)
    # The record first, on condition the command is still a draft: a publish racing this keeps its file.
    if not ports.commands.record_file(command_id, file_id, None, now()):
        raise InvalidInput("status", "files can only change while the command is a draft")
    ports.files.delete(key)


def upload_url(ports: Ports, command_id: str, file_id: str) -> dict[str, Any]:
    """A presigned PUT for a file too large for the API; publishing finds the file where the URL put it."""
    command = _draft_with_file(ports, command_id, file_id)
    url = ports.files.upload_url(file_key(command.command_id, file_id), UPLOAD_URL_SECONDS)
    return {"url": url, "method": "PUT", "expiresInSeconds": UPLOAD_URL_SECONDS}


def _draft_with_file(ports: Ports, command_id: str, file_id: str) -> Command:
    check_id("fileId", file_id)
    command = commands.get(ports, command_id)
    if command.status != "draft":
        raise InvalidInput("status", f"files can only change while the command is a draft (it is {command.status})")
    template = ports.templates.get(command.template_id)
    required = template.required_files if template else []
    if file_id not in required:
        raise InvalidInput(
            "fileId",
            f"'{file_id}' is not a required file of template '{command.template_id}' ({', '.join(required) or 'none'})",
        )
    return command
