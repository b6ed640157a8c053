"""AWS IoT: the registry and fleet index (target resolution) and IoT Jobs (delivery)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import cached_property
from typing import Any

from commands_core.adapters.aws import error_code
from commands_core.errors import Conflict, InvalidInput

_PAGE = 250  # ListThingsInThingGroup's maximum page
_INDEX_ERRORS = {
    "IndexNotReadyException": "AWS IoT fleet indexing is still building its index; retry later",
    "ResourceNotFoundException": "AWS IoT fleet indexing of things is not enabled in this account and region",
    "InvalidQueryException": "AWS IoT fleet indexing cannot run this query",
}
_SEARCH_PAGE = 500  # SearchIndex's maximum page


class IotRegistry:
    def __init__(self, client: Any) -> None:
        self._client = client

    def thing_exists(self, thing_name: str) -> bool:
        return self._exists(lambda: self._client.describe_thing(thingName=thing_name))

    def group_exists(self, group_name: str) -> bool:
        return self._exists(lambda: self._client.describe_thing_group(thingGroupName=group_name))

    def group_members(self, group_name: str, limit: int | None = None) -> Iterator[str]:
        """Members of the group and of its child groups, page by page."""
        arguments = {"thingGroupName": group_name, "recursive": True, "maxResults": min(limit or _PAGE, _PAGE)}
        yield from self._pages("list_things_in_thing_group", arguments, lambda page: page.get("things", []), limit)

    def ancestors(self, group_name: str) -> list[str]:
        """The groups the group is nested in, from its root down to its parent (none: gone, or a root)."""
        try:
            described = self._client.describe_thing_group(thingGroupName=group_name)
        except Exception as error:
            if error_code(error) == "ResourceNotFoundException":
                return []
            raise
        parents = described.get("thingGroupMetadata", {}).get("rootToParentThingGroups") or []
        return [parent["groupName"] for parent in parents if parent.get("groupName")]

    def search_things(self, query: str, limit: int | None = None) -> Iterator[str]:
        """Things the fleet index finds; InvalidInput when the index cannot answer (not enabled, not ready, or
        a query it refuses), which is the deployer's or the client's to fix."""
        arguments = {
            "indexName": "AWS_Things",
            "queryString": query,
            "maxResults": min(limit or _SEARCH_PAGE, _SEARCH_PAGE),
        }
        names = lambda page: [thing["thingName"] for thing in page.get("things", [])]  # noqa: E731
        try:
            yield from self._pages("search_index", arguments, names, limit)
        except Exception as error:
            reason = _INDEX_ERRORS.get(error_code(error) or "")
            if reason is None:
                raise
            raise InvalidInput("targetQuery", reason) from None

    def thing_arn(self, thing_name: str) -> str:
        return self.arn(f"thing/{thing_name}")

    def group_arn(self, group_name: str) -> str:
        return self.arn(f"thinggroup/{group_name}")

    def arn(self, resource: str) -> str:
        """The ARN of an AWS IoT resource of this account and region (`job/x`, `jobtemplate/x`...)."""
        return f"{self._arn_prefix}{resource}"

    @cached_property
    def _arn_prefix(self) -> str:
        """arn:<partition>:iot:<region>:<account>: (the account from STS, once per container)."""
        from commands_core.adapters import aws

        account = aws.client("sts").get_caller_identity()["Account"]
        return f"arn:{self._client.meta.partition}:iot:{self._client.meta.region_name}:{account}:"

    def _pages(self, operation: str, arguments: dict[str, Any], items: Any, limit: int | None) -> Iterator[str]:
        count = 0
        token = None
        while True:
            page = getattr(self._client, operation)(**arguments, **({"nextToken": token} if token else {}))
            for item in items(page):
                yield item
                count += 1
                if limit is not None and count >= limit:
                    return
            token = page.get("nextToken")
            if not token:
                return

    @staticmethod
    def _exists(describe: Any) -> bool:
        try:
            describe()
        except Exception as error:
            if error_code(error) == "ResourceNotFoundException":
                return False
            raise
        return True


class IotJobs:
    """One AWS IoT job per command, and the static thing group it targets (the things the rollout has reached)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def create_job(self, job: dict[str, Any]) -> str:
        """Creates the job; its ARN. A job of that id that exists already is ours if it has our description
        (a retried step); Conflict if somebody else made it."""
        try:
            return str(self._client.create_job(**job)["jobArn"])
        except Exception as error:
            if error_code(error) != "ResourceAlreadyExistsException":
                raise
        existing = self._client.describe_job(jobId=job["jobId"])["job"]
        if existing.get("description") != job["description"]:
            raise Conflict(f"an AWS IoT job '{job['jobId']}' exists that this service did not create")
        return str(existing["jobArn"])

    def associate(self, job_id: str, targets: list[str]) -> None:
        """Adds targets to a CONTINUOUS job (up to 100 a call): their things get executions, and later members."""
        for start in range(0, len(targets), 100):
            self._client.associate_targets_with_job(jobId=job_id, targets=targets[start : start + 100])

    def cancel_job(self, job_id: str, *, force: bool, reason: str) -> None:
        """Cancels the job; a job already finished or gone needs no cancelling."""
        try:
            self._client.cancel_job(jobId=job_id, force=force, comment=reason[:2028])
        except Exception as error:
            if error_code(error) not in ("ResourceNotFoundException", "InvalidStateTransitionException"):
                raise

    def cancel_execution(self, job_id: str, thing_name: str, *, force: bool) -> str | None:
        """Cancels one execution; the status AWS IoT then has for it (CANCELED, or what kept it from being
        cancelled: IN_PROGRESS without force, or an end), None if it has none."""
        try:
            self._client.cancel_job_execution(jobId=job_id, thingName=thing_name, force=force)
        except Exception as error:
            code = error_code(error)
            if code == "ResourceNotFoundException":
                return None
            if code != "InvalidStateTransitionException":
                raise
            described = self._client.describe_job_execution(jobId=job_id, thingName=thing_name)
            return str(described["execution"]["status"])
        return "CANCELED"

    def execution_status(self, job_id: str, thing_name: str) -> str | None:
        """The status of the thing's execution of the job as AWS IoT has it; None if AWS IoT has none."""
        try:
            described = self._client.describe_job_execution(jobId=job_id, thingName=thing_name)
        except Exception as error:
            if error_code(error) == "ResourceNotFoundException":
                return None
            raise
        return str(described["execution"]["status"])

    def executions(self, job_id: str) -> Iterator[tuple[str, str, datetime, int | None]]:
        """(thing name, status, last update, execution number) of every execution of the job, as AWS IoT has
        them; the execution number counts the thing's executions of the job from 1 (a retry is the next)."""
        arguments: dict[str, Any] = {"jobId": job_id, "maxResults": 250}
        while True:
            page = self._client.list_job_executions_for_job(**arguments)
            for summary in page.get("executionSummaries", []):
                execution = summary["jobExecutionSummary"]
                at = execution.get("lastUpdatedAt") or execution.get("queuedAt")
                number = execution.get("executionNumber")
                yield summary["thingArn"].rsplit("/", 1)[-1], execution["status"], at, number
            if not page.get("nextToken"):
                return
            arguments["nextToken"] = page["nextToken"]

    def ensure_group(self, group_name: str, description: str) -> str:
        response = self._client.create_thing_group(
            thingGroupName=group_name, thingGroupProperties={"thingGroupDescription": description[:2028]}
        )
        return str(response["thingGroupArn"])

    def add_to_group(self, group_name: str, thing_name: str) -> str | None:
        """Adds the thing; why it cannot be added (gone, or in 10 static groups already), else None."""
        try:
            self._client.add_thing_to_thing_group(thingGroupName=group_name, thingName=thing_name)
        except Exception as error:
            if error_code(error) == "ResourceNotFoundException":
                return "the thing no longer exists"
            if error_code(error) == "LimitExceededException":
                return "the thing is in as many static thing groups as AWS IoT allows (10)"
            raise
        return None

    def delete_group(self, group_name: str) -> None:
        """Deletes the group; one already gone needs no deleting."""
        try:
            self._client.delete_thing_group(thingGroupName=group_name)
        except Exception as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
