"""Routes of the local runtime itself, under /_local/: a look at what the service did in the embedded AWS."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from local.api import LocalRoutes


def routes(iot: Any) -> LocalRoutes:
    def job(method: str, job_id: str, _: bytes) -> tuple[int, Any]:
        """GET /_local/iot/jobs/<jobId>: the job as AWS IoT holds it, its document and executions."""
        if method != "GET":
            return HTTPStatus.METHOD_NOT_ALLOWED, {"error": "only GET"}
        try:
            described = iot.describe_job(jobId=job_id)["job"]
        except iot.exceptions.ResourceNotFoundException:
            return HTTPStatus.NOT_FOUND, {"error": f"job '{job_id}' not found"}
        executions = iot.list_job_executions_for_job(jobId=job_id).get("executionSummaries", [])
        return HTTPStatus.OK, {
            "job": described,
            "document": iot.get_job_document(jobId=job_id).get("document"),
            "executions": [
                {"thingArn": item["thingArn"], "status": item["jobExecutionSummary"]["status"]} for item in executions
            ],
        }

    return {"/_local/iot/jobs/": job}
