"""What the local AWS endpoint (moto 5.2) lacks for this service's use of AWS IoT, added to moto.

- ListThingsInThingGroup: moto ignores `recursive`, `maxResults` and `nextToken`; here they behave as in AWS
  (members of child groups with recursive=true, pages of at most maxResults with a continuation token).
- CreateJob: moto makes one execution for a thing-group target; AWS makes one per member thing (recursively).
  moto replaces a job whose id exists; AWS answers ResourceAlreadyExistsException. A new job is IN_PROGRESS, as
  in AWS (moto says QUEUED).
- CancelJob: moto leaves the executions as they are; AWS cancels the queued ones (and with force, those in
  progress).
- CancelJobExecution of an execution that does not exist: ResourceNotFoundException, not a server error.
- A job that does not exist: ResourceNotFoundException from GetJobDocument, CancelJob, DeleteJob and
  ListJobExecutionsForJob (moto fails with a server error or lists nothing). DeleteJobExecution of an execution
  that does not exist is ResourceNotFoundException, of one not ended (QUEUED, IN_PROGRESS) without force
  InvalidStateTransitionException, as in AWS.
- ListJobs: moto ignores `status` and pages wrongly; here it filters and pages (a malformed token is
  InvalidRequestException). CreateJob with `jobTemplateArn`: the job takes the template's document and
  configurations it does not give itself; a template that does not exist is ResourceNotFoundException (moto
  ignores `jobTemplateArn`).
- UpdateJob and AssociateTargetsWithJob, which moto lacks: the job's description and configurations change;
  new targets are added, each thing (or member of a group) with a QUEUED execution, for a CONTINUOUS job only.
- AddThingToThingGroup: a thing added to a group that a CONTINUOUS job in progress targets (or to a group nested
  in one) gets a QUEUED execution of that job, as in AWS IoT; moto makes none.
- UpdateEventConfigurations and DescribeEventConfigurations, which moto lacks: the account's registry and jobs
  event configurations. With THING_GROUP_MEMBERSHIP enabled, AddThingToThingGroup and
  RemoveThingFromThingGroup publish `$aws/events/thingGroupMembership/thingGroup/<group>/thing/<thing>/added`
  (`/removed`) to the listeners (`on_registry_events`), as AWS IoT publishes them to its rules; a thing already
  in the group (or not in it) changes nothing and publishes nothing.
- A device's update of its job execution (`update_execution`: moto has no jobs data plane, so the simulated fleet
  and the tests call it): an execution of a job with `jobExecutionsRetryConfig` that ends FAILED or TIMED_OUT
  with retries left is queued again by AWS IoT, as a new execution (QUEUED, the next executionNumber, counted
  from 1 as AWS IoT does; moto says 123), and told to the listeners as one.

Concurrency (moto takes no lock, and its server answers each connection on a thread of its own): every AWS IoT
request holds `LOCK`, a reader-writer lock. Reads (Describe*, List*, Get*, Search*) run together; any other
action is a write and runs alone, so a read never sees a job half made nor walks what a write changes. Code that
reads or changes the backend itself (the simulated fleet) takes the same lock: shared to read, exclusive to
change.

Scale: the job executions are also held by job (`executions_of`), for ListJobExecutionsForJob and CancelJob
(moto walks the executions of every job); ListJobExecutionsForJob writes its response itself (moto's serializer
took most of its time); listeners (`on_new_executions`) hear of each job execution made, so that nobody has to
look for new ones.

Tests under moto's in-process mock and the local runtime install the same additions.
"""

from __future__ import annotations

import calendar
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

_installed = False

Key = tuple[str, str]  # a job execution's key in moto: (job id, thing name)


