"""Pydantic validation with errors a client can act on: the first problem, named by its API field."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from commands_core.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)

_REASONS = {"missing": "is required", "extra_forbidden": "is not a field of this resource"}


def parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise invalid_input(error) from None


def invalid_input(error: ValidationError) -> InvalidInput:
    first = error.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    reason = _REASONS.get(first["type"]) or first["msg"].removeprefix("Value error, ")
    return InvalidInput(field, reason)
