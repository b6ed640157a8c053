"""Pages of results and their opaque continuation tokens.

A token holds the key values of the last item of a page, which the next request gives DynamoDB as the key to
start after (ExclusiveStartKey: a value, never part of an expression). Those values are whatever the table
holds, a thing name of any characters among them, so a token carries each value base64-encoded (a value of
control characters would take six times its size in JSON) and takes any value DynamoDB could hold in a key.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from commands_core.errors import InvalidInput

T = TypeVar("T")

_VERSION = "2"
_PLAIN = "1"  # tokens issued before values were encoded: still taken, so a listing under way goes on
# DynamoDB's limit of a sort key (1,024 bytes), less the longest prefix the table puts before a value it keys
# (`execution#` before a thing name): a value past it could be no item's key.
_MAX_VALUE_BYTES = 1024 - len("execution#")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_token: str | None


def encode_token(position: Mapping[str, str]) -> str:
    """An opaque token for the position after which the next page starts."""
    after = {field: _b64encode(value.encode()) for field, value in position.items()}
    raw = json.dumps({"v": _VERSION, "after": after}, separators=(",", ":"), sort_keys=True)
    return _b64encode(raw.encode())


def decode_token(token: str, fields: frozenset[str]) -> dict[str, str]:
    """The position in `token`; a 400 naming nextToken when it is not one this service issued for `fields`."""
    refused = InvalidInput("nextToken", "is not a token this API issued")
    try:
        data = json.loads(_b64decode(token))
    except (binascii.Error, ValueError):
        raise refused from None
    version = data.get("v") if isinstance(data, dict) else None
    position = data.get("after") if version in (_VERSION, _PLAIN) else None
    if not isinstance(position, dict) or set(position) != fields:
        raise refused
    decoded: dict[str, str] = {}
    for field, value in position.items():
        try:
            decoded[field] = _b64decode(value).decode() if version == _VERSION else value
            size = len(decoded[field].encode())
        except (AttributeError, TypeError, binascii.Error, ValueError):  # not text, or not UTF-8
            raise refused from None
        if not 0 < size <= _MAX_VALUE_BYTES:
            raise refused
    return decoded


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64decode(text: str) -> bytes:
    # validate: a character outside the alphabet is an error, not skipped (a token has one spelling).
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