class ReadWriteLock:
    """Readers together, one writer alone. A waiting writer goes before readers that come after it (a steady
    stream of reads cannot starve it). A thread holding the lock may take it again: shared inside its shared or
    exclusive hold, exclusive inside its exclusive hold; exclusive inside its own shared hold would wait for
    itself, and is refused."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer: int | None = None  # the thread holding it exclusively
        self._writers_waiting = 0
        self._held = threading.local()  # this thread's depth of holds: reads, writes

    @contextmanager
    def shared(self) -> Iterator[None]:
        held = self._depths()
        if held[0] or held[1]:  # already inside this thread's own hold: waiting here would deadlock
            held[0] += 1
            try:
                yield
            finally:
                held[0] -= 1
            return
        with self._condition:
            self._condition.wait_for(lambda: self._writer is None and not self._writers_waiting)
            self._readers += 1
        held[0] = 1
        try:
            yield
        finally:
            held[0] = 0
            with self._condition:
                self._readers -= 1
                if not self._readers:
                    self._condition.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        held = self._depths()
        if held[1]:
            held[1] += 1
            try:
                yield
            finally:
                held[1] -= 1
            return
        if held[0]:
            raise RuntimeError("a thread holding the lock shared cannot take it exclusively")
        with self._condition:
            self._writers_waiting += 1
            try:
                self._condition.wait_for(lambda: self._writer is None and not self._readers)
            finally:
                self._writers_waiting -= 1
            self._writer = threading.get_ident()
        held[1] = 1
        try:
            yield
        finally:
            held[1] = 0
            with self._condition:
                self._writer = None
                self._condition.notify_all()

    def _depths(self) -> list[int]:
        depths: list[int] | None = getattr(self._held, "depths", None)
        if depths is None:
            depths = self._held.depths = [0, 0]
        return depths


LOCK = ReadWriteLock()
"""moto's AWS IoT (every account and region): its requests hold it, and so must code that reads or changes its
backends itself."""

# Actions that only read (AWS IoT's naming: Describe*, List*, Get*, Search*); every other action writes. In moto,
# only DescribeEndpoint changes anything (it makes the endpoint once: one assignment, the same either way).
_READS = ("Describe", "List", "Get", "Search")

_listeners: list[Callable[[list[Key]], None]] = []
_collecting = threading.local()  # during a write request: the keys of the executions it created, told after


def on_new_executions(listener: Callable[[list[Key]], None]) -> Callable[[], None]:
    """Calls listener(keys) with the (job id, thing name) of the job executions created, of any account and
    region: once per request that created some (after the request, without the lock), or at once for one put in
    directly. A function that stops the calls."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def _tell(keys: list[Key]) -> None:
    for listener in list(_listeners):
        listener(keys)


def _created(key: Key) -> None:
    collected: list[Key] | None = getattr(_collecting, "keys", None)
    if collected is not None:
        collected.append(key)
    else:
        _tell([key])


class _Executions(dict[Key, Any]):
    """moto's `job_executions`, also held by job: whoever changes the dict (moto, these additions, a test) keeps
    the index right, and a new execution is told to the listeners."""

    __slots__ = ("by_job",)

    def __init__(self, items: Iterable[tuple[Key, Any]] = ()) -> None:
        super().__init__()
        self.by_job: dict[str, dict[str, Any]] = {}  # job id -> thing name -> execution, in creation order
        for key, execution in items:  # executions that exist already: not new ones
            dict.__setitem__(self, key, execution)
            self.by_job.setdefault(key[0], {})[key[1]] = execution

    def __setitem__(self, key: Key, execution: Any) -> None:
        replaced = dict.get(self, key)
        dict.__setitem__(self, key, execution)
        self.by_job.setdefault(key[0], {})[key[1]] = execution
        if replaced is not execution:  # moto stores an execution again after changing it: not a new one
            _created(key)

    def __delitem__(self, key: Key) -> None:
        dict.__delitem__(self, key)
        executions = self.by_job[key[0]]
        del executions[key[1]]
        if not executions:
            del self.by_job[key[0]]

    def setdefault(self, key: Key, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key: Key, *default: Any) -> Any:
        if key not in self:
            if default:
                return default[0]
            raise KeyError(key)
        execution = self[key]
        del self[key]
        return execution

    def popitem(self) -> tuple[Key, Any]:
        key = next(reversed(self))
        return key, self.pop(key)

    def clear(self) -> None:
        dict.clear(self)
        self.by_job.clear()

    def update(self, *others: Any, **more: Any) -> None:
        for key, execution in dict(*others, **more).items():
            self[key] = execution

    def __ior__(self, other: Any) -> _Executions:  # type: ignore[override,misc]
        self.update(other)
        return self


