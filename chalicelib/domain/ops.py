"""The ops API's domain: who may call it, what a listing asks for, and the cursor that continues a listing.

Pure Python: no boto3. The adapters (:mod:`chalicelib.adapters.issues_table`, :mod:`chalicelib.adapters.ops_tokens`)
and the use cases (:mod:`chalicelib.services.ops`) build on it.

* **Tokens and roles.** ``OPS_ADMIN_TOKEN`` is an admin. Other tokens are stored as their SHA-256 only, with
  the one role they carry: ``viewer`` (reads), ``responder`` (reads and works issues), ``admin`` (everything,
  tokens included). Each role holds the ones below it. A token is compared in constant time (the admin's) or
  looked up by its hash (others: the lookup key reveals nothing an attacker could steer a timing attack by).
* **Listings.** An :class:`IssueQuery` chooses one of the issues table's indexes (by status and category, by
  assignee, by the day an issue opened) and walks its partitions in order, newest first within each. With no
  status, assignee, since or until, the listing covers all time: every status-category partition (of the asked
  category, or of every category) is merged into one, newest activity (``last_seen``) first, and its cursor is a
  watermark (the last listed item's ``last_seen`` and id) rather than one position per shard. The day,
  status-category and assignee partitions are write-sharded (see :mod:`chalicelib.domain.index_shards`): each is a
  :class:`ShardedPartition` whose shards are queried together and merged by the sort key, so a listing reads in
  the same order as from one partition.
* **Cursors.** Opaque to clients, signed (HMAC-SHA256 with ``LINK_SIGNING_KEY``, over a ``cursor|`` prefix so a
  cursor can never pass for a link signature) so a forged or edited cursor is a 400, never a DynamoDB error; they
  carry the partition reached, each of its shards' position (the table key and sort key of the last item listed
  from it, ``null`` before its first, ``"end"`` once listed to its end) and a fingerprint of the query's filters.
  A signed cursor is still checked field by field (position within the walk, one position per shard, key values
  DynamoDB accepts) before DynamoDB sees it: whoever holds the signing key must not be able to turn a listing
  into a 500. The shard's partition key value is not carried: it follows from the partition and the shard.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.domain import limits
from chalicelib.domain.index_shards import ASSIGNEE_SHARDS, DAY_SHARDS, STATUS_CATEGORY_SHARDS, index_key_values
from chalicelib.domain.issues import IssueStatus
from chalicelib.domain.plan import Severity
from chalicelib.domain.roles import Role

MAX_DAYS = 92  # a listing by day spans at most a quarter: each day is a partition to walk
DEFAULT_DAYS = 7
FIRST_DAY = date(2000, 1, 1)  # no issue is older; also keeps day arithmetic far from date.min
TABLE_KEY = "issue_id"  # the issues table's own key: part of every index's last evaluated key
MAX_KEY_BYTES = 1024  # DynamoDB's limit for a sort key value (partition keys: 2048)


RANK = {Role.VIEWER: 1, Role.RESPONDER: 2, Role.ADMIN: 3}
# Tokens stored before roles were ranks carried permission names; both read issues, nothing more.
LEGACY_ROLES = {"issues:read": Role.VIEWER, "reports:read": Role.VIEWER}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_admin_token(given: str, admin_token: str | None) -> bool:
    return bool(admin_token) and hmac.compare_digest(given.encode(), (admin_token or "").encode())


def stored_role(values: list[str] | tuple[str, ...] | str) -> Role | None:
    """The highest role a stored token carries (its ``role``, or the ``roles`` set of older tokens)."""
    found = [
        Role(v) if v in Role._value2member_map_ else LEGACY_ROLES.get(v)
        for v in ([values] if isinstance(values, str) else values)
    ]
    ranked = [role for role in found if role is not None]
    return max(ranked, key=RANK.__getitem__) if ranked else None


def grants(held: Role | None, wanted: Role) -> bool:
    return held is not None and RANK[held] >= RANK[wanted]


class IssueQuery(BaseModel):
    """``GET /issues`` parameters. Unknown parameters are refused, so a typo never silently widens a listing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: IssueStatus | None = Field(None, description="open, in_progress, resolved or closed")
    category: str | None = Field(None, min_length=1, max_length=64, description="a category of the active plan")
    assignee: str | None = Field(None, min_length=1, max_length=254, description="who the issue is assigned to")
    severity: Severity | None = None
    team: str | None = Field(None, min_length=1, max_length=64)
    platform: str | None = Field(None, min_length=1, max_length=32, description="where the issue was first seen")
    product: str | None = Field(None, min_length=1, max_length=128, description="a product the issue is about")
    q: str | None = Field(
        None, min_length=1, max_length=200, description="text the issue's description contains (case-sensitive)"
    )
    follow_up_required: bool | None = Field(None, description="true or false")
    since: date | None = Field(
        None,
        description="first seen on or after this day (UTC), from 2000-01-01 to tomorrow; with until alone: 6 days "
        "before until; with neither (and no status or assignee): all time, newest activity (last_seen) first",
    )
    until: date | None = Field(
        None,
        description="first seen on or before this day (UTC), from 2000-01-01 to "
        f"tomorrow, at most {MAX_DAYS} days after since; with since alone: today",
    )
    limit: int = Field(25, ge=1, le=100)
    cursor: str | None = Field(None, max_length=4096, description="from the previous page's next_cursor")


