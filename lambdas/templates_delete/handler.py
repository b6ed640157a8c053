"""DELETE /templates/{templateId}: deletes a template that no live command uses."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http, v1
from commands_core.dependencies import command_repository, template_repository
from commands_core.services import templates

app = v1.resolver()


@http.route(app, "templates_delete")
def delete_template(templateId: str) -> Response[str]:
    templates.delete(template_repository(), templateId, command_repository().live_commands_of_template)
    return v1.no_content(app)


lambda_handler = http.entrypoint(app)
