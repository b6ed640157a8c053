"""POST /jobs: creates an AWS IoT job ({"created": true, "jobId", "jobArn"})."""

from aws_lambda_powertools.event_handler import Response

from commands_core.api import http, idempotency
from commands_core.api import jobs as api
from commands_core.dependencies import jobs_ports
from commands_core.services import jobs

app = api.resolver()


@http.route(app, "jobs_create")
def jobs_create() -> Response[str]:
    return idempotency.once(app, create)


def create() -> Response[str]:
    key_id = idempotency.key_id(app)
    return api.ok(jobs.create_job(jobs_ports(), api.body(app), default_id=str(key_id) if key_id else None))


lambda_handler = http.entrypoint(app)
