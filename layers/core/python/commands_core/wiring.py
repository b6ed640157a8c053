"""The one wiring declaration: every route, as data.

The CDK stack builds an API Gateway method and a Lambda function per route from this list; the local runtime
serves the same list through the same handlers; each handler registers its own route from here, so a path
can't differ between the handler, the stack and the local runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Family = Literal["v1", "jobs", "status"]
Auth = Literal["iam", "api_key", "none"]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
ResourceName = Literal[
    "templates", "commands", "idempotency", "files", "dispatch", "membership", "presign", "events", "iot"
]


@dataclass(frozen=True)
class Access:
    """What one function may do to one resource of `resources.py` (or to AWS IoT): the IAM actions, no wider.

    `scope` narrows the resource: for "iot", the resource types (`thing/*`, `job/*`), or `*` for an action
    that has none (DescribeEndpoint); for a bucket, the keys.
    """

    resource: ResourceName
    actions: tuple[str, ...]
    scope: tuple[str, ...] = ()


# A type of the code, as "module:Name" (a pydantic model, a TypedDict, a type alias): the route names the very
# objects that validate its request and shape its response, and only the OpenAPI generator imports them all.
TypeRef = str


@dataclass(frozen=True)
class Body:
    """A request body: the model it is parsed with. `partial`: any subset of its fields (a PATCH merged onto
    the resource); `file_field`: a multipart/form-data upload of one file in that field instead."""

    model: TypeRef | None = None
    partial: bool = False
    required: bool = True
    file_field: str | None = None


@dataclass(frozen=True)
class Header:
    """A request header the route reads."""

    name: str
    description: str
    required: bool = False


@dataclass(frozen=True)
class Reply:
    """A success response: its status, the type of its body (for the status family, of its `content`), and the
    response headers it sets."""

    status: int
    body: TypeRef | None = None
    headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    function: str  # the folder lambdas/<function>/ holding handler.py
    method: Method
    path: str  # API Gateway syntax: /templates/{templateId}
    family: Family
    access: tuple[Access, ...] = ()
    description: str = ""
    aliases: tuple[str, ...] = ()  # more paths of the same operation (a contract's older revision)
    body: Body | None = None
    query: TypeRef | None = None  # the model the query string is parsed with
    flags: tuple[str, ...] = ()  # boolean query parameters (true or false) read with http.flag
    headers: tuple[Header, ...] = ()
    replies: tuple[Reply, ...] = (Reply(200),)

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path, *self.aliases)

    @property
    def resolver_rules(self) -> tuple[str, ...]:
        """The paths in Powertools' resolver syntax: `{templateId}` becomes `<templateId>`."""
        return tuple(path.replace("{", "<").replace("}", ">") for path in self.paths)


