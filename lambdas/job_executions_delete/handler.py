"""DELETE /jobs/{jobId}/things/{thingName}: deletes one thing's execution."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http
from commands_core.api import jobs as api
from commands_core.dependencies import jobs_ports
from commands_core.services import jobs

app = api.resolver()


@http.route(app, "job_executions_delete")
def job_executions_delete(jobId: str, thingName: str) -> Response[str]:
    return api.ok(jobs.delete_execution(jobs_ports(), jobId, thingName, api.body(app)))


lambda_handler = http.entrypoint(app)
