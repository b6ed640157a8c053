"""An in-process emulator of the AWS IoT Commands operations the service uses (moto has none of them).

It speaks the REST-JSON wire protocol, so boto3 runs unchanged against it (as a botocore "before-send" hook or
as a WSGI app in front of moto's server), and it checks every request, and can check any response, against
botocore's service models for `iot` and `iot-jobs-data`. Emulated: CreateCommand, GetCommand, UpdateCommand,
DeleteCommand (202 pending deletion / 204 after 12 h deprecated), ListCommands, StartCommandExecution
(clientToken idempotency), GetCommandExecution, ListCommandExecutions, DeleteCommandExecution; the device's
response topic (`device_response`), the cloud-side execution timeout and the `$aws/events/commandExecution/...`
events.

Not emulated: the AWS-IoT-FleetWise namespace's rules (its commands are stored as given); payloadTemplate and
preprocessor rendering and parameter valueConditions (a template command's request carries the template
unrendered); MQTT request topics other than the `on_start` listener, the response accepted/rejected topics and
CBOR; tags (accepted, not stored); the six-month retention (executions stay, no timeToLive); IAM, quotas and
throttling.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
import marshal
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from local.wire import (
    ApiError,
    Checker,
    Emulator,
    error_status,
    invalid,
    model,
    read_input,
    signed_service,
    write_output,
)

RESPONSE_TOPIC = "$aws/commands/things/+/executions/+/response/json"

_OPERATIONS = {
    "iot": (
        "CreateCommand",
        "GetCommand",
        "UpdateCommand",
        "DeleteCommand",
        "ListCommands",
        "GetCommandExecution",
        "ListCommandExecutions",
        "DeleteCommandExecution",
    ),
    "iot-jobs-data": ("StartCommandExecution",),
}
_FINAL = frozenset({"SUCCEEDED", "FAILED", "REJECTED"})
_DEVICE_STATUSES = _FINAL | {"IN_PROGRESS", "TIMED_OUT"}
_RESULT_KEYS = {"s": "S", "b": "B", "bin": "BIN"}  # the device's spelling -> CommandExecutionResult's members
_PARAMETER_KEYS = {
    "STRING": "S",
    "BOOLEAN": "B",
    "INTEGER": "I",
    "LONG": "L",
    "DOUBLE": "D",
    "BINARY": "BIN",
    "UNSIGNEDLONG": "UL",
}
_DELETION_DELAY = 12 * 3600.0  # deprecated this long, a command is deleted at once
_MAX_TIMEOUT = 12 * 3600  # executionTimeoutSeconds' documented ceiling (the model only has min 1)
_MAX_PAYLOAD = 32 * 1024
_NO_RESPONSE = {"reasonCode": "$NO_RESPONSE_FROM_DEVICE", "reasonDescription": "The device did not answer in time"}

Effect = Callable[[], object]


@cache
def _routes() -> list[tuple[str, str, re.Pattern[str], Any]]:
    """(service, method, path pattern, operation model), from the models' request URIs."""
    routes = []
    for service, names in _OPERATIONS.items():
        for name in names:
            operation = model(service).operation_model(name)
            path = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", operation.http["requestUri"])
            routes.append((service, operation.http["method"], re.compile(path), operation))
    return routes


# --- state ----------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Command:
    spec: dict[str, Any]  # what CreateCommand was given (tags aside), with commandArn and namespace
    created_at: float
    last_updated_at: float
    deprecated_at: float | None = None
    delete_after: float | None = None  # set by a DeleteCommand AWS IoT holds pending

    @property
    def pending_deletion(self) -> bool:
        return self.delete_after is not None

    def view(self) -> dict[str, Any]:
        return self.spec | {
            "createdAt": self.created_at,
            "lastUpdatedAt": self.last_updated_at,
            "deprecated": self.deprecated_at is not None,
            "pendingDeletion": self.pending_deletion,
        }


