"""DELETE /commands/{commandId}: deletes a draft; cancels a published command and marks it deleted. 202 (with
the command) while AWS IoT holds the deletion of its AWS IoT command pending, 204 otherwise."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http, v1
from commands_core.dependencies import ports
from commands_core.services import commands

app = v1.resolver()


@http.route(app, "commands_delete")
def delete_command(commandId: str) -> Response[str]:
    if commands.delete(ports(), commandId, force=http.flag(app, "force")):
        return v1.respond(app, HTTPStatus.ACCEPTED, commands.get(ports(), commandId).to_api())
    return v1.no_content(app)


lambda_handler = http.entrypoint(app)