def _add_execution(backend: Any, job_id: str, thing_name: str, thing_arn: str) -> None:
    """A QUEUED execution of the job for the thing, unless it has one."""
    from moto.iot.models import FakeJobExecution

    key = (job_id, thing_name)  # the thing's own name, not a copy per execution
    if key not in backend.job_executions:  # moto keeps every model object it makes: make none in vain
        backend.job_executions[key] = FakeJobExecution(job_id, thing_arn)


def update_execution(
    backend: Any, job_id: str, thing_name: str, status: str, details: dict[str, str] | None = None
) -> bool:
    """The device's UpdateJobExecution to `status` (hold `LOCK` exclusively): True when AWS IoT then retries it,
    under its job's retry policy (the execution is queued again, its executionNumber one up). The failure's
    event is the caller's to publish, as AWS IoT publishes it; none is published for the new execution."""
    from moto.core.utils import utcnow

    execution = backend.job_executions[(job_id, thing_name)]
    execution.status = status
    execution.last_updated_at = utcnow()
    execution.version_number += 1
    if details is not None:
        execution.status_details_map = details
    if status in ("FAILED", "TIMED_OUT"):
        failures = getattr(execution, "failures", [])
        execution.failures = [*failures, status]
        job = backend.jobs.get(job_id)
        if job is not None and _retries_left(job.job_execution_retry_config, failures, status):
            execution.status = "QUEUED"
            execution.execution_number += 1
            execution.status_details_map = {}
            execution.queued_at = execution.last_updated_at
            execution.version_number = 1
            _created((job_id, thing_name))  # a new execution for its device
            return True
    return False


def execution_event(job_id: str, thing_arn: str, status: str, details: dict[str, str]) -> dict[str, Any]:
    """The event AWS IoT publishes on `$aws/events/jobExecution/<jobId>/<status, lower case>` when an execution
    ends in `status`."""
    return {
        "eventType": "JOB_EXECUTION",
        "eventId": str(uuid.uuid4()),
        "timestamp": int(time.time()),
        "operation": status.lower(),
        "jobId": job_id,
        "thingArn": thing_arn,
        "status": status,
        "statusDetails": details,
    }


def complete_if_done(backend: Any, job_id: str) -> dict[str, Any] | None:
    """A SNAPSHOT job all of whose executions have ended is COMPLETED (hold `LOCK` exclusively): the event AWS IoT
    then publishes on `$aws/events/job/<jobId>/completed`, else None."""
    job = backend.jobs.get(job_id)
    if job is None or job.target_selection != "SNAPSHOT" or job.status in ("COMPLETED", "CANCELED"):
        return None
    if any(execution.status in ("QUEUED", "IN_PROGRESS") for execution in executions_of(backend, job_id).values()):
        return None
    job.status = "COMPLETED"
    return {
        "eventType": "JOB",
        "eventId": str(uuid.uuid4()),
        "timestamp": int(time.time()),
        "operation": "completed",
        "jobId": job_id,
        "status": "COMPLETED",
        "targetSelection": "SNAPSHOT",
    }


def _retries_left(config: dict[str, Any] | None, failures: list[str], failure: str) -> bool:
    """AWS IoT's rule: the criterion of the failure's type, else ALL's, against the earlier failures it covers."""
    by_type: dict[str, int] = {c["failureType"]: c["numberOfRetries"] for c in (config or {}).get("criteriaList", [])}
    covered = {failure} if failure in by_type else {"FAILED", "TIMED_OUT"}
    return sum(earlier in covered for earlier in failures) < by_type.get(failure, by_type.get("ALL", 0))


def executions_of(backend: Any, job_id: str) -> dict[str, Any]:
    """The job's executions in moto's backend, by thing name (a view: hold `LOCK` while using it)."""
    executions: _Executions = backend.job_executions
    return executions.by_job.get(job_id, {})


