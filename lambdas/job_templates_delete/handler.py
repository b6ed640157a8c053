"""DELETE /job-templates/{jobTemplateId}: deletes a job template."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http
from commands_core.api import jobs as api
from commands_core.dependencies import jobs_ports
from commands_core.services import jobs

app = api.resolver()


@http.route(app, "job_templates_delete")
def job_templates_delete(jobTemplateId: str) -> Response[str]:
    return api.ok(jobs.delete_template(jobs_ports(), jobTemplateId))


lambda_handler = http.entrypoint(app)
