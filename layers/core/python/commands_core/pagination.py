"""Pages of results and their opaque continuation tokens."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from commands_core.errors import InvalidInput

T = TypeVar("T")

_VERSION = "1"
_VALUE = re.compile(r"[A-Za-z0-9_.:+-]{1,128}")  # ids and timestamps, the only values a position holds


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_token: str | None


def encode_token(position: Mapping[str, str]) -> str:
    """An opaque token for the position after which the next page starts."""
    raw = json.dumps({"v": _VERSION, "after": dict(position)}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str, fields: frozenset[str]) -> dict[str, str]:
    """The position in `token`; a 400 naming nextToken when it is not one this service issued for `fields`."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise InvalidInput("nextToken", "is not a token this API issued") from None
    position = data.get("after") if isinstance(data, dict) and data.get("v") == _VERSION else None
    if (
        not isinstance(position, dict)
        or set(position) != fields
        or not all(isinstance(value, str) and _VALUE.fullmatch(value) for value in position.values())
    ):
        raise InvalidInput("nextToken", "is not a token this API issued")
    return position