def install() -> None:
    global _installed  # noqa: PLW0603 - patch moto once per process
    if _installed:
        return
    from moto.core.responses import ActionResult
    from moto.iot.responses import IoTResponse

    def list_things_in_thing_group(self: Any) -> ActionResult:
        backend = self.iot_backend
        group = self._get_param("thingGroupName")
        groups = [group]
        if self._get_bool_param("recursive", False):
            groups += [child.thing_group_name for child in backend.list_thing_groups(group, None, True)]
        names = sorted({thing.thing_name for name in groups for thing in backend.list_things_in_thing_group(name)})
        start = int(self._get_param("nextToken") or 0)
        size = self._get_int_param("maxResults", 25)
        end = start + size
        return ActionResult({"things": names[start:end], "nextToken": str(end) if end < len(names) else None})

    IoTResponse.list_things_in_thing_group = list_things_in_thing_group  # type: ignore[method-assign]
    _patch_indexes()
    _patch_jobs()
    _patch_registry_events()
    _patch_locking()
    _installed = True


def _patch_indexes() -> None:
    """The backends' executions held by job too, for ListJobExecutionsForJob (see the module's docstring)."""
    from moto.iot.models import FakeJobExecution, IoTBackend, iot_backends
    from moto.iot.utils import PAGINATION_MODEL
    from moto.utilities.paginator import paginate

    init = IoTBackend.__init__
    new_execution = FakeJobExecution.__init__

    def init_indexed(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.job_executions = _Executions()

    @paginate(PAGINATION_MODEL)  # type: ignore[misc]
    def list_job_executions_for_job(self: Any, job_id: str, status: str | None) -> list[Any]:
        # From the index: moto walks the executions of every job there is.
        return [e for e in executions_of(self, job_id).values() if status in (None, "", e.status)]

    def one_moment(self: Any, *args: Any, **kwargs: Any) -> None:
        new_execution(self, *args, **kwargs)
        # moto reads the clock three times for these: one datetime for the three, of thousands of executions.
        self.started_at = self.last_updated_at = self.queued_at
        self.execution_number = 1  # AWS IoT's first; a retry's is the next
        self.version_number = 1  # one up with each update a device makes (moto says 123 for ever)

    IoTBackend.__init__ = init_indexed  # type: ignore[method-assign]
    IoTBackend.list_job_executions_for_job = list_job_executions_for_job  # type: ignore[method-assign]
    FakeJobExecution.__init__ = one_moment  # type: ignore[method-assign]
    with LOCK.exclusive():  # backends made before the patch (moto's reset makes them anew, patched)
        for regions in list(iot_backends.values()):
            for backend in list(regions.values()):
                backend.job_executions = _Executions(backend.job_executions.items())


def _patch_locking() -> None:
    """Every request under `LOCK`: reads shared, writes exclusive."""
    from moto.iot.responses import IoTResponse

    call_action = IoTResponse.call_action

    def call_action_locked(self: Any) -> Any:
        if (self._get_action() or "").startswith(_READS):
            with LOCK.shared():
                return call_action(self)
        created: list[Key] = []
        _collecting.keys = created
        try:
            # The response is serialized inside call_action, from the backend's objects: under the lock too.
            with LOCK.exclusive():
                answer = call_action(self)
        finally:
            _collecting.keys = None
        if created:
            _tell(created)
        return answer

    IoTResponse.call_action = call_action_locked  # type: ignore[method-assign]


def _patch_jobs() -> None:
    from moto.iot.exceptions import (
        InvalidStateTransitionException,
        ResourceAlreadyExistsException,
        ResourceNotFoundException,
    )
    from moto.iot.models import IoTBackend

    create_job = IoTBackend.create_job
    cancel_job = IoTBackend.cancel_job
    cancel_job_execution = IoTBackend.cancel_job_execution

    def create_job_per_thing(self: Any, job_id: str, targets: list[str], *args: Any, **kwargs: Any) -> Any:
        if job_id in self.jobs:
            job = self.jobs[job_id]
            raise ResourceAlreadyExistsException(f"Job {job_id} already exists", job_id, job.job_arn)
        created = create_job(self, job_id, targets, *args, **kwargs)
        self.jobs[job_id].status = "IN_PROGRESS"  # AWS IoT's status of a new job (moto says QUEUED)
        for target in targets:
            if ":thinggroup/" not in target:
                continue
            group = target.rsplit("/", 1)[1]
            self.job_executions.pop((job_id, group), None)
            groups = [group, *(child.thing_group_name for child in self.list_thing_groups(group, None, True))]
            for name in groups:
                for thing in self.list_things_in_thing_group(name):
                    _add_execution(self, job_id, thing.thing_name, thing.arn)
        return created

    def cancel_job_and_executions(self: Any, job_id: str, reason_code: str, comment: str, force: bool) -> Any:
        job = cancel_job(self, job_id, reason_code, comment, force)
        cancellable = {"QUEUED", "IN_PROGRESS"} if force else {"QUEUED"}
        for execution in executions_of(self, job_id).values():
            if execution.status in cancellable:
                execution.status = "CANCELED"
        return job

    def cancel_existing_job_execution(self: Any, job_id: str, thing_name: str, force: bool) -> None:
        if (job_id, thing_name) not in self.job_executions:
            raise ResourceNotFoundException(f"No job execution of {job_id} for {thing_name}")
        cancel_job_execution(self, job_id, thing_name, force)

    def existing(method: Any) -> Any:
        def checked(self: Any, job_id: str, *args: Any, **kwargs: Any) -> Any:
            if job_id not in self.jobs:
                raise ResourceNotFoundException(f"Job {job_id} not found")
            return method(self, job_id, *args, **kwargs)

        return checked

    for name in ("get_job_document", "delete_job", "list_job_executions_for_job"):
        setattr(IoTBackend, name, existing(getattr(IoTBackend, name)))
    delete_job_execution = IoTBackend.delete_job_execution

    def delete_ended_job_execution(self: Any, job_id: str, thing_name: str, execution_number: int, force: bool) -> None:
        execution = self.job_executions.get((job_id, thing_name))
        if execution is None:
            raise ResourceNotFoundException(f"No job execution of {job_id} for {thing_name}")
        if execution.status in ("QUEUED", "IN_PROGRESS") and not force:
            raise InvalidStateTransitionException(f"The execution is {execution.status}: delete it with force")
        delete_job_execution(self, job_id, thing_name, execution_number, True)

    IoTBackend.delete_job_execution = delete_ended_job_execution  # type: ignore[method-assign]
    _patch_job_changes()
    _patch_job_listing()
    _patch_continuous_jobs()

    IoTBackend.create_job = create_job_per_thing  # type: ignore[method-assign]
    IoTBackend.cancel_job = existing(cancel_job_and_executions)  # type: ignore[method-assign]
    IoTBackend.cancel_job_execution = cancel_existing_job_execution  # type: ignore[method-assign]


def _patch_job_changes() -> None:
    """UpdateJob and AssociateTargetsWithJob (see the module's docstring)."""
    from moto.core.responses import ActionResult
    from moto.iot.exceptions import InvalidRequestException, ResourceNotFoundException
    from moto.iot.responses import IoTResponse

    def job_of(response: Any) -> Any:
        job = response.iot_backend.jobs.get(response._get_param("jobId"))
        if job is None:
            raise ResourceNotFoundException(f"Job {response._get_param('jobId')} not found")
        return job

    def update_job(self: Any) -> ActionResult:
        job = job_of(self)
        for parameter, attribute in (
            ("description", "description"),
            ("presignedUrlConfig", "presigned_url_config"),
            ("jobExecutionsRolloutConfig", "job_executions_rollout_config"),
            ("abortConfig", "abort_config"),
            ("timeoutConfig", "timeout_config"),
            ("jobExecutionsRetryConfig", "job_execution_retry_config"),
        ):
            value = self._get_param(parameter)
            if value is not None:
                setattr(job, attribute, value)
        return ActionResult({})

    def associate_targets_with_job(self: Any) -> ActionResult:
        job = job_of(self)
        if job.target_selection != "CONTINUOUS":
            raise InvalidRequestException("Targets can only be associated with a CONTINUOUS job")
        backend = self.iot_backend
        for target in self._get_param("targets") or []:
            if target not in job.targets:
                job.targets.append(target)
            name = target.rsplit("/", 1)[1]
            if ":thinggroup/" in target:
                groups = [name, *(child.thing_group_name for child in backend.list_thing_groups(name, None, True))]
                things = [(t.thing_name, t.arn) for group in groups for t in backend.list_things_in_thing_group(group)]
            else:
                things = [(name, target)]
            for thing_name, thing_arn in things:
                _add_execution(backend, job.job_id, thing_name, thing_arn)
        return ActionResult({"jobArn": job.job_arn, "jobId": job.job_id, "description": job.description})

    IoTResponse.update_job = update_job  # type: ignore[attr-defined]
    IoTResponse.associate_targets_with_job = associate_targets_with_job  # type: ignore[attr-defined]


def _patch_job_listing() -> None:
    """ListJobs' status filter and paging; CreateJob from a job template (see the module's docstring)."""
    from moto.core.responses import ActionResult
    from moto.iot.exceptions import InvalidRequestException, ResourceNotFoundException
    from moto.iot.responses import IoTResponse

    create_job = IoTResponse.create_job

    def list_jobs_in_status(self: Any) -> ActionResult:
        status = self._get_param("status")
        jobs = [job.to_dict() for job in self.iot_backend.jobs.values() if status in (None, job.status)]
        token = self._get_param("nextToken") or "0"
        if not token.isdigit():
            raise InvalidRequestException("The nextToken is not valid")
        start = int(token)
        end = start + self._get_int_param("maxResults", 50)
        return ActionResult({"jobs": jobs[start:end], "nextToken": str(end) if end < len(jobs) else None})

    def create_job_from_template(self: Any) -> Any:
        arn = self._get_param("jobTemplateArn")
        template = self.iot_backend.jobs_templates.get(arn.rsplit("/", 1)[1]) if arn else None
        if arn and template is None:
            raise ResourceNotFoundException(f"Job template {arn} not found")
        created = create_job(self)
        if template is not None:  # what the job does not give itself, it takes from its template
            job = self.iot_backend.jobs[self._get_param("jobId")]
            for attribute in (
                "document",
                "presigned_url_config",
                "job_executions_rollout_config",
                "abort_config",
                "timeout_config",
                "job_execution_retry_config",
            ):
                if not getattr(job, attribute, None):
                    setattr(job, attribute, getattr(template, attribute, None))
        return created

    def list_job_executions_for_job(self: Any) -> tuple[str, dict[str, str]]:
        executions, token = self.iot_backend.list_job_executions_for_job(
            job_id=self._get_param("jobId"),
            status=self._get_param("status"),
            max_results=self._get_int_param("maxResults", 50),
            token=self._get_param("nextToken"),
        )
        # Written here rather than by moto's serializer, which takes most of the call (about 0.2 ms an execution:
        # a page of 250 takes 50 ms) and the reconciler reads every execution of every job in progress.
        summaries = [
            {
                "thingArn": execution.thing_arn,
                "jobExecutionSummary": {
                    "status": execution.status,
                    "queuedAt": _epoch(execution.queued_at),
                    "startedAt": _epoch(execution.started_at),
                    "lastUpdatedAt": _epoch(execution.last_updated_at),
                    "executionNumber": execution.execution_number,
                },
            }
            for execution in executions
        ]
        body = {"executionSummaries": summaries} | ({"nextToken": token} if token else {})
        return json.dumps(body), {"Content-Type": "application/json"}

    IoTResponse.list_jobs = list_jobs_in_status  # type: ignore[method-assign]
    IoTResponse.create_job = create_job_from_template  # type: ignore[method-assign]
    IoTResponse.list_job_executions_for_job = list_job_executions_for_job  # type: ignore[method-assign,assignment]


def _epoch(moment: datetime) -> float:
    """A moment of moto's (naive, in UTC) as REST-JSON's timestamps are, and as moto writes them: seconds since
    the epoch, to the millisecond."""
    return calendar.timegm(moment.timetuple()) + moment.microsecond // 1000 / 1000


def _patch_continuous_jobs() -> None:
    """AddThingToThingGroup: AWS IoT queues the thing an execution of every CONTINUOUS job in progress that
    targets the group, or a group it is nested in (moto does nothing)."""
    from moto.iot.models import IoTBackend

    add_thing_to_thing_group = IoTBackend.add_thing_to_thing_group

    def add_and_queue(
        self: Any, thing_group_name: str, thing_group_arn: str | None, thing_name: str, thing_arn: str | None
    ) -> None:
        add_thing_to_thing_group(self, thing_group_name, thing_group_arn, thing_name, thing_arn)
        group = self._identify_thing_group(thing_group_name, thing_group_arn)
        thing = self._identify_thing(thing_name, thing_arn)
        arns = set()
        while group is not None:
            arns.add(group.arn)
            parent = group.parent_group_name
            group = self.describe_thing_group(parent) if parent else None
        for job in list(self.jobs.values()):
            if job.target_selection == "CONTINUOUS" and job.status == "IN_PROGRESS" and arns & set(job.targets):
                _add_execution(self, job.job_id, thing.thing_name, thing.arn)

    IoTBackend.add_thing_to_thing_group = add_and_queue  # type: ignore[method-assign]


_registry_listeners: list[Callable[[str, dict[str, Any]], object]] = []


def on_registry_events(listener: Callable[[str, dict[str, Any]], object]) -> Callable[[], None]:
    """Calls listener(topic, payload) for every registry event AWS IoT would publish (while the backend's lock is
    held: a listener must not call AWS IoT). A function that stops the calls."""
    _registry_listeners.append(listener)
    return lambda: _registry_listeners.remove(listener)


def _patch_registry_events() -> None:
    """Event configurations, and the thing group membership events (see the module's docstring)."""
    import uuid

    from moto.core.responses import ActionResult
    from moto.iot.models import IoTBackend
    from moto.iot.responses import IoTResponse

    def configurations(backend: Any) -> dict[str, bool]:
        if not hasattr(backend, "event_configurations"):
            backend.event_configurations = {}
        found: dict[str, bool] = backend.event_configurations
        return found

    def update_event_configurations(self: Any) -> ActionResult:
        given = self._get_param("eventConfigurations") or {}
        configurations(self.iot_backend).update({name: bool(value.get("Enabled")) for name, value in given.items()})
        return ActionResult({})

    def describe_event_configurations(self: Any) -> ActionResult:
        enabled = configurations(self.iot_backend)
        return ActionResult({"eventConfigurations": {name: {"Enabled": on} for name, on in enabled.items()}})

    IoTResponse.update_event_configurations = update_event_configurations  # type: ignore[attr-defined]
    IoTResponse.describe_event_configurations = describe_event_configurations  # type: ignore[attr-defined]

    def membership(change: Any, operation: str) -> Any:
        def changed(
            self: Any, thing_group_name: str, thing_group_arn: str | None, thing_name: str, thing_arn: str | None
        ) -> None:
            group = self._identify_thing_group(thing_group_name, thing_group_arn)
            thing = self._identify_thing(thing_name, thing_arn)
            was_member = thing.arn in group.things
            change(self, thing_group_name, thing_group_arn, thing_name, thing_arn)
            if was_member == (thing.arn in group.things) or not configurations(self).get("THING_GROUP_MEMBERSHIP"):
                return
            payload = {
                "eventType": "THING_GROUP_MEMBERSHIP_EVENT",
                "eventId": uuid.uuid4().hex,
                "timestamp": int(time.time() * 1000),
                "operation": operation.upper(),
                "accountId": self.account_id,
                "groupArn": group.arn,
                "groupId": group.thing_group_id,
                "thingArn": thing.arn,
                "thingId": thing.thing_id,
                "membershipId": uuid.uuid4().hex,
            }
            topic = f"$aws/events/thingGroupMembership/thingGroup/{group.thing_group_name}/thing/{thing.thing_name}"
            for listener in list(_registry_listeners):
                listener(f"{topic}/{operation}", payload)

        return changed

    IoTBackend.add_thing_to_thing_group = membership(IoTBackend.add_thing_to_thing_group, "added")  # type: ignore[method-assign]
    IoTBackend.remove_thing_from_thing_group = membership(IoTBackend.remove_thing_from_thing_group, "removed")  # type: ignore[method-assign]
