"""The ops API's domain and use cases with fakes: who may call, which partitions a query walks, cursors."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from chalicelib.domain.issues import IssueStatus
from chalicelib.domain.ops import (
    BadCursor,
    BadQuery,
    IllegalTransition,
    IssueQuery,
    Role,
    check_transition,
    days,
    decode_cursor,
    encode_cursor,
    etag,
    grants,
    parse_if_match,
    partitions,
    seal,
    stored_role,
)
from chalicelib.services.ops import Forbidden, OpsDeps, Unauthorized, authorize, list_issues

NOW = datetime(2026, 11, 24, tzinfo=timezone.utc)


class FakeTokens:
    def __init__(self, tokens: dict[str, Role]) -> None:
        self.tokens = tokens

    def find(self, token: str, now: datetime):
        role = self.tokens.get(token)
        return {"name": f"holder-of-{token}", "role": role} if role is not None else None


def test_authorize_admin_stored_tokens_and_refusals():
    tokens = FakeTokens({"v": Role.VIEWER, "r": Role.RESPONDER, "a": Role.ADMIN})
    assert authorize("Bearer adm", Role.ADMIN, "adm", tokens, NOW).name == "admin"
    assert authorize("bearer v", Role.VIEWER, "adm", tokens, NOW).name == "holder-of-v"
    assert authorize("Bearer r", Role.VIEWER, "adm", tokens, NOW).role is Role.RESPONDER  # roles hold those below
    assert authorize("Bearer a", Role.RESPONDER, "adm", tokens, NOW).name == "holder-of-a"
    assert authorize("Bearer v", Role.VIEWER, "adm", tokens, NOW).key != "v"  # counted by hash, never the token
    for header in (None, "", "Bearer", "Bearer ", "Basic adm", "adm"):
        with pytest.raises(Unauthorized):
            authorize(header, Role.VIEWER, "adm", tokens, NOW)
    with pytest.raises(Unauthorized):
        authorize("Bearer adm", Role.VIEWER, None, tokens, NOW)  # no admin configured: not a wildcard
    for token, wanted in (("v", Role.RESPONDER), ("v", Role.ADMIN), ("r", Role.ADMIN)):
        with pytest.raises(Forbidden):
            authorize(f"Bearer {token}", wanted, "adm", tokens, NOW)


def test_stored_roles_read_older_tokens_as_viewers():
    assert stored_role("responder") is Role.RESPONDER
    assert stored_role(["issues:read"]) is Role.VIEWER and stored_role(["reports:read", "admin"]) is Role.ADMIN
    assert stored_role(["nothing"]) is None and not grants(None, Role.VIEWER)


@pytest.mark.parametrize(
    "current, wanted, changes",
    [
        ("open", "in_progress", True),
        ("open", "open", False),
        ("in_progress", "resolved", True),
        ("resolved", "closed", True),
        ("resolved", "in_progress", True),
        ("closed", "in_progress", True),
    ],
)
def test_allowed_transitions(current, wanted, changes):
    assert check_transition(current, IssueStatus(wanted)) is changes


@pytest.mark.parametrize(
    "current, wanted", [("resolved", "open"), ("closed", "resolved"), ("closed", "open"), ("weird", "open")]
)
def test_illegal_transitions_say_what_is_allowed(current, wanted):
    with pytest.raises(IllegalTransition, match="status"):
        check_transition(current, IssueStatus(wanted))


def test_if_match_reads_etags_and_refuses_anything_else():
    assert parse_if_match(etag(3)) == 3 and parse_if_match('W/"v3"') == 3 and parse_if_match("7") == 7
    assert parse_if_match(None) is None and parse_if_match("*") is None
    for bad in ("", '"vx"', "٣", "v" + "9" * 20, '"v-1"'):
        with pytest.raises(ValueError, match="If-Match"):
            parse_if_match(bad)


def test_partitions_follow_the_most_selective_index():
    cats = ["routine_response", "high_priority"]
    by_assignee = partitions(IssueQuery(assignee="ana@x", status="open"), cats, date(2026, 11, 24))
    assert [(p.index, p.value) for p in by_assignee] == [("by_assignee", "ana@x")]
    by_status = partitions(IssueQuery(status="open"), cats, date(2026, 11, 24))
    assert [p.value for p in by_status] == ["open#routine_response", "open#high_priority"]
    by_day = partitions(IssueQuery(), cats, date(2026, 11, 24))
    assert [p.value for p in by_day] == [f"2026-11-{d}" for d in range(24, 17, -1)]  # newest first, 7 days
    with pytest.raises(BadQuery, match="since..until"):
        partitions(IssueQuery(since=date(2026, 1, 1), until=date(2026, 11, 1)), cats, date(2026, 11, 24))


TODAY = date(2026, 11, 24)


@pytest.mark.parametrize(
    "since, until, expected",
    [
        (None, None, (date(2026, 11, 18), TODAY)),
        (None, date(2000, 1, 3), (date(2000, 1, 1), date(2000, 1, 3))),  # the default week stops at the first day
        (date(2026, 11, 25), None, (date(2026, 11, 25), date(2026, 11, 25))),  # tomorrow (UTC) already, east of it
        (date(2026, 9, 1), None, (date(2026, 9, 1), TODAY)),
    ],
)
def test_the_days_a_listing_covers(since, until, expected):
    assert days(IssueQuery(since=since, until=until), TODAY) == expected


@pytest.mark.parametrize(
    "since, until, named",
    [
        (None, date(1, 1, 1), "until"),
        (date(9999, 12, 31), None, "since"),
        (date(1, 1, 1), date(1, 1, 3), "since"),
        (None, date(9999, 12, 31), "until"),
        (date(1999, 12, 31), None, "since"),
        (None, date(2026, 11, 26), "until"),
        (date(2026, 11, 21), date(2026, 11, 1), "since"),
        (date(2026, 1, 1), None, "since..until"),
    ],
)
def test_days_outside_the_window_or_out_of_order_are_refused_by_name(since, until, named):
    with pytest.raises(BadQuery) as refused:
        days(IssueQuery(since=since, until=until), TODAY)
    assert str(refused.value).startswith(f"{named}:")


STATUS_KEY = {
    "issue_id": {"S": "i-1"},
    "status_category": {"S": "open#high_priority"},
    "last_seen": {"S": "2026-11-20T09:00:00+00:00"},
}


def test_cursors_round_trip_and_are_bound_to_key_and_query():
    query = IssueQuery(status="open", limit=2)
    walk = partitions(query, ["routine_response", "high_priority"], TODAY)
    cursor = encode_cursor("k", query, 1, STATUS_KEY)
    assert decode_cursor("k", query.model_copy(update={"limit": 5}), cursor, walk) == (1, STATUS_KEY)
    with pytest.raises(BadCursor):
        decode_cursor("other-key", query, cursor, walk)
    with pytest.raises(BadCursor):
        decode_cursor("k", IssueQuery(status="resolved"), cursor, walk)
    with pytest.raises(BadCursor):
        decode_cursor("k", query, "Zm9v.bar", walk)


@pytest.mark.parametrize("payload", [b"not json", b"[1]", b"\xff", b"{}", b'{"q":"x","p":0,"k":null}'])
def test_a_signed_cursor_that_is_not_a_position_is_refused(payload):
    with pytest.raises(BadCursor, match="cursor"):
        decode_cursor(
            "k",
            IssueQuery(status="open"),
            seal("k", payload),
            partitions(IssueQuery(status="open"), ["routine_response"], TODAY),
        )


@pytest.mark.parametrize(
    "position, start_key",
    [
        (-1, None),
        (2, None),
        ("1", None),
        (True, None),
        (1.0, None),
        (1, "i-1"),
        (1, {"issue_id": {"S": "i-1"}}),
        (1, {**STATUS_KEY, "extra": {"S": "x"}}),
        (1, {**STATUS_KEY, "issue_id": {"N": "1"}}),
        (1, {**STATUS_KEY, "issue_id": {"S": ""}}),
        (0, STATUS_KEY),  # the key of the second partition at the first's position
        (1, {**STATUS_KEY, "last_seen": {"S": "é" * 600}}),  # 1200 bytes: over DynamoDB's key limit
        (1, {**STATUS_KEY, "last_seen": {"S": "x", "N": "1"}}),
    ],
)
def test_a_signed_cursor_with_a_bad_position_or_start_key_is_refused(position, start_key):
    query = IssueQuery(status="open")
    walk = partitions(query, ["routine_response", "high_priority"], TODAY)
    with pytest.raises(BadCursor, match="cursor"):
        decode_cursor("k", query, encode_cursor("k", query, position, start_key), walk)


class FakeIssues:
    """Partitions as lists, newest first; pages cut by ``limit`` like DynamoDB's Limit."""

    def __init__(self, rows: dict[str, list[dict]]) -> None:
        self.rows = rows
        self.calls = 0

    def page(self, partition, filters, limit, start_key):
        self.calls += 1
        rows = self.rows.get(partition.value, [])
        start = (
            next(n for n, r in enumerate(rows) if r["issue_id"] == start_key["issue_id"]["S"]) + 1 if start_key else 0
        )
        chunk = rows[start : start + limit]
        end = start + len(chunk)
        kept = [r for r in chunk if all(r.get(k) == v for k, _, v in filters)]
        last = chunk[-1] if chunk else None  # DynamoDB's LastEvaluatedKey: the index key of the last item read
        return kept, (
            {
                "issue_id": {"S": last["issue_id"]},
                partition.key: {"S": partition.value},
                partition.sort: {"S": last["last_seen"]},
            }
            if end < len(rows)
            else None
        )


def row(n: int, category: str, severity: str = "low") -> dict:
    return {
        "issue_id": f"i-{n}",
        "category": category,
        "severity": severity,
        "status": "open",
        "first_seen": "2026-11-20T09:00:00+00:00",
        "last_seen": "2026-11-20T09:00:00+00:00",
    }


def test_list_issues_walks_partitions_and_pages_without_losing_or_repeating():
    rows = {
        "open#routine_response": [row(n, "routine_response", "high" if n % 2 else "low") for n in range(5)],
        "open#high_priority": [row(9, "high_priority", "high")],
    }
    deps = OpsDeps(issues=FakeIssues(rows), categories=["routine_response", "high_priority"], cursor_key="k")
    for limit, severity in ((2, None), (1, "high"), (100, None)):
        seen, cursor = [], None
        while True:
            page = list_issues(
                IssueQuery(status="open", limit=limit, severity=severity, cursor=cursor), deps, date(2026, 11, 24)
            )
            assert len(page.items) <= limit
            seen += [i.issue_id for i in page.items]
            cursor = page.next_cursor
            if not cursor:
                break
        expected = [
            r["issue_id"] for part in rows.values() for r in part if severity is None or r["severity"] == severity
        ]
        assert seen == expected
