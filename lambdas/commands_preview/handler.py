"""POST /commands/{commandId}/preview: what publishing the draft would do now, with nothing stored or sent."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http, v1
from commands_core.dependencies import ports
from commands_core.services import preview

app = v1.resolver()


@http.route(app, "commands_preview")
def preview_command(commandId: str) -> Response[str]:
    return v1.respond(app, 200, preview.of_draft(ports(), commandId))


lambda_handler = http.entrypoint(app)
