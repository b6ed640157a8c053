"""The Command Status family (seed 003): every response, errors included, is
`{"code": <HTTP status>, "message": "...", "content": ...}`; 400, 401 (API key), 404."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from commands_core.api import http
from commands_core.errors import Conflict, InvalidInput, NotFound, ServiceError, Throttled
from commands_core.models.responses import Envelope

STATUSES: dict[type[ServiceError], HTTPStatus] = {
    InvalidInput: HTTPStatus.BAD_REQUEST,
    NotFound: HTTPStatus.NOT_FOUND,
    Conflict: HTTPStatus.BAD_REQUEST,
    Throttled: HTTPStatus.TOO_MANY_REQUESTS,
}


def resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()
    http.map_errors(app, STATUSES, lambda status, message, headers: respond(status, message, None, headers))
    return app


def envelope(status: int, message: str, content: Any = None) -> str:
    return json.dumps(Envelope(code=int(status), message=message, content=content), default=http.json_default)


def respond(status: int, message: str, content: Any = None, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(status, content_type="application/json", body=envelope(status, message, content), headers=headers)


def ok(content: Any) -> Response[str]:
    return respond(HTTPStatus.OK, "OK", content)
