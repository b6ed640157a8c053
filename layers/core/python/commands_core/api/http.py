"""What every HTTP function shares: its route from the wiring, body parsing and the Lambda entry point."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from commands_core import wiring
from commands_core.errors import InvalidInput
from commands_core.observability import logger, metrics
from commands_core.validation import parse

M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Any])

MAX_BODY_BYTES = 256 * 1024


def route(app: APIGatewayRestResolver, function: str) -> Callable[[F], F]:
    """Registers the decorated function for the route that the wiring declares for `function`."""
    declared = wiring.route(function)
    return app.route(rule=declared.resolver_rule, method=declared.method)


def json_object(app: APIGatewayRestResolver) -> dict[str, Any]:
    """The request body, which must be a JSON object."""
    body = app.current_event.decoded_body
    if not body:
        raise InvalidInput("body", "is required")
    if len(body.encode()) > MAX_BODY_BYTES:
        raise InvalidInput("body", f"must be at most {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body)
    except ValueError:
        raise InvalidInput("body", "is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("body", "must be a JSON object")
    return data


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
