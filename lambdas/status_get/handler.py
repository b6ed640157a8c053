"""GET /commands/v0/status/{id}/: one command status."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http
from commands_core.api import status as api
from commands_core.dependencies import ports
from commands_core.services import status

app = api.resolver()


@http.route(app, "status_get")
def status_get(id: str) -> Response[str]:
    return api.ok(status.get_status(ports(), id))


lambda_handler = http.entrypoint(app)
