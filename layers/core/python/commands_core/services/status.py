"""The Command Status API and the device inbox, over the executions of the Commands v1 API.

A status object is an execution; its id is "<commandId>.<thingName>". Lists are read from the table's keys and
indexes (a command's partition, the byThing and inbox indexes, the byKind index of commands), never a Scan, and
stop reading once `offset + limit` have been found. A state a device reports goes through the one transition
function, so it is refused when the execution cannot move there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from functools import partial
from itertools import islice
from typing import Any

from commands_core.clock import now
from commands_core.errors import InvalidInput, NotFound
from commands_core.models.commands import Command, published_file_key
from commands_core.models.executions import TERMINAL, Execution
from commands_core.models.lifecycle import PUBLISHED
from commands_core.models.status import MAX_READ, REPORTED, SEPARATOR, SETTABLE, STATES, StatusQuery, StatusUpdate
from commands_core.models.templates import Template
from commands_core.services import commands, delivery, rendering, transitions
from commands_core.services.ports import Ports
from commands_core.settings import settings
from commands_core.validation import check_thing_name, is_id, is_thing_name, parse

_REASON_PREFIX = {"REJECTED": "rejected", "REMOVED": "removed"}  # states the API contract's names merge with another


def status_id(execution: Execution) -> str:
    return f"{execution.command_id}{SEPARATOR}{execution.thing_name}"


def to_status(execution: Execution) -> dict[str, Any]:
    """The API contract's status object: the execution under the API contract's names, with its history in states."""
    return {
        "id": status_id(execution),
        "request": execution.command_id,
        "device": execution.thing_name,
        "state": STATES[execution.status],
        "reason": _reason(execution.status, execution.status_reason),
        "createdAt": execution.created_at,
        "updatedAt": execution.updated_at,
        "history": [
            {
                "at": entry.at,
                "state": STATES[entry.to_status],
                "reason": _reason(entry.to_status, entry.reason),
                "source": entry.source,
            }
            for entry in execution.history
        ],
    }


def list_statuses(ports: Ports, query: Mapping[str, str]) -> dict[str, Any]:
    wanted = parse(StatusQuery, dict(query))
    internal: dict[str, bool] = {}

    def kept(execution: Execution) -> bool:
        if wanted.request and execution.command_id not in wanted.request:
            return False
        if wanted.device and execution.thing_name not in wanted.device:
            return False
        if wanted.state and STATES[execution.status] != wanted.state:
            return False
        if wanted.exclude_internal_commands:
            if execution.command_id not in internal:
                command = ports.commands.get(execution.command_id)
                internal[execution.command_id] = bool(command and command.internal)
            return not internal[execution.command_id]
        return True

    source = _candidates(ports, wanted, internal)
    found = list(islice(filter(kept, islice(source, MAX_READ)), wanted.offset, wanted.offset + wanted.limit + 1))
    return {
        "results": [to_status(execution) for execution in found[: wanted.limit]],
        "limit": wanted.limit,
        "offset": wanted.offset,
        # More may follow: one more was found, or the read stopped at its bound before the end.
        "hasMore": len(found) > wanted.limit or next(source, None) is not None,
    }


def _candidates(ports: Ports, wanted: StatusQuery, internal: dict[str, bool]) -> Iterator[Execution]:
    """The executions a query can match, from the narrowest key: the (command, device) pairs named, else the
    commands named (in the order given, each in thing-name order), else the devices named (newest first), else
    every command, newest first (noting which are internal as their items go by)."""
    if wanted.request and wanted.device:
        for command_id in dict.fromkeys(wanted.request):
            for thing_name in dict.fromkeys(wanted.device):
                if (execution := ports.commands.get_execution(command_id, thing_name)) is not None:
                    yield execution
    elif wanted.request:
        for command_id in dict.fromkeys(wanted.request):
            yield from ports.commands.executions_of(command_id)
    elif wanted.device:
        for thing_name in dict.fromkeys(wanted.device):
            yield from ports.commands.executions_on(thing_name)
    else:
        token = None
        while True:
            page = ports.commands.page(None, 100, token)
            for command in page.items:
                internal[command.command_id] = command.internal
                yield from ports.commands.executions_of(command.command_id)
            if not page.next_token:
                return
            token = page.next_token


def get_status(ports: Ports, status: str) -> dict[str, Any]:
    return to_status(_execution(ports, status))


def update_status(ports: Ports, status: str, update: StatusUpdate) -> dict[str, Any]:
    """Applies the state a device reports; a 400 saying the current state when the execution cannot move
    there (backwards, or out of an end). Reporting the current state again changes nothing."""
    execution = _execution(ports, status)
    command = ports.commands.published(execution.command_id)
    if command is None or not delivery.of(command.delivery).takes_device_reports:
        # A job's or an AWS IoT command's device reports through AWS IoT, whose state the table follows.
        raise InvalidInput(
            "id", "only an execution of an inbox command is reported here; this one's device reports to AWS IoT"
        )
    current = STATES[execution.status]
    if update.state not in SETTABLE:
        raise InvalidInput("state", f"must be one of {', '.join(SETTABLE)}; the state is '{current}'")
    new = REPORTED[update.state]
    if execution.attempt > 1 and execution.status in ("SCHEDULED", "QUEUED"):
        # A retry policy started the next attempt, which no fetch has handed out yet: the report is the earlier
        # attempt's (a device sending its failure again), and changes nothing.
        return to_status(execution)
    if current != update.state or new == "IN_PROGRESS":  # the current state again changes nothing (but progress)
        if not transitions.allowed(execution.status, new, cloud_timeout=execution.timed_out_by == "cloud"):
            raise InvalidInput("state", f"cannot move from '{current}' to '{update.state}'; the state is '{current}'")
        reported = transitions.report(
            ports,
            execution.command_id,
            execution.thing_name,
            new,
            source="device",
            reason=update.reason,
            read=execution,
            attempt=execution.attempt,
            restart=ports.queue.send,  # a failure retried: the dispatch queue releases the next attempt
        )
        if reported is None:
            now_there = _execution(ports, status)
            latest = STATES[now_there.status]
            # A concurrent identical report is the same answer (and completes, or starts the next attempt).
            if latest != update.state and now_there.attempt == execution.attempt:
                raise InvalidInput("state", f"the execution changed meanwhile; the state is '{latest}'")
            return to_status(now_there)
        # Only an execution that ended can complete its command.
        if new in TERMINAL and (refreshed := ports.commands.get(execution.command_id)) is not None:
            commands.settle(ports, refreshed)
        return to_status(reported)  # as written: what a read now would give
    return to_status(execution)


def inbox(ports: Ports, device_id: str | None) -> list[dict[str, Any]]:
    """The device's executions to act on, oldest first, each with its command's operation and rendered document
    (file URLs presigned now): its inbox executions handed out by this fetch, and, for information, the pending
    executions of the other deliveries (their job or AWS IoT command delivers them). Only commands in progress or
    paused (a paused rollout releases nothing more; what it released is the device's): a device must not start
    work that was cancelled, deleted or has completed. How the inbox hands an execution out (at least once, under
    a lease) is services/delivery/inbox.py's.
    """
    if not device_id:
        raise InvalidInput("device_id", "is required: the device whose commands to fetch")
    check_thing_name(device_id, "device_id")
    at = now()
    until = at + timedelta(seconds=settings().inbox_lease_seconds)
    live: dict[str, Command | None] = {}  # by id: the command, if in progress
    templates: dict[str, Template | None] = {}
    items = []
    for pending in ports.commands.executions_on(device_id, pending=True):
        if pending.status == "SCHEDULED":  # not started yet (a rate-limited rollout): not the device's yet
            continue
        if pending.command_id not in live:
            command = ports.commands.get(pending.command_id)
            # Cancelled, deleted or completed: nothing of it is handed out, whatever its executions still say.
            # A paused command's executions released already are still the device's: only new ones wait.
            live[pending.command_id] = command if command and command.status in PUBLISHED else None
        command = live[pending.command_id]
        if command is None or command.document is None:
            continue
        execution = delivery.of(command.delivery).fetched(ports, pending, at, until)
        if execution is None:
            continue
        operation, expiry = _handed_out_with(ports, command, templates)
        document = rendering.presign_files(
            command.document,
            ports.files.bucket,
            published_file_key(command.command_id, ""),
            partial(_download_url, ports, expiry=expiry),
        )
        items.append(to_status(execution) | {"operation": operation, "document": document})
    return items


def _handed_out_with(ports: Ports, command: Command, templates: dict[str, Template | None]) -> tuple[str | None, int]:
    """The operation and the file URLs' expiry an inbox execution is handed out with: the command's, frozen on
    publish; of one published before they were, its template's now (read once a fetch)."""
    if command.presigned_url_expires_in_seconds is not None:
        return command.operation, command.presigned_url_expires_in_seconds
    if command.template_id not in templates:
        templates[command.template_id] = ports.templates.get(command.template_id)
    template = templates[command.template_id]
    return (template.operation, template.presigned_url_expires_in_seconds) if template else (None, 3600)


def _download_url(ports: Ports, key: str, *, expiry: int) -> str:
    return ports.files.download_url(key, expiry)


def _execution(ports: Ports, status: str) -> Execution:
    command_id, _, thing_name = status.partition(SEPARATOR)
    well_formed = is_id(command_id) and is_thing_name(thing_name)
    execution = ports.commands.get_execution(command_id, thing_name) if well_formed else None
    if execution is None:
        raise NotFound("command status", status)
    return execution


def _reason(status: str, reason: str | None) -> str | None:
    prefix = _REASON_PREFIX.get(status)
    if prefix is None:
        return reason
    return f"{prefix}: {reason}" if reason else prefix
