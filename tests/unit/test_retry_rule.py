"""The retry rule (services/retries.py), as AWS IoT Jobs applies `jobExecutionsRetryConfig`: a failure is retried
by the criterion of its own type, else by ALL's, counting the earlier failures of the types that criterion
covers; REJECTED never."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from commands_core.models.executions import Execution, Transition
from commands_core.models.jobs import RetryConfig
from commands_core.services.retries import retried

AT = datetime(2026, 1, 1, tzinfo=UTC)


def policy(**retries: int) -> RetryConfig:
    return RetryConfig.model_validate(
        {"criteriaList": [{"failureType": kind, "numberOfRetries": number} for kind, number in retries.items()]}
    )


def after(*failures: str) -> Execution:
    """An execution whose earlier attempts ended with `failures`, in order, now at the next attempt."""
    history: list[Any] = []
    for attempt, failure in enumerate(failures, start=1):
        history += [
            Transition.model_validate({"at": AT, "to": failure, "source": "device", "attempt": attempt}),
            Transition.model_validate(
                {"at": AT, "from": failure, "to": "QUEUED", "source": "device", "attempt": attempt + 1}
            ),
        ]
    return Execution(
        command_id="c",
        thing_name="t",
        status="IN_PROGRESS",
        created_at=AT,
        updated_at=AT,
        attempt=len(failures) + 1,
        history=history,
    )


@pytest.mark.parametrize(
    ("config", "earlier", "failure", "expected"),
    [
        (policy(FAILED=1), (), "FAILED", True),
        (policy(FAILED=1), ("FAILED",), "FAILED", False),
        (policy(FAILED=1), (), "TIMED_OUT", False),  # no criterion covers it
        (policy(FAILED=0), (), "FAILED", False),
        (policy(ALL=2), ("TIMED_OUT",), "FAILED", True),
        (policy(ALL=2), ("TIMED_OUT", "FAILED"), "FAILED", False),  # ALL counts both types
        (policy(FAILED=1, TIMED_OUT=2), ("FAILED", "TIMED_OUT"), "TIMED_OUT", True),  # each its own count
        (policy(FAILED=1, TIMED_OUT=2), ("FAILED",), "FAILED", False),
        (policy(FAILED=3, ALL=1), ("TIMED_OUT", "FAILED"), "FAILED", True),  # FAILED's own criterion
        (policy(FAILED=3, ALL=1), ("TIMED_OUT",), "TIMED_OUT", False),  # ALL's, for a timeout
        (policy(ALL=10), (), "REJECTED", False),  # never
        (None, (), "FAILED", False),
    ],
)
def test_a_failure_is_retried_as_aws_iot_jobs_counts_retries(
    config: RetryConfig | None, earlier: tuple[str, ...], failure: str, expected: bool
) -> None:
    assert retried(config, after(*earlier), failure) is expected
