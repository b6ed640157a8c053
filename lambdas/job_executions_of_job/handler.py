"""GET /jobs/{jobId}/status and /jobs-executions/jobs/{jobId}: the job's executions."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http
from commands_core.api import jobs as api
from commands_core.dependencies import jobs_ports
from commands_core.services import jobs

app = api.resolver()


@http.route(app, "job_executions_of_job")
def job_executions_of_job(jobId: str) -> Response[str]:
    return api.ok(
        jobs.executions_of_job(jobs_ports(), jobId, http.parameters(app), second_revision=api.second_revision(app))
    )


lambda_handler = http.entrypoint(app)
