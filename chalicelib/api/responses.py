"""JSON answers shared by every blueprint."""

from __future__ import annotations

from typing import Any

from chalice import Response

JSON: dict[str, str | list[str]] = {"Content-Type": "application/json"}

ANY_CONTENT_TYPE = ["*/*"]
"""For routes that read no body (GETs) or check it themselves: Chalice's default list is JSON only, and it answers
415 in its own JSON shape to any other ``Content-Type``, which is no answer of our contract (nor HTML for a page)."""


def json_response(body: Any, status: int = 200) -> Response:
    # a copy each time: a handler adds its own headers (ETag, WWW-Authenticate, Retry-After) to its answer's
    return Response(body=body, status_code=status, headers=dict(JSON))


def error_response(status: int, message: str) -> Response:
    """Every refusal looks the same: ``{"error": "<what is wrong>"}``."""
    return json_response({"error": message}, status)
