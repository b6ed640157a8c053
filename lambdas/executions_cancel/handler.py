"""DELETE /commands/{commandId}/executions/{thingName}: cancels one thing's execution (?force=true for one in
progress)."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http, v1
from commands_core.dependencies import ports
from commands_core.services import executions

app = v1.resolver()


@http.route(app, "executions_cancel")
def cancel_execution(commandId: str, thingName: str) -> Response[str]:
    executions.cancel(ports(), commandId, thingName, force=http.flag(app, "force"))
    return v1.no_content(app)


lambda_handler = http.entrypoint(app)
