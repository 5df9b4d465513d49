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
  carry the partition reached, DynamoDB's last evaluated key and a fingerprint of the query's filters. A signed
  cursor is still checked field by field (position within the walk, key of that partition's index) before
  DynamoDB sees it: whoever holds the signing key must not be able to turn a listing into a 500.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.issues import IssueStatus
from chalicelib.domain.plan import Severity

MAX_DAYS = 92  # a listing by day spans at most a quarter: each day is a partition to walk
DEFAULT_DAYS = 7
FIRST_DAY = date(2000, 1, 1)  # no issue is older; also keeps day arithmetic far from date.min
TABLE_KEY = "issue_id"  # the issues table's own key: part of every index's last evaluated key
MAX_KEY_BYTES = 1024  # DynamoDB's limit for a sort key value (partition keys: 2048)


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
    since: date | None = Field(None, description="first seen on or after this day (UTC), from 2000-01-01 to "
                                                 "tomorrow; default: 6 days before until")
    until: date | None = Field(None, description="first seen on or before this day (UTC), from 2000-01-01 to "
                                                 f"tomorrow, at most {MAX_DAYS} days after since; default: today")
    limit: int = Field(25, ge=1, le=100)
    cursor: str | None = Field(None, max_length=4096, description="from the previous page's next_cursor")


class BadQuery(ValueError):
    """Parameters that each look fine but together (or against today) ask for no sensible listing."""


class Partition(BaseModel):
    """One index partition to walk: the index, its partition key attribute and value, and its sort key."""

    model_config = ConfigDict(frozen=True)

    index: str
    key: str
    value: str
    sort: str

    def check_start_key(self, start_key: dict[str, dict[str, str]]) -> None:
        """A last evaluated key of this partition has exactly the table's key, the index's partition key (with
        this partition's value) and the index's sort key, each a non-empty string DynamoDB accepts in a key."""
        if set(start_key) != {TABLE_KEY, self.key, self.sort}:
            raise BadCursor(f"cursor: its position is not a key of the {self.index} index")
        if start_key[self.key]["S"] != self.value:
            raise BadCursor("cursor: its position lies outside the partition it names")
        if not all(0 < len(value["S"].encode()) <= MAX_KEY_BYTES for value in start_key.values()):
            raise BadCursor("cursor: its position holds a key value DynamoDB cannot accept")


def days(query: IssueQuery, today: date) -> tuple[date, date]:
    """The first and last day a by-day listing covers: each within FIRST_DAY..tomorrow (UTC: a client east of
    Greenwich may already be there), in order, at most MAX_DAYS apart."""
    latest = today + timedelta(days=1)
    for name, day in (("since", query.since), ("until", query.until)):
        if day is not None and not FIRST_DAY <= day <= latest:
            raise BadQuery(f"{name}: a day from {FIRST_DAY} to {latest} (UTC)")
    until = query.until or max(today, query.since or today)
    since = query.since or max(until - timedelta(days=DEFAULT_DAYS - 1), FIRST_DAY)
    if since > until:
        raise BadQuery(f"since: {since} is after until ({until})")
    if (until - since).days > MAX_DAYS:
        raise BadQuery(f"since..until: at most {MAX_DAYS} days apart")
    return since, until


def partitions(query: IssueQuery, categories: list[str], today: date) -> list[Partition]:
    """The partitions a query walks, in order; the other filters apply within them."""
    if query.assignee:
        return [Partition(index="by_assignee", key="assigned_to", value=query.assignee, sort="last_seen")]
    if query.status:
        chosen = [query.category] if query.category else categories
        return [Partition(index="by_status_category", key="status_category", value=f"{query.status.value}#{c}",
                          sort="last_seen") for c in chosen]
    since, until = days(query, today)
    return [Partition(index="by_day", key="first_seen_day", value=(until - timedelta(days=back)).isoformat(),
                      sort="first_seen") for back in range((until - since).days + 1)]


class BadCursor(ValueError):
    """A cursor this API did not issue for this query (edited, forged, or from another listing)."""


class _CursorState(BaseModel):
    """What a cursor carries. Strict: even a validly signed cursor is checked before DynamoDB sees it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    q: str  # the query's fingerprint
    p: int = Field(ge=0)  # the partition reached
    k: dict[str, dict[Literal["S"], str]] | None  # DynamoDB's last evaluated key there (all key values are S)


def _fingerprint(query: IssueQuery) -> str:
    return hashlib.sha256(query.model_dump_json(exclude={"cursor", "limit"}).encode()).hexdigest()[:16]


def _signature(key: str, body: str) -> str:
    return hmac.new(key.encode(), f"cursor|{body}".encode(), hashlib.sha256).hexdigest()[:32]


def seal(key: str, payload: bytes) -> str:
    """``payload`` as a cursor: base64url, then its signature."""
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{_signature(key, body)}"


def encode_cursor(key: str, query: IssueQuery, position: int, last_key: dict[str, Any] | None) -> str:
    return seal(key, json.dumps({"q": _fingerprint(query), "p": position, "k": last_key},
                                separators=(",", ":")).encode())


def decode_cursor(key: str, query: IssueQuery, cursor: str, walk: list[Partition]) -> tuple[int, dict[str, Any] | None]:
    """Where the listing ``walk`` resumes: the partition's position in it and DynamoDB's start key there."""
    body, _, sig = cursor.partition(".")
    if not sig or not hmac.compare_digest(_signature(key, body).encode(), sig.encode()):
        raise BadCursor("cursor is not one this API issued")
    try:
        state = _CursorState.model_validate_json(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, RecursionError):  # binascii.Error and pydantic's ValidationError are ValueErrors
        raise BadCursor("cursor: not a position this API writes") from None
    if state.q != _fingerprint(query):
        raise BadCursor("cursor belongs to a listing with other filters")
    if state.p >= len(walk):
        raise BadCursor("cursor: its position lies past the end of this listing")
    if state.k is not None:
        walk[state.p].check_start_key(state.k)
    return state.p, state.k
