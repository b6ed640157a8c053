"""Executions of a command: listing, reading and cancelling them."""

from __future__ import annotations

import base64
from typing import Any

from commands_core.errors import Conflict, InvalidInput, NotFound
from commands_core.models.executions import TERMINAL, Execution
from commands_core.pagination import Page
from commands_core.services import commands, delivery, transitions
from commands_core.services.delivery.job import STATUSES
from commands_core.services.ports import Ports
from commands_core.validation import check_thing_name


def list_executions(
    ports: Ports, command_id: str, status: str | None, max_results: int, next_token: str | None
) -> Page[Execution]:
    commands.get(ports, command_id)
    return ports.commands.executions(command_id, status, max_results, next_token)


def get(ports: Ports, command_id: str, thing_name: str) -> Execution:
    check_thing_name(thing_name)
    commands.get(ports, command_id)
    execution = ports.commands.get_execution(command_id, thing_name)
    if execution is None:
        raise NotFound("execution", f"{command_id}/{thing_name}")
    return execution


def cancel(ports: Ports, command_id: str, thing_name: str, *, force: bool) -> None:
    """Cancels one thing's execution: in AWS IoT (force for one in progress), then in the table as AWS IoT
    has it afterwards (a device may have started it meanwhile)."""
    check_thing_name(thing_name)
    command = commands.get(ports, command_id)
    execution = get(ports, command_id, thing_name)
    if execution.status in TERMINAL:
        raise InvalidInput("thingName", f"the execution of {thing_name} has already ended ({execution.status})")
    if execution.status == "IN_PROGRESS" and not force:
        raise InvalidInput("force", f"the execution of {thing_name} is IN_PROGRESS: cancel it with force=true")
    if command.dispatch_step in ("expand", "expanding"):
        raise Conflict(f"command '{command_id}' is still being published; cancel this execution once it is written")
    status = delivery.of(command.delivery).cancel_one(ports, command, execution, force=force)
    if status in STATUSES:
        reason = "cancelled through the API" if status == "CANCELED" else None
        transitions.report(ports, command_id, thing_name, STATUSES[status], source="api", reason=reason)
    if status != "CANCELED":
        field = "force" if status == "IN_PROGRESS" else "thingName"
        raise InvalidInput(field, f"AWS IoT could not cancel it: it is {status or 'unknown to AWS IoT'}")
    refreshed = ports.commands.get(command_id)
    if refreshed:
        commands.settle(ports, refreshed)


def describe(ports: Ports, command_id: str, thing_name: str) -> dict[str, Any]:
    """One execution as the API shows it; for the command delivery with the device's `result`, which AWS IoT
    keeps (its events do not carry it)."""
    execution = get(ports, command_id, thing_name)
    data = to_api(execution)
    if execution.execution_id:
        found = ports.iot_commands.result(execution.execution_id, ports.registry.thing_arn(thing_name))
        if found and found.get("result"):
            data["result"] = {name: _result_value(value) for name, value in found["result"].items()}
    return data


def _result_value(value: dict[str, Any]) -> Any:
    """A result value of AWS IoT ({"S": ...} | {"B": ...} | {"BIN": bytes}) as JSON: binary in base64."""
    if "BIN" in value:
        return {"BIN": base64.b64encode(value["BIN"]).decode()}
    return dict(value)


def to_api(execution: Execution) -> dict[str, Any]:
    """The API contract's Execution, with what this service adds: status details and reason, and the history."""
    data = execution.to_api()
    data["lastUpdatedAt"] = data.pop("updatedAt")
    data.pop("commandId", None)
    data["percentComplete"] = percent_complete(execution)
    return data


def percent_complete(execution: Execution) -> float:
    """100 once ended; else what the device reported as statusDetails.percentComplete, if a number; else 0."""
    if execution.status in TERMINAL:
        return 100.0
    try:
        return max(0.0, min(100.0, float((execution.status_details or {}).get("percentComplete", 0))))
    except ValueError:
        return 0.0
