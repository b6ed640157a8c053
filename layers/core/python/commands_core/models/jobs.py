"""Delivery settings a template sets by default and a command may override, in AWS IoT's own shapes."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from commands_core.models import ApiModel


class _Strict(ApiModel):
    model_config = ConfigDict(extra="forbid")


class AbortCriteria(_Strict):
    failure_type: Literal["FAILED", "REJECTED", "TIMED_OUT", "ALL"]
    action: Literal["CANCEL"] = "CANCEL"
    # AWS IoT takes two digits after the decimal point; a value such as 5e-324 can't even be stored (DynamoDB).
    threshold_percentage: float = Field(ge=0.01, le=100, multiple_of=0.01)
    min_number_of_executed_things: int = Field(ge=1, strict=True)


class AbortConfig(_Strict):
    criteria_list: list[AbortCriteria] = Field(min_length=1, max_length=4)


class TimeoutConfig(_Strict):
    in_progress_timeout_in_minutes: int = Field(ge=1, le=10080, strict=True)


class RetryCriteria(_Strict):
    failure_type: Literal["FAILED", "TIMED_OUT", "ALL"]
    number_of_retries: int = Field(ge=0, le=10, strict=True)


class RetryConfig(_Strict):
    criteria_list: list[RetryCriteria] = Field(min_length=1, max_length=2)


# A command execution's timeout when neither the command nor its template gives one. AWS IoT Commands' own
# default, 10 s, times out a device that answers a little late or reconnects after a short outage; ten minutes
# does not, and still ends a command whose devices stay silent within the hour.
DEFAULT_EXECUTION_TIMEOUT_SECONDS = 600


class JobSettings(ApiModel):
    """Rollout rate, the job's abort, timeout and retry policies, and the execution timeout of the command and
    inbox deliveries; on a command, each overrides the template's."""

    # strict: JSON numbers only (true is not 1, "10" is not 10)
    rollout_maximum_per_minute: int | None = Field(default=None, ge=1, le=1000, strict=True)
    abort_config: AbortConfig | None = None
    timeout_config: TimeoutConfig | None = None
    job_executions_retry_config: RetryConfig | None = None
    # AWS IoT Commands' limit (12 h); its timer starts when the execution is created.
    execution_timeout_seconds: int | None = Field(default=None, ge=1, le=43200, strict=True)
