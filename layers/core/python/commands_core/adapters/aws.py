"""One cached factory for boto3 clients.

boto3 is imported on first use: most of a function's import time is botocore, and a module that only
defines routes or models should not pay it. The endpoint comes from AWS_ENDPOINT_URL when set (the local
runtime), so code and tests use boto3 unchanged.

It is also the one place where an AWS failure that outlasted botocore's retries is classified: the session's
clients raise `Throttled` (a 429) or `Unavailable` (a 503) instead of botocore's error, whichever service and
adapter made the call, so every API family and consumer sees the same domain errors.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

from commands_core.errors import RetryLater, Throttled, Unavailable

_lock = threading.Lock()
RETRIES = 5  # after the first attempt, botocore's standard mode: throttling and transient errors, with backoff

# Error codes by which AWS services say "too many requests" (DynamoDB, S3, SQS, IoT and its data plane).
# Not LimitExceededException: AWS IoT also uses it for real limits (a thing in 10 groups), which retrying
# cannot fix.
THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "SlowDown",
    }
)
# Codes of AWS trouble that do not come with a 5xx status (S3's RequestTimeout is a 400).
TRANSIENT = frozenset({"RequestTimeout", "RequestTimeoutException"})
# Reasons a DynamoDB transaction was cancelled for throttling (botocore does not retry a cancelled one).
_THROTTLED_TRANSACTION = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded"})
THROTTLED_RETRY_AFTER = 2
UNAVAILABLE_RETRY_AFTER = 5


@cache
def session() -> Any:
    """One session, so that clients share its parsed service models and endpoint data."""
    import boto3

    created = boto3.session.Session()  # type: ignore[attr-defined]
    # Every client copies the session's handlers; these run once per call, after botocore's last retry.
    created.events.register("after-call", _refused, unique_id="commands-core-refused")
    created.events.register("after-call-error", _unreachable, unique_id="commands-core-unreachable")
    return created


@cache
def client(service: str, endpoint_url: str | None = None) -> Any:
    from botocore.config import Config

    # Pool as many connections as the dispatcher has threads starting executions.
    config = Config(
        retries={"mode": "standard", "max_attempts": RETRIES},
        connect_timeout=3,
        read_timeout=10,
        max_pool_connections=16,
    )
    with _lock:  # clients are thread-safe, creating them from one session is not
        return session().client(service, config=config, endpoint_url=endpoint_url)


def error_code(error: Exception) -> str | None:
    """The AWS error code of a botocore ClientError, None for anything else."""
    response = getattr(error, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


def _failure(code: str | None, status: int, response: dict[str, Any]) -> RetryLater | None:
    """The domain error for an AWS error response (`code`, HTTP `status`, the parsed `response`) that a client
    may retry later: Throttled for throttling, Unavailable for AWS trouble; None for any other refusal, which
    the adapter that made the call interprets."""
    reasons = {reason.get("Code") for reason in response.get("CancellationReasons", [])}
    if code in THROTTLING or (code == "TransactionCanceledException" and reasons & _THROTTLED_TRANSACTION):
        return throttled()
    if status >= 500 or code in TRANSIENT:
        return _unavailable()
    return None


def throttled() -> Throttled:
    return Throttled(
        f"AWS is throttling this service's requests; retry after {THROTTLED_RETRY_AFTER} seconds",
        retry_after=THROTTLED_RETRY_AFTER,
    )


def _unavailable() -> Unavailable:
    return Unavailable(
        f"AWS is unavailable at the moment; retry after {UNAVAILABLE_RETRY_AFTER} seconds",
        retry_after=UNAVAILABLE_RETRY_AFTER,
    )


def _refused(event_name: str, http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
    """after-call: an error response AWS still gave after the retries becomes Throttled or Unavailable."""
    if http_response.status_code < 300:
        return
    code = parsed.get("Error", {}).get("Code")
    error = _failure(code, http_response.status_code, parsed)
    if error is not None:
        _log(event_name, code or str(http_response.status_code))
        raise error


def _unreachable(event_name: str, exception: Exception, **_: Any) -> None:
    """after-call-error: AWS not reached, or no answer in time, after the retries, becomes Unavailable."""
    from botocore.exceptions import ConnectionError, HTTPClientError

    if isinstance(exception, ConnectionError | HTTPClientError):
        _log(event_name, type(exception).__name__)
        raise _unavailable() from exception


def _log(event_name: str, cause: str) -> None:
    from commands_core.observability import logger

    # The client hears only "retry later"; the operation and AWS's code are for whoever reads the logs.
    logger.warning("AWS call failed after retries", extra={"operation": event_name.split(".", 1)[-1], "cause": cause})
