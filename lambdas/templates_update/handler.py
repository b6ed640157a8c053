"""PATCH /templates/{templateId}: changes a template; the result is validated as on create."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http, v1
from commands_core.dependencies import template_repository
from commands_core.models.templates import TemplateChanges
from commands_core.services import templates

app = v1.resolver()


@http.route(app, "templates_update")
def update_template(templateId: str) -> Response[str]:
    templates.update(template_repository(), templateId, http.body(app, TemplateChanges))
    return v1.no_content(app)


lambda_handler = http.entrypoint(app)
