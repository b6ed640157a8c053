"""One cached factory for boto3 clients.

boto3 is imported on first use: most of a function's import time is botocore, and a module that only
defines routes or models should not pay it. The endpoint comes from AWS_ENDPOINT_URL when set (the local
runtime), so code and tests use boto3 unchanged.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

_lock = threading.Lock()
RETRIES = 5  # after the first attempt, botocore's standard mode: throttling and transient errors, with backoff


@cache
def session() -> Any:
    """One session, so that clients share its parsed service models and endpoint data."""
    import boto3

    return boto3.session.Session()  # type: ignore[attr-defined]


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
