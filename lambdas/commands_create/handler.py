"""POST /commands: creates a command, and publishes it at once when its status is in_progress."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http, idempotency, v1
from commands_core.dependencies import ports
from commands_core.models.commands import NewCommand
from commands_core.services import commands

app = v1.resolver()


@http.route(app, "commands_create")
def create_command() -> Response[str]:
    return idempotency.once(app, create)


def create() -> Response[str]:
    key_id = idempotency.key_id(app)
    command = commands.create(ports(), http.body(app, NewCommand), default_id=key_id.hex if key_id else None)
    return v1.created(app, f"/commands/{command.command_id}", command.to_api())


lambda_handler = http.entrypoint(app)
