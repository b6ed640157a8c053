"""An emulator of the device side of AWS IoT Jobs over HTTPS (the `iot-jobs-data` service), which moto lacks.

It speaks the REST-JSON wire protocol, so a device script using boto3's `iot-jobs-data` client runs unchanged
against the local runtime's embedded endpoint (or, in process, as a botocore "before-send" hook), and it checks
every request, and can check any response, against botocore's service model. It acts on moto's AWS IoT state
(local/moto_iot.py), under its lock: the executions the service's jobs and the Jobs API made are the ones a device
reads and moves here.

Emulated:
- DescribeJobExecution (also of jobId `$next`: the thing's next pending execution), with includeJobDocument and
  executionNumber;
- GetPendingJobExecutions: the thing's IN_PROGRESS and QUEUED executions, oldest first;
- StartNextPendingJobExecution: the thing's execution in progress, else its oldest queued one moved to
  IN_PROGRESS (with statusDetails); none is an empty answer;
- UpdateJobExecution: IN_PROGRESS, SUCCEEDED, FAILED or REJECTED (what a device may set), from QUEUED or
  IN_PROGRESS; expectedVersion against the execution's versionNumber (one up with each update);
  executionNumber; statusDetails kept unless given; includeJobExecutionState and includeJobDocument. An execution
  that ends publishes `$aws/events/jobExecution/<jobId>/<status>` as AWS IoT does (and, when it was the last of a
  SNAPSHOT job, `$aws/events/job/<jobId>/completed`), so the local rules take it into the service as they take
  AWS IoT's; a FAILED execution with retries left under its job's retry policy is queued again.
- Errors in AWS's JSON error shape (`{"message"}`, the code in `x-amzn-ErrorType`, the status the model gives):
  ResourceNotFoundException (404) for a job, thing or execution (number) AWS IoT does not have;
  InvalidStateTransitionException (409, with the execution's `executionState`) for an update of an execution that
  has ended; VersionConflictException (409, with `executionState`) for an expectedVersion that is not the
  execution's: AWS IoT's documentation calls it a version mismatch and botocore's model of this service names no
  error for it, so the emulator uses AWS IoT's name for that condition elsewhere (boto3 raises a ClientError with
  that code); InvalidRequestException (400) for a status a device may not set; ValidationException (400) for a
  request the model refuses. StartCommandExecution is the IoT Commands emulator's (local/iot_commands.py); any other
  request signed for this service is UnknownOperationException (404), never moto's HTML page.

Not emulated: MQTT (the `$aws/things/<thing>/jobs/...` topics, notify and notify-next), so nothing tells a device
of new work: it asks; step timeouts (stepTimeoutInMinutes is checked against AWS IoT's range, then ignored) and
the job's in-progress timeout (approximateSecondsBeforeTimedOut is never given); the documented limit of 10
statusDetails pairs; namespaceId; presigned-URL placeholders in a document (returned as written); certificates,
IAM and throttling.
"""

from __future__ import annotations

import calendar
import json
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import unquote, urlsplit

from local import moto_iot
from local.wire import ApiError, Emulator, error_status, model, read_input, signed_service, write_output

SERVICE = "iot-jobs-data"
_OPERATIONS = ("DescribeJobExecution", "GetPendingJobExecutions", "StartNextPendingJobExecution", "UpdateJobExecution")
_PENDING = ("IN_PROGRESS", "QUEUED")
_DEVICE_STATUSES = ("IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED")
_NEXT = "$next"

Published = tuple[str, dict[str, Any]]  # (topic, payload) of an event to publish once the lock is let go


@cache
def _routes() -> list[tuple[str, re.Pattern[str], Any]]:
    """(method, path pattern, operation model) of the emulated operations, from the model's request URIs; a
    literal part such as `$next` (PUT: StartNextPendingJobExecution) matches only itself."""
    routes = []
    for name in _OPERATIONS:
        operation = model(SERVICE).operation_model(name)
        parts = re.split(r"\{(\w+)\}", operation.http["requestUri"])
        path = "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)" for index, part in enumerate(parts))
        routes.append((operation.http["method"], re.compile(path), operation))
    return routes


def _is_start_command_execution(method: str, path: str) -> bool:
    http: dict[str, str] = model(SERVICE).operation_model("StartCommandExecution").http
    return method.upper() == http["method"] and path == http["requestUri"]


