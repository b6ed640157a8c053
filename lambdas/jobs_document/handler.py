"""GET /jobs/{jobId}/document: the job's document."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http
from commands_core.api import jobs as api
from commands_core.dependencies import jobs_ports
from commands_core.services import jobs

app = api.resolver()


@http.route(app, "jobs_document")
def jobs_document(jobId: str) -> Response[str]:
    return api.ok(jobs.job_document(jobs_ports(), jobId))


lambda_handler = http.entrypoint(app)