@dataclass(slots=True, eq=False)  # compared by identity: one object per execution, thousands of them
class _Execution:
    # The strings of the command (id, ARN, namespace) and of the target's ARN are the ones all its executions
    # share, not copies.
    execution_id: str
    command_id: str
    command_arn: str
    target_arn: str
    namespace: str
    parameters: dict[str, Any] | None
    timeout: int
    created_at: float
    last_updated_at: float
    status: str = "CREATED"
    status_reason: dict[str, str] | None = None  # never changed in place: executions may share one
    result: bytes | None = None  # the device's result map, marshalled: a fraction of the dicts' size
    started_at: float | None = None
    completed_at: float | None = None
    timed_out_by_cloud: bool = False

    @property
    def device(self) -> str:
        """The thing name or MQTT client id after the target ARN's resource type (a client id may hold "/")."""
        return self.target_arn.split("/", 1)[1]

    @property
    def final(self) -> bool:
        return self.status in _FINAL or (self.status == "TIMED_OUT" and not self.timed_out_by_cloud)

    def view(self) -> dict[str, Any]:
        """GetCommandExecution's members (a superset of CommandExecutionSummary's)."""
        return {
            "executionId": self.execution_id,
            "commandArn": self.command_arn,
            "targetArn": self.target_arn,
            "status": self.status,
            "statusReason": self.status_reason,
            "result": None if self.result is None else marshal.loads(self.result),
            "parameters": self.parameters,
            "executionTimeoutSeconds": self.timeout,
            "createdAt": self.created_at,
            "lastUpdatedAt": self.last_updated_at,
            "startedAt": self.started_at,
            "completedAt": self.completed_at,
        }


