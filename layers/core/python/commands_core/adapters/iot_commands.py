"""AWS IoT Commands (delivery command): one IoT command per published command on the control plane (`iot`),
one execution per thing started on the data plane (`iot-jobs-data`)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

from commands_core.adapters import aws
from commands_core.adapters.aws import error_code
from commands_core.errors import Conflict, RetryLater

# Throttling and AWS trouble arrive as RetryLater (adapters/aws.py); a quota is worth asking again later too.
_RETRYABLE = frozenset({"ServiceQuotaExceededException"})


@dataclass(frozen=True)
class Start:
    """How starting one thing's execution went: `started` (execution_id), `gone` (the thing no longer exists),
    `refused` (AWS IoT refused it: a deprecated command, for one), or `retry` (throttled, or AWS trouble)."""

    outcome: Literal["started", "gone", "refused", "retry"]
    execution_id: str | None = None
    reason: str | None = None


class IotCommands:
    def __init__(self, client: Any) -> None:
        self._client = client

    def create(self, command_id: str, payload: bytes, description: str) -> str:
        """Creates the IoT command holding the payload; its ARN. One of that id that exists already is ours if
        it has our description (a retried step); Conflict if somebody else made it."""
        try:
            response = self._client.create_command(
                commandId=command_id,
                namespace="AWS-IoT",
                payload={"content": payload, "contentType": "application/json"},
                description=description,
            )
            return str(response["commandArn"])
        except Exception as error:
            if error_code(error) == "ValidationException":  # a document AWS IoT will not take: not worth retrying
                raise Conflict(f"AWS IoT refused the command: {_message(error)}") from None
            if error_code(error) != "ConflictException":
                raise
        existing = self._client.get_command(commandId=command_id)
        if existing.get("description") != description:
            raise Conflict(f"an AWS IoT command '{command_id}' exists that this service did not create")
        return str(existing["commandArn"])

    def deprecate(self, command_id: str) -> None:
        """After this, AWS IoT starts no new execution of the command; running ones go on."""
        try:
            self._client.update_command(commandId=command_id, deprecated=True)
        except Exception as error:
            if error_code(error) != "ResourceNotFoundException":
                raise

    def delete(self, command_id: str) -> bool:
        """Deletes the IoT command; True while AWS IoT holds it pending deletion (deprecated less than 12 h)."""
        try:
            return int(self._client.delete_command(commandId=command_id).get("statusCode", 204)) == 202
        except Exception as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
            return False

    def start(self, command_arn: str, thing_arn: str, timeout_seconds: int | None, attempt: int = 1) -> Start:
        """Starts the thing's execution, at `attempt` (a retry policy starts later ones). The client token is
        derived from (command, thing, attempt), so asking again (a retried batch, a retry message delivered twice)
        returns the execution already started instead of starting a second one."""
        key = f"{command_arn}|{thing_arn}" + (f"|{attempt}" if attempt > 1 else "")  # the first: as before
        arguments: dict[str, Any] = {
            "commandArn": command_arn,
            "targetArn": thing_arn,
            "clientToken": hashlib.sha256(key.encode()).hexdigest()[:64],
        }
        if timeout_seconds:
            arguments["executionTimeoutSeconds"] = timeout_seconds
        try:
            response = self._data_plane.start_command_execution(**arguments)
        except Exception as error:
            from botocore.exceptions import BotoCoreError

            code, message = error_code(error), _message(error)
            if code == "ResourceNotFoundException":
                return Start("gone", reason=message)
            if code in ("ValidationException", "ConflictException"):
                return Start("refused", reason=message)
            if code in _RETRYABLE or isinstance(error, RetryLater | BotoCoreError):  # throttled, AWS trouble
                return Start("retry", reason=message)
            raise
        return Start("started", execution_id=str(response["executionId"]))

    def executions(self, command_arn: str) -> Iterator[tuple[str, str, str, datetime | None]]:
        """(thing name, status, execution id, last change) of every execution of the command on a thing."""
        arguments: dict[str, Any] = {"commandArn": command_arn, "maxResults": 100}
        while True:
            page = self._client.list_command_executions(**arguments)
            for summary in page.get("commandExecutions", []):
                target = str(summary.get("targetArn", ""))
                if ":thing/" in target:
                    at = summary.get("completedAt") or summary.get("startedAt") or summary.get("createdAt")
                    yield target.rsplit("/", 1)[-1], summary["status"], summary["executionId"], at
            if not page.get("nextToken"):
                return
            arguments["nextToken"] = page["nextToken"]

    def result(self, execution_id: str, thing_arn: str) -> dict[str, Any] | None:
        """The execution as AWS IoT has it, with the device's result; None once AWS IoT no longer has it."""
        try:
            response = self._client.get_command_execution(
                executionId=execution_id, targetArn=thing_arn, includeResult=True
            )
        except Exception as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
            return None
        return dict(response)

    @cached_property
    def _data_plane(self) -> Any:
        """The `iot-jobs-data` client, on the account's iot:Jobs endpoint; an endpoint set in the environment
        (botocore's service-specific or global endpoint variable, as the local runtime sets) is used as is."""
        if os.environ.get("AWS_ENDPOINT_URL_IOT_JOBS_DATA") or os.environ.get("AWS_ENDPOINT_URL"):
            return aws.client("iot-jobs-data")
        address = self._client.describe_endpoint(endpointType="iot:Jobs")["endpointAddress"]
        return aws.client("iot-jobs-data", endpoint_url=f"https://{address}")


def _message(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Message") or error)