class BadQuery(ValueError):
    """Parameters that each look fine but together (or against today) ask for no sensible listing."""


class Partition(BaseModel):
    """One index partition to query: the index, its partition key attribute and value, and its sort key."""

    model_config = ConfigDict(frozen=True)

    index: str
    key: str
    value: str
    sort: str

    def start_key(self, position: tuple[str, str]) -> dict[str, dict[str, str]]:
        """DynamoDB's ``ExclusiveStartKey`` just after the item at ``position`` (its table key and sort key)."""
        issue_id, sort_value = position
        return {TABLE_KEY: {"S": issue_id}, self.key: {"S": self.value}, self.sort: {"S": sort_value}}

    def position_of(self, item: dict[str, Any]) -> tuple[str, str]:
        """Where a listed item of this partition sits: its table key and its sort key."""
        return str(item[TABLE_KEY]), str(item[self.sort])


END: Literal["end"] = "end"  # a shard listed to its end
ShardPosition = tuple[str, str] | Literal["end"] | None  # after this item (table key, sort key) / done / from the top


class ShardedPartition(BaseModel):
    """One partition of a listing, written over ``shards`` key values (``value``, ``value#1``, ...). Its shards
    are queried together and merged newest first by ``sort``; a single-shard one is a plain partition."""

    model_config = ConfigDict(frozen=True)

    index: str
    key: str
    value: str
    sort: str
    shards: int = Field(1, ge=1)
    # more partition values merged with ``value`` into one newest-first listing (the all-time listing: every
    # status of a category). Such a walk resumes from a watermark, not from each shard's position.
    merged: tuple[str, ...] = ()

    def parts(self) -> list[Partition]:
        return [
            Partition(index=self.index, key=self.key, value=value, sort=self.sort)
            for each in (self.value, *self.merged)
            for value in index_key_values(each, self.shards)
        ]


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


def partitions(query: IssueQuery, categories: list[str], today: date) -> list[ShardedPartition]:
    """The partitions a query walks, in order; the other filters apply within them. The day, status-category and
    assignee partitions have the shards their writers spread them over (:mod:`chalicelib.domain.index_shards`)."""
    if query.assignee:
        return [
            ShardedPartition(
                index="by_assignee_shard",
                key="assignee_shard",
                value=query.assignee,
                sort="last_seen",
                shards=ASSIGNEE_SHARDS,
            )
        ]
    if query.status:
        chosen = [query.category] if query.category else categories
        return [
            ShardedPartition(
                index="by_status_category",
                key="status_category",
                value=f"{query.status.value}#{c}",
                sort="last_seen",
                shards=STATUS_CATEGORY_SHARDS,
            )
            for c in chosen
        ]
    if query.since is None and query.until is None:
        chosen = [query.category] if query.category else categories
        values = [f"{status.value}#{c}" for c in chosen for status in IssueStatus]
        return [
            ShardedPartition(
                index="by_status_category",
                key="status_category",
                value=values[0],
                merged=tuple(values[1:]),
                sort="last_seen",
                shards=STATUS_CATEGORY_SHARDS,
            )
        ]
    since, until = days(query, today)
    return [
        ShardedPartition(
            index="by_day",
            key="first_seen_day",
            value=(until - timedelta(days=back)).isoformat(),
            sort="first_seen",
            shards=DAY_SHARDS,
        )
        for back in range((until - since).days + 1)
    ]