class IotCommands(Emulator):
    """The emulated IoT Commands of one account and region."""

    RESPONSE_TOPIC = RESPONSE_TOPIC

    def __init__(
        self,
        *,
        account: str = "123456789012",
        region: str = "us-east-1",
        clock: Callable[[], float] = time.time,
        thing_exists: Callable[[str], bool] = lambda name: True,
        publish: Callable[[str, dict[str, Any]], object] = lambda topic, payload: None,
    ) -> None:
        self._prefix = f"arn:aws:iot:{region}:{account}:"
        self._clock, self._thing_exists, self._publish = clock, thing_exists, publish
        self._lock = threading.Lock()
        self._commands: dict[str, _Command] = {}
        self._deletions: list[tuple[float, str]] = []  # (delete after, command id) of the DeleteCommands held
        self._executions: dict[str, _Execution] = {}
        # The executions of each command and of each target (by ARN), in the order started: what
        # ListCommandExecutions reads (one of the two is always given).
        self._by_command: dict[str, list[_Execution]] = {}
        self._by_target: dict[str, list[_Execution]] = {}
        self._deadlines: list[tuple[float, str]] = []  # (created + timeout, execution id) of every execution
        # (command ARN, target ARN, clientToken) -> the execution it started, which holds what a replay must match.
        self._tokens: dict[tuple[str, str, str], _Execution] = {}
        self._listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self._operations: dict[str, Callable[[dict[str, Any], list[Effect]], dict[str, Any]]] = {
            "CreateCommand": self._create_command,
            "GetCommand": self._get_command,
            "UpdateCommand": self._update_command,
            "DeleteCommand": self._delete_command,
            "ListCommands": self._list_commands,
            "StartCommandExecution": self._start_command_execution,
            "GetCommandExecution": self._get_command_execution,
            "ListCommandExecutions": self._list_command_executions,
            "DeleteCommandExecution": self._delete_command_execution,
        }

    # --- transport ---

    def route(self, method: str, url: str, headers: Mapping[str, Any]) -> tuple[Any, dict[str, str]] | None:
        parts = urlsplit(url)
        service = signed_service(headers) or ("iot-jobs-data" if parts.netloc.startswith("data.jobs.iot.") else None)
        for route_service, route_method, pattern, operation in _routes():
            match = pattern.fullmatch(parts.path)
            if route_service == service and route_method == method.upper() and match:
                return operation, match.groupdict()
        return None

    def answer(self, route: tuple[Any, dict[str, str]], url: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        operation, labels = route
        effects: list[Effect] = []
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}
        try:
            request = read_input(operation, labels, urlsplit(url).query, body)
            status, payload = write_output(operation, self._operations[operation.name](request, effects))
        except ApiError as error:
            status, payload = (
                error_status(operation.service_model.service_name, error.code),
                json.dumps(error.body).encode(),
            )
            headers["x-amzn-ErrorType"] = error.code
        _run(effects)
        return status, headers, payload

    # --- devices and time ---

    def on_start(self, listener: Callable[[str, dict[str, Any]], None]) -> None:
        """Calls listener(thing name or client id, request) when an execution starts: AWS's MQTT request."""
        with self._lock:
            self._listeners.append(listener)

    def device_response(self, thing_name: str, execution_id: str, message: dict[str, Any]) -> None:
        """A device's message on its execution's response topic; one AWS would reject is ignored."""
        effects: list[Effect] = []
        update = _device_update(message)
        with self._locked(effects) as now:
            execution = self._executions.get(execution_id)
            if execution is not None and execution.device == thing_name and update and _accepts(execution, update[0]):
                status, reason, result = update
                execution.status, execution.status_reason, execution.timed_out_by_cloud = status, reason, False
                execution.result = marshal.dumps(result) if result is not None else execution.result
                execution.last_updated_at = now
                if status == "IN_PROGRESS" and execution.started_at is None:
                    execution.started_at = now
                if execution.final:
                    execution.completed_at = now
                effects.append(self._event(execution, now))
        _run(effects)

    def executions(self, command_id: str) -> list[dict[str, Any]]:
        """The command's executions, as GetCommandExecution shows them (times in epoch seconds): a look inside
        for tests and benchmarks, not an AWS operation."""
        with self._lock:
            return [execution.view() for execution in self._by_command.get(f"{self._prefix}command/{command_id}", [])]

    def expire(self) -> int:
        """Times out the executions whose timeout has passed, publishing their events; how many."""
        effects: list[Effect] = []
        with self._lock:
            count = self._sweep(self._clock(), effects)
        _run(effects)
        return count

    @contextmanager
    def _locked(self, effects: list[Effect]) -> Iterator[float]:
        """The state, with timeouts and due deletions applied first (lazily, as reads must see them); now."""
        with self._lock:
            now = self._clock()
            self._sweep(now, effects)
            yield now

    def _sweep(self, now: float, effects: list[Effect]) -> int:
        # Every request sweeps: heaps, so that a sweep costs only what is due.
        while self._deletions and self._deletions[0][0] <= now:
            _, command_id = heapq.heappop(self._deletions)
            command = self._commands.get(command_id)  # since deleted, made anew or its deletion moved: look again
            if command is not None and command.delete_after is not None and now >= command.delete_after:
                del self._commands[command_id]
        count = 0
        while self._deadlines and self._deadlines[0][0] <= now:
            deadline, execution_id = heapq.heappop(self._deadlines)
            execution = self._executions.get(execution_id)
            if execution is not None and execution.status in ("CREATED", "IN_PROGRESS"):
                execution.status, execution.status_reason = "TIMED_OUT", _NO_RESPONSE
                execution.timed_out_by_cloud, execution.last_updated_at = True, deadline
                effects.append(self._event(execution, deadline))
                count += 1
        return count

    def _event(self, execution: _Execution, at: float) -> Effect:
        payload: dict[str, Any] = {"executionId": execution.execution_id, "status": execution.status}
        if execution.status_reason:
            payload["statusReason"] = dict(execution.status_reason)
        payload |= {
            "eventType": "COMMAND_EXECUTION",
            "commandArn": execution.command_arn,
            "targetArn": execution.target_arn,
            "timestamp": int(at * 1000),
        }
        return partial(
            self._publish, f"$aws/events/commandExecution/{execution.command_id}/{execution.status}", payload
        )

    # --- commands ---

    def _command(self, command_id: str) -> _Command:
        command = self._commands.get(command_id)
        if command is None:
            raise ApiError("ResourceNotFoundException", f"Command {command_id} not found")
        return command

    def _create_command(self, request: dict[str, Any], effects: list[Effect]) -> dict[str, Any]:
        command_id, namespace = request["commandId"], request.get("namespace", "AWS-IoT")
        if namespace == "AWS-IoT":
            # Static or dynamic: the two are alternatives (both at once is refused, an assumption).
            if ("payload" in request) == ("payloadTemplate" in request):
                raise invalid("An AWS-IoT command needs either payload or payloadTemplate")
            if "roleArn" in request:
                raise invalid("roleArn is only for the AWS-IoT-FleetWise namespace")
        if len(request.get("payload", {}).get("content", b"")) > _MAX_PAYLOAD:
            raise invalid(f"payload.content is larger than {_MAX_PAYLOAD} bytes")
        arn = f"{self._prefix}command/{command_id}"
        with self._locked(effects) as now:
            if command_id in self._commands:
                raise ApiError("ConflictException", f"Command {command_id} already exists", resourceId=command_id)
            spec = {name: value for name, value in request.items() if name != "tags"}
            self._commands[command_id] = _Command(spec | {"commandArn": arn, "namespace": namespace}, now, now)
        return {"commandId": command_id, "commandArn": arn}

    def _get_command(self, request: dict[str, Any], effects: list[Effect]) -> dict[str, Any]:
        with self._locked(effects):
            return self._command(request["commandId"]).view()

    def _update_command(self, request: dict[str, Any], effects: list[Effect]) -> dict[str, Any]:
        with self._locked(effects) as now:
            command = self._command(request["commandId"])
            command.spec |= {name: request[name] for name in ("displayName", "description") if name in request}
            if request.get("deprecated") is True and command.deprecated_at is None:
                command.deprecated_at = now
            elif request.get("deprecated") is False:
                command.deprecated_at = None
            command.last_updated_at = now
            return command.view()

    def _delete_command(self, request: dict[str, Any], effects: list[Effect]) -> dict[str, Any]:
        with self._locked(effects) as now:
            command = self._commands.get(request["commandId"])
            # A missing command is already deleted: 204, idempotent (the model lists no ResourceNotFoundException).
            if command is None:
                return {"statusCode": HTTPStatus.NO_CONTENT}
            if command.deprecated_at is not None and now - command.deprecated_at > _DELETION_DELAY:
                del self._commands[request["commandId"]]
                return {"statusCode": HTTPStatus.NO_CONTENT}
            # Deleted once the 12-hour timeout has passed: from the deprecation, or from now if never deprecated.
            command.delete_after = (command.deprecated_at or now) + _DELETION_DELAY
            heapq.heappush(self._deletions, (command.delete_after, request["commandId"]))
            return {"statusCode": HTTPStatus.ACCEPTED}

    def _list_commands(self, request: dict[str, Any], effects: list[Effect]) -> dict[str, Any]:
        namespace, parameter = request.get("namespace"), request.get("commandParameterName")
        with self._locked(effects):
            commands = [
                command.view()
                for command in self._commands.values()
                if namespace in (None, command.spec["namespace"])
                and (parameter is None or parameter in {p["name"] for p in command.spec.get("mandatoryParameters", [])})
            ]
        commands.sort(key=lambda c: (c["createdAt"], c["commandId"]), reverse=request.get("sortOrder") != "ASCENDING")
        page, token = _page("ListCommands", commands, request)
        return {"commands": page, "nextToken": token}

    # --- executions ---

    def _start_command_execution(self, request: dict[str, Any], effects: list[Effect]) -> dict[str, Any]:
        target = re.fullmatch(re.escape(self._prefix) + r"(thing|client)/(.+)", request["targetArn"])
        if target is None:
            raise invalid(f"targetArn must be {self._prefix}thing/<name> or {self._prefix}client/<clientId>")
        # Asked before taking the lock: the callback may well call AWS (moto) itself.
        if target.group(1) == "thing" and not self._thing_exists(target.group(2)):
            raise ApiError("ResourceNotFoundException", f"Thing {target.group(2)} not found")
        timeout, parameters = request.get("executionTimeoutSeconds", 10), request.get("parameters")
        if timeout > _MAX_TIMEOUT:
            raise invalid(f"executionTimeoutSeconds must be at most {_MAX_TIMEOUT}")
        token = request.get("clientToken", "")
        with self._locked(effects) as now:
            command = self._command_by_arn(request["commandArn"])
            targeted = self._by_target.get(request["targetArn"])
            target_arn = targeted[0].target_arn if targeted else request["targetArn"]
            key = (command.spec["commandArn"], target_arn, token)
            replayed = self._tokens.get(key) if token else None
            if replayed is not None and (replayed.parameters, replayed.timeout) != (parameters, timeout):
                raise ApiError("ConflictException", "The clientToken was used for a different request")
            if replayed is not None and replayed.execution_id in self._executions:
                return {"executionId": replayed.execution_id}
            _check_startable(command, parameters or {})
            execution = _Execution(
                execution_id=str(uuid.uuid4()),
                command_id=command.spec["commandId"],
                command_arn=command.spec["commandArn"],
                target_arn=target_arn,
                namespace=command.spec["namespace"],
                parameters=parameters,
                timeout=timeout,
                created_at=now,
                last_updated_at=now,
            )
            self._executions[execution.execution_id] = execution
            self._by_command.setdefault(execution.command_arn, []).append(execution)
            self._by_target.setdefault(execution.target_arn, []).append(execution)
            heapq.heappush(self._deadlines, (execution.created_at + execution.timeout, execution.execution_id))
            if token:
                self._tokens[key] = execution
            effects.append(self._event(execution, now))
            started = {
                "executionId": execution.execution_id,
                "commandId": execution.command_id,
                # A template is handed over unrendered: preprocessing is not emulated.
                "payload": command.spec.get("payload", {}).get("content")
                or command.spec.get("payloadTemplate", "").encode(),
                "contentType": command.spec.get("payload", {}).get("contentType"),
            }
            effects.extend(partial(listener, execution.device, started) for listener in self._listeners)
        return {"executionId": execution.execution_id}

    def _command_by_arn(self, arn: str) -> _Command:
        command = self._commands.get(arn.removeprefix(f"{self._prefix}command/"))
        if command is None or command.spec["commandArn"] != arn:
            raise ApiError("ResourceNotFoundException", f"Command {arn} not found")
        return command

    def _execution(self, request: dict[str, Any]) -> _Execution:
        execution = self._executions.get(request["executionId"])
        if execution is None or execution.target_arn != request["targetArn"]:
            raise ApiError("ResourceNotFoundException", f"Command execution {request['executionId']} not found")
        return execution

    def _get_command_execution(self, request: dict[str, Any], effects: list[Effect]) -> dict[str, Any]:
        with self._locked(effects):
            view = self._execution(request).view()
        return view if request.get("includeResult") else view | {"result": None}

    def _list_command_executions(self, request: dict[str, Any], effects: list[Effect]) -> dict[str, Any]:
        if ("commandArn" in request) == ("targetArn" in request):
            raise invalid("Give exactly one of commandArn and targetArn")
        moments = {"startedTimeFilter": "started_at", "completedTimeFilter": "completed_at"}
        filters = [name for name in moments if name in request]
        if len(filters) > 1:
            raise invalid("Give at most one of startedTimeFilter and completedTimeFilter")
        # Sorted by the filtered time when there is a filter, by creation otherwise (as the docs say).
        attribute = moments[filters[0]] if filters else "created_at"
        after, before = _time_filter(request, filters[0]) if filters else (None, None)
        status, namespace = request.get("status"), request.get("namespace")
        with self._locked(effects):
            if "commandArn" in request:
                candidates = self._by_command.get(request["commandArn"], [])
            else:
                candidates = self._by_target.get(request["targetArn"], [])
            rows = []
            for execution in candidates:
                at = getattr(execution, attribute)
                if (
                    status in (None, execution.status)
                    and namespace in (None, execution.namespace)
                    and (not filters or at is not None)
                    and (after is None or at > after)
                    and (before is None or at < before)
                ):
                    rows.append((at, execution.execution_id, execution))
            rows.sort(key=lambda row: row[:2], reverse=request.get("sortOrder") != "ASCENDING")
            page, token = _page("ListCommandExecutions", rows, request)
            views = [execution.view() for _, _, execution in page]  # only the page's: reads are per command
        return {"commandExecutions": views, "nextToken": token}

    def _delete_command_execution(self, request: dict[str, Any], effects: list[Effect]) -> dict[str, Any]:
        with self._locked(effects):
            execution = self._execution(request)
            if not execution.final:
                raise ApiError("ConflictException", f"Command execution {execution.execution_id} is not terminal")
            del self._executions[execution.execution_id]
            for index, arn in ((self._by_command, execution.command_arn), (self._by_target, execution.target_arn)):
                index[arn].remove(execution)
                if not index[arn]:
                    del index[arn]
        return {}


