"""GET /commands: lists commands, newest first, optionally those in one status."""

from aws_lambda_powertools.event_handler import Response
from pydantic import Field

from commands_core.api import http, v1
from commands_core.dependencies import ports
from commands_core.models import ApiModel
from commands_core.models.commands import CommandStatus
from commands_core.services import commands

app = v1.resolver()


class ListQuery(ApiModel):
    status: CommandStatus | None = None
    max_results: int = Field(default=25, ge=1, le=100)
    next_token: str | None = Field(default=None, min_length=1, max_length=4096)


@http.route(app, "commands_list")
def list_commands() -> Response[str]:
    query = http.query(app, ListQuery)
    page = commands.list_commands(ports(), query.status, query.max_results, query.next_token)
    pagination: dict[str, object] = {"maxResults": query.max_results}
    if page.next_token:
        pagination["nextToken"] = page.next_token
    return v1.respond(app, 200, {"results": [command.to_api() for command in page.items], "pagination": pagination})


lambda_handler = http.entrypoint(app)