class BadCursor(ValueError):
    """A cursor this API did not issue for this query (edited, forged, or from another listing)."""


class _CursorState(BaseModel):
    """What a cursor carries. Strict: even a validly signed cursor is checked before DynamoDB sees it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    q: str  # the query's fingerprint
    p: int = Field(ge=0)  # the partition reached
    k: list[ShardPosition] | None  # each of its shards' position (None: all from the top)
    w: tuple[str, str] | None = None  # a merged walk's watermark: the last listed item's sort key and table key


def _fingerprint(query: IssueQuery) -> str:
    return hashlib.sha256(query.model_dump_json(exclude={"cursor", "limit"}).encode()).hexdigest()[:16]


def _signature(key: str, body: str) -> str:
    return hmac.new(key.encode(), f"cursor|{body}".encode(), hashlib.sha256).hexdigest()[:32]


def seal(key: str, payload: bytes) -> str:
    """``payload`` as a cursor: base64url, then its signature."""
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{_signature(key, body)}"


def encode_cursor(key: str, query: IssueQuery, position: int, shard_positions: Any, watermark: Any = None) -> str:
    """A cursor at partition ``position`` of the walk, its shards at ``shard_positions`` (one :data:`ShardPosition`
    each, or None when none has started); a merged walk's cursor carries its ``watermark`` instead."""
    if isinstance(shard_positions, list) and all(p is None for p in shard_positions):
        shard_positions = None  # the short form
    state: dict[str, Any] = {"q": _fingerprint(query), "p": position, "k": shard_positions}
    if watermark is not None:
        state["w"] = watermark
    return seal(key, json.dumps(state, separators=(",", ":")).encode())


def _state(key: str, query: IssueQuery, cursor: str) -> _CursorState:
    body, _, sig = cursor.partition(".")
    if not sig or not hmac.compare_digest(_signature(key, body).encode(), sig.encode()):
        raise BadCursor("cursor is not one this API issued")
    try:
        state = _CursorState.model_validate_json(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, RecursionError):  # binascii.Error and pydantic's ValidationError are ValueErrors
        raise BadCursor("cursor: not a position this API writes") from None
    if state.q != _fingerprint(query):
        raise BadCursor("cursor belongs to a listing with other filters")
    return state


def decode_watermark(key: str, query: IssueQuery, cursor: str, walk: list[ShardedPartition]) -> tuple[str, str]:
    """Where a merged walk (the all-time listing) resumes: just after the item with this sort key and table key."""
    state = _state(key, query, cursor)
    if len(walk) != 1 or not walk[0].merged or state.p != 0 or state.k is not None or state.w is None:
        raise BadCursor("cursor: not a position of this listing")
    if not all(0 < len(value.encode()) <= MAX_KEY_BYTES for value in state.w):
        raise BadCursor("cursor: its position holds a key value DynamoDB cannot accept")
    return state.w


def decode_cursor(
    key: str, query: IssueQuery, cursor: str, walk: list[ShardedPartition]
) -> tuple[int, list[ShardPosition]]:
    """Where the listing ``walk`` resumes: the partition's position in it and each of its shards' position."""
    state = _state(key, query, cursor)
    if state.w is not None or any(partition.merged for partition in walk):
        raise BadCursor("cursor: not a position of this listing")
    if state.p >= len(walk):
        raise BadCursor("cursor: its position lies past the end of this listing")
    shards = walk[state.p].shards
    if state.k is None:
        return state.p, [None] * shards
    if len(state.k) != shards:
        raise BadCursor(f"cursor: its position is not one of the {walk[state.p].index} index's {shards} shards")
    for position in state.k:
        if isinstance(position, tuple) and not all(0 < len(value.encode()) <= MAX_KEY_BYTES for value in position):
            raise BadCursor("cursor: its position holds a key value DynamoDB cannot accept")
    return state.p, list(state.k)


# ---- Writes: what responders change on an issue ------------------------------------------------------------------

