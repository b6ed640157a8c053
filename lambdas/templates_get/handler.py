"""GET /templates/{templateId}: returns a template."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http, v1
from commands_core.dependencies import template_repository
from commands_core.services import templates

app = v1.resolver()


@http.route(app, "templates_get")
def get_template(templateId: str) -> Response[str]:
    return v1.respond(app, 200, templates.get(template_repository(), templateId).to_api())


lambda_handler = http.entrypoint(app)
