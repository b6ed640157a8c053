"""The Jobs family: JSON in and out, `{"error": "<reason>"}` with the API contract's 404 and 422 (a request
this service or AWS IoT refuses), 415 for a body that is not JSON by its Content-Type (application/json or a
`+json` type; one without a Content-Type is read as JSON, as in the v1 family), 429 or 503 with Retry-After when
AWS throttles or fails."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from commands_core.api import http
from commands_core.errors import Conflict, InvalidInput, NotFound, ServiceError, UnsupportedMediaType

if TYPE_CHECKING:  # the bodies' types, for mypy only: a function does not import every reply's type
    from commands_core.models.responses import ErrorBody

STATUSES: dict[type[ServiceError], HTTPStatus] = {
    InvalidInput: HTTPStatus.UNPROCESSABLE_ENTITY,
    NotFound: HTTPStatus.NOT_FOUND,
    Conflict: HTTPStatus.UNPROCESSABLE_ENTITY,
    UnsupportedMediaType: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
}
# JSON by any name: clients of this service's v1 family send its application/vnd.aws-cdf-v1.0+json here too.
_JSON = ("application/json", "application/*+json")


def resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()

    def check_content_type(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[str]:
        http.check_content_type(app, _JSON)
        return next_middleware(app)

    app.use(middlewares=[check_content_type])
    http.map_errors(app, STATUSES, lambda status, message, headers: respond(status, _error(message), headers))
    return app


def _error(message: str) -> ErrorBody:
    return {"error": message}


def respond(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    content = json.dumps(body, separators=(",", ":"), default=http.json_default)
    return Response(status, content_type="application/json", body=content, headers=headers or None)


def ok(body: Any) -> Response[str]:
    return respond(HTTPStatus.OK, body)


def body(app: APIGatewayRestResolver) -> dict[str, Any]:
    """The request's JSON object; none at all is an empty one (the contract's PUT and DELETE bodies are optional)."""
    return http.json_object(app, required=False)


def second_revision(app: APIGatewayRestResolver) -> bool:
    """Whether the request came to a path of the document's second revision (/jobs-executions/...)."""
    return app.current_event.path.startswith("/jobs-executions/")