# Which status may follow which. Resolved and closed issues reopen (a customer writes again); closed is final for
# the protocols but a person may still reopen it. Moving to the same status is no change, not a transition.
TRANSITIONS: dict[IssueStatus, frozenset[IssueStatus]] = {
    IssueStatus.OPEN: frozenset({IssueStatus.IN_PROGRESS, IssueStatus.RESOLVED, IssueStatus.CLOSED}),
    IssueStatus.IN_PROGRESS: frozenset({IssueStatus.OPEN, IssueStatus.RESOLVED, IssueStatus.CLOSED}),
    IssueStatus.RESOLVED: frozenset({IssueStatus.IN_PROGRESS, IssueStatus.CLOSED}),
    IssueStatus.CLOSED: frozenset({IssueStatus.IN_PROGRESS}),
}
REOPENED_FROM = frozenset({IssueStatus.RESOLVED, IssueStatus.CLOSED})


class StaleVersion(RuntimeError):
    """Another write changed the issue since the version the writer read (the adapter's conditional write)."""


class IllegalTransition(ValueError):
    """409: the issue's current status does not lead to the one asked for."""


def check_transition(current: str, wanted: IssueStatus) -> bool:
    """True when ``wanted`` changes the status, False when it is the status already; raises when not allowed."""
    try:
        now = IssueStatus(current)
    except ValueError:
        raise IllegalTransition(f"status: the issue's status {current!r} is not one this API changes") from None
    if now == wanted:
        return False
    if wanted not in TRANSITIONS[now]:
        allowed = ", ".join(sorted(TRANSITIONS[now])) or "nothing"
        raise IllegalTransition(f"status: {now.value} cannot become {wanted.value} (it can become {allowed})")
    return True


NAME = r"^[^\x00-\x1f\x7f]+$"  # printable: names end up in tables and terminals


class IssuePatch(BaseModel):
    """``PATCH /issues/{id}``: the fields sent are changed, the others kept. ``assigned_to: null`` unassigns."""

    model_config = ConfigDict(extra="forbid")

    assigned_to: str | None = Field(
        None,
        min_length=1,
        max_length=254,
        pattern=NAME,
        description="who works the issue (an email or a name); null unassigns",
    )
    status: IssueStatus | None = Field(
        None, description="open, in_progress, resolved or closed; only the allowed transitions (409 otherwise)"
    )
    follow_up_required: bool | None = None
    resolution_note: str | None = Field(None, min_length=1, max_length=4000, description="how it was resolved")

    def changes(self) -> dict[str, Any]:
        """The fields the caller sent (an explicit null counts for ``assigned_to`` only)."""
        sent = self.model_dump(exclude_unset=True)
        for name in ("status", "follow_up_required", "resolution_note"):
            if name in sent and sent[name] is None:
                raise ValueError(f"{name}: may not be null")
        if not sent:
            raise ValueError("body: send at least one of assigned_to, status, follow_up_required, resolution_note")
        return sent


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4000, description="the note, as written")


class SatisfactionBody(BaseModel):
    """A satisfaction score taken outside the survey (by phone, by email)."""

    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=1, le=5, description="1 (very unsatisfied) to 5 (very satisfied), as the survey asks")
    channel: Literal["phone", "email", "chat", "in_person", "other"] = Field(
        "other", description="how the score was taken"
    )
    comment: str | None = Field(None, max_length=2000)


ADMIN_ACTOR = "admin"  # the actor OPS_ADMIN_TOKEN writes as on the audit trail
SYSTEM_ACTOR_PREFIX = "system:"  # the automation's actors (system:triage, system:protocol ...)


