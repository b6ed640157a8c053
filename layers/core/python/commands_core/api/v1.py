"""The Commands v1 family: its media type, its `{"error": ...}` body and its status codes."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from commands_core.errors import Conflict, InvalidInput, NotFound, ServiceError, UnsupportedMediaType
from commands_core.observability import logger

MEDIA_TYPE = "application/vnd.aws-cdf-v1.0+json"
_JSON = "application/json"
_ACCEPTED = {MEDIA_TYPE, _JSON, "application/*", "*/*"}

_STATUS: dict[type[ServiceError], HTTPStatus] = {
    InvalidInput: HTTPStatus.BAD_REQUEST,
    NotFound: HTTPStatus.NOT_FOUND,
    Conflict: HTTPStatus.CONFLICT,
    UnsupportedMediaType: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
}


def resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()
    app.use(middlewares=[_check_media_types])

    def service_error(error: ServiceError) -> Response[str]:
        status = next(code for kind, code in _STATUS.items() if isinstance(error, kind))
        return error_response(app, status, error.message)

    def unexpected(error: Exception) -> Response[str]:
        logger.exception("unhandled error")
        request_id = app.current_event.request_context.request_id
        return error_response(app, HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error (request {request_id})")

    def no_route(_: Exception) -> Response[str]:
        return error_response(app, HTTPStatus.NOT_FOUND, f"no route for {app.current_event.path}")

    app.exception_handler(ServiceError)(service_error)
    app.exception_handler(Exception)(unexpected)
    app.not_found(no_route)
    return app


def respond(
    app: APIGatewayRestResolver, status: int, body: Any = None, headers: dict[str, str] | None = None
) -> Response[str]:
    """A success response in the media type the client accepts."""
    content = None if body is None else json.dumps(body, separators=(",", ":"))
    return Response(status, content_type=_media_type(app), body=content, headers=headers)


def created(app: APIGatewayRestResolver, location: str) -> Response[str]:
    return respond(app, HTTPStatus.CREATED, headers={"location": location})


def no_content(app: APIGatewayRestResolver) -> Response[str]:
    return respond(app, HTTPStatus.NO_CONTENT)


def error_response(app: APIGatewayRestResolver, status: int, message: str) -> Response[str]:
    return respond(app, status, {"error": message})


def _check_media_types(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[str]:
    event = app.current_event
    accept = _types(event.headers.get("accept", ""))
    if accept and not accept & _ACCEPTED:
        raise UnsupportedMediaType(f"Accept: this API produces {MEDIA_TYPE} or {_JSON}")
    content_type = _types(event.headers.get("content-type", ""))
    if event.body and content_type and not content_type & {MEDIA_TYPE, _JSON}:
        raise UnsupportedMediaType(f"Content-Type: this API accepts {MEDIA_TYPE} or {_JSON}")
    return next_middleware(app)


def _media_type(app: APIGatewayRestResolver) -> str:
    """application/json only for a client that asks for it and not for the v1 type."""
    accept = _types(app.current_event.headers.get("accept", ""))
    return _JSON if _JSON in accept and MEDIA_TYPE not in accept else MEDIA_TYPE


def _types(header: str) -> set[str]:
    """The media types of an Accept or Content-Type header, without parameters (charset, q)."""
    return {part.split(";")[0].strip().lower() for part in header.split(",") if part.strip()}
