"""What every HTTP function shares: its route from the wiring, body parsing and the Lambda entry point."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from commands_core import dependencies, wiring
from commands_core.clock import iso
from commands_core.errors import InvalidInput, RetryLater, ServiceError, Throttled, Unavailable, UnsupportedMediaType
from commands_core.observability import logger, publish_metrics
from commands_core.validation import json_body, parse

M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Any])

MAX_BODY_BYTES = 256 * 1024
# A file uploaded through the API, as the whole multipart form: base64-encoded by API Gateway it still fits
# Lambda's 6 MB request payload. Larger files take an upload URL.
MAX_FORM_BYTES = 4 * 1024 * 1024
_LARGER_FILES = "; a larger file takes an upload URL: POST /commands/{commandId}/files/{fileId}/upload-url"
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")  # RFC 6838
# What Powertools' resolver matches in a path segment; a parameter holding anything else matches no route.
_SEGMENT = re.compile(r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+")

# What AWS refused after the retries (adapters/aws.py classifies it), the same in every family.
RETRY_LATER: dict[type[ServiceError], HTTPStatus] = {
    Throttled: HTTPStatus.TOO_MANY_REQUESTS,
    Unavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}


def route(app: APIGatewayRestResolver, function: str) -> Callable[[F], F]:
    """Registers the decorated function for the route (each of its paths) that the wiring declares for
    `function`."""
    declared = wiring.route(function)

    def register(handler: F) -> F:
        for rule in declared.resolver_rules:
            app.route(rule=rule, method=declared.method)(handler)
        return handler

    return register


def map_errors(
    app: APIGatewayRestResolver,
    statuses: dict[type[ServiceError], HTTPStatus],
    error_response: Callable[[int, str, dict[str, str]], Response[str]],
) -> None:
    """A family's error mapping, in one place: domain errors to its status codes, AWS throttling to a 429 and
    AWS trouble to a 503 (both with Retry-After), a path parameter the resolver could not match to its
    field's 4xx (`InvalidInput`'s status), anything else to a 500 that tells no internals.
    `error_response(status, message, headers)` writes the family's body."""
    statuses = RETRY_LATER | statuses

    def service_error(error: ServiceError) -> Response[str]:
        status = next(code for kind, code in statuses.items() if isinstance(error, kind))
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RetryLater) else {}
        return error_response(status, error.message, headers)

    def unexpected(error: Exception) -> Response[str]:
        logger.exception("unhandled error")
        request_id = app.current_event.request_context.request_id
        return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error (request {request_id})", {})

    def no_route(_: Exception) -> Response[str]:
        # API Gateway routed the request here, so the path matched; a parameter the resolver could not match
        # (a character outside its segment pattern) is a bad id, not a missing route.
        parameters = app.current_event.path_parameters or {}
        if parameters:
            name = unmatched_parameter(parameters)
            return error_response(statuses[InvalidInput], f"{name}: has a character it cannot hold", {})
        return error_response(HTTPStatus.NOT_FOUND, f"no route for {app.current_event.path}", {})

    app.exception_handler(ServiceError)(service_error)
    app.exception_handler(Exception)(unexpected)
    app.not_found(no_route)


def unmatched_parameter(parameters: dict[str, str]) -> str:
    """The path parameter the resolver could not match (the first one if each would match)."""
    return next((name for name, value in parameters.items() if not _SEGMENT.fullmatch(value)), next(iter(parameters)))


def check_content_type(app: APIGatewayRestResolver, accepts: tuple[str, ...]) -> None:
    """UnsupportedMediaType (415) for a body whose Content-Type is none of `accepts` (`application/*+json`: any
    JSON media type with that suffix, RFC 6839). A body without a
    Content-Type is read as the route's type: clients that leave the header out mean JSON, and a body that is not
    is refused where it is parsed."""
    event = app.current_event
    content_type = media_types(event.headers.get("content-type", ""))
    if event.body and content_type and not any(_accepted(media, accepts) for media in content_type):
        raise UnsupportedMediaType(f"Content-Type: this route accepts {' or '.join(accepts)}")


def _accepted(media: str, accepts: tuple[str, ...]) -> bool:
    """Whether `accepts` takes the media type: by name, or as JSON with a suffix (`application/*+json`)."""
    suffixed = "application/*+json" in accepts and re.fullmatch(r"application/[^/*]+\+json", media) is not None
    return media in accepts or suffixed


