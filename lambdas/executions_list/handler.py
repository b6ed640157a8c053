"""GET /commands/{commandId}/executions: a command's executions (thingName and status), a page at a time."""

from aws_lambda_powertools.event_handler import Response
from pydantic import Field

from commands_core.api import http, v1
from commands_core.dependencies import ports
from commands_core.models import ApiModel
from commands_core.models.executions import ExecutionStatus
from commands_core.services import executions

app = v1.resolver()


class ListQuery(ApiModel):
    status: ExecutionStatus | None = None
    max_results: int = Field(default=100, ge=1, le=250)
    next_token: str | None = Field(default=None, min_length=1, max_length=4096)


@http.route(app, "executions_list")
def list_executions(commandId: str) -> Response[str]:
    query = http.query(app, ListQuery)
    page = executions.list_executions(ports(), commandId, query.status, query.max_results, query.next_token)
    pagination: dict[str, object] = {"maxResults": query.max_results}
    if page.next_token:
        pagination["nextToken"] = page.next_token
    return v1.respond(app, 200, {"executions": [item.summary for item in page.items], "pagination": pagination})


lambda_handler = http.entrypoint(app)
