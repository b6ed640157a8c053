"""GET /commands/{commandId}/executions: a command's executions (thingName and status), a page at a time."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http, v1
from commands_core.dependencies import ports
from commands_core.models.executions import ExecutionQuery
from commands_core.services import executions

app = v1.resolver()


@http.route(app, "executions_list")
def list_executions(commandId: str) -> Response[str]:
    query = http.query(app, ExecutionQuery)
    found = executions.list_executions(ports(), commandId, query.status, query.max_results, query.next_token)
    return v1.page(app, "executions", [item.summary for item in found.items], found.next_token, query.max_results)


lambda_handler = http.entrypoint(app)
