"""GET /templates: lists templates, a page at a time."""

from aws_lambda_powertools.event_handler import Response
from pydantic import Field

from commands_core.api import http, v1
from commands_core.dependencies import template_repository
from commands_core.models import ApiModel
from commands_core.services import templates

app = v1.resolver()


class ListQuery(ApiModel):
    max_results: int = Field(default=25, ge=1, le=100)
    next_token: str | None = Field(default=None, min_length=1, max_length=4096)


@http.route(app, "templates_list")
def list_templates() -> Response[str]:
    query = http.query(app, ListQuery)
    page = templates.list_summaries(template_repository(), query.max_results, query.next_token)
    pagination: dict[str, object] = {"maxResults": query.max_results}
    if page.next_token:
        pagination["nextToken"] = page.next_token
    return v1.respond(app, 200, {"results": [summary.to_api() for summary in page.items], "pagination": pagination})


lambda_handler = http.entrypoint(app)