class JobsData(Emulator):
    """The emulated AWS IoT Jobs data plane of one account and region, over moto's AWS IoT backend."""

    def __init__(
        self,
        *,
        backend: Callable[[], Any],
        publish: Callable[[str, dict[str, Any]], object] = lambda topic, payload: None,
    ) -> None:
        self._backend = backend  # moto's AWS IoT of the account and region (hold moto_iot.LOCK while using it)
        self._publish = publish
        self._operations: dict[str, Callable[[dict[str, Any], list[Published]], dict[str, Any]]] = {
            "DescribeJobExecution": self._describe_job_execution,
            "GetPendingJobExecutions": self._get_pending_job_executions,
            "StartNextPendingJobExecution": self._start_next_pending_job_execution,
            "UpdateJobExecution": self._update_job_execution,
        }

    # --- transport ---

    def route(self, method: str, url: str, headers: Mapping[str, Any]) -> tuple[Any, dict[str, str]] | None:
        parts = urlsplit(url)
        service = signed_service(headers) or (SERVICE if parts.netloc.startswith("data.jobs.iot.") else None)
        path = unquote(parts.path)
        if service != SERVICE or _is_start_command_execution(method, path):
            return None
        for route_method, pattern, operation in _routes():
            match = pattern.fullmatch(path)
            if route_method == method.upper() and match:
                return operation, match.groupdict()
        return None, {"method": method.upper(), "path": path}

    def answer(self, route: tuple[Any, dict[str, str]], url: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        operation, labels = route
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}
        events: list[Published] = []
        try:
            if operation is None:
                raise ApiError("UnknownOperationException", f"No operation at {labels['method']} {labels['path']}")
            request = read_input(operation, labels, urlsplit(url).query, body)
            status, payload = write_output(operation, self._operations[operation.name](request, events))
        except ApiError as error:
            status = _status(error.code)
            payload = json.dumps(error.body).encode()
            headers["x-amzn-ErrorType"] = error.code
        for topic, event in events:  # outside moto's lock: the rules send into SQS
            self._publish(topic, event)
        return status, headers, payload

    # --- operations ---

    def _describe_job_execution(self, request: dict[str, Any], events: list[Published]) -> dict[str, Any]:
        thing_name, job_id = request["thingName"], request["jobId"]
        with moto_iot.LOCK.shared():
            backend = self._backend()
            _require_thing(backend, thing_name)
            if job_id == _NEXT:
                pending = _pending(backend, thing_name)
                if not pending:
                    raise _not_found(f"No pending job execution for thing {thing_name}")
                job_id = pending[0].job_id
            execution = _execution(backend, job_id, thing_name, request.get("executionNumber"))
            document = bool(request.get("includeJobDocument"))
            return {"execution": _view(backend, execution, thing_name, document=document)}

    def _get_pending_job_executions(self, request: dict[str, Any], events: list[Published]) -> dict[str, Any]:
        thing_name = request["thingName"]
        with moto_iot.LOCK.shared():
            backend = self._backend()
            _require_thing(backend, thing_name)
            pending = _pending(backend, thing_name)
            return {
                "inProgressJobs": [_summary(execution) for execution in pending if execution.status == "IN_PROGRESS"],
                "queuedJobs": [_summary(execution) for execution in pending if execution.status == "QUEUED"],
            }

    def _start_next_pending_job_execution(self, request: dict[str, Any], events: list[Published]) -> dict[str, Any]:
        thing_name = request["thingName"]
        _check_step_timeout(request)
        with moto_iot.LOCK.exclusive():
            backend = self._backend()
            _require_thing(backend, thing_name)
            pending = _pending(backend, thing_name)
            if not pending:
                return {}
            execution = pending[0]  # one in progress comes first: it is the one the device is on
            if execution.status == "QUEUED":
                _start(execution, request.get("statusDetails"))
            return {"execution": _view(backend, execution, thing_name, document=True)}

    def _update_job_execution(self, request: dict[str, Any], events: list[Published]) -> dict[str, Any]:
        thing_name, job_id, status = request["thingName"], request["jobId"], request["status"]
        details = request.get("statusDetails")
        _check_step_timeout(request)
        with moto_iot.LOCK.exclusive():
            backend = self._backend()
            _require_thing(backend, thing_name)
            execution = _execution(backend, job_id, thing_name, request.get("executionNumber"))
            expected = request.get("expectedVersion")
            if expected is not None and expected != execution.version_number:
                raise ApiError(
                    "VersionConflictException",
                    f"The job execution is at version {execution.version_number}, not {expected}",
                    executionState=_state(execution),
                )
            if execution.status not in _PENDING:
                raise ApiError(
                    "InvalidStateTransitionException",
                    f"The job execution is {execution.status}: it cannot become {status}",
                    executionState=_state(execution),
                )
            if status not in _DEVICE_STATUSES:
                raise ApiError("InvalidRequestException", f"A device sets {', '.join(_DEVICE_STATUSES)}, not {status}")
            if status == "IN_PROGRESS":
                _start(execution, details)
            else:
                ended = dict(details if details is not None else execution.status_details_map)
                retried = moto_iot.update_execution(backend, job_id, thing_name, status, details)
                event = moto_iot.execution_event(job_id, execution.thing_arn, status, ended)
                events.append((f"$aws/events/jobExecution/{job_id}/{status.lower()}", event))
                if not retried and (completed := moto_iot.complete_if_done(backend, job_id)) is not None:
                    events.append((f"$aws/events/job/{job_id}/completed", completed))
            answer: dict[str, Any] = {}
            if request.get("includeJobExecutionState"):
                answer["executionState"] = _state(execution)
            if request.get("includeJobDocument"):
                answer["jobDocument"] = _document(backend, job_id)
            return answer


