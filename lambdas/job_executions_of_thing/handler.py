"""GET /things/{thingName}/jobs and /jobs-executions/things/{thingName}: a thing's job executions."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http
from commands_core.api import jobs as api
from commands_core.dependencies import jobs_ports
from commands_core.services import jobs

app = api.resolver()


@http.route(app, "job_executions_of_thing")
def job_executions_of_thing(thingName: str) -> Response[str]:
    return api.ok(
        jobs.executions_of_thing(
            jobs_ports(), thingName, http.parameters(app), second_revision=api.second_revision(app)
        )
    )


lambda_handler = http.entrypoint(app)
