"""POST /commands: creates a command, and publishes it at once when its status is in_progress. With
?dryRun=true: what publishing it would do, with nothing stored or sent."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http, idempotency, v1
from commands_core.dependencies import ports
from commands_core.models.commands import DryRun, NewCommand
from commands_core.services import commands, preview

app = v1.resolver()


@http.route(app, "commands_create")
def create_command() -> Response[str]:
    if http.query(app, DryRun).dry_run:  # the body's field errors are in the answer, not a 400
        return v1.respond(app, 200, preview.of_new(ports(), http.json_object(app), idempotency.command_id(app)))
    return idempotency.once(app, create)


def create() -> Response[str]:
    command = commands.create(ports(), http.body(app, NewCommand), default_id=idempotency.command_id(app))
    return v1.created(app, f"/commands/{command.command_id}", command.to_api())


lambda_handler = http.entrypoint(app)
