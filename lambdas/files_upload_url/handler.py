"""POST /commands/{commandId}/files/{fileId}/upload-url: a presigned URL to PUT a file too large for the API
(API Gateway and Lambda take request bodies of a few MB)."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http, v1
from commands_core.dependencies import ports
from commands_core.services import files

app = v1.resolver()


@http.route(app, "files_upload_url")
def upload_url(commandId: str, fileId: str) -> Response[str]:
    return v1.respond(app, 200, files.upload_url(ports(), commandId, fileId))


lambda_handler = http.entrypoint(app)
