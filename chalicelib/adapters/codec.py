"""The one DynamoDB codec: Python values to DynamoDB's typed attribute values and back, for every table adapter.

Built on boto3's ``TypeSerializer``/``TypeDeserializer`` (imported on first use: ``import app`` stays cheap).
Floats go through ``Decimal(str(x))``, so a float is stored as the number it prints as (0.9, not
0.9000000000000000222); numbers come back as ``Decimal``, as boto3 gives them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer


@cache
def _serializer() -> TypeSerializer:
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer()


@cache
def _deserializer() -> TypeDeserializer:
    from boto3.dynamodb.types import TypeDeserializer

    return TypeDeserializer()


def _storable(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {key: _storable(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(inner) for inner in value]
    return value


def attribute(value: Any) -> dict[str, Any]:
    """One Python value as a typed attribute value (``{"S": ...}``, ``{"N": ...}``, ``{"M": ...}`` ...)."""
    return cast("dict[str, Any]", _serializer().serialize(_storable(value)))


def item(values: Mapping[str, Any]) -> dict[str, Any]:
    """A whole item; ``None`` values are left out (DynamoDB keeps no attribute rather than a NULL)."""
    return {name: attribute(value) for name, value in values.items() if value is not None}


def plain_value(typed: Mapping[str, Any]) -> Any:
    """One typed attribute value as Python."""
    return _deserializer().deserialize(cast(Any, dict(typed)))


def plain_item(typed: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A whole item as plain Python values."""
    return {name: plain_value(value) for name, value in typed.items()}


def string(value: str) -> dict[str, str]:
    return {"S": value}


def number(value: float | int | Decimal) -> dict[str, str]:
    return {"N": str(Decimal(str(value)))}
