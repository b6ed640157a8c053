"""DELETE /jobs/{jobId}: deletes the job (`force`)."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http
from commands_core.api import jobs as api
from commands_core.dependencies import jobs_ports
from commands_core.services import jobs

app = api.resolver()


@http.route(app, "jobs_delete")
def jobs_delete(jobId: str) -> Response[str]:
    return api.ok(jobs.delete_job(jobs_ports(), jobId, api.body(app)))


lambda_handler = http.entrypoint(app)
