"""One cached factory for boto3 clients.

boto3 is imported on first use: most of a function's import time is botocore, and a module that only
defines routes or models should not pay it. The endpoint comes from AWS_ENDPOINT_URL when set (the local
runtime), so code and tests use boto3 unchanged.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    # Clients are thread-safe, sessions are not: a session per client keeps the local runtime's threads apart.
    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10)
    return boto3.session.Session().client(service, config=config)  # type: ignore[attr-defined]


def error_code(error: Exception) -> str | None:
    """The AWS error code of a botocore ClientError, None for anything else."""
    response = getattr(error, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None
