"""GET /commands: lists commands, newest first, optionally those in one status."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http, v1
from commands_core.dependencies import ports
from commands_core.models.commands import CommandQuery
from commands_core.services import commands

app = v1.resolver()


@http.route(app, "commands_list")
def list_commands() -> Response[str]:
    query = http.query(app, CommandQuery)
    found = commands.list_commands(ports(), query.status, query.max_results, query.next_token)
    return v1.page(app, "results", [command.to_api() for command in found.items], found.next_token, query.max_results)


lambda_handler = http.entrypoint(app)
