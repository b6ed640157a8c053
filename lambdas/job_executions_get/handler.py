"""GET /jobs/{jobId}/things/{thingName}: one thing's execution of the job."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http
from commands_core.api import jobs as api
from commands_core.dependencies import jobs_ports
from commands_core.services import jobs

app = api.resolver()


@http.route(app, "job_executions_get")
def job_executions_get(jobId: str, thingName: str) -> Response[str]:
    return api.ok(jobs.get_execution(jobs_ports(), jobId, thingName))


lambda_handler = http.entrypoint(app)