class TokenRequest(BaseModel):
    """``POST /tokens``: a new ops token."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=64,
        # words of letters, digits and _.@:+- with single spaces between ("Carol R", "ci-viewer"): shown as is
        pattern=r"^[A-Za-z0-9_.@:+-]+( [A-Za-z0-9_.@:+-]+)*$",
        description="who or what holds it (words with single spaces between); shown as the actor on the audit trail",
    )
    role: Role
    days: int = Field(90, ge=1, le=366, description="valid for this many days")

    @field_validator("name")
    @classmethod
    def _not_a_reserved_actor(cls, name: str) -> str:
        # the name is the actor on the audit trail: a token named "admin" or "system:protocol" would write as the
        # admin token or as the automation. Two tokens may share a name (one person rotating theirs).
        if name.lower() == ADMIN_ACTOR or name.lower().startswith(SYSTEM_ACTOR_PREFIX):
            raise ValueError(f"'{ADMIN_ACTOR}' and names starting '{SYSTEM_ACTOR_PREFIX}' are reserved")
        return name


def etag(version: int) -> str:
    return f'"v{version}"'


def parse_if_match(header: str | None) -> int | None:
    """The issue version an ``If-Match`` names (``"v3"``, ``W/"v3"`` or ``3``); None when absent or ``*``."""
    if header is None or header.strip() == "*":
        return None
    value = header.strip().removeprefix("W/").strip('"').removeprefix("v")
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise ValueError("If-Match: send the ETag of the issue (as GET /issues/{id} answers it)")
    return int(value)


# ---- Regrouping: merge two issues, split a mention off one -------------------------------------------------------

ISSUE_ID_PATTERN = r"^[A-Za-z0-9_.:#-]{1,128}$"


class MergeBody(BaseModel):
    """``POST /issues/{id}/merge``: the issue in the path stays; ``from_issue`` is folded into it (its mentions
    move over, it is closed with ``merged_into``)."""

    model_config = ConfigDict(extra="forbid")

    from_issue: str = Field(pattern=ISSUE_ID_PATTERN, description="the duplicate issue to fold into this one")


class SplitBody(BaseModel):
    """``POST /issues/{id}/split``: one mention leaves the issue and opens an issue of its own."""

    model_config = ConfigDict(extra="forbid")

    mention: str = Field(
        # any mention the webhooks store: a platform as Mention takes it, an external id of any characters
        pattern=rf"^[a-z0-9_-]{{1,{limits.MAX_PLATFORM_CHARS}}}#[\s\S]{{1,{limits.MAX_ID_CHARS}}}$",
        description="the mention's key, <platform>#<external id>, as the issue detail lists it",
    )


class InvalidChange(ValueError):
    """400: a change that names itself (merging an issue into itself)."""


def split_issue_id(source_id: str, mention_key: str, created_at: str) -> str:
    """The issue a split opens: named by the source and the mention, so a retried split finds the same one."""
    digest = hashlib.sha256(f"{source_id}|{mention_key}".encode()).hexdigest()[:8]
    stamp = "".join(ch for ch in created_at[:19] if ch.isdigit() or ch == "T")
    return f"iss-{stamp}-{digest}"


def split_off(source: dict[str, Any], mention: dict[str, Any], new_id: str) -> Any:
    """The new issue of a mention split off ``source`` (storage dicts in, a domain ``Issue`` out): it keeps the
    source's category, severity, team and assignee; its SLA clocks start at the mention, as long as the source's."""
    from datetime import datetime

    from chalicelib.domain.issues import Issue

    def when(value: Any) -> datetime:
        return datetime.fromisoformat(str(value))

    first_seen = when(mention["created_at"])
    source_first = when(source["first_seen"])

    def due(name: str) -> datetime | None:
        return first_seen + (when(source[name]) - source_first) if source.get(name) else None

    who = mention.get("author_handle") or mention.get("author_name") or "someone"
    excerpt = " ".join(str(mention.get("text") or "").split())[:160]
    return Issue(
        issue_id=new_id,
        description=f'Split from {source["issue_id"]}: {who} on {mention["platform"]}: "{excerpt}"',
        category=source["category"],
        severity=source["severity"],
        team=source.get("team") or None,
        assigned_to=source.get("assigned_to") or None,
        follow_up_required=bool(source.get("follow_up_required")),
        mention_count=1,
        reach=int(mention.get("author_followers") or 0),
        first_seen=first_seen,
        last_seen=first_seen,
        topic=str(mention.get("topic") or source.get("topic") or "other"),
        products=tuple(mention.get("products_named") or ()),
        platform=mention["platform"],
        rule=f"split:{source['issue_id']}",
        plan_version=int(source.get("plan_version") or 0),
        escalation_case=bool(source.get("escalation_case")),
        sla_first_response_due=due("sla_first_response_due"),
        sla_resolution_due=due("sla_resolution_due"),
    )