def _run(effects: list[Effect]) -> None:
    for effect in effects:
        effect()


def _accepts(execution: _Execution, status: str) -> bool:
    # A cloud-set TIMED_OUT still takes the device's late final answer; anything else final stays.
    return status in _FINAL if execution.timed_out_by_cloud else not execution.final


def _device_update(message: Mapping[str, Any]) -> tuple[str, dict[str, str] | None, dict[str, Any] | None] | None:
    """(status, statusReason, result) of a device's response, result in the model's spelling; None if invalid."""
    status, reason, result = message.get("status"), message.get("statusReason"), message.get("result")
    if status not in _DEVICE_STATUSES:
        return None
    if result is not None:
        if not isinstance(result, dict) or not all(
            isinstance(v, dict) and set(v) <= set(_RESULT_KEYS) for v in result.values()
        ):
            return None
        result = {name: {_RESULT_KEYS[key]: v for key, v in value.items()} for name, value in result.items()}
    checker, iot = Checker(), model("iot")
    reason = None if reason is None else checker.check(iot.shape_for("StatusReason"), reason, "statusReason")
    result = None if result is None else checker.check(iot.shape_for("CommandExecutionResultMap"), result, "result")
    return None if checker.problems else (status, reason, result)


def _check_startable(command: _Command, parameters: Mapping[str, Mapping[str, Any]]) -> None:
    command_id = command.spec["commandId"]
    if command.deprecated_at is not None or command.pending_deletion:
        raise invalid(f"Command {command_id} is deprecated or being deleted")
    declared = {parameter["name"]: parameter for parameter in command.spec.get("mandatoryParameters", [])}
    for name, value in parameters.items():
        if name not in declared:
            raise invalid(f"parameters.{name} is not among command {command_id}'s mandatoryParameters")
        expected = _PARAMETER_KEYS.get(declared[name].get("type", ""))
        if len(value) != 1 or (expected is not None and set(value) != {expected}):
            raise invalid(f"parameters.{name} must have exactly one value, of the parameter's type")
    for name, parameter in declared.items():
        if name not in parameters and "value" not in parameter and "defaultValue" not in parameter:
            raise invalid(f"parameters.{name} is mandatory and has no default value")


def _time_filter(request: Mapping[str, Any], name: str) -> tuple[float | None, float | None]:
    """The (after, before) bounds of a time filter, given as yyyy-MM-dd'T'HH:mm (UTC unless an offset is given)."""
    bounds = []
    for side in ("after", "before"):
        text = request[name].get(side)
        try:
            moment = None if text is None else datetime.fromisoformat(text)
        except ValueError:
            raise invalid(f"{name}.{side} must use the format yyyy-MM-dd'T'HH:mm") from None
        bounds.append(None if moment is None else (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
    return bounds[0], bounds[1]


def _page(operation: str, items: list[Any], request: Mapping[str, Any]) -> tuple[list[Any], str | None]:
    """One page of items and the opaque token of the next (None on the last)."""
    start = 0
    if "nextToken" in request:
        try:
            name, offset = base64.urlsafe_b64decode(request["nextToken"]).decode().split(":")
            start = int(offset)
            valid = name == operation and start >= 0
        except (ValueError, binascii.Error):
            valid = False
        if not valid:
            raise invalid("The nextToken is not valid")
    end = start + request.get("maxResults", 25)
    token = base64.urlsafe_b64encode(f"{operation}:{end}".encode()).decode() if end < len(items) else None
    return items[start:end], token
