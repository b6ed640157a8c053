"""GET /templates: lists templates, a page at a time."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http, v1
from commands_core.dependencies import template_repository
from commands_core.models import PageQuery
from commands_core.services import templates

app = v1.resolver()


@http.route(app, "templates_list")
def list_templates() -> Response[str]:
    query = http.query(app, PageQuery)
    found = templates.list_summaries(template_repository(), query.max_results, query.next_token)
    return v1.page(app, "results", [summary.to_api() for summary in found.items], found.next_token, query.max_results)


lambda_handler = http.entrypoint(app)
