"""GET /jobs/{jobId}: the job as AWS IoT describes it."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http
from commands_core.api import jobs as api
from commands_core.dependencies import jobs_ports
from commands_core.services import jobs

app = api.resolver()


@http.route(app, "jobs_get")
def jobs_get(jobId: str) -> Response[str]:
    return api.ok(jobs.get_job(jobs_ports(), jobId))


lambda_handler = http.entrypoint(app)
