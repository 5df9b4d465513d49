"""DynamoDB's typed attribute values, the two every adapter writes."""

from __future__ import annotations

from decimal import Decimal


def string(value: str) -> dict[str, str]:
    return {"S": value}


def number(value: float | int) -> dict[str, str]:
    # Through Decimal, so a float is written as the number it prints as (0.9, not 0.9000000000000000222).
    return {"N": str(Decimal(str(value)))}
