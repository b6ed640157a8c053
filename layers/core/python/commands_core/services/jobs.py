"""The Jobs API over AWS IoT Jobs: every request checked before AWS IoT is called, AWS
IoT's answers in the API contract's shapes.

Jobs made here are ordinary AWS IoT jobs: their executions are not a command's, so the status machinery
(services/ingest.py) leaves their events alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from commands_core.errors import AlreadyExists, InvalidInput, NotFound
from commands_core.models.commands import GROUP_ARN, THING_ARN
from commands_core.models.jobs_api import (
    EXECUTION_STATUSES,
    JOB_STATUSES,
    Association,
    ExecutionCancel,
    ExecutionDelete,
    Force,
    JobCancel,
    JobChanges,
    JobConfigs,
    ListQuery,
    NewJob,
    NewJobTemplate,
)
from commands_core.services import targets
from commands_core.validation import check_id, check_thing_name, parse

if TYPE_CHECKING:
    from commands_core.adapters.iot import IotRegistry
    from commands_core.adapters.jobs import JobsApi

T = TypeVar("T")


@dataclass(frozen=True)
class JobsPorts:
    api: JobsApi
    registry: IotRegistry
    presign_role_arn: str


def create_job(ports: JobsPorts, body: Mapping[str, Any], default_id: str | None = None) -> dict[str, Any]:
    """Creates the job; its id is the body's jobId, else `default_id`, else a new one."""
    job = parse(NewJob, body)
    if (job.document is None) == (job.job_template_id is None):
        raise InvalidInput("document", "give the job's document, or a jobTemplateId whose document it takes")
    job_id = job.job_id or default_id or str(uuid.uuid4())
    arguments = _configs(ports, job) | {
        "jobId": job_id,
        "targets": [_target_arn(ports, target) for target in job.targets],
        "targetSelection": job.target_selection,
    }
    if job.document is not None:
        arguments["document"] = job.document
    if job.description is not None:
        arguments["description"] = job.description
    if job.scheduling_config is not None:
        arguments["schedulingConfig"] = job.scheduling_config.model_dump(by_alias=True, exclude_none=True)
    _check_targets(ports, job.targets)  # the request's own mistakes first, without a call to AWS IoT
    if job.job_template_id:
        arguments["jobTemplateArn"] = ports.registry.arn(f"jobtemplate/{job.job_template_id}")
        ports.api.describe_job_template(job.job_template_id)
    try:
        created = _with_targets(lambda: ports.api.create_job(arguments))
    except AlreadyExists:
        retried = _created_before(ports, arguments)
        if retried is None:
            raise
        created = retried
    return {"created": True, "jobId": created["jobId"], "jobArn": created["jobArn"]}


def _created_before(ports: JobsPorts, arguments: Mapping[str, Any]) -> dict[str, Any] | None:
    """The job holding the jobId when these CreateJob arguments made it (a create retried), else None."""
    job_id = arguments["jobId"]
    described = ports.api.describe_job(job_id)
    if sorted(described.get("targets", [])) != sorted(arguments["targets"]) or any(
        described.get(name) != arguments.get(name) for name in ("targetSelection", "description", "jobTemplateArn")
    ):
        return None
    if "document" in arguments and ports.api.job_document(job_id) != arguments["document"]:
        return None
    return described


def list_jobs(ports: JobsPorts, query: Mapping[str, str]) -> dict[str, Any]:
    page = _query(query, JOB_STATUSES)
    listed = ports.api.list_jobs(page)
    return {"jobs": listed.get("jobs", [])} | _next(listed)


def get_job(ports: JobsPorts, job_id: str) -> dict[str, Any]:
    _check_job_id(job_id)
    return {"job": ports.api.describe_job(job_id)}


def job_document(ports: JobsPorts, job_id: str) -> dict[str, Any]:
    _check_job_id(job_id)
    return {"document": ports.api.job_document(job_id)}


