"""PATCH /commands/{commandId}: edits a draft; status in_progress publishes, cancelled cancels (?force=true
also cancels executions in progress)."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http, v1
from commands_core.dependencies import ports
from commands_core.models.commands import CommandChanges
from commands_core.services import commands

app = v1.resolver()


@http.route(app, "commands_update")
def update_command(commandId: str) -> Response[str]:
    commands.update(ports(), commandId, http.body(app, CommandChanges), force=http.flag(app, "force"))
    return v1.no_content(app)


lambda_handler = http.entrypoint(app)
