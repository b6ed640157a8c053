"""GET /commands/{commandId}/executions/{thingName}: one thing's execution, with details, history and (delivery
command) the device's result."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http, v1
from commands_core.dependencies import ports
from commands_core.services import executions

app = v1.resolver()


@http.route(app, "executions_get")
def get_execution(commandId: str, thingName: str) -> Response[str]:
    return v1.respond(app, 200, {"executions": [executions.describe(ports(), commandId, thingName)]})


lambda_handler = http.entrypoint(app)
