"""DELETE /commands/{commandId}/files/{fileId}: deletes a file of a draft command."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http, v1
from commands_core.dependencies import ports
from commands_core.services import files

app = v1.resolver()


@http.route(app, "files_delete")
def delete_file(commandId: str, fileId: str) -> Response[str]:
    files.delete(ports(), commandId, fileId)
    return v1.no_content(app)


lambda_handler = http.entrypoint(app)
