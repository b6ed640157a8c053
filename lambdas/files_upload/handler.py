"""PUT /commands/{commandId}/files/{fileId}: uploads a required file of a draft command (multipart/form-data,
field `file`)."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http, v1
from commands_core.dependencies import ports
from commands_core.services import files

app = v1.resolver(accepts=("multipart/form-data",))


@http.route(app, "files_upload")
def upload_file(commandId: str, fileId: str) -> Response[str]:
    content, content_type = http.form_file(app, "file")
    files.upload(ports(), commandId, fileId, content, content_type)
    return v1.created(app, f"/commands/{commandId}/files/{fileId}")


lambda_handler = http.entrypoint(app)
