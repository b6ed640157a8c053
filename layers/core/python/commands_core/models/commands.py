"""Commands: what a client writes, what is stored and returned."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NamedTuple, get_args

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, field_validator, model_validator

from commands_core.models import (
    ID_PATTERN,
    THING_NAME_PATTERN,
    ApiModel,
    PageQuery,
    QueryFlag,
    absent_not_null,
    rollout,
)
from commands_core.models.executions import TERMINAL, ExecutionStatus
from commands_core.models.jobs import JobSettings
from commands_core.models.lifecycle import CommandStatus, Step
from commands_core.models.scheduling import SchedulingConfig
from commands_core.models.templates import DOCUMENT_MAX_BYTES, Delivery
from commands_core.validation import refused

LIVE_STATUSES: frozenset[str] = frozenset({"draft", "in_progress"})
RESERVED_COMMAND_IDS = frozenset({"v0"})  # v0 is the status API's path segment: /commands/v0/status

_ARN_PREFIX = r"arn:aws[a-z-]*:iot:[a-z0-9-]+:[0-9]{12}:"  # [0-9]: \d would take any Unicode digit
THING_ARN = re.compile(_ARN_PREFIX + rf"thing/({THING_NAME_PATTERN})")
GROUP_ARN = re.compile(_ARN_PREFIX + rf"thinggroup/({THING_NAME_PATTERN})")
THING_NAME = re.compile(THING_NAME_PATTERN)

Name = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


def _not_reserved(command_id: str) -> str:
    if command_id in RESERVED_COMMAND_IDS:
        raise ValueError(f"'{command_id}' is reserved")
    return command_id


def _target(target: str) -> str:
    is_arn = THING_ARN.fullmatch(target) or GROUP_ARN.fullmatch(target)
    # "arn:..." is a valid thing name too; anything ARN-shaped must be an IoT thing or thing-group ARN.
    if not (is_arn or (THING_NAME.fullmatch(target) and not target.startswith("arn:"))):
        raise ValueError("must be a thing name, a thing ARN or a thing-group ARN")
    return target


CommandId = Annotated[str, StringConstraints(pattern=ID_PATTERN), AfterValidator(_not_reserved)]
Target = Annotated[str, AfterValidator(_target)]


class _Strict(ApiModel):
    model_config = ConfigDict(extra="forbid")


def _id_not_null(command_id: Any) -> Any:
    """A commandId a body gives: left out, one is generated; null is no id, and is refused as one."""
    if command_id is None:
        raise ValueError("Input should be a valid string")
    return command_id


class Clause(_Strict):
    field: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$")
    value: str = Field(min_length=1, max_length=256)
    traversals: Any = None  # the API contract's asset-graph relations; rejected when set (services/targets.py says why)


class TargetQuery(_Strict):
    """The API contract's asset-library query, translated to an AWS IoT fleet-indexing query."""

    types: list[Annotated[str, StringConstraints(pattern=rf"^{THING_NAME_PATTERN}$")]] = Field(
        default_factory=list, max_length=20
    )
    # AWS IoT nests thing groups at most 7 deep: 1024 characters hold any real path.
    ancestor_path: str | None = Field(default=None, max_length=1024, pattern=r"^/?([a-zA-Z0-9:_-]{1,128}/?)+$")
    eq: list[Clause] = Field(default_factory=list, max_length=20)
    neq: list[Clause] = Field(default_factory=list, max_length=20)
    lt: list[Clause] = Field(default_factory=list, max_length=20)
    lte: list[Clause] = Field(default_factory=list, max_length=20)
    gt: list[Clause] = Field(default_factory=list, max_length=20)
    gte: list[Clause] = Field(default_factory=list, max_length=20)
    starts_with: list[Clause] = Field(default_factory=list, max_length=20)


class _CommandBody(JobSettings):
    """A command's fields as a client writes them, none required: CommandFields requires templateId."""

    # Parameter values are strings in the API contract; numbers are taken and kept as their text.
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    template_id: Name | None = Field(default=None, json_schema_extra=absent_not_null)
    targets: list[Target] = Field(default_factory=list, max_length=1000)
    target_query: TargetQuery | None = None
    document_parameters: dict[Name, Annotated[str, Field(max_length=8192)]] = Field(default_factory=dict)
    type: Literal["SNAPSHOT", "CONTINUOUS"] = "SNAPSHOT"
    # CONTINUOUS only: at most this many things that join the targets after publishing get an execution.
    maximum_targets: int | None = Field(default=None, ge=1, strict=True)
    # An internal command (one the operators' own tooling issues): the status API can leave its statuses out.
    internal: bool = Field(default=False, strict=True)
    # When the rollout may start executions (UTC); a command's own, not a template's default.
    scheduling_config: SchedulingConfig | None = None

    @field_validator("document_parameters")
    @classmethod
    def _fit_a_document(cls, parameters: dict[str, str]) -> dict[str, str]:
        # Every parameter appears in the rendered document, which AWS IoT limits; more could never publish.
        if (size := sum(len(value.encode()) for value in parameters.values())) > DOCUMENT_MAX_BYTES:
            raise ValueError(f"hold {size} bytes of values; a rendered document holds at most {DOCUMENT_MAX_BYTES}")
        return parameters


