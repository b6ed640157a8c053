"""AWS IoT Jobs as the Jobs API serves it: each call with AWS IoT's errors turned into the service's."""

from __future__ import annotations

from typing import Any

from commands_core.adapters.aws import error_code
from commands_core.errors import AlreadyExists, Conflict, NotFound

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


class JobsApi:
    def __init__(self, client: Any) -> None:
        self._client = client

    def call(self, operation: str, about: tuple[str, str], **arguments: Any) -> dict[str, Any]:
        """AWS IoT's answer to `operation` (without its metadata). `about` is (kind, id) of what a
        ResourceNotFoundException is about. Throttling and AWS trouble arrive classified (adapters/aws.py)."""
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