def update_job(ports: JobsPorts, job_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    _check_job_id(job_id)
    changes = parse(JobChanges, body)
    arguments = _configs(ports, changes)
    if changes.description is not None:
        arguments["description"] = changes.description
    if not arguments:
        raise InvalidInput("body", "give description or a configuration AWS IoT lets a job change")
    ports.api.update_job(job_id, arguments)
    return {"updated": True}


def associate(ports: JobsPorts, job_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    _check_job_id(job_id)
    association = parse(Association, body)
    job = ports.api.describe_job(job_id)
    if job.get("targetSelection") != "CONTINUOUS":
        raise InvalidInput(
            "jobId", f"job '{job_id}' is {job.get('targetSelection')}: only a CONTINUOUS job takes targets"
        )
    _check_targets(ports, association.targets)
    targets = [_target_arn(ports, target) for target in association.targets]
    _with_targets(lambda: ports.api.associate_targets(job_id, targets, association.comment))
    return {"associated": True}


def cancel_job(ports: JobsPorts, job_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    _check_job_id(job_id)
    cancel = parse(JobCancel, body)
    ports.api.cancel_job(job_id, force=cancel.force, comment=cancel.comment, reason_code=cancel.reason_code)
    return {"canceled": True}


def delete_job(ports: JobsPorts, job_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    _check_job_id(job_id)
    force = parse(Force, body).force
    ports.api.delete_job(job_id, force=force)
    return {"deleted": True}


def get_execution(ports: JobsPorts, job_id: str, thing_name: str) -> dict[str, Any]:
    _check_execution(job_id, thing_name)
    return {"execution": ports.api.describe_execution(job_id, thing_name)}


def cancel_execution(ports: JobsPorts, job_id: str, thing_name: str, body: Mapping[str, Any]) -> dict[str, Any]:
    _check_execution(job_id, thing_name)
    cancel = parse(ExecutionCancel, body)
    ports.api.cancel_execution(
        job_id,
        thing_name,
        force=cancel.force,
        expected_version=cancel.expected_version,
        status_details=cancel.status_details,
    )
    return {"canceled": True}


def delete_execution(ports: JobsPorts, job_id: str, thing_name: str, body: Mapping[str, Any]) -> dict[str, Any]:
    _check_execution(job_id, thing_name)
    delete = parse(ExecutionDelete, body)
    number = delete.execution_number
    if number is None:  # the execution the thing has for this job now
        number = int(ports.api.describe_execution(job_id, thing_name)["executionNumber"])
    ports.api.delete_execution(job_id, thing_name, number, force=delete.force)
    return {"deleted": True}


def executions_of_job(
    ports: JobsPorts, job_id: str, query: Mapping[str, str], *, second_revision: bool = False
) -> dict[str, Any]:
    """The job's executions under `executionSummaries`; at the second revision's path also under its name for
    them, `jobExecutions`."""
    _check_job_id(job_id)
    page = _query(query, EXECUTION_STATUSES)
    listed = ports.api.list_executions_of_job(job_id, page)
    summaries = [
        {"thingArn": item.get("thingArn"), "jobExecution": item.get("jobExecutionSummary", {})}
        for item in listed.get("executionSummaries", [])
    ]
    return {"executionSummaries": summaries} | ({"jobExecutions": summaries} if second_revision else {}) | _next(listed)


def executions_of_thing(
    ports: JobsPorts, thing_name: str, query: Mapping[str, str], *, second_revision: bool = False
) -> dict[str, Any]:
    """The thing's job executions under `executionSummaries`; at the second revision's path also under its
    name for them, `jobExecution`."""
    check_thing_name(thing_name)
    page = _query(query, EXECUTION_STATUSES)
    ports.api.require_thing(thing_name)  # AWS IoT would list nothing; the contract: 404
    listed = ports.api.list_executions_of_thing(thing_name, page)
    summaries = [
        {"jobId": item.get("jobId"), "jobExecution": item.get("jobExecutionSummary", {})}
        for item in listed.get("executionSummaries", [])
    ]
    return {"executionSummaries": summaries} | ({"jobExecution": summaries} if second_revision else {}) | _next(listed)


def create_template(ports: JobsPorts, body: Mapping[str, Any]) -> dict[str, Any]:
    template = parse(NewJobTemplate, body)
    template_id = template.job_template_id or str(uuid.uuid4())
    arguments = _configs(ports, template) | {"document": template.document, "description": template.description}
    created = ports.api.create_job_template(template_id, arguments)
    return {"created": True, "jobTemplateId": created["jobTemplateId"], "jobTemplateArn": created["jobTemplateArn"]}


def list_templates(ports: JobsPorts, query: Mapping[str, str]) -> dict[str, Any]:
    page = _query(query, ())
    listed = ports.api.list_job_templates(page)
    return {"JobTemplates": listed.get("jobTemplates", [])} | _next(listed)


def get_template(ports: JobsPorts, template_id: str) -> dict[str, Any]:
    check_id("jobTemplateId", template_id)
    return {"jobTemplate": ports.api.describe_job_template(template_id)}


def delete_template(ports: JobsPorts, template_id: str) -> dict[str, Any]:
    check_id("jobTemplateId", template_id)
    ports.api.delete_job_template(template_id)
    return {"deleted": True}


def _with_targets(call: Callable[[], T]) -> T:
    """A call naming targets: one AWS IoT does not know is the client's mistake in `targets`."""
    try:
        return call()
    except NotFound:
        raise InvalidInput("targets", "names a thing or thing group AWS IoT does not know") from None


def _check_targets(ports: JobsPorts, given: list[str]) -> None:
    """Every target names a thing or thing group AWS IoT has, else nothing is made: AWS IoT itself would queue an
    execution for a thing that does not exist."""
    if missing := targets.unknown(given, ports.registry):
        raise InvalidInput("targets", f"AWS IoT has no thing or thing group for: {', '.join(missing)}")


def _check_job_id(job_id: str) -> None:
    check_id("jobId", job_id)


def _check_execution(job_id: str, thing_name: str) -> None:
    _check_job_id(job_id)
    check_thing_name(thing_name)


def _target_arn(ports: JobsPorts, target: str) -> str:
    """A target as CreateJob takes it: thing and thing-group ARNs as they are, a thing name as its ARN."""
    return target if THING_ARN.fullmatch(target) or GROUP_ARN.fullmatch(target) else ports.registry.thing_arn(target)


def _configs(ports: JobsPorts, configs: JobConfigs) -> dict[str, Any]:
    """The configurations given, in CreateJob's shapes. A presigned-URL configuration uses the service's presign
    role (the functions may pass no other)."""
    arguments = configs.model_dump(by_alias=True, exclude_none=True, include=set(JobConfigs.model_fields))
    if presigned := arguments.get("presignedUrlConfig"):
        role = presigned.setdefault("roleArn", ports.presign_role_arn)
        if role != ports.presign_role_arn:
            raise InvalidInput(
                "presignedUrlConfig.roleArn", f"must be absent or the service's presign role {ports.presign_role_arn}"
            )
    return arguments


def _query(query: Mapping[str, str], statuses: tuple[str, ...]) -> ListQuery:
    page = parse(ListQuery, dict(query))
    if page.status is not None and page.status not in statuses:
        raise InvalidInput("status", f"must be one of {', '.join(statuses)}" if statuses else "is not a filter here")
    return page


def _next(listed: Mapping[str, Any]) -> dict[str, Any]:
    return {"nextToken": listed["nextToken"]} if listed.get("nextToken") else {}