def media_types(header: str) -> set[str]:
    """The media types of a Content-Type header, without parameters (charset)."""
    return {part.split(";")[0].strip().lower() for part in header.split(",") if part.strip()}


def json_default(value: Any) -> Any:
    """json.dumps' `default` for what AWS returns: timestamps as ISO 8601 UTC."""
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def json_object(app: APIGatewayRestResolver, *, required: bool = True) -> dict[str, Any]:
    """The request body, which must be a JSON object: UTF-8 holding an I-JSON message (`json_body`). Unless
    `required`, a body that is absent or only white space is an empty object."""
    raw = raw_body(app)
    if not raw.strip() and not required:
        return {}
    if not raw:
        raise InvalidInput("body", "is required")
    data = json_body(raw, as_text=not app.current_event.is_base64_encoded)
    if not isinstance(data, dict):
        raise InvalidInput("body", "must be a JSON object")
    return data


def raw_body(app: APIGatewayRestResolver, max_bytes: int = MAX_BODY_BYTES, hint: str = "") -> bytes:
    """The request body as bytes (binary media types arrive base64-encoded); InvalidInput naming `body` when
    it holds more than `max_bytes` (`hint` says what to do instead)."""
    body = app.current_event.body or ""
    encoded = app.current_event.is_base64_encoded
    # Measured before decoding too, so that a body far over the limit is never copied: base64 takes 4
    # characters for 3 bytes, UTF-8 at least a byte for a character.
    too_large = InvalidInput("body", f"must be at most {max_bytes} bytes{hint}")
    if len(body) > (4 * -(-max_bytes // 3) if encoded else max_bytes):
        raise too_large
    raw = base64.b64decode(body) if encoded else body.encode()
    if len(raw) > max_bytes:
        raise too_large
    return raw


def form_file(app: APIGatewayRestResolver, field: str) -> tuple[bytes, str]:
    """The content and type of the file in `field` of a multipart/form-data body."""
    from email import policy
    from email.parser import BytesParser

    content_type = app.current_event.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise InvalidInput("body", f"must be multipart/form-data with a field '{field}'")
    message = BytesParser(policy=policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw_body(app, MAX_FORM_BYTES, _LARGER_FILES)
    )
    for part in message.iter_parts() if message.is_multipart() else ():
        if part.get_param("name", header="content-disposition") == field:
            content = part.get_payload(decode=True)
            media_type = part.get_content_type()
            if not _MEDIA_TYPE.fullmatch(media_type):  # it becomes the object's Content-Type header in S3
                raise InvalidInput(field, f"has a Content-Type that is not a media type: {media_type[:64]!r}")
            return (content if isinstance(content, bytes) else b""), media_type
    raise InvalidInput(field, "is required: a multipart/form-data field holding the file")


def flag(app: APIGatewayRestResolver, name: str) -> bool:
    """A boolean query parameter: true or false (absent: false)."""
    value = parameters(app).get(name, "false").lower()
    if value not in ("true", "false"):
        raise InvalidInput(name, "must be true or false")
    return value == "true"


def body(app: APIGatewayRestResolver, model: type[M], *, required: bool = True) -> M:
    return parse(model, json_object(app, required=required))


def query(app: APIGatewayRestResolver, model: type[M]) -> M:
    return parse(model, parameters(app))


def parameters(app: APIGatewayRestResolver) -> dict[str, str]:
    """The query string's parameters. One given more than once must have one value: which a client meant is not
    for the service to guess (with dryRun=true&dryRun=false, the last that API Gateway passes on would create)."""
    for name, values in (app.current_event.multi_value_query_string_parameters or {}).items():
        if len(set(values)) > 1:
            raise InvalidInput(name, "is given more than once, with different values: give it once")
    return dict(app.current_event.query_string_parameters or {})


def entrypoint(app: APIGatewayRestResolver) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda handler: structured logs with the request's correlation id and the resource it is about
    (its path parameters, such as templateId), metrics and lifecycle events flushed per invocation."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
    @publish_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        # templateId -> template_id: the names the rest of the service's log lines use.
        parameters = event.get("pathParameters") or {}
        logger.append_keys(
            **{re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower(): value for name, value in parameters.items()}
        )
        try:
            return app.resolve(event, context)
        finally:
            dependencies.flush_events()

    return lambda_handler
