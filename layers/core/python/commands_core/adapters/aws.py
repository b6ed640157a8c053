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


@cache
def _session() -> Any:
    """One session, so that clients share its parsed service models and endpoint data."""
    import boto3

    return boto3.session.Session()  # type: ignore[attr-defined]


@cache
def client(service: str) -> Any:
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10)
    with _lock:  # clients are thread-safe, creating them from one session is not
        return _session().client(service, config=config)


def error_code(error: Exception) -> str | None:
    """The AWS error code of a botocore ClientError, None for anything else."""
    response = getattr(error, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None