@dataclass(frozen=True)
class Consumer:
    """A function fed by an SQS queue of `resources.py`, reporting partial batch failures."""

    function: str
    queue: str
    batch_size: int
    timeout_seconds: int
    access: tuple[Access, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Rule:
    """An AWS IoT topic rule delivering matching messages into a queue of `resources.py`."""

    name: str
    topic_filter: str
    queue: str
    # (level, prefix): messages whose topic level (from 1, as topic(n) counts) starts with the prefix are left out.
    unless: tuple[int, str] | None = None

    @property
    def sql(self) -> str:
        # The event as AWS IoT publishes it, plus its topic (job events carry the job id only there).
        select = f"SELECT *, topic() AS topic FROM '{self.topic_filter}'"
        return select + (f" WHERE NOT startswith(topic({self.unless[0]}), '{self.unless[1]}')" if self.unless else "")

    def takes(self, topic: str) -> bool:
        """Whether the rule's WHERE lets a message of `topic` through (its filter matched)."""
        if self.unless is None:
            return True
        levels = topic.split("/")
        level, prefix = self.unless
        return not (len(levels) >= level and levels[level - 1].startswith(prefix))


@dataclass(frozen=True)
class Schedule:
    """A function run on a fixed rate (EventBridge in the stack, a timer in the local runtime)."""

    function: str
    every_minutes: int
    timeout_seconds: int
    access: tuple[Access, ...] = ()
    description: str = ""


# How each family is authorized unless the deployer chooses another mode (stacks/auth.py).
FAMILY_AUTH: dict[Family, Auth] = {"v1": "iam", "jobs": "iam", "status": "api_key"}

# Request bodies of these types reach the functions base64-encoded, as bytes.
BINARY_MEDIA_TYPES: tuple[str, ...] = ("multipart/form-data",)

_READ_TEMPLATE = Access("templates", ("dynamodb:GetItem",))
# Powertools idempotency: the in-progress record, its completion, and its removal when the request failed.
_IDEMPOTENT = Access("idempotency", ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"))
_READ_COMMAND = Access("commands", ("dynamodb:GetItem", "dynamodb:Query"))
_WRITE_COMMAND = Access("commands", ("dynamodb:PutItem", "dynamodb:UpdateItem"))
_ENQUEUE = Access("dispatch", ("sqs:SendMessage",))
# A function that changes a command's status or ends an execution tells it on the bus (lifecycle events).
_TELL = Access("events", ("events:PutEvents",))
# HeadObject of a file: GetObject, and ListBucket so that a missing file is a 404 rather than a 403.
_LOOK_FOR_FILES = (
    Access("files", ("s3:GetObject",), ("commands/*",)),
    Access("files", ("s3:ListBucket",), ("commands/*",)),
)
# Targets checked against AWS IoT (publishing), and resolved to every thing they reach (a preview).
_LOOK_UP_TARGETS = (
    Access("iot", ("iot:DescribeThing",), ("thing/*",)),
    Access("iot", ("iot:DescribeThingGroup", "iot:ListThingsInThingGroup"), ("thinggroup/*",)),
    Access("iot", ("iot:SearchIndex",), ("index/AWS_Things",)),
)
# A job's targets checked to exist before AWS IoT is asked to make anything for them.
_CHECK_JOB_TARGETS = (
    Access("iot", ("iot:DescribeThing",), ("thing/*",)),
    Access("iot", ("iot:DescribeThingGroup",), ("thinggroup/*",)),
)
_PUBLISH = (
    _READ_TEMPLATE,
    *_LOOK_FOR_FILES,  # files put with a presigned URL
    *_LOOK_UP_TARGETS,
    _ENQUEUE,
    _TELL,
)
_PREVIEW = "commands_core.models.responses:Preview"
# Before a cancel answers, AWS IoT stops starting anything of the command (its AWS IoT command deprecated, its job
# cancelled); the dispatch queue's cancel step does the rest.
_CANCEL = (
    _ENQUEUE,
    _TELL,
    Access("iot", ("iot:UpdateCommand",), ("command/*",)),
    Access("iot", ("iot:CancelJob",), ("job/*",)),
)

_READ_EXECUTION = Access("commands", ("dynamodb:GetItem", "dynamodb:Query"))
_RECORD_EXECUTIONS = Access(
    "commands", ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:PutItem")
)
_READ_JOB_EXECUTIONS = Access("iot", ("iot:ListJobExecutionsForJob",), ("job/*",))
_DELETE_COMMAND_GROUPS = Access("iot", ("iot:DeleteThingGroup",), ("thinggroup/command-*",))
# What follows an execution that ended (services/commands.settle): an abort criterion met cancels the command, a
# wave's gate it decides wakes the dispatch step, the last one completes the command (its group deleted).
_SETTLE = (*_CANCEL, _DELETE_COMMAND_GROUPS)
# Delivery command: executions are AWS IoT Commands' of a command on a thing.
_COMMAND_EXECUTIONS = ("command/*", "thing/*")
_READ_COMMAND_EXECUTIONS = Access("iot", ("iot:ListCommandExecutions",), _COMMAND_EXECUTIONS)

# The creates (templates, commands, reruns, jobs): a retry with the same key gets the first answer (api/idempotency.py).
IDEMPOTENCY_KEY = Header(
    "Idempotency-Key",
    "1-255 printable ASCII characters; a retry with the same key and request gets the first answer, for 24 hours",
)

V1_ROUTES: tuple[Route, ...] = (
    Route(
        "templates_create",
        "POST",
        "/templates",
        "v1",
        # GetItem: a retry with the same templateId is answered from the template it created.
        (Access("templates", ("dynamodb:PutItem", "dynamodb:GetItem")), _IDEMPOTENT),
        description="Registers a new template.",
        headers=(IDEMPOTENCY_KEY,),
        body=Body("commands_core.models.templates:TemplateFields"),
        replies=(Reply(201, headers=("Location",)),),
    ),
    Route(
        "templates_list",
        "GET",
        "/templates",
        "v1",
        (Access("templates", ("dynamodb:Query",)),),
        description="Lists templates.",
        query="commands_core.models:PageQuery",
        replies=(Reply(200, "commands_core.models.responses:TemplatePage"),),
    ),
    Route(
        "templates_get",
        "GET",
        "/templates/{templateId}",
        "v1",
        (_READ_TEMPLATE,),
        description="Returns a template.",
        replies=(Reply(200, "commands_core.models.templates:Template"),),
    ),
    Route(
        "templates_update",
        "PATCH",
        "/templates/{templateId}",
        "v1",
        (Access("templates", ("dynamodb:GetItem", "dynamodb:PutItem")),),
        description="Updates a template.",
        body=Body("commands_core.models.templates:TemplateChanges", partial=True),
        replies=(Reply(204),),
    ),
    Route(
        "templates_delete",
        "DELETE",
        "/templates/{templateId}",
        "v1",
        (Access("templates", ("dynamodb:DeleteItem",)), Access("commands", ("dynamodb:Query",))),
        description="Deletes a template no live command uses; one that does not exist (or no longer) is a 404.",
        replies=(Reply(204),),
    ),
    Route(
        "commands_create",
        "POST",
        "/commands",
        "v1",
        (_WRITE_COMMAND, _READ_COMMAND, *_PUBLISH, _IDEMPOTENT),
        description="Creates a command, and publishes it when its status is in_progress; with dryRun=true, answers "
        "what publishing it would do, with nothing stored or sent.",
        headers=(IDEMPOTENCY_KEY,),
        body=Body("commands_core.models.commands:NewCommand"),
        query="commands_core.models.commands:DryRun",
        replies=(Reply(201, "commands_core.models.responses:CommandView", headers=("Location",)), Reply(200, _PREVIEW)),
    ),
    Route(
        "commands_list",
        "GET",
        "/commands",
        "v1",
        (Access("commands", ("dynamodb:Query", "dynamodb:BatchGetItem")),),  # the commands, then their counts
        description="Lists commands, newest first.",
        query="commands_core.models.commands:CommandQuery",
        replies=(Reply(200, "commands_core.models.responses:CommandPage"),),
    ),
    Route(
        "commands_get",
        "GET",
        "/commands/{commandId}",
        "v1",
        (_READ_COMMAND,),
        description="Returns a command.",
        replies=(Reply(200, "commands_core.models.responses:CommandView"),),
    ),
    Route(
        "commands_update",
        "PATCH",
        "/commands/{commandId}",
        "v1",
        (
            Access("commands", ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem")),
            *_PUBLISH,
            *_SETTLE,
        ),
        description="Edits a draft command; publishes, pauses, resumes or cancels a command; changes the rollout "
        "rate and abort criteria of a published one.",
        body=Body("commands_core.models.commands:CommandChanges", partial=True),
        flags=("force",),
        replies=(Reply(204),),
    ),
    Route(
        "commands_delete",
        "DELETE",
        "/commands/{commandId}",
        "v1",
        (
            Access("commands", ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:DeleteItem")),
            _READ_TEMPLATE,  # a draft's files are the template's required files
            Access("files", ("s3:DeleteObject",), ("commands/*",)),
            Access("iot", ("iot:DeleteCommand",), ("command/*",)),
            *_CANCEL,
        ),
        description=(
            "Deletes a draft command; cancels a published one and marks it deleted. One that does not exist (also a"
            " draft deleted already) is a 404."
        ),
        flags=("force",),
        replies=(Reply(202, "commands_core.models.responses:CommandView"), Reply(204)),
    ),
    Route(
        "commands_preview",
        "POST",
        "/commands/{commandId}/preview",
        "v1",
        # Query: a rerun's things are its source's executions.
        (
            Access("commands", ("dynamodb:GetItem", "dynamodb:Query")),
            _READ_TEMPLATE,
            *_LOOK_FOR_FILES,
            *_LOOK_UP_TARGETS,
        ),
        description="Answers what publishing a draft command would do now, with nothing stored or sent.",
        replies=(Reply(200, _PREVIEW),),
    ),
    Route(
        "commands_rerun",
        "POST",
        "/commands/{commandId}/rerun",
        "v1",
        (
            # UpdateItem: the source's list of reruns; Query: a preview's things, the source's executions.
            Access("commands", ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query")),
            _READ_TEMPLATE,
            *_LOOK_FOR_FILES,
            # The source's files, at the version it published, copied to the rerun's own keys.
            Access("files", ("s3:GetObjectVersion", "s3:PutObject"), ("commands/*/files/*",)),
            _ENQUEUE,
            _TELL,  # published at once (status in_progress)
            _IDEMPOTENT,
        ),
        description="Creates a command that runs this one again on the things whose executions are in the statuses "
        "given, and publishes it when its status is in_progress; with dryRun=true, answers what that would do.",
        headers=(IDEMPOTENCY_KEY,),
        body=Body("commands_core.models.commands:RerunRequest", required=False),
        query="commands_core.models.commands:DryRun",
        replies=(Reply(201, "commands_core.models.responses:CommandView", headers=("Location",)), Reply(200, _PREVIEW)),
    ),
    Route(
        "files_upload",
        "PUT",
        "/commands/{commandId}/files/{fileId}",
        "v1",
        (
            Access("commands", ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem")),
            _READ_TEMPLATE,
            Access("files", ("s3:PutObject",), ("commands/*",)),
        ),
        description="Uploads a file of a draft command (multipart/form-data, field file).",
        body=Body(file_field="file"),
        replies=(Reply(201, headers=("Location",)),),
    ),
    Route(
        "files_delete",
        "DELETE",
        "/commands/{commandId}/files/{fileId}",
        "v1",
        (
            Access("commands", ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem")),
            _READ_TEMPLATE,
            *_LOOK_FOR_FILES,
            Access("files", ("s3:DeleteObject",), ("commands/*",)),
        ),
        description="Deletes a file of a draft command.",
        replies=(Reply(204),),
    ),
    Route(
        "files_upload_url",
        "POST",
        "/commands/{commandId}/files/{fileId}/upload-url",
        "v1",
        (_READ_COMMAND, _READ_TEMPLATE, Access("files", ("s3:PutObject",), ("commands/*",))),
        description="Returns a presigned URL to upload a file too large for the API.",
        replies=(Reply(200, "commands_core.models.responses:UploadUrl"),),
    ),
    Route(
        "executions_list",
        "GET",
        "/commands/{commandId}/executions",
        "v1",
        (Access("commands", ("dynamodb:GetItem", "dynamodb:Query")),),
        description="Lists a command's executions, optionally those in one status.",
        query="commands_core.models.executions:ExecutionQuery",
        replies=(Reply(200, "commands_core.models.responses:ExecutionPage"),),
    ),
    Route(
        "executions_get",
        "GET",
        "/commands/{commandId}/executions/{thingName}",
        "v1",
        (_READ_EXECUTION, Access("iot", ("iot:GetCommandExecution",), _COMMAND_EXECUTIONS)),
        description="Returns one thing's execution of a command, with its history (and the device's result).",
        replies=(Reply(200, "commands_core.models.responses:ExecutionsView"),),
    ),
    Route(
        "executions_cancel",
        "DELETE",
        "/commands/{commandId}/executions/{thingName}",
        "v1",
        (
            Access("commands", ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:Query")),
            Access("iot", ("iot:CancelJobExecution", "iot:DescribeJobExecution"), ("job/*", "thing/*")),
            *_SETTLE,
        ),
        description="Cancels one thing's execution (?force=true for one in progress).",
        flags=("force",),
        replies=(Reply(204),),
    ),
)

_JOB = ("job/*",)
_JOB_AND_TARGETS = ("job/*", "thing/*", "thinggroup/*")
_JOB_EXECUTION = ("job/*", "thing/*")
_JOB_TEMPLATE = ("jobtemplate/*",)


def _jobs_route(
    function: str,
    method: Method,
    path: str,
    access: tuple[Access, ...],
    *,
    description: str,
    aliases: tuple[str, ...] = (),
    headers: tuple[Header, ...] = (),
    body: Body | None = None,
    query: TypeRef | None = None,
    replies: tuple[Reply, ...],
) -> Route:
    return Route(
        function,
        method,
        path,
        "jobs",
        access,
        description=description,
        aliases=aliases,
        headers=headers,
        body=body,
        query=query,
        replies=replies,
    )


# The Jobs API: AWS IoT Jobs as they are; both revisions' paths of the executions lists.
JOB_ROUTES: tuple[Route, ...] = (
    _jobs_route(
        "jobs_create",
        "POST",
        "/jobs",
        (
            Access("iot", ("iot:CreateJob",), (*_JOB_AND_TARGETS, *_JOB_TEMPLATE)),
            Access("iot", ("iot:DescribeJobTemplate",), _JOB_TEMPLATE),  # a job from a template: it exists
            *_CHECK_JOB_TARGETS,
            Access("presign", ("iam:PassRole",)),  # presignedUrlConfig: the service's presign role only
            # A retry with the same jobId is answered from the job it created.
            Access("iot", ("iot:DescribeJob", "iot:GetJobDocument"), ("job/*",)),
            _IDEMPOTENT,
        ),
        description=(
            "Creates an AWS IoT job (targetSelection SNAPSHOT when absent); a target AWS IoT has no thing or thing"
            " group for is a 422 naming every such target, and nothing is created."
        ),
        headers=(IDEMPOTENCY_KEY,),
        body=Body("commands_core.models.jobs_api:NewJob"),
        replies=(Reply(200, "commands_core.models.responses:JobCreated"),),
    ),
    _jobs_route(
        "jobs_list",
        "GET",
        "/jobs",
        (Access("iot", ("iot:ListJobs",), ("*",)),),
        description="Lists AWS IoT jobs.",
        query="commands_core.models.jobs_api:ListQuery",
        replies=(Reply(200, "commands_core.models.responses:JobList"),),
    ),
    _jobs_route(
        "jobs_get",
        "GET",
        "/jobs/{jobId}",
        (Access("iot", ("iot:DescribeJob",), _JOB),),
        description="Returns a job.",
        replies=(Reply(200, "commands_core.models.responses:JobView"),),
    ),
    _jobs_route(
        "jobs_document",
        "GET",
        "/jobs/{jobId}/document",
        (Access("iot", ("iot:GetJobDocument",), _JOB),),
        description="Returns a job's document.",
        replies=(Reply(200, "commands_core.models.responses:JobDocument"),),
    ),
    _jobs_route(
        "jobs_update",
        "PUT",
        "/jobs/{jobId}",
        (Access("iot", ("iot:UpdateJob",), _JOB), Access("presign", ("iam:PassRole",))),
        description="Changes a job's description and configurations.",
        body=Body("commands_core.models.jobs_api:JobChanges", required=False),
        replies=(Reply(200, "commands_core.models.responses:Updated"),),
    ),
    _jobs_route(
        "jobs_associate",
        "PUT",
        "/jobs/{jobId}/associate",
        (Access("iot", ("iot:DescribeJob", "iot:AssociateTargetsWithJob"), _JOB_AND_TARGETS), *_CHECK_JOB_TARGETS),
        description="Adds targets to a continuous job; unknown targets are a 422 naming each, and none is added.",
        body=Body("commands_core.models.jobs_api:Association"),
        replies=(Reply(200, "commands_core.models.responses:Associated"),),
    ),
    _jobs_route(
        "jobs_cancel",
        "PUT",
        "/jobs/{jobId}/cancel",
        (Access("iot", ("iot:CancelJob",), _JOB),),
        description="Cancels a job.",
        body=Body("commands_core.models.jobs_api:JobCancel", required=False),
        replies=(Reply(200, "commands_core.models.responses:Canceled"),),
    ),
    _jobs_route(
        "jobs_delete",
        "DELETE",
        "/jobs/{jobId}",
        (Access("iot", ("iot:DeleteJob",), _JOB),),
        description="Deletes a job; one that does not exist (also one deleted already) is a 404.",
        body=Body("commands_core.models.jobs_api:Force", required=False),
        replies=(Reply(200, "commands_core.models.responses:Deleted"),),
    ),
    _jobs_route(
        "job_executions_get",
        "GET",
        "/jobs/{jobId}/things/{thingName}",
        (Access("iot", ("iot:DescribeJobExecution",), _JOB_EXECUTION),),
        description="Returns one thing's execution of a job.",
        replies=(Reply(200, "commands_core.models.responses:JobExecutionView"),),
    ),
    _jobs_route(
        "job_executions_cancel",
        "PUT",
        "/jobs/{jobId}/things/{thingName}/cancel",
        (Access("iot", ("iot:CancelJobExecution",), _JOB_EXECUTION),),
        description="Cancels one thing's execution of a job.",
        body=Body("commands_core.models.jobs_api:ExecutionCancel", required=False),
        replies=(Reply(200, "commands_core.models.responses:Canceled"),),
    ),
    _jobs_route(
        "job_executions_delete",
        "DELETE",
        "/jobs/{jobId}/things/{thingName}",
        (Access("iot", ("iot:DescribeJobExecution", "iot:DeleteJobExecution"), _JOB_EXECUTION),),
        description="Deletes one thing's execution of a job; one that does not exist (or no longer) is a 404.",
        body=Body("commands_core.models.jobs_api:ExecutionDelete", required=False),
        replies=(Reply(200, "commands_core.models.responses:Deleted"),),
    ),
    _jobs_route(
        "job_executions_of_job",
        "GET",
        "/jobs/{jobId}/status",
        (Access("iot", ("iot:ListJobExecutionsForJob",), _JOB),),
        description="Lists a job's executions.",
        aliases=("/jobs-executions/jobs/{jobId}",),
        query="commands_core.models.jobs_api:ListQuery",
        replies=(Reply(200, "commands_core.models.responses:ExecutionsOfJob"),),
    ),
    _jobs_route(
        "job_executions_of_thing",
        "GET",
        "/things/{thingName}/jobs",
        (Access("iot", ("iot:DescribeThing", "iot:ListJobExecutionsForThing"), ("thing/*",)),),
        description="Lists a thing's job executions.",
        aliases=("/jobs-executions/things/{thingName}",),
        query="commands_core.models.jobs_api:ListQuery",
        replies=(Reply(200, "commands_core.models.responses:ExecutionsOfThing"),),
    ),
    _jobs_route(
        "job_templates_create",
        "POST",
        "/job-templates",
        (Access("iot", ("iot:CreateJobTemplate",), _JOB_TEMPLATE), Access("presign", ("iam:PassRole",))),
        description="Creates an AWS IoT job template.",
        body=Body("commands_core.models.jobs_api:NewJobTemplate"),
        replies=(Reply(200, "commands_core.models.responses:JobTemplateCreated"),),
    ),
    _jobs_route(
        "job_templates_list",
        "GET",
        "/job-templates",
        (Access("iot", ("iot:ListJobTemplates",), ("*",)),),
        description="Lists job templates.",
        query="commands_core.models.jobs_api:ListQuery",
        replies=(Reply(200, "commands_core.models.responses:JobTemplateList"),),
    ),
    _jobs_route(
        "job_templates_get",
        "GET",
        "/job-templates/{jobTemplateId}",
        (Access("iot", ("iot:DescribeJobTemplate",), _JOB_TEMPLATE),),
        description="Returns a job template.",
        replies=(Reply(200, "commands_core.models.responses:JobTemplateView"),),
    ),
    _jobs_route(
        "job_templates_delete",
        "DELETE",
        "/job-templates/{jobTemplateId}",
        (Access("iot", ("iot:DeleteJobTemplate",), _JOB_TEMPLATE),),
        description="Deletes a job template; one that does not exist (also one deleted already) is a 404.",
        replies=(Reply(200, "commands_core.models.responses:Deleted"),),
    ),
)
# The Command Status API and the device inbox, over the executions; an API key in the stack.
_READ_STATUSES = Access("commands", ("dynamodb:GetItem", "dynamodb:Query"))
_REPORT = (
    Access("commands", ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:PutItem")),
    *_SETTLE,
)
STATUS_ROUTES: tuple[Route, ...] = (
    Route(
        "status_list",
        "GET",
        "/commands/v0/status",
        "status",
        (_READ_STATUSES, Access("commands", ("dynamodb:BatchGetItem",))),
        description="Lists command statuses (filters request, device, state, exclude_internal_commands).",
        query="commands_core.models.status:StatusQuery",
        replies=(Reply(200, "commands_core.models.responses:StatusPage"),),
    ),
    Route(
        "status_get",
        "GET",
        "/commands/v0/status/{id}",
        "status",
        (_READ_STATUSES,),
        description="Returns a status.",
        replies=(Reply(200, "commands_core.models.responses:StatusView"),),
    ),
    Route(
        "status_update",
        "PUT",
        "/commands/v0/status/{id}",
        "status",
        _REPORT,
        description="A device reports the state of its execution.",
        body=Body("commands_core.models.status:StatusUpdate"),
        replies=(Reply(200, "commands_core.models.responses:StatusView"),),
    ),
    Route(
        "inbox_fetch",
        "GET",
        "/v2/command-inbox",
        "status",
        (
            Access("commands", ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem")),
            _READ_TEMPLATE,
            Access("files", ("s3:GetObject",), ("commands/*/published/*",)),  # the URLs it presigns
        ),
        description="A device fetches its pending commands (device_id); inbox ones become Command Initiated.",
        query="commands_core.models.status:InboxQuery",
        replies=(Reply(200, "commands_core.models.responses:Inbox"),),
    ),
)
ROUTES: tuple[Route, ...] = (*V1_ROUTES, *JOB_ROUTES, *STATUS_ROUTES)

CONSUMERS: tuple[Consumer, ...] = (
    Consumer(
        "commands_dispatch",
        queue="dispatch",
        batch_size=1,
        timeout_seconds=300,
        access=(
            # PutItem: an execution AWS IoT lists that the table lacks, a joiner's, a watched group's item (which
            # DeleteItem removes once the command ended).
            Access(
                "commands",
                (
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:BatchWriteItem",
                    "dynamodb:Query",
                ),
            ),
            Access("iot", ("iot:ListThingsInThingGroup",), ("thinggroup/*",)),
            Access("iot", ("iot:SearchIndex",), ("index/AWS_Things",)),
            Access("iot", ("iot:CreateThingGroup", "iot:AddThingToThingGroup"), ("thinggroup/command-*", "thing/*")),
            _DELETE_COMMAND_GROUPS,
            _READ_JOB_EXECUTIONS,  # cancelling: what AWS IoT could cancel
            _READ_TEMPLATE,
            # Freezing the files: a copy of the published version, to keys no upload URL reaches.
            Access("files", ("s3:GetObject", "s3:GetObjectVersion"), ("commands/*/files/*",)),
            Access("files", ("s3:PutObject",), ("commands/*/published/*",)),
            # DescribeJob: a retried create finds the job it made before.
            Access(
                "iot",
                ("iot:CreateJob", "iot:CancelJob", "iot:DescribeJob"),
                ("job/*", "thinggroup/*"),
            ),
            Access("presign", ("iam:PassRole",)),
            # Delivery command. GetObject: the URLs of published files this role presigns for devices.
            Access("files", ("s3:GetObject",), ("commands/*/published/*",)),
            Access("iot", ("iot:CreateCommand", "iot:GetCommand", "iot:UpdateCommand"), ("command/*",)),
            Access("iot", ("iot:StartCommandExecution",), _COMMAND_EXECUTIONS),
            Access("iot", ("iot:DescribeEndpoint",), ("*",)),  # the iot:Jobs data endpoint
            _READ_COMMAND_EXECUTIONS,  # cancelling: which executions started
            _ENQUEUE,
            _TELL,  # a scheduled start, a wave's gate that pauses, the end time, executions cancelled
        ),
        description="Expands a published command's targets and delivers it: a job, an AWS IoT command, an inbox.",
    ),
    Consumer(
        "status_ingest",
        queue="status",
        batch_size=10,
        timeout_seconds=60,
        access=(
            _RECORD_EXECUTIONS,
            Access("commands", ("dynamodb:Query",)),
            _READ_JOB_EXECUTIONS,
            # Whether AWS IoT has an execution for a thing the table does not (it joined a CONTINUOUS job's group).
            Access("iot", ("iot:DescribeJobExecution",), _JOB_EXECUTION),
            *_SETTLE,
        ),
        description="Applies AWS IoT job and command execution events to executions and commands.",
    ),
    Consumer(
        "targets_join",
        queue="membership",
        batch_size=10,
        timeout_seconds=60,
        access=(
            # The commands watching a group (a Query), and one transaction per joiner: its execution and the
            # command's count of joiners (PutItem and UpdateItem).
            Access("commands", ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem")),
            Access("iot", ("iot:DescribeThingGroup",), ("thinggroup/*",)),  # the group's ancestors
            Access("iot", ("iot:DescribeThing",), ("thing/*",)),  # the thing is still in the registry
            _ENQUEUE,  # the dispatch step that starts the joiner's execution
        ),
        description="Gives a thing added to a thing group that a CONTINUOUS command targets its execution.",
    ),
)

# AWS IoT events of jobs, executions and group membership, at least once and in any order.
RULES: tuple[Rule, ...] = (
    Rule("job_execution_events", "$aws/events/jobExecution/+/+", queue="status"),
    Rule("job_events", "$aws/events/job/+/+", queue="status"),
    Rule("command_execution_events", "$aws/events/commandExecution/+/+", queue="status"),
    # A thing that leaves a group keeps its execution: only additions are routed. The service's own groups (the
    # jobs' `command-<commandId>`, which every job start fills) are left out.
    Rule(
        "membership_events",
        "$aws/events/thingGroupMembership/thingGroup/+/thing/+/added",
        queue="membership",
        unless=(5, "command-"),
    ),
)

# The account's AWS IoT event configurations the service needs enabled: the rules above see nothing without them.
EVENT_CONFIGURATIONS: tuple[str, ...] = ("JOB", "JOB_EXECUTION", "THING_GROUP_MEMBERSHIP")

SCHEDULES: tuple[Schedule, ...] = (
    Schedule(
        "reconcile",
        every_minutes=5,
        timeout_seconds=300,
        access=(
            Access(
                "commands",
                (
                    "dynamodb:GetItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:PutItem",
                    "dynamodb:Query",
                    "dynamodb:BatchGetItem",
                ),
            ),
            _READ_JOB_EXECUTIONS,
            _READ_COMMAND_EXECUTIONS,
            *_SETTLE,
        ),
        description="Re-reads executions of active commands from AWS IoT, times out unanswered ones and resumes "
        "stalled publishing.",
    ),
)

_BY_FUNCTION = {route.function: route for route in ROUTES}


def route(function: str) -> Route:
    """The route served by `lambdas/<function>/`."""
    return _BY_FUNCTION[function]


def functions() -> tuple[Route | Consumer | Schedule, ...]:
    """Every function of the service: one per route, queue consumer and schedule."""
    return (*ROUTES, *CONSUMERS, *SCHEDULES)
