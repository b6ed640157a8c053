"""DynamoDB item conversion, shared by the repositories."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    """Attribute values of `data`; None is left out, floats become Decimals (DynamoDB has no float)."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {name: serializer.serialize(_decimals(value)) for name, value in data.items() if value is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """Plain values of an item; numbers as int or float (models validate JSON numbers strictly)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {name: _numbers(deserializer.deserialize(value)) for name, value in item.items()}


def _decimals(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _decimals(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_decimals(inner) for inner in value]
    return value


def _numbers(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _numbers(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_numbers(inner) for inner in value]
    return value
