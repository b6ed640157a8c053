"""PUT /jobs/{jobId}/cancel: cancels the job (`comment`, `force`)."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http
from commands_core.api import jobs as api
from commands_core.dependencies import jobs_ports
from commands_core.services import jobs

app = api.resolver()


@http.route(app, "jobs_cancel")
def jobs_cancel(jobId: str) -> Response[str]:
    return api.ok(jobs.cancel_job(jobs_ports(), jobId, api.body(app)))


lambda_handler = http.entrypoint(app)