# --- state ------------------------------------------------------------------------------------------------------


# Errors the model does not declare: AWS IoT's status for each.
_UNDECLARED = {"VersionConflictException": 409, "UnknownOperationException": 404}


def _status(code: str) -> int:
    """The status of an error code: the model's, else AWS IoT's for it."""
    return _UNDECLARED.get(code) or error_status(SERVICE, code)


def _check_step_timeout(request: dict[str, Any]) -> None:
    """AWS IoT's documented range (the model has none): 1 to 10080 minutes, or -1 to cancel the step timer."""
    minutes = request.get("stepTimeoutInMinutes")
    if minutes is not None and minutes != -1 and not 1 <= minutes <= 10080:
        raise ApiError("InvalidRequestException", "stepTimeoutInMinutes must be 1 to 10080, or -1")


def _not_found(message: str) -> ApiError:
    return ApiError("ResourceNotFoundException", message)


def _require_thing(backend: Any, thing_name: str) -> None:
    from moto.utilities.utils import get_partition

    # moto keys things by ARN, made of the backend's partition, region and account.
    region, account = backend.region_name, backend.account_id
    if f"arn:{get_partition(region)}:iot:{region}:{account}:thing/{thing_name}" not in backend.things:
        raise _not_found(f"Thing {thing_name} does not exist")


def _execution(backend: Any, job_id: str, thing_name: str, number: int | None) -> Any:
    if job_id not in backend.jobs:
        raise _not_found(f"Job {job_id} does not exist")
    execution = backend.job_executions.get((job_id, thing_name))
    if execution is None or (number is not None and number != execution.execution_number):
        shown = f" (execution number {number})" if number is not None else ""
        raise _not_found(f"No job execution of job {job_id} for thing {thing_name}{shown}")
    return execution


def _pending(backend: Any, thing_name: str) -> list[Any]:
    """The thing's executions in progress (first), then queued, each oldest first."""
    pending = [
        execution
        for (_, name), execution in list(backend.job_executions.items())
        if name == thing_name and execution.status in _PENDING
    ]
    return sorted(pending, key=lambda execution: (_PENDING.index(execution.status), execution.queued_at))


def _start(execution: Any, details: dict[str, str] | None) -> None:
    from moto.core.utils import utcnow

    if execution.status == "QUEUED":
        execution.started_at = utcnow()
    execution.status = "IN_PROGRESS"
    execution.last_updated_at = utcnow()
    execution.version_number += 1
    if details is not None:
        execution.status_details_map = details


def _document(backend: Any, job_id: str) -> str | None:
    job = backend.jobs.get(job_id)
    document: str | None = getattr(job, "document", None) or None
    return document


def _epoch(moment: datetime | None) -> int | None:
    """A moment of moto's (naive, in UTC) as this service's timestamps are: whole seconds since the epoch."""
    return None if moment is None else calendar.timegm(moment.timetuple())


def _state(execution: Any) -> dict[str, Any]:
    return {
        "status": execution.status,
        "statusDetails": dict(execution.status_details_map),
        "versionNumber": execution.version_number,
    }


def _summary(execution: Any) -> dict[str, Any]:
    return {
        "jobId": execution.job_id,
        "queuedAt": _epoch(execution.queued_at),
        "startedAt": _epoch(execution.started_at) if execution.status != "QUEUED" else None,
        "lastUpdatedAt": _epoch(execution.last_updated_at),
        "versionNumber": execution.version_number,
        "executionNumber": execution.execution_number,
    }


def _view(backend: Any, execution: Any, thing_name: str, *, document: bool) -> dict[str, Any]:
    view = _summary(execution) | _state(execution) | {"thingName": thing_name}
    if document:
        view["jobDocument"] = _document(backend, execution.job_id)
    return view
