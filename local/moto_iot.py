"""What the local AWS endpoint (moto 5.2) lacks for this service's use of AWS IoT, added to moto.

- ListThingsInThingGroup: moto ignores `recursive`, `maxResults` and `nextToken`; here they behave as in AWS
  (members of child groups with recursive=true, pages of at most maxResults with a continuation token).
- CreateJob: moto makes one execution for a thing-group target; AWS makes one per member thing (recursively).
  moto replaces a job whose id exists; AWS answers ResourceAlreadyExistsException.
- CancelJob: moto leaves the executions as they are; AWS cancels the queued ones (and with force, those in
  progress).
- CancelJobExecution of an execution that does not exist: ResourceNotFoundException, not a server error.

Tests under moto's in-process mock and the local runtime install the same additions.
"""

from __future__ import annotations

from typing import Any

_installed = False


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
    _patch_jobs()
    _installed = True


def _patch_jobs() -> None:
    from moto.iot.exceptions import ResourceAlreadyExistsException, ResourceNotFoundException
    from moto.iot.models import FakeJobExecution, IoTBackend

    create_job = IoTBackend.create_job
    cancel_job = IoTBackend.cancel_job
    cancel_job_execution = IoTBackend.cancel_job_execution

    def create_job_per_thing(self: Any, job_id: str, targets: list[str], *args: Any, **kwargs: Any) -> Any:
        if job_id in self.jobs:
            job = self.jobs[job_id]
            raise ResourceAlreadyExistsException(f"Job {job_id} already exists", job_id, job.job_arn)
        created = create_job(self, job_id, targets, *args, **kwargs)
        for target in targets:
            if ":thinggroup/" not in target:
                continue
            group = target.rsplit("/", 1)[1]
            self.job_executions.pop((job_id, group), None)
            groups = [group, *(child.thing_group_name for child in self.list_thing_groups(group, None, True))]
            for name in groups:
                for thing in self.list_things_in_thing_group(name):
                    self.job_executions.setdefault((job_id, thing.thing_name), FakeJobExecution(job_id, thing.arn))
        return created

    def cancel_job_and_executions(self: Any, job_id: str, reason_code: str, comment: str, force: bool) -> Any:
        job = cancel_job(self, job_id, reason_code, comment, force)
        cancellable = {"QUEUED", "IN_PROGRESS"} if force else {"QUEUED"}
        for (execution_job, _), execution in self.job_executions.items():
            if execution_job == job_id and execution.status in cancellable:
                execution.status = "CANCELED"
        return job

    def cancel_existing_job_execution(self: Any, job_id: str, thing_name: str, force: bool) -> None:
        if (job_id, thing_name) not in self.job_executions:
            raise ResourceNotFoundException(f"No job execution of {job_id} for {thing_name}")
        cancel_job_execution(self, job_id, thing_name, force)

    IoTBackend.create_job = create_job_per_thing  # type: ignore[method-assign]
    IoTBackend.cancel_job = cancel_job_and_executions  # type: ignore[method-assign]
    IoTBackend.cancel_job_execution = cancel_existing_job_execution  # type: ignore[method-assign]
