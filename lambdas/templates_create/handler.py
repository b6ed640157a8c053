"""POST /templates: registers a new template."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http, idempotency, v1
from commands_core.dependencies import template_repository
from commands_core.models.templates import TemplateFields
from commands_core.observability import metrics
from commands_core.services import templates

app = v1.resolver()


@http.route(app, "templates_create")
def create_template() -> Response[str]:
    return idempotency.once(app, create)


def create() -> Response[str]:
    template = templates.create(template_repository(), http.body(app, TemplateFields))
    metrics.add_metric(name="TemplateCreated", unit="Count", value=1)
    return v1.created(app, f"/templates/{template.template_id}")


lambda_handler = http.entrypoint(app)
