"""Ops API use cases: authorize a bearer token for a role, list issues page by page, show one issue.

The handlers in :mod:`chalicelib.api.ops` parse the request into the models here and turn the exceptions into
HTTP answers; this module knows nothing of HTTP or boto3.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.ops import (
    IssueQuery,
    Partition,
    Role,
    decode_cursor,
    encode_cursor,
    grants,
    is_admin_token,
    partitions,
)


class Unauthorized(Exception):
    """401: no token, or one we do not know (or that expired)."""


class Forbidden(Exception):
    """403: a known token without the role."""


class UnknownCategory(ValueError):
    """400: a category the active plan does not have."""


class IssueReader(Protocol):
    def page(self, partition: Partition, filters: dict[str, str], limit: int,
             start_key: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]: ...

    def get(self, issue_id: str) -> dict[str, Any] | None: ...

    def mentions(self, issue_id: str, limit: int = 50) -> list[dict[str, Any]]: ...

    def history(self, issue_id: str) -> list[dict[str, Any]]: ...


class TokenFinder(Protocol):
    def find(self, token: str, now: datetime) -> dict[str, Any] | None: ...


def authorize(header: str | None, wanted: Role, admin_token: str | None, tokens: TokenFinder,
              now: datetime) -> str:
    """The caller's name if ``Authorization: Bearer <token>`` carries ``wanted``."""
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send Authorization: Bearer <token>")
    if is_admin_token(token, admin_token):
        return "admin"
    found = tokens.find(token, now)
    if found is None:
        raise Unauthorized("unknown or expired token")
    if not grants(found["roles"], wanted):
        raise Forbidden(f"this token does not carry the {wanted.value} role")
    return str(found["name"])


class IssueSummary(BaseModel):
    """An issue as listings show it (the storage item has more: dedup and GSI keys stay inside)."""

    model_config = ConfigDict(extra="ignore")

    issue_id: str
    description: str = ""
    category: str
    severity: str
    status: str
    team: str | None = None
    assigned_to: str | None = None
    follow_up_required: bool = False
    mention_count: int = 0
    reach: int = 0
    first_seen: str
    last_seen: str
    first_response_at: str | None = None
    response_time_seconds: int | None = None


class IssuePage(BaseModel):
    items: list[IssueSummary]
    next_cursor: str | None = None


class IssueDetail(BaseModel):
    issue: IssueSummary
    mentions: list[dict[str, Any]]
    history: list[dict[str, Any]]


def summary(item: dict[str, Any]) -> IssueSummary:
    # storage names: "Issue Description" lives in ``description``; counts come back as Decimal
    return IssueSummary.model_validate({**item, "assigned_to": item.get("assigned_to") or None})


@dataclass(frozen=True)
class OpsDeps:
    issues: IssueReader
    categories: list[str]  # of the active plan, in its order
    cursor_key: str


def list_issues(query: IssueQuery, deps: OpsDeps, today: date) -> IssuePage:
    if query.category and query.category not in deps.categories:
        raise UnknownCategory(f"category: not one of {', '.join(deps.categories)}")
    walk = partitions(query, deps.categories, today)
    position, start_key = decode_cursor(deps.cursor_key, query, query.cursor, walk) if query.cursor else (0, None)
    keyed = walk[0].index == "by_status_category"  # status and category are then the partition itself
    filters = {name: value for name, value in (
        ("status", query.status.value if query.status and not keyed else None),
        ("category", query.category if not keyed else None),
        ("severity", query.severity.value if query.severity else None),
        ("team", query.team)) if value}
    items: list[IssueSummary] = []
    while position < len(walk) and len(items) < query.limit:
        found, start_key = deps.issues.page(walk[position], filters, query.limit - len(items), start_key)
        items += [summary(item) for item in found]
        if start_key is None:
            position += 1
    more = position < len(walk)
    return IssuePage(items=items, next_cursor=encode_cursor(deps.cursor_key, query, position, start_key)
                     if more else None)


def issue_detail(issue_id: str, issues: IssueReader) -> IssueDetail | None:
    item = issues.get(issue_id)
    if item is None:
        return None
    return IssueDetail(issue=summary(item), mentions=[_json_ready(m) for m in issues.mentions(issue_id)],
                       history=[_json_ready(e) for e in issues.history(issue_id)])


def _json_ready(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: whole ones become int, others float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_json_ready(v) for v in value]
    return value
