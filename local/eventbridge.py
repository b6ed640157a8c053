"""The embedded endpoint's EventBridge: event buses that record what is put on them, over EventBridge's JSON 1.1
wire protocol, so boto3 runs unchanged against it (as a botocore "before-send" hook or as a WSGI app in front
of moto's server).

moto's own events backend stores nothing that a reader could list afterwards (it hands each event to the rules'
targets and forgets it); here every entry put is recorded, numbered from 1 in the order the puts were answered,
for the local runtime's GET /_local/events.

Emulated: CreateEventBus, DescribeEventBus, DeleteEventBus and PutEvents. Every request is checked against
botocore's model of EventBridge (1-10 entries, the bus name's pattern, member types). As EventBridge: the
`default` bus always exists; PutEvents answers each entry on its own (an entry is put or carries an ErrorCode,
and FailedEntryCount counts the latter): an entry without Source, DetailType or Detail is InvalidArgument, one
whose Detail is not a JSON object is MalformedDetail, one for a bus that does not exist (by name or ARN) is
ResourceNotFoundException; a request over 256 KB (the request's body, a little more than EventBridge's count of
its entries) is refused whole (ValidationException). An entry without Time gets the time it was put.

Not emulated: rules, targets and event patterns (nothing is delivered anywhere: the bus only records), archives
and replays, resource policies and permissions, partner and custom event sources, Resources and TraceHeader
(accepted, not recorded), endpoints (EndpointId), quotas and throttling (tests inject those).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local.wire import ApiError, Checker, Emulator, json_operation, model, serialize

_TARGET = "AWSEvents."
_DEFAULT = "default"
_MAX_BYTES = 256 * 1024


@dataclass(frozen=True)
class Recorded:
    """An entry put on a bus: its number (from 1), its time, and what it said."""

    seq: int
    time: datetime
    bus: str
    source: str
    detail_type: str
    detail: dict[str, Any]

    def view(self) -> dict[str, Any]:
        """As GET /_local/events lists it."""
        moment = self.time.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return {
            "seq": self.seq,
            "time": moment,
            "source": self.source,
            "detailType": self.detail_type,
            "detail": self.detail,
        }


class EventBridge(Emulator):
    def __init__(self, *, account: str, region: str, clock: Callable[[], float] = time.time) -> None:
        self._account = account
        self._region = region
        self._clock = clock
        self._lock = threading.Lock()
        self._buses: dict[str, float] = {_DEFAULT: clock()}  # name -> creation time
        self._recorded: list[Recorded] = []
        self._operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "CreateEventBus": self._create_event_bus,
            "DescribeEventBus": self._describe_event_bus,
            "DeleteEventBus": self._delete_event_bus,
            "PutEvents": self._put_events,
        }

    # --- what the local runtime reads ---

    def recorded(self, *, since: int = 0, command_id: str | None = None, limit: int | None = None) -> list[Recorded]:
        """The entries put after number `since`, in order; only those whose detail names `command_id`, if given;
        at most `limit`."""
        with self._lock:
            later = self._recorded[since:] if since >= 0 else list(self._recorded)
        found = [entry for entry in later if command_id is None or entry.detail.get("commandId") == command_id]
        return found if limit is None else found[:limit]

    # --- transport ---

    def route(self, method: str, url: str, headers: Mapping[str, Any]) -> str | None:
        return json_operation(method, headers, _TARGET)

    def answer(self, route: str, url: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": str(uuid.uuid4())}
        try:
            if route not in self._operations:
                raise ApiError("UnknownOperationException", f"the embedded endpoint's EventBridge lacks {route}")
            if len(body) > _MAX_BYTES and route == "PutEvents":
                raise ApiError("ValidationException", "Total size of the entries in the request is over the limit")
            operation = model("events").operation_model(route)
            output = self._operations[route](_read(operation, body))
            shape = operation.output_shape
            return 200, headers, json.dumps(serialize(shape, output) if shape is not None else {}).encode()
        except ApiError as error:
            headers["x-amzn-ErrorType"] = error.code
            return 400, headers, json.dumps({"__type": error.code, "message": error.body["message"]}).encode()

    # --- buses ---

    def _arn(self, name: str) -> str:
        return f"arn:aws:events:{self._region}:{self._account}:event-bus/{name}"

    def _name(self, given: str) -> str:
        """A bus's name, given as its name or its ARN (of this account and region only)."""
        prefix = self._arn("")
        return given.removeprefix(prefix) if given.startswith("arn:") else given

    def _create_event_bus(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["Name"]
        with self._lock:
            if name in self._buses:
                raise ApiError("ResourceAlreadyExistsException", f"Event bus {name} already exists.")
            self._buses[name] = self._clock()
        return {"EventBusArn": self._arn(name)}

    def _describe_event_bus(self, request: dict[str, Any]) -> dict[str, Any]:
        name = self._name(request.get("Name") or _DEFAULT)
        with self._lock:
            if name not in self._buses:
                raise ApiError("ResourceNotFoundException", f"Event bus {name} does not exist.")
            created = self._buses[name]
        return {"Name": name, "Arn": self._arn(name), "CreationTime": created, "LastModifiedTime": created}

    def _delete_event_bus(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["Name"]
        if name == _DEFAULT:
            raise ApiError("ValidationException", "Cannot delete event bus default.")
        with self._lock:
            self._buses.pop(name, None)  # as EventBridge: deleting an absent bus succeeds
        return {}

    # --- events ---

    def _put_events(self, request: dict[str, Any]) -> dict[str, Any]:
        results: list[dict[str, Any]] = []
        with self._lock:  # numbered in the order the puts are answered, each request's entries together
            for entry in request["Entries"]:
                refused = self._refused(entry)
                if refused is not None:
                    results.append({"ErrorCode": refused[0], "ErrorMessage": refused[1]})
                    continue
                at = entry.get("Time")
                moment = datetime.fromtimestamp(at if at is not None else self._clock(), UTC)
                self._recorded.append(
                    Recorded(
                        seq=len(self._recorded) + 1,
                        time=moment,
                        bus=self._name(entry.get("EventBusName") or _DEFAULT),
                        source=entry["Source"],
                        detail_type=entry["DetailType"],
                        detail=json.loads(entry["Detail"]),
                    )
                )
                results.append({"EventId": str(uuid.uuid4())})
        return {"FailedEntryCount": sum("ErrorCode" in result for result in results), "Entries": results}

    def _refused(self, entry: dict[str, Any]) -> tuple[str, str] | None:
        """Why EventBridge would not put the entry (its ErrorCode and ErrorMessage); None when it would."""
        for member in ("Source", "DetailType", "Detail"):
            if not entry.get(member):
                return "InvalidArgument", f"Parameter {member} is not valid. Reason: {member} is a required argument."
        try:
            detail = json.loads(entry["Detail"])
        except ValueError:
            detail = None
        if not isinstance(detail, dict):
            return "MalformedDetail", "Detail is malformed."
        name = self._name(entry.get("EventBusName") or _DEFAULT)
        if name not in self._buses:
            return "ResourceNotFoundException", f"Event bus {name} does not exist."
        return None


def _read(operation: Any, body: bytes) -> dict[str, Any]:
    try:
        request = json.loads(body) if body else {}
    except ValueError:
        raise ApiError("SerializationException", "The request body is not valid JSON") from None
    if not isinstance(request, dict):
        raise ApiError("SerializationException", "The request body must be a JSON object")
    checker = Checker()
    checked: dict[str, Any] = checker.check(operation.input_shape, request, "")
    if checker.problems:
        raise ApiError("ValidationException", checker.message())
    return checked
