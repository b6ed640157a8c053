"""The Commands v1 family: its media type, its `{"error": ...}` body and its status codes."""

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

MEDIA_TYPE = "application/vnd.aws-cdf-v1.0+json"
_JSON = "application/json"

STATUSES: dict[type[ServiceError], HTTPStatus] = {
    InvalidInput: HTTPStatus.BAD_REQUEST,
    NotFound: HTTPStatus.NOT_FOUND,
    Conflict: HTTPStatus.CONFLICT,
    UnsupportedMediaType: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
}


def resolver(accepts: tuple[str, ...] = (MEDIA_TYPE, _JSON)) -> APIGatewayRestResolver:
    """The family's resolver; `accepts` are the request body media types of its route."""
    app = APIGatewayRestResolver()

    def check_media_types(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[str]:
        event = app.current_event
        if negotiate(event.headers.get("accept", "")) is None:
            raise UnsupportedMediaType(f"Accept: this API produces {MEDIA_TYPE} or {_JSON}")
        http.check_content_type(app, accepts)
        return next_middleware(app)

    app.use(middlewares=[check_media_types])
    http.map_errors(app, STATUSES, lambda status, message, headers: error_response(app, status, message, headers))
    return app


def respond(
    app: APIGatewayRestResolver, status: int, body: Any = None, headers: dict[str, str] | None = None
) -> Response[str]:
    """A success response in the media type the client accepts."""
    content = None if body is None else json.dumps(body, separators=(",", ":"))
    return Response(status, content_type=_media_type(app), body=content, headers=headers)


def page(
    app: APIGatewayRestResolver, key: str, items: list[Any], next_token: str | None, max_results: int
) -> Response[str]:
    """A page of a list: the items under `key`, and the API contract's pagination object."""
    pagination: dict[str, Any] = {"maxResults": max_results}
    if next_token:
        pagination["nextToken"] = next_token
    return respond(app, HTTPStatus.OK, {key: items, "pagination": pagination})


def created(app: APIGatewayRestResolver, path: str, body: Any = None) -> Response[str]:
    return respond(app, HTTPStatus.CREATED, body, headers={"location": location(app, path)})


def location(app: APIGatewayRestResolver, path: str) -> str:
    """`path` as the client reaches it: behind the stage (/v1) or a custom domain's base path, if any."""
    event = app.current_event
    full = event.request_context.path or event.path
    prefix = full[: -len(event.path)] if full.endswith(event.path) else ""
    return prefix + path


def no_content(app: APIGatewayRestResolver) -> Response[str]:
    return respond(app, HTTPStatus.NO_CONTENT)


def error_response(
    app: APIGatewayRestResolver, status: int, message: str, headers: dict[str, str] | None = None
) -> Response[str]:
    body: ErrorBody = {"error": message}
    return respond(app, status, body, headers=headers or None)


def _media_type(app: APIGatewayRestResolver) -> str:
    return negotiate(app.current_event.headers.get("accept", "")) or MEDIA_TYPE


def negotiate(accept: str) -> str | None:
    """The type to answer in for an Accept header: the v1 type unless the client prefers application/json;
    None when it accepts neither (q=0 refuses a type)."""
    if not accept.strip():
        return MEDIA_TYPE
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((media.lower(), quality))

    def quality_of(media: str) -> float:
        """The quality of the most specific range that matches `media` (exact, then type/*, then */*)."""
        for candidate in (media, media.split("/", maxsplit=1)[0] + "/*", "*/*"):
            matches = [quality for name, quality in ranges if name == candidate]
            if matches:
                return max(matches)
        return 0.0

    v1, plain = quality_of(MEDIA_TYPE), quality_of(_JSON)
    if max(v1, plain) <= 0:
        return None
    return _JSON if plain > v1 else MEDIA_TYPE
