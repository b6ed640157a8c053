"""GET /v2/command-inbox/?device_id=: a device's pending commands, oldest first."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http
from commands_core.api import status as api
from commands_core.dependencies import ports
from commands_core.models.status import InboxQuery
from commands_core.services import status

app = api.resolver()


@http.route(app, "inbox_fetch")
def inbox_fetch() -> Response[str]:
    return api.ok(status.inbox(ports(), http.query(app, InboxQuery).device_id))


lambda_handler = http.entrypoint(app)
