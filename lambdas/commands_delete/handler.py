"""DELETE /commands/{commandId}: deletes a draft; cancels a published command and marks it deleted."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http, v1
from commands_core.dependencies import ports
from commands_core.services import commands

app = v1.resolver()


@http.route(app, "commands_delete")
def delete_command(commandId: str) -> Response[str]:
    commands.delete(ports(), commandId, force=http.flag(app, "force"))
    return v1.no_content(app)


lambda_handler = http.entrypoint(app)
