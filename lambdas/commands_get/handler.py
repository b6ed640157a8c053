"""GET /commands/{commandId}: returns a command with its progress counts."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http, v1
from commands_core.dependencies import ports
from commands_core.services import commands

app = v1.resolver()


@http.route(app, "commands_get")
def get_command(commandId: str) -> Response[str]:
    return v1.respond(app, 200, commands.get(ports(), commandId).to_api())


lambda_handler = http.entrypoint(app)
