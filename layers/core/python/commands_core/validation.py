"""Pydantic validation with errors a client can act on: the first problem, named by its API field."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection
from typing import Any, TypeAlias, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from commands_core.errors import InvalidInput, Problems
from commands_core.models import ID_PATTERN, THING_NAME_PATTERN

M = TypeVar("M", bound=BaseModel)

_REASONS = {"missing": "is required", "extra_forbidden": "is not a field of this resource"}
_REFUSED = "refused_field"


def parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise invalid_input(error) from None


def parse_all(model: type[M], data: dict[str, Any], problems: Problems) -> M | None:
    """`parse` reporting every problem of `data` to `problems` (collecting): the fields in error are reported and
    left out, and the rest validated again (a check of the whole model runs once its fields are valid), until it
    validates; None when it cannot without them (a required field missing or wrong)."""
    left_out: set[str] = set()
    while True:
        try:
            return model.model_validate(data)
        except ValidationError as error:
            found = _problems(error)
            for key, problem in found:
                # A field left out for its problem is not reported again as missing: it was given.
                if not (key in left_out and problem.reason == _REASONS["missing"]):
                    problems.add(problem)
            wrong = {key for key, _ in found} & data.keys()
            if not wrong:
                return None
            left_out |= wrong
            data = {key: value for key, value in data.items() if key not in wrong}


def invalid_input(error: ValidationError) -> InvalidInput:
    return _problems(error)[0][1]


def _problems(error: ValidationError) -> list[tuple[str, InvalidInput]]:
    """Each problem, named by its API field, with the top-level key of the data it is in."""
    found: list[tuple[str, InvalidInput]] = []
    for detail in error.errors(include_url=False):
        loc = [str(part) for part in detail["loc"]]
        if detail["type"] == _REFUSED:
            context = detail.get("ctx", {})
            loc.append(context["field"])
            problem = InvalidInput(".".join(loc), context["reason"])
        else:
            reason = _REASONS.get(detail["type"]) or detail["msg"].removeprefix("Value error, ")
            problem = InvalidInput(".".join(loc) or "body", reason)
        found.append((loc[0] if loc else "", problem))
    return found


def refused(field: str, reason: str) -> PydanticCustomError:
    """What a model's validator raises to refuse a field of the data it was given (a validator of the whole
    model has the model's place, not the field's): `invalid_input` names the field."""
    return PydanticCustomError(_REFUSED, "{field}: {reason}", {"field": field, "reason": reason})


_ID = re.compile(ID_PATTERN)
_THING_NAME = re.compile(THING_NAME_PATTERN)


def is_id(value: str) -> bool:
    """A template, command, file, job or job-template id: no dot, slash, backslash, percent sign, control or
    non-ASCII character, so that it is one segment of any S3 key or DynamoDB key it goes into."""
    return bool(_ID.fullmatch(value))


def is_thing_name(value: str) -> bool:
    return bool(_THING_NAME.fullmatch(value))


def check_id(field: str, value: str) -> None:
    """An id from a path, checked before it is used in a key."""
    if not is_id(value):
        raise InvalidInput(field, "must be 1-64 of [A-Za-z0-9_-]")


def check_thing_name(value: str, field: str = "thingName") -> None:
    """A thing name from a path or query, checked before it is used in a key or an AWS IoT call."""
    if not is_thing_name(value):
        raise InvalidInput(field, "must be a thing name: 1-128 of [a-zA-Z0-9:_-]")


def json_value(text: str, *, unique_keys: bool = False) -> Any:
    """Parses strict JSON (no NaN or Infinity; with `unique_keys`, no object naming a key twice, which parsers
    resolve differently); ValueError, with a reason a client can read, otherwise."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"has the key {key!r} twice in one object")
            seen.add(key)
        return dict(pairs)

    try:
        return json.loads(text, parse_constant=_not_json, object_pairs_hook=unique if unique_keys else None)
    except RecursionError:
        raise ValueError("is nested too deeply") from None


MAX_EXACT_INTEGER = 2**53 - 1
"""The largest integer every JSON parser reads exactly: an IEEE 754 double holds no larger one exactly."""

NOT_UTF8 = "is not valid UTF-8"
_SURROGATE = re.compile("[\ud800-\udfff]")
_NON_ZERO_DIGIT = re.compile("[1-9]")


