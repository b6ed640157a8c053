"""The Command Status family: every response, errors included, is
`{"code": <HTTP status>, "message": "...", "content": ...}`; 400, 401 (API key), 404."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from commands_core.api import http
from commands_core.errors import Conflict, InvalidInput, NotFound, ServiceError

if TYPE_CHECKING:  # the bodies' types, for mypy only: a function does not import every reply's type
    from commands_core.models.responses import Envelope

STATUSES: dict[type[ServiceError], HTTPStatus] = {
    InvalidInput: HTTPStatus.BAD_REQUEST,
    NotFound: HTTPStatus.NOT_FOUND,
    Conflict: HTTPStatus.BAD_REQUEST,
}


def resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()
    http.map_errors(app, STATUSES, lambda status, message, headers: respond(status, message, None, headers))
    return app


def envelope(status: int, message: str, content: Any = None) -> str:
    body: Envelope = {"code": int(status), "message": message, "content": content}
    return json.dumps(body, default=http.json_default)


def respond(status: int, message: str, content: Any = None, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(status, content_type="application/json", body=envelope(status, message, content), headers=headers)


def ok(content: Any) -> Response[str]:
    return respond(HTTPStatus.OK, "OK", content)
