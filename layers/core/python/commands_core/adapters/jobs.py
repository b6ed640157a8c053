"""AWS IoT Jobs as the Jobs API serves it: one method per AWS IoT operation, AWS IoT's errors turned into the
service's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from commands_core.adapters.aws import error_code
from commands_core.errors import AlreadyExists, Conflict, NotFound

if TYPE_CHECKING:
    from commands_core.models.jobs_api import ListQuery

# AWS IoT refusing what the request asks of the job as it is now: the API contract's 422, with AWS IoT's reason.
_REFUSED = frozenset(
    {
        "InvalidStateTransitionException",
        "ConflictException",
        "ConflictingResourceUpdateException",
        "VersionConflictException",
        "InvalidRequestException",
        "LimitExceededException",
    }
)
# What a ResourceNotFoundException of a call naming targets is about: the service makes it the client's mistake.
_TARGETS = ("targets", "")


class JobsApi:
    """Answers without their metadata. A resource AWS IoT does not know is NotFound of (kind, id); an id taken,
    AlreadyExists; a request AWS IoT will not take as it is, Conflict. Throttling and AWS trouble arrive
    classified (adapters/aws.py)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def create_job(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """CreateJob with `arguments` in its shapes (jobId, targets...); the answer has jobId and jobArn."""
        return self._call("create_job", _TARGETS, **arguments)

    def describe_job(self, job_id: str) -> dict[str, Any]:
        return dict(self._call("describe_job", ("job", job_id), jobId=job_id)["job"])

    def job_document(self, job_id: str) -> str | None:
        document: str | None = self._call("get_job_document", ("job", job_id), jobId=job_id).get("document")
        return document

    def update_job(self, job_id: str, changes: Mapping[str, Any]) -> None:
        """`changes`: the description and configurations in UpdateJob's shapes."""
        self._call("update_job", ("job", job_id), jobId=job_id, **changes)

    def associate_targets(self, job_id: str, targets: list[str], comment: str | None = None) -> None:
        arguments: dict[str, Any] = {"jobId": job_id, "targets": targets}
        if comment is not None:
            arguments["comment"] = comment
        self._call("associate_targets_with_job", _TARGETS, **arguments)

    def cancel_job(
        self, job_id: str, *, force: bool, comment: str | None = None, reason_code: str | None = None
    ) -> None:
        arguments: dict[str, Any] = {"force": force}
        if comment is not None:
            arguments["comment"] = comment
        if reason_code is not None:
            arguments["reasonCode"] = reason_code
        self._call("cancel_job", ("job", job_id), jobId=job_id, **arguments)

    def delete_job(self, job_id: str, *, force: bool) -> None:
        self._call("delete_job", ("job", job_id), jobId=job_id, force=force)

    def describe_execution(self, job_id: str, thing_name: str) -> dict[str, Any]:
        about = _execution(job_id, thing_name)
        return dict(self._call("describe_job_execution", about, jobId=job_id, thingName=thing_name)["execution"])

    def cancel_execution(
        self,
        job_id: str,
        thing_name: str,
        *,
        force: bool,
        expected_version: int | None = None,
        status_details: Mapping[str, str] | None = None,
    ) -> None:
        arguments: dict[str, Any] = {"force": force}
        if expected_version is not None:
            arguments["expectedVersion"] = expected_version
        if status_details is not None:
            arguments["statusDetails"] = status_details
        about = _execution(job_id, thing_name)
        self._call("cancel_job_execution", about, jobId=job_id, thingName=thing_name, **arguments)

    def delete_execution(self, job_id: str, thing_name: str, execution_number: int, *, force: bool) -> None:
        self._call(
            "delete_job_execution",
            _execution(job_id, thing_name),
            jobId=job_id,
            thingName=thing_name,
            executionNumber=execution_number,
            force=force,
        )

    def list_jobs(self, page: ListQuery) -> dict[str, Any]:
        """A page of job summaries under `jobs`, with `nextToken` when more follow."""
        return self._call("list_jobs", ("jobs", ""), **_page(page))

    def list_executions_of_job(self, job_id: str, page: ListQuery) -> dict[str, Any]:
        """A page of the job's executions under `executionSummaries`, with `nextToken` when more follow."""
        return self._call("list_job_executions_for_job", ("job", job_id), jobId=job_id, **_page(page))

    def list_executions_of_thing(self, thing_name: str, page: ListQuery) -> dict[str, Any]:
        """A page of the thing's executions under `executionSummaries`, with `nextToken` when more follow."""
        return self._call("list_job_executions_for_thing", ("thing", thing_name), thingName=thing_name, **_page(page))

    def require_thing(self, thing_name: str) -> None:
        """NotFound when AWS IoT has no such thing (it would list no executions for it rather than say so)."""
        self._call("describe_thing", ("thing", thing_name), thingName=thing_name)

    def create_job_template(self, template_id: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """CreateJobTemplate with `arguments` in its shapes; the answer has jobTemplateId and jobTemplateArn."""
        return self._call("create_job_template", ("job template", template_id), jobTemplateId=template_id, **arguments)

    def describe_job_template(self, template_id: str) -> dict[str, Any]:
        return self._call("describe_job_template", ("job template", template_id), jobTemplateId=template_id)

    def list_job_templates(self, page: ListQuery) -> dict[str, Any]:
        """A page of template summaries under `jobTemplates`, with `nextToken` when more follow."""
        return self._call("list_job_templates", ("job templates", ""), **_page(page))

    def delete_job_template(self, template_id: str) -> None:
        self._call("delete_job_template", ("job template", template_id), jobTemplateId=template_id)

    def _call(self, operation: str, about: tuple[str, str], **arguments: Any) -> dict[str, Any]:
        """AWS IoT's answer to `operation`; `about` is (kind, id) of what a ResourceNotFoundException is about."""
        try:
            response: dict[str, Any] = getattr(self._client, operation)(**arguments)
        except Exception as error:
            code = error_code(error)
            message = str(getattr(error, "response", {}).get("Error", {}).get("Message") or code)
            if code == "ResourceNotFoundException":
                raise NotFound(*about) from None
            if code == "ResourceAlreadyExistsException":
                raise AlreadyExists(f"AWS IoT refused it: {message}") from None
            status = getattr(error, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _REFUSED or (code and status in (400, 409)):  # a request AWS IoT will not take as it is
                raise Conflict(f"AWS IoT refused it: {message}") from None
            raise
        response.pop("ResponseMetadata", None)
        return response


def _execution(job_id: str, thing_name: str) -> tuple[str, str]:
    return ("execution", f"{job_id}/{thing_name}")


def _page(page: ListQuery) -> dict[str, Any]:
    arguments: dict[str, Any] = {"maxResults": page.max_results}
    if page.status:
        arguments["status"] = page.status
    if page.next_token:
        arguments["nextToken"] = page.next_token
    return arguments
