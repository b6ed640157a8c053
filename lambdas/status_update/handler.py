"""PUT /commands/v0/status/{id}/: a device reports its state (and reason)."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http
from commands_core.api import status as api
from commands_core.dependencies import ports
from commands_core.models.status import StatusUpdate
from commands_core.services import status

app = api.resolver()


@http.route(app, "status_update")
def status_update(id: str) -> Response[str]:
    return api.ok(status.update_status(ports(), id, http.body(app, StatusUpdate)))


lambda_handler = http.entrypoint(app)
