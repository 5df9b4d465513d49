"""Ops API use cases: authorize a bearer token for a role, list issues page by page, show one issue, change it
(assignee, status, follow-up, resolution note, notes, satisfaction scores) on the audit trail, manage tokens.

The handlers in :mod:`chalicelib.api.ops` parse the request into the models here and turn the exceptions into
HTTP answers; this module knows nothing of HTTP or boto3.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.index_shards import assignee_shard
from chalicelib.domain.issues import AuditEvent, IssueStatus, status_category
from chalicelib.domain.ops import (
    ADMIN_ACTOR,
    END,
    REOPENED_FROM,
    BadQuery,
    IllegalTransition,
    IssuePatch,
    IssueQuery,
    NoteBody,
    Partition,
    Role,
    SatisfactionBody,
    ShardedPartition,
    ShardPosition,
    StaleVersion,
    check_transition,
    decode_cursor,
    decode_watermark,
    encode_cursor,
    grants,
    is_admin_token,
    partitions,
    token_hash,
)
from chalicelib.domain.plan import ResponsePlan


class Unauthorized(Exception):
    """401: no token, or one we do not know (or that expired)."""


class Forbidden(Exception):
    """403: a known token without the role."""


class UnknownCategory(ValueError):
    """400: a category the active plan does not have."""


class IssueReader(Protocol):
    def page(
        self,
        partition: Partition,
        filters: list[tuple[str, str, Any]],
        limit: int,
        start_key: dict[str, Any] | None,
        upto: str | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]: ...

    def get(self, issue_id: str) -> dict[str, Any] | None: ...

    def mentions(self, issue_id: str, limit: int = 50) -> list[dict[str, Any]]: ...

    def history(self, issue_id: str) -> list[dict[str, Any]]: ...


class IssueWriter(IssueReader, Protocol):
    def change(
        self,
        issue_id: str,
        expected_version: int,
        sets: dict[str, Any],
        removes: list[str],
        events: list[AuditEvent],
        reopened: bool = False,
    ) -> int: ...


class TokenFinder(Protocol):
    def find(self, token: str, now: datetime) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Caller:
    name: str  # the actor on the audit trail
    role: Role
    key: str  # what the rate limit counts by: the token's hash, never the token


def authorize(header: str | None, wanted: Role, admin_token: str | None, tokens: TokenFinder, now: datetime) -> Caller:
    """Who calls, if ``Authorization: Bearer <token>`` carries ``wanted`` (or a role above it)."""
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send Authorization: Bearer <token>")
    if is_admin_token(token, admin_token):
        return Caller(ADMIN_ACTOR, Role.ADMIN, token_hash(token))
    found = tokens.find(token, now)
    if found is None:
        raise Unauthorized("unknown or expired token")
    if not grants(found["role"], wanted):
        raise Forbidden(f"this token does not carry the {wanted.value} role")
    return Caller(str(found["name"]), found["role"], token_hash(token))


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
    platform: str | None = None
    products: list[str] = []
    resolved_at: str | None = None
    resolution_note: str | None = None
    satisfaction_score: int | None = None
    version: int = Field(0, description='bumped by each write through this API; the ETag is "v<version>"')


class IssuePage(BaseModel):
    items: list[IssueSummary]
    next_cursor: str | None = None


class IssueDetail(BaseModel):
    issue: IssueSummary
    mentions: list[dict[str, Any]]
    history: list[dict[str, Any]]


def summary(item: dict[str, Any]) -> IssueSummary:
    # storage names: "Issue Description" lives in ``description``; counts come back as Decimal
    return IssueSummary.model_validate(
        {**item, "assigned_to": item.get("assigned_to") or None, "version": item.get("ops_version") or 0}
    )


@dataclass(frozen=True)
class OpsDeps:
    issues: IssueReader
    categories: list[str]  # of the active plan, in its order
    cursor_key: str


@dataclass
class _ShardReader:
    """One shard of a partition being merged: what it has read ahead and where it stands."""

    part: Partition
    position: ShardPosition  # after the last item listed from it (what the cursor records)
    next_key: dict[str, Any] | None  # where its next query starts
    done_reading: bool  # DynamoDB has no more of it
    ahead: list[dict[str, Any]]  # read, not listed yet (newest first)


READ_THREADS = 16  # a partition's shards are read at once: a listing waits for one query, not one per shard


def _pages(
    issues: IssueReader,
    shards: list[_ShardReader] | list[_WatermarkReader],
    filters: list[tuple[str, str, Any]],
    limit: int,
    upto: str | None = None,
) -> list[tuple[list[dict[str, Any]], dict[str, Any] | None]]:
    """The next page of each shard: the first read alone (so a client the reader creates on first use is made
    once, before threads share it: a boto3 client is thread-safe, making one is not), the others at once. A
    watermark reader reads its own ``read_size`` up to the sort key ``upto``."""

    def read(shard: _ShardReader | _WatermarkReader) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        if isinstance(shard, _WatermarkReader):
            bound = {"upto": upto} if upto is not None else {}
            return issues.page(shard.part, filters, shard.read_size, shard.next_key, **bound)
        return issues.page(shard.part, filters, limit, shard.next_key)

    first = read(shards[0])
    if len(shards) == 1:
        return [first]
    with ThreadPoolExecutor(max_workers=min(len(shards) - 1, READ_THREADS)) as pool:
        return [first, *pool.map(read, shards[1:])]


def _merged(
    issues: IssueReader,
    partition: ShardedPartition,
    filters: list[tuple[str, str, Any]],
    wanted: int,
    positions: list[ShardPosition],
) -> tuple[list[dict[str, Any]], list[ShardPosition]]:
    """Up to ``wanted`` items of ``partition``, newest first by its sort key over all its shards (a tie goes to the
    lower shard), from ``positions`` on; and the shards' positions after them (all ``END``: the partition is
    done). Each shard is read ahead a share of what is wanted, and again when its read-ahead runs out while it may
    still hold the next item."""
    shards = [
        _ShardReader(
            part=part,
            position=position,
            next_key=part.start_key(position) if isinstance(position, tuple) else None,
            done_reading=position == END,
            ahead=[],
        )
        for part, position in zip(partition.parts(), positions, strict=True)
    ]
    listed: list[dict[str, Any]] = []
    while len(listed) < wanted:
        need = wanted - len(listed)
        share = need if len(shards) == 1 else -(-need // len(shards)) + 1
        while unread := [shard for shard in shards if not shard.ahead and not shard.done_reading]:
            for shard, (found, next_key) in zip(unread, _pages(issues, unread, filters, share), strict=True):
                shard.ahead, shard.next_key, shard.done_reading = found, next_key, next_key is None
        heads = [shard for shard in shards if shard.ahead]
        if not heads:
            break
        newest = max(heads, key=lambda shard: str(shard.ahead[0][partition.sort]))  # max keeps the first of a tie
        item = newest.ahead.pop(0)
        newest.position = newest.part.position_of(item)
        listed.append(item)
    for shard in shards:
        if shard.done_reading and not shard.ahead:
            shard.position = END
    return listed, [shard.position for shard in shards]


@dataclass
class _WatermarkReader:
    """One shard of a merged walk: what it has read ahead (newest first) and an upper bound of what it has not."""

    part: Partition
    next_key: dict[str, Any] | None = None  # where its next query starts (None: from the top, or the watermark)
    done_reading: bool = False  # DynamoDB has no more of it
    ceiling: str | None = None  # the sort key of the last item DynamoDB evaluated: nothing unread is newer
    ahead: list[dict[str, Any]] = field(default_factory=list)
    read_size: int = 0  # the last read's Limit (reads grow while filters leave little)


MAX_READ = 500  # a merged walk's largest Limit per query (DynamoDB also stops a page at 1 MB)


def _newest(
    issues: IssueReader,
    partition: ShardedPartition,
    filters: list[tuple[str, str, Any]],
    wanted: int,
    after: tuple[str, str] | None,
) -> list[dict[str, Any]]:
    """Up to ``wanted`` items of a merged walk (every value and shard of ``partition``), newest first by (sort key,
    table key), each strictly after ``after``. Each shard's queries stop at the watermark's sort key; a shard is read
    (again) only while what it has not read could come before the best item read so far, so a page costs one query
    per shard plus the few the busy shards need."""
    sort = partition.sort

    def order(item: dict[str, Any]) -> tuple[str, str]:
        return str(item[sort]), str(item["issue_id"])

    upto = after[0] if after else None
    shards = [_WatermarkReader(part=part) for part in partition.parts()]
    listed: list[dict[str, Any]] = []
    while len(listed) < wanted:
        heads = [shard for shard in shards if shard.ahead]
        best = max((order(shard.ahead[0]) for shard in heads), default=None)
        unread = [
            shard
            for shard in shards
            if not shard.done_reading and (best is None or shard.ceiling is None or shard.ceiling >= best[0])
        ]
        if unread:
            need = wanted - len(listed)
            share = -(-need // len(unread)) + 1
            for shard in unread:
                shard.read_size = min(MAX_READ, max(share, 2 * shard.read_size))
            found = _pages(issues, unread, filters, 0, upto)
            for shard, (items, next_key) in zip(unread, found, strict=True):
                fresh = [item for item in items if after is None or order(item) < after]
                shard.ahead = sorted(shard.ahead + fresh, key=order, reverse=True)  # DynamoDB orders ties its way
                shard.next_key, shard.done_reading = next_key, next_key is None
                shard.ceiling = str(next_key[sort]["S"]) if next_key else None
            continue
        if best is None:
            break
        newest = max(heads, key=lambda shard: order(shard.ahead[0]))
        listed.append(newest.ahead.pop(0))
    return listed


def _filters(query: IssueQuery, keyed: bool) -> list[tuple[str, str, Any]]:
    """What DynamoDB filters within the partitions (``keyed``: status and category are the partition itself)."""
    return [
        (name, operator, value)
        for name, operator, value in (
            ("status", "=", query.status.value if query.status and not keyed else None),
            ("category", "=", query.category if not keyed else None),
            ("severity", "=", query.severity.value if query.severity else None),
            ("team", "=", query.team),
            # a person's partition is keyed "<address>#<shard>", and an address may itself end in "#4": the shard
            # key of "ana@x.example" can be another person's partition, so the address is matched exactly too
            ("assigned_to", "=", query.assignee),
            ("platform", "=", query.platform and query.platform.lower()),
            ("products", "contains", query.product),
            ("description", "contains", query.q),
            ("follow_up_required", "=", query.follow_up_required),
        )
        if value is not None
    ]


def _all_time(query: IssueQuery, deps: OpsDeps, walk: list[ShardedPartition]) -> IssuePage:
    """The listing with no time window, status or assignee: every status-category partition asked for, merged
    newest activity first, paged by a watermark cursor (the last listed item's ``last_seen`` and id)."""
    after = decode_watermark(deps.cursor_key, query, query.cursor, walk) if query.cursor else None
    found = _newest(deps.issues, walk[0], _filters(query, keyed=True), query.limit + 1, after)
    page = found[: query.limit]
    last = page[-1] if len(found) > query.limit else None
    watermark = [str(last[walk[0].sort]), str(last["issue_id"])] if last else None
    return IssuePage(
        items=[summary(item) for item in page],
        next_cursor=encode_cursor(deps.cursor_key, query, 0, None, watermark) if watermark else None,
    )


def list_issues(query: IssueQuery, deps: OpsDeps, today: date) -> IssuePage:
    """A page of the listing ``query`` asks for: its partitions walked in order, each newest first (a sharded one
    merged over its shards), and the cursor that continues it."""
    if query.category and query.category not in deps.categories:
        raise UnknownCategory(f"category: not one of {', '.join(deps.categories)}")
    walk = partitions(query, deps.categories, today)
    if walk[0].merged:
        return _all_time(query, deps, walk)
    shard_positions: list[ShardPosition]
    if query.cursor:
        position, shard_positions = decode_cursor(deps.cursor_key, query, query.cursor, walk)
    else:
        position, shard_positions = 0, [None] * walk[0].shards
    filters = _filters(query, keyed=walk[0].index == "by_status_category")
    items: list[IssueSummary] = []
    while position < len(walk) and len(items) < query.limit:
        found, shard_positions = _merged(
            deps.issues, walk[position], filters, query.limit - len(items), shard_positions
        )
        items += [summary(item) for item in found]
        if all(shard == END for shard in shard_positions):
            position += 1
            shard_positions = [None] * walk[position].shards if position < len(walk) else []
    more = position < len(walk)
    return IssuePage(
        items=items, next_cursor=encode_cursor(deps.cursor_key, query, position, shard_positions) if more else None
    )


def issue_detail(issue_id: str, issues: IssueReader) -> IssueDetail | None:
    item = issues.get(issue_id)
    if item is None:
        return None
    return IssueDetail(
        issue=summary(item),
        mentions=[_json_ready(m) for m in issues.mentions(issue_id)],
        history=[_json_ready(e) for e in issues.history(issue_id)],
    )


class NotFound(LookupError):
    """404: no such issue."""


class Stale(RuntimeError):
    """412: the issue changed since the version the caller sent in ``If-Match``."""


def _now_iso(now: datetime) -> str:
    return now.astimezone(timezone.utc).isoformat()


def _current(issue_id: str, issues: IssueReader) -> dict[str, Any]:
    item = issues.get(issue_id)
    if item is None:
        raise NotFound(f"no issue {issue_id}")
    return item


def _write(
    issue_id: str,
    item: dict[str, Any],
    if_match: int | None,
    issues: IssueWriter,
    sets: dict[str, Any],
    removes: list[str],
    events: list[AuditEvent],
    reopened: bool = False,
) -> IssueSummary:
    """Write against the version read (or the one ``If-Match`` names), then answer the issue as it now is."""
    version = int(item.get("ops_version") or 0)
    if if_match is not None and if_match != version:
        raise Stale(f"If-Match: the issue is at version {version}, not {if_match}; read it again")
    try:
        issues.change(issue_id, version, sets, removes, events, reopened)
    except KeyError:
        raise NotFound(f"no issue {issue_id}") from None
    except StaleVersion:
        raise Stale("If-Match: the issue changed meanwhile; read it again") from None
    return summary(_current(issue_id, issues))


def update_issue(
    issue_id: str, patch: IssuePatch, if_match: int | None, actor: str, issues: IssueWriter, now: datetime
) -> IssueSummary:
    """Assignee, status (through the allowed transitions), follow-up and resolution note: one audit event each."""
    changes = patch.changes()
    item = _current(issue_id, issues)
    sets: dict[str, Any] = {}
    removes: list[str] = []
    events: list[AuditEvent] = []
    reopened = False

    def event(kind: str, **details: Any) -> None:
        # a microsecond apart: the trail sorts by time, and shows them in the order they were made
        events.append(
            AuditEvent(
                issue_id=issue_id, at=now + timedelta(microseconds=len(events)), type=kind, actor=actor, details=details
            )
        )

    if "assigned_to" in changes and changes["assigned_to"] != (item.get("assigned_to") or None):
        if changes["assigned_to"] is None:  # its index key goes with it: the issue leaves the person's listing
            removes += ["assigned_to", "assignee_shard"]
        else:
            sets.update(
                assigned_to=changes["assigned_to"], assignee_shard=assignee_shard(changes["assigned_to"], issue_id)
            )
        event("assigned", previous=item.get("assigned_to") or None, assigned_to=changes["assigned_to"])
    if "status" in changes and check_transition(str(item.get("status")), IssueStatus(changes["status"])):
        wanted = IssueStatus(changes["status"])
        sets.update(status=wanted.value, status_category=status_category(wanted.value, str(item["category"]), issue_id))
        if wanted is IssueStatus.RESOLVED:
            sets["resolved_at"] = _now_iso(now)
        elif IssueStatus(item["status"]) in REOPENED_FROM and wanted is not IssueStatus.CLOSED:
            removes.append("resolved_at")  # its resolution time is measured again when it is resolved again
            reopened = True
        if wanted is IssueStatus.CLOSED:
            sets["closed_at"] = _now_iso(now)  # an SLA not met by then stops here (domain/metrics.sla_clock_end)
        elif item.get("closed_at"):
            removes.append("closed_at")
        event(
            "resolved" if wanted is IssueStatus.RESOLVED else "status_changed",
            previous=item["status"],
            status=wanted.value,
        )
    if "follow_up_required" in changes and changes["follow_up_required"] != bool(item.get("follow_up_required")):
        sets["follow_up_required"] = changes["follow_up_required"]
        event("follow_up_changed", follow_up_required=changes["follow_up_required"])
    if "resolution_note" in changes and changes["resolution_note"] != item.get("resolution_note"):
        sets["resolution_note"] = changes["resolution_note"]
        event("resolution_noted", resolution_note=changes["resolution_note"])
    if not events:  # nothing changes: no write, no new version (a retried PATCH is harmless)
        version = int(item.get("ops_version") or 0)
        if if_match is not None and if_match != version:
            raise Stale(f"If-Match: the issue is at version {version}, not {if_match}; read it again")
        return summary(item)
    return _write(issue_id, item, if_match, issues, sets, removes, events, reopened)


def add_note(
    issue_id: str, note: NoteBody, if_match: int | None, actor: str, issues: IssueWriter, now: datetime
) -> IssueSummary:
    item = _current(issue_id, issues)
    return _write(
        issue_id,
        item,
        if_match,
        issues,
        {},
        [],
        [AuditEvent(issue_id=issue_id, at=now, type="note", actor=actor, details={"text": note.text})],
    )


def record_satisfaction(
    issue_id: str, score: SatisfactionBody, if_match: int | None, actor: str, issues: IssueWriter, now: datetime
) -> IssueSummary:
    """The issue's satisfaction score (the latest one counts in CSAT), with how it was taken."""
    item = _current(issue_id, issues)
    return _write(
        issue_id,
        item,
        if_match,
        issues,
        {"satisfaction_score": score.score},
        [],
        [
            AuditEvent(
                issue_id=issue_id,
                at=now,
                type="satisfaction_recorded",
                actor=actor,
                details=score.model_dump(exclude_none=True),
            )
        ],
    )


class TokenRecord(BaseModel):
    token_id: str
    name: str
    role: Role | None
    created_at: str | None = None
    expires_at: str


class CreatedToken(TokenRecord):
    token: str = Field(description="the bearer token; shown this once, stored nowhere")


class TokenList(BaseModel):
    items: list[TokenRecord]


class Revoked(BaseModel):
    revoked: str = Field(description="the token id revoked")


def _json_ready(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: whole ones become int, others float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_json_ready(v) for v in value]
    return value


# ---- Tokens ------------------------------------------------------------------------------------------------------


class TokenStore(TokenFinder, Protocol):
    def create(self, name: str, role: Role, days: int, now: datetime) -> tuple[str, dict[str, Any]]: ...

    def list(self) -> list[dict[str, Any]]: ...

    def revoke(self, name: str | None = None, token_id: str | None = None) -> int: ...


def create_token(request: Any, actor: str, tokens: TokenStore, now: datetime) -> CreatedToken:
    from chalicelib.observability import logger

    token, record = tokens.create(request.name, request.role, request.days, now)
    logger.info(
        "ops token created",
        extra={
            "actor": actor,
            "token_id": record["token_id"],
            "token_name": record["name"],
            "role": str(record["role"]),
        },
    )
    return CreatedToken(token=token, **record)


def list_tokens(tokens: TokenStore) -> TokenList:
    return TokenList(items=[TokenRecord(**record) for record in tokens.list()])


def revoke_token(token_id: str, actor: str, tokens: TokenStore) -> int:
    from chalicelib.observability import logger

    revoked = tokens.revoke(token_id=token_id)
    logger.info("ops token revoked", extra={"actor": actor, "token_id": token_id, "revoked": revoked})
    return revoked


# ---- Metrics -----------------------------------------------------------------------------------------------------

METRICS_MAX_DAYS = 92


class MetricsQuery(BaseModel):
    """``GET /metrics/summary``: issues first seen in ``since <= first_seen < until`` (UTC)."""

    model_config = ConfigDict(extra="forbid")

    since: datetime | None = Field(None, description="a time or a day (UTC); default: 7 days before until")
    until: datetime | None = Field(
        None, description=f"a time or a day (UTC), excluded; default: now; at most {METRICS_MAX_DAYS} days after since"
    )


class IssuesInPeriod(Protocol):
    def first_seen_between(self, first_day: str, last_day: str) -> list[dict[str, Any]]: ...

    def live_or_settled_since(self, categories: list[str], since_day: str) -> list[dict[str, Any]]: ...


def metrics_period(wanted: MetricsQuery, now: datetime) -> tuple[datetime, datetime]:
    def utc(name: str, moment: datetime) -> datetime:
        try:
            return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
        except OverflowError:  # 9999-12-31T23:59-14:00 is past datetime's range in UTC
            raise BadQuery(f"{name}: from 2000-01-01 to tomorrow (UTC)") from None

    def in_range(name: str, moment: datetime) -> datetime:
        if not datetime(2000, 1, 1, tzinfo=timezone.utc) <= moment <= now + timedelta(days=1):
            raise BadQuery(f"{name}: from 2000-01-01 to tomorrow (UTC)")
        return moment

    # until is checked before since's default is counted back from it: 7 days before 0001-01-01 is no datetime
    until = in_range("until", utc("until", wanted.until)) if wanted.until else now
    since = in_range("since", utc("since", wanted.since)) if wanted.since else until - timedelta(days=7)
    in_range("since", since)
    if since >= until:
        raise BadQuery(f"since: {since.isoformat()} is not before until ({until.isoformat()})")
    if until - since > timedelta(days=METRICS_MAX_DAYS):
        raise BadQuery(f"since..until: at most {METRICS_MAX_DAYS} days apart")
    return since, until


def metrics_summary(wanted: MetricsQuery, issues: IssuesInPeriod, now: datetime, plan: ResponsePlan):
    """The figures of ``wanted``'s period, with the active ``plan``'s business hours and recurrence window: the
    same figures the weekly report and the monthly review give for that period."""
    from chalicelib.domain.metrics import summarize
    from chalicelib.domain.report import LOOKBACK_DAYS
    from chalicelib.services.issue_window import issues_for_period

    since, until = metrics_period(wanted, now)
    window = timedelta(days=plan.recurrence.window_days)
    # as the weekly report reads them (one function): the period's issues, those first seen before it that are open
    # in it or that it resolves, and the later ones that may recur what it resolved
    lookback = timedelta(days=LOOKBACK_DAYS)
    found = issues_for_period(issues, plan.categories, since, until, now, window, lookback)
    return summarize(
        [_json_ready(item) for item in found],
        since,
        until,
        now,
        hours=plan.team_hours(),
        recurrence_window=window,
    )


# ---- Regrouping: merge two issues, split a mention off one -------------------------------------------------------


class IssueRegrouping(IssueReader, Protocol):
    def mention(self, key: str) -> dict[str, Any] | None: ...

    def merge(self, target: dict[str, Any], source: dict[str, Any], events: list[AuditEvent]) -> None: ...

    def repoint(self, source_id: str, target_id: str) -> int: ...

    def split(self, source: dict[str, Any], mention_key: str, issue: Any, events: list[AuditEvent]) -> None: ...


def merge_issues(
    target_id: str, body: Any, if_match: int | None, actor: str, store: IssueRegrouping, now: datetime
) -> IssueSummary:
    """Fold ``body.from_issue`` into ``target_id``: its mentions and dedup keys move over (later mentions of it
    join the issue that stays), it is closed with ``merged_into``; an audit event on each. A repeat finishes the
    first run's moves and answers the same."""
    from chalicelib.domain.ops import InvalidChange

    source_id = body.from_issue
    if source_id == target_id:
        raise InvalidChange("from_issue: an issue cannot be merged into itself")
    target, source = _current(target_id, store), _current(source_id, store)
    version = int(target.get("ops_version") or 0)
    if source.get("merged_into") == target_id:  # merged already: finish moving, change nothing else
        store.repoint(source_id, target_id)
        return summary(target)
    if if_match is not None and if_match != version:
        raise Stale(f"If-Match: the issue is at version {version}, not {if_match}; read it again")
    for item, role in ((source, "from_issue"), (target, "the issue")):
        if item.get("merged_into"):
            raise IllegalTransition(f"{role} {item['issue_id']} was merged into {item['merged_into']} already")
    if str(source.get("status")) == IssueStatus.CLOSED.value:
        raise IllegalTransition(f"from_issue {source_id} is closed: reopen it first, or leave it")
    events = [
        AuditEvent(
            issue_id=target_id,
            at=now,
            type="merged",
            actor=actor,
            details={"from_issue": source_id, "mentions": int(source.get("mention_count") or 0)},
        ),
        AuditEvent(
            issue_id=source_id,
            at=now,
            type="merged_into",
            actor=actor,
            details={"into": target_id, "previous_status": source.get("status")},
        ),
    ]
    try:
        store.merge(target, source, events)
    except StaleVersion:
        raise Stale("If-Match: one of the issues changed meanwhile; read them again") from None
    store.repoint(source_id, target_id)
    return summary(_current(target_id, store))


def split_mention(
    source_id: str, body: Any, if_match: int | None, actor: str, store: IssueRegrouping, now: datetime
) -> IssueSummary:
    """One mention leaves ``source_id`` and opens its own issue (same category, severity, team and assignee).
    The new issue's id derives from the two, so a repeated split answers 409 naming where the mention went."""
    from chalicelib.domain.ops import split_issue_id, split_off

    source = _current(source_id, store)
    version = int(source.get("ops_version") or 0)
    if if_match is not None and if_match != version:
        raise Stale(f"If-Match: the issue is at version {version}, not {if_match}; read it again")
    mention = store.mention(body.mention)
    if mention is None or not mention.get("created_at"):
        raise NotFound(f"no mention {body.mention}")
    if mention.get("issue_id") != source_id:
        raise IllegalTransition(
            f"mention {body.mention} is not on issue {source_id} (it is on {mention.get('issue_id') or 'no issue'})"
        )
    if int(source.get("mention_count") or 0) <= 1:
        raise IllegalTransition(f"mention {body.mention} is the only mention of {source_id}: nothing to split")
    new_id = split_issue_id(source_id, body.mention, str(mention["created_at"]))
    issue = split_off(_json_ready(source), _json_ready(mention), new_id)
    events = [
        AuditEvent(
            issue_id=source_id,
            at=now,
            type="split",
            actor=actor,
            details={"mention": body.mention, "new_issue": new_id},
        ),
        AuditEvent(
            issue_id=new_id,
            at=now,
            type="opened",
            actor=actor,
            details={"split_from": source_id, "mention": body.mention},
        ),
    ]
    try:
        store.split(source, body.mention, issue, events)
    except StaleVersion:
        raise Stale("If-Match: the issue or the mention changed meanwhile; read it again") from None
    return summary(_current(new_id, store))
