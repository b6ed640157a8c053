"""The bodies routes answer with, as the wiring declares them (`Reply`): the services return these types, so
the OpenAPI document is generated from what the code is checked against. Bodies that are models (a template)
are declared with their model instead."""

from __future__ import annotations

from datetime import datetime
from typing import (
    Any,
    NotRequired,  # pydantic's JSON schema needs typing_extensions' on 3.11
)

from typing_extensions import TypedDict


class ErrorBody(TypedDict):
    """The error body of the v1 and Jobs families."""

    error: str


class Envelope(TypedDict):
    """Every body of the status family, errors included: `content` is the route's body (null for an error)."""

    code: int
    message: str
    content: Any


class Pagination(TypedDict):
    maxResults: int
    nextToken: NotRequired[str]


class TemplateSummaryView(TypedDict):
    templateId: str
    description: NotRequired[str]


class TemplatePage(TypedDict):
    results: list[TemplateSummaryView]
    pagination: Pagination


class RerunOfView(TypedDict):
    """A rerun's source: the command, and the statuses of its executions that the rerun targets."""

    commandId: str
    statuses: list[str]


class CommandView(TypedDict):
    """Command.to_api: the command's fields, its files as S3 URIs, its counts and how far it got."""

    commandId: str
    templateId: str
    status: str
    targets: list[str]
    documentParameters: dict[str, str]
    type: str
    internal: bool
    files: dict[str, str]
    counts: dict[str, int]
    percentComplete: float
    unknownTargets: list[str]
    joinedLate: int
    createdAt: datetime
    updatedAt: datetime
    targetQuery: NotRequired[dict[str, Any]]
    jobId: NotRequired[str]
    jobArn: NotRequired[str]
    statusReason: NotRequired[str]
    publishedAt: NotRequired[datetime]
    document: NotRequired[str]
    rolloutMaximumPerMinute: NotRequired[int]
    abortConfig: NotRequired[dict[str, Any]]
    timeoutConfig: NotRequired[dict[str, Any]]
    jobExecutionsRetryConfig: NotRequired[dict[str, Any]]
    executionTimeoutSeconds: NotRequired[int]
    maximumTargets: NotRequired[int]
    schedulingConfig: NotRequired[dict[str, Any]]
    rerunOf: NotRequired[RerunOfView]
    reruns: list[str]


class CommandPage(TypedDict):
    results: list[CommandView]
    pagination: Pagination


class Problem(TypedDict):
    """What a publish would refuse: the field, named as a 400 names it, and why."""

    field: str
    message: str


class WavePlan(TypedDict):
    percentage: float
    size: int


class Preview(TypedDict):
    """What publishing a command would do, with nothing stored or sent: the things it reaches (how many, and the
    first 100 in the order the rollout starts them), the targets AWS IoT does not know, every problem that would
    refuse it now (none: it would publish), the document devices would get, its delivery, its waves' sizes, the
    rate it starts at, when its schedule lets it start (None: at once) and how long starting every execution takes
    at that rate from then (devices' answers and closing maintenance windows left out)."""

    targetCount: int
    targets: list[str]
    unknownTargets: list[str]
    errors: list[Problem]
    document: str | None
    delivery: str | None
    waves: list[WavePlan]
    ratePerMinute: int | None
    startsAt: str | None
    estimatedDurationSeconds: float


class UploadUrl(TypedDict):
    url: str
    method: str
    expiresInSeconds: int


class ExecutionSummary(TypedDict):
    thingName: str
    status: str


class ExecutionPage(TypedDict):
    executions: list[ExecutionSummary]
    pagination: Pagination


# One change of an execution's status, in the attempt it belongs to (from 1); `from` is a keyword, hence the form.
TransitionView = TypedDict(
    "TransitionView",
    {
        "at": datetime,
        "from": NotRequired[str],
        "to": str,
        "reason": NotRequired[str],
        "source": str,
        "attempt": int,
    },
)


class ExecutionView(TypedDict):
    thingName: str
    status: str
    attempt: int  # from 1: a retry policy starts an execution again after a failure
    createdAt: datetime
    lastUpdatedAt: datetime
    percentComplete: float
    history: list[TransitionView]
    queuedAt: NotRequired[datetime]
    startedAt: NotRequired[datetime]
    statusDetails: NotRequired[dict[str, str]]
    statusReason: NotRequired[str]
    executionId: NotRequired[str]
    result: NotRequired[dict[str, Any]]


class ExecutionsView(TypedDict):
    executions: list[ExecutionView]


# The Jobs API: AWS IoT's own shapes, passed through.
class JobCreated(TypedDict):
    created: bool
    jobId: str
    jobArn: str


class JobList(TypedDict):
    jobs: list[dict[str, Any]]
    nextToken: NotRequired[str]


class JobView(TypedDict):
    job: dict[str, Any]


class JobDocument(TypedDict):
    document: str | None


class Updated(TypedDict):
    updated: bool


class Associated(TypedDict):
    associated: bool


class Canceled(TypedDict):
    canceled: bool


class Deleted(TypedDict):
    deleted: bool


class JobExecutionView(TypedDict):
    execution: dict[str, Any]


class ExecutionsOfJob(TypedDict):
    executionSummaries: list[dict[str, Any]]
    jobExecutions: NotRequired[list[dict[str, Any]]]  # the second revision's name (/jobs-executions/...)
    nextToken: NotRequired[str]


class ExecutionsOfThing(TypedDict):
    executionSummaries: list[dict[str, Any]]
    jobExecution: NotRequired[list[dict[str, Any]]]  # the second revision's name (/jobs-executions/...)
    nextToken: NotRequired[str]


class JobTemplateCreated(TypedDict):
    created: bool
    jobTemplateId: str
    jobTemplateArn: str


class JobTemplateList(TypedDict):
    JobTemplates: list[dict[str, Any]]
    nextToken: NotRequired[str]


class JobTemplateView(TypedDict):
    jobTemplate: dict[str, Any]


# The Command Status API: the `content` of its envelope.
class StateChange(TypedDict):
    at: datetime
    state: str
    reason: str | None
    source: str


class StatusView(TypedDict):
    id: str
    request: str
    device: str
    state: str
    reason: str | None
    createdAt: datetime
    updatedAt: datetime
    history: list[StateChange]


class StatusPage(TypedDict):
    results: list[StatusView]
    limit: int
    offset: int
    hasMore: bool


class InboxItem(StatusView):
    operation: str | None
    document: str


Inbox = list[InboxItem]