class CommandFields(_CommandBody):
    """The fields a client sets on create, and the result of a PATCH of a draft merged onto it."""

    template_id: Name

    @model_validator(mode="after")
    def _cap_of_continuous(self) -> CommandFields:
        if self.maximum_targets is not None and self.type != "CONTINUOUS":
            raise refused("maximumTargets", "applies only to type CONTINUOUS: it caps the things that join later")
        return self


READ_ONLY_FIELDS = {
    "files": "is set by uploading each file: PUT /commands/{commandId}/files/{fileId}",
    "jobId": "is set when the command is published",
    "counts": "is kept by the service",
    "unknownTargets": "is set when the command is published",
    "createdAt": "is kept by the service",
    "updatedAt": "is kept by the service",
    "publishedAt": "is kept by the service",
    "statusReason": "is kept by the service",
    "joinedLate": "is kept by the service",
    "rerunOf": "is set on a rerun: POST /commands/{commandId}/rerun",
    "reruns": "is kept by the service",
}


def _not_read_only(data: dict[str, Any]) -> None:
    """A field the service keeps is refused saying how it is set, not as one the resource does not have."""
    for name, reason in READ_ONLY_FIELDS.items():
        if name in data:
            raise refused(name, reason)


class NewCommand(CommandFields):
    """The body of POST /commands: the fields, an optional id, and whether to publish at once."""

    command_id: CommandId | None = Field(default=None, json_schema_extra=absent_not_null)  # generated when absent
    status: Literal["draft", "in_progress"] = "draft"

    @model_validator(mode="before")
    @classmethod
    def _writable(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if data.get("status", "draft") not in ("draft", "in_progress"):
                raise refused("status", "must be draft or in_progress when a command is created")
            _not_read_only(data)
        return data

    _an_id_when_given = field_validator("command_id", mode="before")(_id_not_null)

    def fields(self) -> CommandFields:
        """The fields as given, without the id and the status: what a create retried is compared on."""
        names = CommandFields.model_fields.keys()
        values = {name: getattr(self, name) for name in names}
        return CommandFields.model_construct(self.model_fields_set & names, **values)


class CommandChanges(_CommandBody):
    """The body of PATCH /commands/{commandId}: any fields of a draft (those left out keep their values; the
    result is validated as CommandFields), or a status change (in_progress publishes a draft or resumes a paused
    command, paused pauses, cancelled cancels). Once published, the rollout rate and abort criteria still
    change (LIVE_FIELDS)."""

    # The path's, or refused by the service; a string as given (not a number taken as its text).
    command_id: str | None = Field(default=None, strict=True, json_schema_extra=absent_not_null)
    status: CommandStatus | None = None

    @model_validator(mode="before")
    @classmethod
    def _writable(cls, data: Any) -> Any:
        if isinstance(data, dict):
            status = data.get("status")
            if status is not None and not isinstance(status, str):
                raise refused("status", "must be a string: in_progress, paused or cancelled")
            if status is not None and status not in get_args(CommandStatus):
                raise refused("status", f"can be changed to in_progress, paused or cancelled, not to {status}")
            _not_read_only(data)
        return data


# What a published command's PATCH may still change: the dispatch steps read them on every batch.
LIVE_FIELDS = frozenset({"rollout_maximum_per_minute", "job_executions_rollout_config", "abort_config"})


class CommandQuery(PageQuery):
    status: CommandStatus | None = None


class DryRun(ApiModel):
    """The query of a create: with `dryRun=true`, what publishing would do, with nothing stored or sent."""

    dry_run: QueryFlag = False


# What a rerun targets unless told: every execution that did not succeed and was not cancelled.
RERUN_STATUSES: tuple[ExecutionStatus, ...] = tuple(
    status for status in get_args(ExecutionStatus) if status not in ("SUCCEEDED", "CANCELED")
)


class RerunRequest(_Strict):
    """The body of POST /commands/{commandId}/rerun: which executions of the command to run again (their
    statuses), and the new command's id and status (a draft, or published at once)."""

    statuses: list[ExecutionStatus] = Field(default_factory=lambda: list(RERUN_STATUSES), min_length=1)
    command_id: CommandId | None = Field(default=None, json_schema_extra=absent_not_null)  # generated when absent
    status: Literal["draft", "in_progress"] = "draft"

    _an_id_when_given = field_validator("command_id", mode="before")(_id_not_null)

    @field_validator("statuses")
    @classmethod
    def _each_once(cls, statuses: list[ExecutionStatus]) -> list[ExecutionStatus]:
        # Each once, in the order of an execution's life: the same rerun, however they are listed.
        return [status for status in get_args(ExecutionStatus) if status in statuses]


class RerunOf(ApiModel):
    """Where a rerun comes from: the command whose executions in `statuses` it targets."""

    command_id: str
    statuses: list[ExecutionStatus]


class FileRef(ApiModel):
    bucket_name: str
    s3_object_key: str
    version_id: str | None = None  # the version that publishing freezes (the API shows only the URI)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket_name}/{self.s3_object_key}"


def published_file_key(command_id: str, file_id: str) -> str:
    """Where publishing copies a file: devices get this copy, which no upload URL can reach."""
    return f"commands/{command_id}/published/{file_id}"


class Started(ApiModel):
    """A batch of executions the dispatcher started: when the last one started, and how many."""

    at: datetime
    count: int


class Published(NamedTuple):
    """What never changes once a command is published and its delivery holds what it made in AWS IoT (a job, an
    AWS IoT command): every event of its executions is checked against it."""

    command_id: str
    delivery: Delivery
    published_at: datetime
    job_id: str | None
    iot_command_arn: str | None


class Command(CommandFields):
    """A stored command, as returned by the API (plus internal dispatch state that is not returned)."""

    model_config = ConfigDict(extra="ignore")

    command_id: CommandId
    status: CommandStatus = "draft"
    files: dict[str, FileRef] = Field(default_factory=dict)
    job_id: str | None = None
    job_arn: str | None = None
    status_reason: str | None = None  # why the service ended a command by itself
    counts: dict[str, int] = Field(default_factory=dict)
    unknown_targets: list[str] = Field(default_factory=list)
    joined_late: int = 0  # CONTINUOUS: the things that joined the targets after publishing and got an execution
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None = None
    version: int = Field(default=1, exclude=True)
    status_changes: int = Field(default=0, exclude=True)  # how many times its status changed (numbers the events)
    # Set on publish: what devices receive, and how far the dispatch queue has taken it.
    document: str | None = Field(default=None, exclude=True)
    dispatch_step: Step | None = Field(default=None, exclude=True)
    delivery: Delivery | None = Field(default=None, exclude=True)  # the template's, frozen on publish
    # Delivery inbox: what a fetch hands out with the document, the template's frozen on publish as the document
    # is (None: published before they were; the fetch reads the template).
    operation: str | None = Field(default=None, exclude=True)
    presigned_url_expires_in_seconds: int | None = Field(default=None, exclude=True)
    lease_until: datetime | None = Field(default=None, exclude=True)
    group_name: str | None = Field(default=None, exclude=True)  # delivery job: the job's thing group
    # Delivery command: its AWS IoT command, the last target started (targets start in thing-name order), and
    # the batches started in the last minute (the rate limit).
    iot_command_arn: str | None = Field(default=None, exclude=True)
    dispatch_cursor: str | None = Field(default=None, exclude=True)
    dispatch_log: list[Started] = Field(default_factory=list, exclude=True)
    dispatch_batches: int = Field(default=0, exclude=True)
    # The rollout: executions written on publish, those the start step has dealt with (in thing-name order),
    # the current wave (from 0) with when its first execution started and when its gate was met, each wave's
    # counts, and whether a wave's gate paused it.
    total: int = Field(default=0, exclude=True)
    dispatched: int = Field(default=0, exclude=True)
    wave: int = Field(default=0, exclude=True)
    wave_started_at: datetime | None = Field(default=None, exclude=True)
    wave_met_at: datetime | None = Field(default=None, exclude=True)
    wave_counts: list[dict[str, int]] = Field(default_factory=list, exclude=True)
    paused_at_gate: bool = Field(default=False, exclude=True)
    resume_at: datetime | None = Field(default=None, exclude=True)  # when the waiting start step comes back
    # When the join and retry steps waiting for a maintenance window come back (epoch seconds): one wait each.
    join_wait_until: float | None = Field(default=None, exclude=True)
    retry_wait_until: float | None = Field(default=None, exclude=True)
    # A rerun: the command and the statuses of its executions that it targets (its `targets` are empty); and the
    # reruns made of this command.
    rerun_of: RerunOf | None = None
    reruns: list[str] = Field(default_factory=list)

    @property
    def percent_complete(self) -> float:
        """The share of executions that have ended, in percent."""
        total = sum(self.counts.values())
        ended = sum(count for status, count in self.counts.items() if status in TERMINAL)
        return round(100 * ended / total, 1) if total else 0.0

    def to_api(self) -> dict[str, Any]:
        data = super().to_api()
        data["counts"] = {status: count for status, count in self.counts.items() if count}
        data["percentComplete"] = self.percent_complete
        data["files"] = {file_id: ref.uri for file_id, ref in self.files.items()}
        if self.document is not None:
            data["document"] = self.document
        if (shown := rollout.view(self, datetime.now(UTC))) is not None:
            data["rollout"] = shown
        return data


def file_key(command_id: str, file_id: str) -> str:
    return f"commands/{command_id}/files/{file_id}"
