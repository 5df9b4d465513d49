"""A method a path does not serve is a 405 in the contract's shape: ``{"error": ...}`` with ``Allow``.

Chalice would answer it with its own ``{"Code": "MethodNotAllowedError", ...}`` and API Gateway, deployed, with a
403 ``Missing Authentication Token``: neither names the problem the way every other refusal does. So each path
gets one more route, for the methods it lacks, that answers 405 and touches nothing (no token is read: the
methods a path serves are public in ``/openapi.json`` anyway), so it has no role and is in no OpenAPI document.
The webhook paths declare their own.
"""

from __future__ import annotations

from typing import Any

from chalice import Chalice, Response

from chalicelib.api.responses import ANY_CONTENT_TYPE, error_response

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


_SERVED: dict[str, list[str]] = {}  # each path with a 405 route -> the methods it serves
_APPS: list[Chalice] = []  # the app whose request is answered (one per process)


def answer_other_methods(app: Chalice) -> None:
    """Register, for every path of ``app``, a 405 route for the methods it does not serve. Call it once, after
    every blueprint is registered."""
    _APPS[:] = [app]
    for path, served in list(app.routes.items()):
        missing = [method for method in METHODS if method not in served]
        if missing:
            _SERVED[path] = [method for method in METHODS if method in served]
            app.route(path, methods=missing, content_types=ANY_CONTENT_TYPE)(method_not_allowed)


def method_not_allowed(**_path_params: Any) -> Response:
    request = _APPS[0].current_request
    path = request.context.get("resourcePath", "") if request else ""
    allowed = _SERVED.get(path, [])
    method = request.method if request else "this method"
    answer = error_response(405, f"{method} is not allowed on {path}; use {' or '.join(allowed)}")
    answer.headers["Allow"] = ", ".join(allowed)
    return answer
