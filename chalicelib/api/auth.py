"""Every ops route is declared with :func:`ops_route`, which takes the role it needs (or :data:`PUBLIC`): a route
cannot be added without deciding who may call it (``tests/unit/test_route_roles.py`` walks the app's routes and
fails on one that did not).

A role-checked route answers 401 without a valid token (``WWW-Authenticate: Bearer``), 403 when the token's role
is below the route's, 429 with ``Retry-After`` past the per-token rate limit (``OPS_RATE_LIMIT_PER_MINUTE``,
default 600, per token and minute, counted in DynamoDB so every Lambda instance shares it); then the handler runs
with :func:`caller` naming who called (the audit trail's actor).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Final

from chalice import Blueprint, Response

from chalicelib.api.responses import ANY_CONTENT_TYPE, error_response
from chalicelib.domain.roles import Role

PUBLIC: Final = "public"
ROLE_ATTRIBUTE = "ops_role"  # set on every view function ops_route registers
DEFAULT_RATE_PER_MINUTE = 600

_caller: ContextVar[Any] = ContextVar("ops_caller")


@dataclass(frozen=True)
class RouteDoc:
    """What ``/openapi.json`` says of a route: built from the same models the handler parses and answers."""

    path: str
    method: str
    role: Role | str
    summary: str
    # Models are given as "module:Name" (resolved by /openapi.json) so declaring a route loads no pydantic model
    answer: Any = None  # the pydantic model of the success answer
    status: int = 200
    query: Any = None  # the pydantic model of the query parameters
    body: Any = None  # the pydantic model of the JSON body
    errors: tuple[int, ...] = ()  # answers besides 400/401/403/429
    headers: tuple[str, ...] = ()  # request headers it reads (If-Match)
    invalid: Any = None  # the pydantic model of its 400 answer, when it says more than {"error"}


ROUTES: list[RouteDoc] = []


def caller():
    """The :class:`chalicelib.services.ops.Caller` of the request being handled."""
    return _caller.get()


def rate_per_minute() -> int:
    try:
        return max(1, int(os.environ.get("OPS_RATE_LIMIT_PER_MINUTE", DEFAULT_RATE_PER_MINUTE)))
    except ValueError:
        return DEFAULT_RATE_PER_MINUTE


def refusal(blueprint: Blueprint, role: Role) -> Response | None:
    """None when the caller may act in ``role`` (and :func:`caller` is set); the 401, 403 or 429 otherwise."""
    from chalicelib.bootstrap import ops_tokens, secret
    from chalicelib.services.errors import SecretUnavailable
    from chalicelib.services.ops import Forbidden, Unauthorized, authorize

    try:
        admin = secret("OPS_ADMIN_TOKEN")
    except SecretUnavailable:
        admin = None  # no admin configured: only stored tokens work
    now = datetime.now(timezone.utc)
    try:
        who = authorize(blueprint.current_request.headers.get("authorization"), role, admin, ops_tokens(), now)
    except Unauthorized as refused:
        answer = error_response(401, str(refused))
        answer.headers["WWW-Authenticate"] = 'Bearer realm="ops"'
        return answer
    except Forbidden as refused:
        return error_response(403, str(refused))
    minute = int(now.timestamp()) // 60
    if not ops_tokens().take(who.key, minute, rate_per_minute()):
        answer = error_response(
            429, f"rate limit: {rate_per_minute()} requests a minute per token; retry after the Retry-After seconds"
        )
        answer.headers["Retry-After"] = str(60 - int(now.timestamp()) % 60)
        return answer
    _caller.set(who)
    return None


def ops_route(
    blueprint: Blueprint,
    path: str,
    method: str,
    role: Role | str,
    summary: str,
    *,
    content_types: list[str] | None = None,
    **doc: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``@blueprint.route`` with the role checked first; ``role=PUBLIC`` for the few routes anyone may call.
    ``summary`` and ``doc`` (:class:`RouteDoc`'s fields) describe it in ``/openapi.json``."""
    if role != PUBLIC and not isinstance(role, Role):
        raise TypeError(f"{path}: role must be a Role or PUBLIC, not {role!r}")
    ROUTES.append(RouteDoc(path=path, method=method, role=role, summary=summary, **doc))

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if role != PUBLIC:
                refused = refusal(blueprint, role)  # type: ignore[arg-type]
                if refused is not None:
                    return refused
            return view(*args, **kwargs)

        setattr(checked, ROLE_ATTRIBUTE, role)
        blueprint.route(path, methods=[method], content_types=content_types or ANY_CONTENT_TYPE)(checked)
        return checked

    return register
