"""GET /job-templates: job templates (`nextToken`, `maxResults`)."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http
from commands_core.api import jobs as api
from commands_core.dependencies import jobs_ports
from commands_core.services import jobs

app = api.resolver()


@http.route(app, "job_templates_list")
def job_templates_list() -> Response[str]:
    return api.ok(jobs.list_templates(jobs_ports(), http.parameters(app)))


lambda_handler = http.entrypoint(app)
