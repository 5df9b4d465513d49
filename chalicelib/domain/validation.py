"""One way to say what is wrong with input pydantic refused: ``"author.followers: Input should be ..."``."""

from __future__ import annotations

from pydantic import ValidationError


def describe_validation_error(exc: ValidationError, limit: int | None = 3, root: str = "body") -> str:
    """Each problem as ``<place>: <message>``, at most ``limit`` of them (``None``: all).

    pydantic's messages without the input values, so nothing a client sent is echoed back; the "Value error, "
    prefix of our own validators' messages is dropped.
    """
    errors = exc.errors(include_url=False, include_input=False)
    shown = errors if limit is None else errors[:limit]
    parts = [
        f"{'.'.join(str(part) for part in error['loc']) or root}: {error['msg'].removeprefix('Value error, ')}"
        for error in shown
    ]
    if len(errors) > len(shown):
        parts.append(f"and {len(errors) - len(shown)} more")
    return "; ".join(parts)
