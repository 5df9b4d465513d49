"""The ops API's domain and use cases with fakes: who may call, which partitions a query walks, cursors."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from chalicelib.domain.ops import BadCursor, IssueQuery, Role, decode_cursor, encode_cursor, partitions
from chalicelib.services.ops import Forbidden, OpsDeps, Unauthorized, authorize, list_issues

NOW = datetime(2026, 11, 24, tzinfo=timezone.utc)


class FakeTokens:
    def __init__(self, tokens: dict[str, list[str]]) -> None:
        self.tokens = tokens

    def find(self, token: str, now: datetime):
        roles = self.tokens.get(token)
        return {"name": f"holder-of-{token}", "roles": roles} if roles is not None else None


def test_authorize_admin_stored_tokens_and_refusals():
    tokens = FakeTokens({"r": ["issues:read"], "w": ["reports:read"]})
    assert authorize("Bearer adm", Role.ISSUES_READ, "adm", tokens, NOW) == "admin"
    assert authorize("bearer r", Role.ISSUES_READ, "adm", tokens, NOW) == "holder-of-r"
    for header in (None, "", "Bearer", "Bearer ", "Basic adm", "adm"):
        with pytest.raises(Unauthorized):
            authorize(header, Role.ISSUES_READ, "adm", tokens, NOW)
    with pytest.raises(Unauthorized):
        authorize("Bearer adm", Role.ISSUES_READ, None, tokens, NOW)  # no admin configured: not a wildcard
    with pytest.raises(Forbidden):
        authorize("Bearer w", Role.ISSUES_READ, "adm", tokens, NOW)


def test_partitions_follow_the_most_selective_index():
    cats = ["routine_response", "high_priority"]
    by_assignee = partitions(IssueQuery(assignee="ana@x", status="open"), cats, date(2026, 11, 24))
    assert [(p.index, p.value) for p in by_assignee] == [("by_assignee", "ana@x")]
    by_status = partitions(IssueQuery(status="open"), cats, date(2026, 11, 24))
    assert [p.value for p in by_status] == ["open#routine_response", "open#high_priority"]
    by_day = partitions(IssueQuery(), cats, date(2026, 11, 24))
    assert [p.value for p in by_day] == [f"2026-11-{d}" for d in range(24, 17, -1)]  # newest first, 7 days
    with pytest.raises(ValueError):
        IssueQuery(since=date(2026, 1, 1), until=date(2026, 11, 1))  # more than a quarter


def test_cursors_round_trip_and_are_bound_to_key_and_query():
    query = IssueQuery(status="open", limit=2)
    cursor = encode_cursor("k", query, 1, {"issue_id": {"S": "i-1"}})
    assert decode_cursor("k", query.model_copy(update={"limit": 5}), cursor) == (1, {"issue_id": {"S": "i-1"}})
    with pytest.raises(BadCursor):
        decode_cursor("other-key", query, cursor)
    with pytest.raises(BadCursor):
        decode_cursor("k", IssueQuery(status="resolved"), cursor)
    with pytest.raises(BadCursor):
        decode_cursor("k", query, "Zm9v.bar")


class FakeIssues:
    """Partitions as lists, newest first; pages cut by ``limit`` like DynamoDB's Limit."""

    def __init__(self, rows: dict[str, list[dict]]) -> None:
        self.rows = rows
        self.calls = 0

    def page(self, partition, filters, limit, start_key):
        self.calls += 1
        rows = self.rows.get(partition.value, [])
        start = int(start_key["i"]) if start_key else 0
        chunk = rows[start:start + limit]
        end = start + len(chunk)
        kept = [r for r in chunk if all(r.get(k) == v for k, v in filters.items())]
        return kept, ({"i": end} if end < len(rows) else None)


def row(n: int, category: str, severity: str = "low") -> dict:
    return {"issue_id": f"i-{n}", "category": category, "severity": severity, "status": "open",
            "first_seen": "2026-11-20T09:00:00+00:00", "last_seen": "2026-11-20T09:00:00+00:00"}


def test_list_issues_walks_partitions_and_pages_without_losing_or_repeating():
    rows = {"open#routine_response": [row(n, "routine_response", "high" if n % 2 else "low") for n in range(5)],
            "open#high_priority": [row(9, "high_priority", "high")]}
    deps = OpsDeps(issues=FakeIssues(rows), categories=["routine_response", "high_priority"], cursor_key="k")
    for limit, severity in ((2, None), (1, "high"), (100, None)):
        seen, cursor = [], None
        while True:
            page = list_issues(IssueQuery(status="open", limit=limit, severity=severity, cursor=cursor), deps,
                               date(2026, 11, 24))
            assert len(page.items) <= limit
            seen += [i.issue_id for i in page.items]
            cursor = page.next_cursor
            if not cursor:
                break
        expected = [r["issue_id"] for part in rows.values() for r in part
                    if severity is None or r["severity"] == severity]
        assert seen == expected
