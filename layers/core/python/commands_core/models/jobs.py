"""Delivery settings a template sets by default and a command may override, in AWS IoT's own shapes."""

from __future__ import annotations

import itertools
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from commands_core.models import ApiModel, read_back
from commands_core.validation import refused


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

    @field_validator("criteria_list")
    @classmethod
    def _each_type_once(cls, criteria: list[RetryCriteria], info: ValidationInfo) -> list[RetryCriteria]:
        # A failure is retried by the criterion of its type: two of one type would leave its retries unsaid.
        types = [criterion.failure_type for criterion in criteria]
        if not read_back(info) and (twice := next((kind for kind in types if types.count(kind) > 1), None)):
            raise ValueError(f"gives failureType {twice} twice: one criterion a failure type, as AWS IoT takes them")
        return criteria


class RateIncreaseCriteria(_Strict):
    number_of_notified_things: int | None = Field(default=None, ge=1, le=1000, strict=True)
    number_of_succeeded_things: int | None = Field(default=None, ge=1, le=1000, strict=True)

    @model_validator(mode="after")
    def _one(self) -> RateIncreaseCriteria:
        if (self.number_of_notified_things is None) == (self.number_of_succeeded_things is None):
            raise ValueError("give one of numberOfNotifiedThings and numberOfSucceededThings")
        return self


class ExponentialRate(_Strict):
    """Starts at `base_rate_per_minute`, multiplied by `increment_factor` each time another number of things
    (the criteria's) has been notified, or has succeeded."""

    base_rate_per_minute: int = Field(ge=1, le=1000, strict=True)
    increment_factor: float = Field(ge=1.1, le=5)
    rate_increase_criteria: RateIncreaseCriteria


class RolloutConfig(_Strict):
    """How fast executions start: at most `maximum_per_minute`, or an exponential rate (which never passes
    `maximum_per_minute` when both are given)."""

    maximum_per_minute: int | None = Field(default=None, ge=1, le=1000, strict=True)
    exponential_rate: ExponentialRate | None = None


Percentage = Annotated[float, Field(strict=True, gt=0, le=100)]


class Waves(_Strict):
    """A rollout in waves: `percentages` are cumulative shares of the targets, the last 100. A wave starts once
    the SUCCEEDED executions of the one before reach `success_threshold_percentage` of its size and
    `wait_seconds` have passed since. A wave that can no longer reach its threshold, or has not within
    `timeout_seconds` of its first start, pauses the command."""

    percentages: list[Percentage] = Field(min_length=1, max_length=20)
    success_threshold_percentage: Percentage = 100
    wait_seconds: int = Field(default=0, ge=0, le=86400, strict=True)
    timeout_seconds: int = Field(default=3600, ge=1, le=604800, strict=True)

    @field_validator("percentages")
    @classmethod
    def _cumulative(cls, percentages: list[float]) -> list[float]:
        if any(later <= earlier for earlier, later in itertools.pairwise(percentages)):
            raise ValueError("must grow from one wave to the next: each is the share of the targets reached by then")
        if percentages[-1] != 100:
            raise ValueError("must end with 100: the last wave reaches every target")
        return percentages


# A command execution's timeout when neither the command nor its template gives one. AWS IoT Commands' own
# default, 10 s, times out a device that answers a little late or reconnects after a short outage; ten minutes
# does not, and still ends a command whose devices stay silent within the hour.
DEFAULT_EXECUTION_TIMEOUT_SECONDS = 600


class JobSettings(ApiModel):
    """How a command rolls out (rate, waves, abort criteria), the job's timeout and retry policies, and the
    execution timeout of the command and inbox deliveries; on a command, each overrides the template's."""

    # strict: JSON numbers only (true is not 1, "10" is not 10)
    rollout_maximum_per_minute: int | None = Field(default=None, ge=1, le=1000, strict=True)
    job_executions_rollout_config: RolloutConfig | None = None
    waves: Waves | None = None
    abort_config: AbortConfig | None = None
    timeout_config: TimeoutConfig | None = None
    job_executions_retry_config: RetryConfig | None = None
    # AWS IoT Commands' limit (12 h); its timer starts when the execution is created.
    execution_timeout_seconds: int | None = Field(default=None, ge=1, le=43200, strict=True)

    @model_validator(mode="after")
    def _one_maximum(self) -> JobSettings:
        # rolloutMaximumPerMinute is the shorthand of jobExecutionsRolloutConfig.maximumPerMinute.
        rollout = self.job_executions_rollout_config
        given = rollout.maximum_per_minute if rollout else None
        if None not in (given, self.rollout_maximum_per_minute) and given != self.rollout_maximum_per_minute:
            raise refused(
                "rolloutMaximumPerMinute", "is jobExecutionsRolloutConfig.maximumPerMinute: give one, or both the same"
            )
        return self

    def rollout(self) -> RolloutConfig | None:
        """The rollout rate, the shorthand folded in."""
        rollout = self.job_executions_rollout_config
        if self.rollout_maximum_per_minute is None:
            return rollout
        return (rollout or RolloutConfig()).model_copy(update={"maximum_per_minute": self.rollout_maximum_per_minute})
