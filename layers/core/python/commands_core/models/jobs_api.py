"""The Jobs API: request bodies and queries, in AWS IoT Jobs' own shapes and limits."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from commands_core.models import ID_PATTERN, ApiModel
from commands_core.models.commands import Target
from commands_core.models.jobs import AbortConfig, RetryConfig, RolloutConfig, TimeoutConfig
from commands_core.models.scheduling import SchedulingConfig
from commands_core.models.templates import Document

JobId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
# AWS IoT's pattern for descriptions and comments: no control characters.
Comment = Annotated[str, StringConstraints(min_length=1, max_length=2028, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$")]
LONG_MAX = 2**63 - 1
JOB_STATUSES = ("IN_PROGRESS", "CANCELED", "COMPLETED", "DELETION_IN_PROGRESS", "SCHEDULED")
EXECUTION_STATUSES = ("QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED")


class _Strict(ApiModel):
    model_config = ConfigDict(extra="forbid")


class PresignedUrlConfig(_Strict):
    role_arn: str | None = Field(default=None, max_length=2048)  # the service's presign role when absent
    expires_in_sec: int = Field(default=3600, ge=60, le=3600, strict=True)


class JobConfigs(_Strict):
    """The configurations a job takes on creation and (all but none) on UpdateJob; a job template holds them."""

    presigned_url_config: PresignedUrlConfig | None = None
    job_executions_rollout_config: RolloutConfig | None = None
    abort_config: AbortConfig | None = None
    timeout_config: TimeoutConfig | None = None
    job_executions_retry_config: RetryConfig | None = None


class NewJob(JobConfigs):
    targets: list[Target] = Field(min_length=1, max_length=100)  # thing names, thing or thing-group ARNs
    target_selection: Literal["SNAPSHOT", "CONTINUOUS"] = "SNAPSHOT"  # AWS IoT CreateJob's default
    document: Document | None = None  # or the job template's
    description: Comment | None = None
    job_id: JobId | None = None
    job_template_id: JobId | None = None
    # Passed to AWS IoT as given, once its shape is checked: AWS IoT holds the job SCHEDULED until then and
    # refuses times it does not take (less than 30 minutes ahead, more than a year).
    scheduling_config: SchedulingConfig | None = None


class JobChanges(JobConfigs):
    description: Comment | None = None


class Association(_Strict):
    targets: list[Target] = Field(min_length=1, max_length=100)
    comment: Comment | None = None


class JobCancel(_Strict):
    comment: Comment | None = None
    reason_code: str | None = Field(default=None, pattern=r"^[A-Z0-9_]+$", max_length=128)
    force: bool = Field(default=False, strict=True)


class Force(_Strict):
    force: bool = Field(default=False, strict=True)


def _flat_details(value: Any) -> Any:
    """statusDetails as AWS IoT takes it (a flat map), also when given the control plane's {"detailsMap": ...}."""
    if isinstance(value, dict) and set(value) == {"detailsMap"}:
        return value["detailsMap"]
    return value


DetailKey = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[a-zA-Z0-9:_-]+$")]
DetailValue = Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$")]


class ExecutionCancel(_Strict):
    expected_version: int | None = Field(default=None, ge=0, le=LONG_MAX, strict=True)
    status_details: Annotated[dict[DetailKey, DetailValue] | None, BeforeValidator(_flat_details)] = Field(
        default=None, max_length=10
    )
    force: bool = Field(default=False, strict=True)


class ExecutionDelete(_Strict):
    # The API contract says String; AWS IoT a number: either, as long as it is a whole number. Absent: the current one.
    execution_number: int | None = Field(default=None, ge=0, le=LONG_MAX)
    force: bool = Field(default=False, strict=True)

    @field_validator("execution_number", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, str) and not value.isdigit()):
            raise ValueError("must be a whole number")
        return value


class NewJobTemplate(JobConfigs):
    job_template_id: JobId | None = None
    document: Document
    description: Comment


class ListQuery(ApiModel):
    model_config = ConfigDict(extra="forbid")

    status: str | None = None
    next_token: str | None = Field(default=None, min_length=1, max_length=1024)
    max_results: int = Field(default=25, ge=1, le=250)
