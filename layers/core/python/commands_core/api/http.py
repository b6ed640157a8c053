"""What every HTTP function shares: its route from the wiring, body parsing and the Lambda entry point."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from commands_core import wiring
from commands_core.errors import InvalidInput
from commands_core.models import ApiModel
from commands_core.observability import logger, metrics
from commands_core.validation import json_value, parse

M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Any])

MAX_BODY_BYTES = 256 * 1024


def route(app: APIGatewayRestResolver, function: str) -> Callable[[F], F]:
    """Registers the decorated function for the route that the wiring declares for `function`."""
    declared = wiring.route(function)
    return app.route(rule=declared.resolver_rule, method=declared.method)


def json_object(app: APIGatewayRestResolver) -> dict[str, Any]:
    """The request body, which must be a JSON object."""
    raw = raw_body(app)
    if not raw:
        raise InvalidInput("body", "is required")
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidInput("body", f"must be at most {MAX_BODY_BYTES} bytes")
    try:
        data = json_value(raw.decode())
    except UnicodeDecodeError:
        raise InvalidInput("body", "must be UTF-8 JSON") from None
    except ValueError as error:
        reason = str(error) if "nested" in str(error) or "not JSON" in str(error) else "is not valid JSON"
        raise InvalidInput("body", reason) from None
    if not isinstance(data, dict):
        raise InvalidInput("body", "must be a JSON object")
    return data


def raw_body(app: APIGatewayRestResolver) -> bytes:
    """The request body as bytes (binary media types arrive base64-encoded)."""
    body = app.current_event.body or ""
    return base64.b64decode(body) if app.current_event.is_base64_encoded else body.encode()


def form_file(app: APIGatewayRestResolver, field: str) -> tuple[bytes, str]:
    """The content and type of the file in `field` of a multipart/form-data body."""
    from email import policy
    from email.parser import BytesParser

    content_type = app.current_event.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise InvalidInput("body", f"must be multipart/form-data with a field '{field}'")
    message = BytesParser(policy=policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw_body(app)
    )
    for part in message.iter_parts() if message.is_multipart() else ():
        if part.get_param("name", header="content-disposition") == field:
            content = part.get_payload(decode=True)
            return (content if isinstance(content, bytes) else b""), part.get_content_type()
    raise InvalidInput(field, "is required: a multipart/form-data field holding the file")


def flag(app: APIGatewayRestResolver, name: str) -> bool:
    """A boolean query parameter: true or false (absent: false)."""
    value = app.current_event.query_string_parameters.get(name, "false").lower()
    if value not in ("true", "false"):
        raise InvalidInput(name, "must be true or false")
    return value == "true"


class PageQuery(ApiModel):
    """The query of a list route: page size and continuation token."""

    max_results: int = Field(default=25, ge=1, le=100)
    next_token: str | None = Field(default=None, min_length=1, max_length=4096)


def body(app: APIGatewayRestResolver, model: type[M]) -> M:
    return parse(model, json_object(app))


def query(app: APIGatewayRestResolver, model: type[M]) -> M:
    return parse(model, app.current_event.query_string_parameters or {})


def entrypoint(app: APIGatewayRestResolver) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda handler: structured logs with the request's correlation id and the resource it is about
    (its path parameters, such as templateId), metrics flushed per invocation."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        logger.append_keys(**(event.get("pathParameters") or {}))
        return app.resolve(event, context)

    return lambda_handler
