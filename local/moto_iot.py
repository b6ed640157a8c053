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
    from moto.iot.exceptions import (
        InvalidStateTransitionException,
        ResourceAlreadyExistsException,
        ResourceNotFoundException,
    )
    from moto.iot.models import FakeJobExecution, IoTBackend

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

    IoTBackend.create_job = create_job_per_thing  # type: ignore[method-assign]
    IoTBackend.cancel_job = existing(cancel_job_and_executions)  # type: ignore[method-assign]
    IoTBackend.cancel_job_execution = cancel_existing_job_execution  # type: ignore[method-assign]


def _patch_job_changes() -> None:
    """UpdateJob and AssociateTargetsWithJob (see the module's docstring)."""
    from moto.core.responses import ActionResult
    from moto.iot.exceptions import InvalidRequestException, ResourceNotFoundException
    from moto.iot.models import FakeJobExecution
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
                arns = [thing.arn for group in groups for thing in backend.list_things_in_thing_group(group)]
            else:
                arns = [target]
            for arn in arns:
                backend.job_executions.setdefault(
                    (job.job_id, arn.rsplit("/", 1)[1]), FakeJobExecution(job.job_id, arn)
                )
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

    IoTResponse.list_jobs = list_jobs_in_status  # type: ignore[method-assign]
    IoTResponse.create_job = create_job_from_template  # type: ignore[method-assign]
