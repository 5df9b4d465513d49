"""The ops API's domain: who may call it, what a listing asks for, and the cursor that continues a listing.

Pure Python: no boto3. The adapters (:mod:`chalicelib.adapters.issues_table`, :mod:`chalicelib.adapters.ops_tokens`)
and the use cases (:mod:`chalicelib.services.ops`) build on it.

* **Tokens and roles.** ``OPS_ADMIN_TOKEN`` holds every role. Other tokens are stored as their SHA-256 only, with
  the roles they carry (``issues:read`` ...). A token is compared in constant time (the admin's) or looked up by
  its hash (others: the lookup key reveals nothing an attacker could steer a timing attack by).
* **Listings.** An :class:`IssueQuery` chooses one of the issues table's indexes (by status and category, by
  assignee, by the day an issue opened) and walks its partitions in order, newest first within each.
* **Cursors.** Opaque to clients, signed (HMAC-SHA256 with ``LINK_SIGNING_KEY``, over a ``cursor|`` prefix so a
  cursor can never pass for a link signature) so a forged or edited cursor is a 400, never a DynamoDB error; they
  carry the partition reached, DynamoDB's last evaluated key and a fingerprint of the query's filters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chalicelib.domain.issues import IssueStatus
from chalicelib.domain.plan import Severity

MAX_DAYS = 92  # a listing by day spans at most a quarter: each day is a partition to walk


class Role(StrEnum):
    ISSUES_READ = "issues:read"
    REPORTS_READ = "reports:read"  # the weekly reports (their routes are to come)
    ADMIN = "admin"  # every role


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_admin_token(given: str, admin_token: str | None) -> bool:
    return bool(admin_token) and hmac.compare_digest(given.encode(), (admin_token or "").encode())


def grants(roles: list[str] | tuple[str, ...], wanted: Role) -> bool:
    return Role.ADMIN.value in roles or wanted.value in roles


class IssueQuery(BaseModel):
    """``GET /issues`` parameters. Unknown parameters are refused, so a typo never silently widens a listing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: IssueStatus | None = Field(None, description="open, in_progress, resolved or closed")
    category: str | None = Field(None, min_length=1, max_length=64, description="a category of the active plan")
    assignee: str | None = Field(None, min_length=1, max_length=254, description="who the issue is assigned to")
    severity: Severity | None = None
    team: str | None = Field(None, min_length=1, max_length=64)
    since: date | None = Field(None, description="first seen on or after this day (UTC); default: 7 days ago")
    until: date | None = Field(None, description="first seen on or before this day (UTC); default: today")
    limit: int = Field(25, ge=1, le=100)
    cursor: str | None = Field(None, max_length=4096, description="from the previous page's next_cursor")

    @model_validator(mode="after")
    def _days_in_order(self) -> IssueQuery:
        if self.since and self.until and self.since > self.until:
            raise ValueError("since must not be after until")
        if self.since and self.until and (self.until - self.since).days > MAX_DAYS:
            raise ValueError(f"since..until spans at most {MAX_DAYS} days")
        return self


class Partition(BaseModel):
    """One index partition to walk: the index, its partition key attribute and value."""

    model_config = ConfigDict(frozen=True)

    index: str
    key: str
    value: str


def partitions(query: IssueQuery, categories: list[str], today: date) -> list[Partition]:
    """The partitions a query walks, in order; the other filters apply within them."""
    if query.assignee:
        return [Partition(index="by_assignee", key="assigned_to", value=query.assignee)]
    if query.status:
        chosen = [query.category] if query.category else categories
        return [Partition(index="by_status_category", key="status_category", value=f"{query.status.value}#{c}")
                for c in chosen]
    until = query.until or today
    since = query.since or max(until - timedelta(days=6), date.min)
    days = (until - since).days
    return [Partition(index="by_day", key="first_seen_day", value=(until - timedelta(days=back)).isoformat())
            for back in range(days + 1)]


class BadCursor(ValueError):
    """A cursor this API did not issue for this query (edited, forged, or from another listing)."""


def _fingerprint(query: IssueQuery) -> str:
    return hashlib.sha256(query.model_dump_json(exclude={"cursor", "limit"}).encode()).hexdigest()[:16]


def encode_cursor(key: str, query: IssueQuery, position: int, last_key: dict[str, Any] | None) -> str:
    payload = json.dumps({"q": _fingerprint(query), "p": position, "k": last_key}, separators=(",", ":"))
    body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    sig = hmac.new(key.encode(), f"cursor|{body}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{body}.{sig}"


def decode_cursor(key: str, query: IssueQuery, cursor: str) -> tuple[int, dict[str, Any] | None]:
    body, _, sig = cursor.partition(".")
    expected = hmac.new(key.encode(), f"cursor|{body}".encode(), hashlib.sha256).hexdigest()[:32]
    if not sig or not hmac.compare_digest(expected.encode(), sig.encode()):
        raise BadCursor("cursor is not one this API issued")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    if data.get("q") != _fingerprint(query):
        raise BadCursor("cursor belongs to a listing with other filters")
    return int(data["p"]), data.get("k")
