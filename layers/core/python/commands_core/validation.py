"""Pydantic validation with errors a client can act on: the first problem, named by its API field."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from commands_core.errors import InvalidInput
from commands_core.models import ID_PATTERN

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


_ID = re.compile(ID_PATTERN)


def check_id(field: str, value: str) -> None:
    """An id from a path, checked before it is used in a key."""
    if not _ID.fullmatch(value):
        raise InvalidInput(field, "must be 1-64 of [A-Za-z0-9_-]")


def json_value(text: str) -> Any:
    """Parses strict JSON (no NaN or Infinity); ValueError, with a reason a client can read, otherwise."""

    def reject(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    try:
        return json.loads(text, parse_constant=reject)
    except RecursionError:
        raise ValueError("is nested too deeply") from None


_THING_NAME = re.compile(r"[a-zA-Z0-9:_-]{1,128}")


def check_thing_name(value: str) -> None:
    if not _THING_NAME.fullmatch(value):
        raise InvalidInput("thingName", "must be 1-128 of [a-zA-Z0-9:_-]")


def holds(existing: BaseModel, request: BaseModel, derived: Collection[str] = ()) -> bool:
    """Whether `existing` holds what `request` asks, field by field of the request's model: a create retried
    after its first attempt succeeded finds its resource this way. A field in `derived`, which the resource
    fills in itself when the request leaves it out, counts only when the request gives it."""
    fields = set(type(request).model_fields) - (set(derived) - request.model_fields_set)
    return existing.model_dump(include=fields) == request.model_dump(include=fields)
