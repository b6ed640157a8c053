"""How a request to a deployed stack is authorised: signed with SigV4 for `execute-api` (routes with IAM
authorisation), or with a Cognito token as the Authorization header."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from iotcmd.client import Auth

SERVICE = "execute-api"
# https://<api-id>.execute-api.<region>.amazonaws.com/<stage>/
_REGION_IN_URL = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")


def region_of(url: str) -> str | None:
    """The region of an API Gateway URL (None: not one)."""
    found = _REGION_IN_URL.search(url)
    return found.group(1) if found else None


def sigv4(credentials: Any, region: str) -> Auth:
    """Headers that sign a request with `credentials` (botocore's) for execute-api in `region`."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    def sign(method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> dict[str, str]:
        # Frozen per request: temporary credentials refresh during a long watch.
        frozen = credentials.get_frozen_credentials() if hasattr(credentials, "get_frozen_credentials") else credentials
        request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers))
        SigV4Auth(frozen, SERVICE, region).add_auth(request)
        return {name: str(value) for name, value in request.headers.items() if name not in headers}

    return sign


def bearer(token: str) -> Auth:
    """The Cognito ID token as the Authorization header (API Gateway's Cognito authorizer takes it as is)."""

    def add(method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> dict[str, str]:
        return {"Authorization": token}

    return add
