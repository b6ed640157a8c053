"""GET /commands/v0/status/: command statuses (request, device, state, exclude_internal_commands, limit, offset)."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http
from commands_core.api import status as api
from commands_core.dependencies import ports
from commands_core.services import status

app = api.resolver()


@http.route(app, "status_list")
def status_list() -> Response[str]:
    return api.ok(status.list_statuses(ports(), http.parameters(app)))


lambda_handler = http.entrypoint(app)