def json_body(raw: bytes, *, as_text: bool = False) -> Any:
    """A request body's JSON value: UTF-8, decoded strictly, holding an I-JSON message (RFC 7493), so that
    every parser reads the values this one does. InvalidInput otherwise, naming `body` when the body is not
    UTF-8 or not JSON, else the field where the problem is (`body` for the top level):

    - an object naming a key twice;
    - a number that is not a finite IEEE 754 double (1e400), or written as non-zero but rounding to zero
      (1e-400);
    - an integer (written without a fraction or an exponent, which say double to every parser) outside
      ±(2**53 - 1): one parser reads it exactly, another rounds it;
    - a string or key holding a lone surrogate (an escape such as "\\ud800"): no Unicode text, it fails
      wherever it is encoded.

    `as_text`: the body reached the function as text (API Gateway hands a body that is not of a binary media
    type to Lambda as a string), in which every byte that was not UTF-8 has already been replaced by U+FFFD.
    A raw U+FFFD in such a body cannot be told from one, so it is refused; a client meaning U+FFFD writes the
    escape \\ufffd, which arrives intact."""
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise InvalidInput("body", NOT_UTF8) from None
    if as_text and "\ufffd" in text:
        raise InvalidInput(
            "body",
            f"{NOT_UTF8}: it holds U+FFFD, which stands for bytes that were not UTF-8 "
            "(a U+FFFD meant as such is written \\ufffd)",
        )
    try:
        value = json.loads(
            text, parse_constant=_not_json, object_pairs_hook=_object, parse_float=_double, parse_int=_integer
        )
    except RecursionError:
        raise InvalidInput("body", "is nested too deeply") from None
    except json.JSONDecodeError:
        raise InvalidInput("body", "is not valid JSON") from None
    except ValueError as error:  # NaN or Infinity: not JSON at all, like any other syntax
        raise InvalidInput("body", str(error)) from None
    _check_values(value)
    return value


class _Refused:
    """What the body parser puts in place of a value it refuses, for `_check_values` to name its field: the
    parser itself does not know where it is."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any] | _Refused:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return _Refused(f"has the key {_shown(key)!r} twice in one object")
        seen.add(key)
    return dict(pairs)


def _double(literal: str) -> float | _Refused:
    value = float(literal)
    if math.isinf(value):
        return _Refused(f"the number {_shown(literal)} is out of range: beyond what a double holds")
    if value == 0 and _NON_ZERO_DIGIT.search(literal.lower().partition("e")[0]):
        return _Refused(f"the number {_shown(literal)} is out of range: too small to tell from zero")
    return value


def _integer(literal: str) -> int | _Refused:
    # A literal longer than any exact integer is refused unread: int() of thousands of digits is slow.
    if len(literal) <= len(str(-MAX_EXACT_INTEGER)) and abs(value := int(literal)) <= MAX_EXACT_INTEGER:
        return value
    return _Refused(
        f"the number {_shown(literal)} is out of range: "
        f"integers are exact only from {-MAX_EXACT_INTEGER} to {MAX_EXACT_INTEGER}"
    )


_Path: TypeAlias = tuple[str | int, "_Path"] | None
"""A field's place in the body: its key or index, and its parent's place (None at the top)."""


def _check_values(value: Any) -> None:
    """InvalidInput naming the field of the first refused value, or of the first string or key holding a lone
    surrogate (a pair of surrogate escapes is parsed into one character, so any surrogate left stands alone),
    in the order of the text. Walked with a stack, not recursion, as the value may be nested as deeply as the
    parser takes; each entry links to its parent's, so that a path is only spelled out for the one refused."""
    pending: list[tuple[Any, _Path]] = [(value, None)]
    while pending:
        item, path = pending.pop()
        reason = None
        if isinstance(item, _Refused):
            reason = item.reason
        elif isinstance(item, str):
            reason = _lone_surrogate(item, "a string")
        elif isinstance(item, dict):
            reason = next((found for key in item if (found := _lone_surrogate(key, "a key"))), None)
            pending.extend((item[key], (key, path)) for key in reversed(item))
        elif isinstance(item, list):
            pending.extend((item[index], (index, path)) for index in reversed(range(len(item))))
        if reason:
            parts: list[str] = []
            while path is not None:
                part, path = path
                parts.append(_shown(str(part)))
            raise InvalidInput(".".join(reversed(parts)) or "body", reason)


def _lone_surrogate(text: str, what: str) -> str | None:
    if text.isascii() or not (found := _SURROGATE.search(text)):
        return None
    return f"{what} holds the lone surrogate \\u{ord(found.group()):04x}, which is not Unicode"


def _shown(text: str) -> str:
    """`text` as a reason quotes it: at most 40 characters, so that a reason stays short whatever was sent."""
    return text if len(text) <= 40 else text[:37] + "..."


def holds(existing: BaseModel, request: BaseModel, derived: Collection[str] = ()) -> bool:
    """Whether `existing` holds what `request` asks, field by field of the request's model: a create retried
    after its first attempt succeeded finds its resource this way. A field in `derived`, which the resource
    fills in itself when the request leaves it out, counts only when the request gives it."""
    fields = set(type(request).model_fields) - (set(derived) - request.model_fields_set)
    return existing.model_dump(include=fields) == request.model_dump(include=fields)
