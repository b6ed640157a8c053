"""`Idempotency-Key` on the create routes: a retry with the key gets the first answer and creates nothing.

Powertools' idempotency utility keeps, per route and key, an in-progress record and then the answer, for a
day. A failed request keeps nothing, so its retry runs again. Powertools is imported on the first keyed
request only: most requests carry no key, and the import would cost every cold start.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from commands_core.errors import Conflict, InvalidInput, ServiceError
from commands_core.wiring import IDEMPOTENCY_KEY

HEADER = IDEMPOTENCY_KEY.name
EXPIRES_AFTER_SECONDS = 24 * 60 * 60
MAX_KEY_LENGTH = 255


def once(app: APIGatewayRestResolver, create: Callable[[], Response[str]]) -> Response[str]:
    """`create()`'s answer; with an Idempotency-Key, the answer the first request with that key got."""
    event = app.current_event
    key = event.headers.get(HEADER)
    if key is None:
        return create()
    if not (0 < len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isprintable()):
        raise InvalidInput(HEADER, f"must be 1 to {MAX_KEY_LENGTH} printable ASCII characters")

    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    from commands_core.dependencies import idempotency_store

    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="request",
        expires_after_seconds=EXPIRES_AFTER_SECONDS,
        raise_on_no_idempotency_key=True,
    )
    # The in-progress record of a function that dies mid-request expires with the function's remaining time.
    config.register_lambda_context(app.lambda_context)

    def answer(request: dict[str, str]) -> dict[str, Any]:
        response = create()
        return {"status": response.status_code, "headers": response.headers, "body": response.body}

    run = idempotent_function(
        answer,
        data_keyword_argument="request",
        persistence_store=idempotency_store(),
        config=config,
        key_prefix=_prefix(app),
    )
    try:
        first = run(request={"key": key, "request": _digest(app)})
    except IdempotencyValidationError:
        raise InvalidInput(HEADER, "was used for a different request; a new request needs a new key") from None
    except IdempotencyAlreadyInProgressError:
        raise Conflict(f"a request with this {HEADER} is still in progress; retry shortly") from None
    except IdempotencyPersistenceLayerError as error:
        # Powertools wraps what the idempotency table's client raised: AWS throttling or trouble is the 429/503
        # it would be anywhere else.
        if isinstance(error.__cause__, ServiceError):
            raise error.__cause__ from None
        raise
    return Response(status_code=first["status"], body=first["body"], headers=first["headers"])


def key_id(app: APIGatewayRestResolver) -> uuid.UUID | None:
    """With an Idempotency-Key, the id a create gives the resource when the request names none: the same for
    every retry with the key, so that a retry after a failure past the write (the dispatch message not sent,
    the answer not kept) finds that resource instead of making a second one."""
    event = app.current_event
    key = event.headers.get(HEADER)
    return None if key is None else uuid.uuid5(uuid.NAMESPACE_URL, f"{_prefix(app)}#{key}")


def command_id(app: APIGatewayRestResolver) -> str | None:
    """`key_id` as a command's id (the create and rerun routes)."""
    key = key_id(app)
    return key.hex if key else None


def _prefix(app: APIGatewayRestResolver) -> str:
    """Keys are per route."""
    return f"{app.current_event.http_method} {app.current_event.resource}"


def _digest(app: APIGatewayRestResolver) -> str:
    """What makes two requests the same request: the path and the body."""
    event = app.current_event
    return hashlib.sha256(f"{event.path}\n{event.body or ''}".encode()).hexdigest()
