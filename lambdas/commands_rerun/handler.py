"""POST /commands/{commandId}/rerun: a new command that runs this one again on the things whose executions are
in the statuses asked. With ?dryRun=true: what creating and publishing it would do, with nothing stored or sent."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http, idempotency, v1
from commands_core.dependencies import ports
from commands_core.models.commands import DryRun, RerunRequest
from commands_core.services import rerun

app = v1.resolver()


@http.route(app, "commands_rerun")
def rerun_command(commandId: str) -> Response[str]:
    if http.query(app, DryRun).dry_run:
        request = http.body(app, RerunRequest, required=False)
        return v1.respond(app, 200, rerun.preview_of(ports(), commandId, request, idempotency.command_id(app)))
    return idempotency.once(app, lambda: create(commandId))


def create(source_id: str) -> Response[str]:
    request = http.body(app, RerunRequest, required=False)
    command = rerun.create(ports(), source_id, request, default_id=idempotency.command_id(app))
    return v1.created(app, f"/commands/{command.command_id}", command.to_api())


lambda_handler = http.entrypoint(app)
