"""The ops API's domain and use cases with fakes: who may call, which partitions a query walks, cursors."""

from __future__ import annotations

import base64
from datetime import date, datetime, timezone

import pytest

from chalicelib.domain.index_shards import (
    ASSIGNEE_SHARDS,
    DAY_SHARDS,
    STATUS_CATEGORY_SHARDS,
    index_shard,
    status_category,
)
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
    # a person's issues over ASSIGNEE_SHARDS values of their own key attribute (assigned_to itself stays plain)
    assert [(p.index, p.key, p.value, p.shards) for p in by_assignee] == [
        ("by_assignee_shard", "assignee_shard", "ana@x", ASSIGNEE_SHARDS)
    ]
    assert ASSIGNEE_SHARDS > 1
    assert [p.value for p in by_assignee[0].parts()] == ["ana@x"] + [
        f"ana@x#{shard}" for shard in range(1, ASSIGNEE_SHARDS)
    ]
    by_status = partitions(IssueQuery(status="open"), cats, date(2026, 11, 24))
    assert [p.value for p in by_status] == ["open#routine_response", "open#high_priority"]
    # each written over STATUS_CATEGORY_SHARDS key values: shard 0 the plain one (items written before the shards)
    assert STATUS_CATEGORY_SHARDS > 1 and all(p.shards == STATUS_CATEGORY_SHARDS for p in by_status)
    assert [p.value for p in by_status[0].parts()] == ["open#routine_response"] + [
        f"open#routine_response#{shard}" for shard in range(1, STATUS_CATEGORY_SHARDS)
    ]
    # until alone: the 7 days up to it (no since/until at all lists all time: tests/unit/test_listing_fixes.py)
    by_day = partitions(IssueQuery(until=date(2026, 11, 24)), cats, date(2026, 11, 24))
    assert [p.value for p in by_day] == [f"2026-11-{d}" for d in range(24, 17, -1)]  # newest first, 7 days
    assert [p.value for p in by_day[0].parts()][:2] == ["2026-11-24", "2026-11-24#1"]
    assert all(p.shards == DAY_SHARDS for p in by_day) and DAY_SHARDS != STATUS_CATEGORY_SHARDS
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


AT_SHARD_3 = [None, None, None, ("i-1", "2026-11-20T09:00:00+00:00")] + [None] * (STATUS_CATEGORY_SHARDS - 4)


def test_cursors_round_trip_and_are_bound_to_key_and_query():
    query = IssueQuery(status="open", limit=2)
    walk = partitions(query, ["routine_response", "high_priority"], TODAY)
    positions = ["end", *AT_SHARD_3[1:]]
    cursor = encode_cursor("k", query, 1, positions)
    assert decode_cursor("k", query.model_copy(update={"limit": 5}), cursor, walk) == (1, positions)
    assert decode_cursor("k", query, encode_cursor("k", query, 1, [None] * STATUS_CATEGORY_SHARDS), walk) == (
        1,
        [None] * STATUS_CATEGORY_SHARDS,
    )
    with pytest.raises(BadCursor):
        decode_cursor("other-key", query, cursor, walk)
    with pytest.raises(BadCursor):
        decode_cursor("k", IssueQuery(status="resolved"), cursor, walk)
    with pytest.raises(BadCursor):
        decode_cursor("k", query, "Zm9v.bar", walk)


def test_a_cursor_carries_no_partition_key_values_and_stays_short_with_every_shard_started():
    query = IssueQuery(status="open")
    walk = partitions(query, ["routine_response"], TODAY)
    positions = [(f"iss-20261120T090000-{n:08x}", f"2026-11-20T09:00:{n:02d}.123456+00:00") for n in range(16)]
    cursor = encode_cursor("k", query, 0, positions[:STATUS_CATEGORY_SHARDS])
    assert "open#" not in base64.urlsafe_b64decode(cursor.split(".")[0] + "===").decode()
    assert len(cursor) < 4096 // 2  # IssueQuery.cursor takes 4,096 characters
    assert decode_cursor("k", query, cursor, walk) == (0, positions[:STATUS_CATEGORY_SHARDS])


@pytest.mark.parametrize("payload", [b"not json", b"[1]", b"\xff", b"{}", b'{"q":"x","p":0,"k":null}'])
def test_a_signed_cursor_that_is_not_a_position_is_refused(payload):
    with pytest.raises(BadCursor, match="cursor"):
        decode_cursor(
            "k",
            IssueQuery(status="open"),
            seal("k", payload),
            partitions(IssueQuery(status="open"), ["routine_response"], TODAY),
        )


OLD_START_KEY = {  # what cursors carried before the shards: DynamoDB's last evaluated key
    "issue_id": {"S": "i-1"},
    "status_category": {"S": "open#high_priority"},
    "last_seen": {"S": "2026-11-20T09:00:00+00:00"},
}


@pytest.mark.parametrize(
    "position, shard_positions",
    [
        (-1, None),
        (2, None),
        ("1", None),
        (True, None),
        (1.0, None),
        (1, "i-1"),
        (1, OLD_START_KEY),  # a cursor from before the shards: a 400, the client starts the listing again
        (1, [OLD_START_KEY] + [None] * (STATUS_CATEGORY_SHARDS - 1)),
        (1, AT_SHARD_3[:-1]),  # one shard short
        (1, [*AT_SHARD_3, None]),  # one shard too many
        (1, ["start", *AT_SHARD_3[1:]]),
        (1, [("i-1",), *AT_SHARD_3[1:]]),
        (1, [("i-1", "x", "y"), *AT_SHARD_3[1:]]),
        (1, [("", "2026-11-20"), *AT_SHARD_3[1:]]),
        (1, [(1, "2026-11-20"), *AT_SHARD_3[1:]]),
        (1, [("i-1", "é" * 600), *AT_SHARD_3[1:]]),  # 1200 bytes: over DynamoDB's key limit
    ],
)
def test_a_signed_cursor_with_a_bad_position_or_shard_positions_is_refused(position, shard_positions):
    query = IssueQuery(status="open")
    walk = partitions(query, ["routine_response", "high_priority"], TODAY)
    with pytest.raises(BadCursor, match="cursor"):
        decode_cursor("k", query, encode_cursor("k", query, position, shard_positions), walk)


class FakeIssues:
    """An index in memory: each partition newest first by its sort key (a tie by issue id, highest first), pages
    cut by ``limit`` like DynamoDB's Limit (counted before the filters), resumed after ``start_key``."""

    def __init__(self, items: list[dict]) -> None:
        self.items = items
        self.calls = 0

    def page(self, partition, filters, limit, start_key):
        self.calls += 1
        rows = sorted(
            (r for r in self.items if r.get(partition.key) == partition.value),
            key=lambda r: (r[partition.sort], r["issue_id"]),
            reverse=True,
        )
        if start_key:
            assert start_key[partition.key] == {"S": partition.value}  # a start key of this very partition
            after = (start_key[partition.sort]["S"], start_key["issue_id"]["S"])
            rows = [r for r in rows if (r[partition.sort], r["issue_id"]) < after]
        chunk = rows[:limit]
        kept = [r for r in chunk if all(r.get(k) == v for k, _, v in filters)]
        last = chunk[-1] if chunk else None  # DynamoDB's LastEvaluatedKey: the index key of the last item read
        return kept, (
            {
                "issue_id": {"S": last["issue_id"]},
                partition.key: {"S": partition.value},
                partition.sort: {"S": last[partition.sort]},
            }
            if len(chunk) < len(rows)
            else None
        )


def row(n: int, category: str, severity: str = "low", last_seen: str = "2026-11-20T09:00:00+00:00") -> dict:
    issue_id = f"i-{n}"
    return {
        "issue_id": issue_id,
        "category": category,
        "severity": severity,
        "status": "open",
        "status_category": status_category("open", category, issue_id),  # as the writers write it: sharded
        "first_seen": "2026-11-20T09:00:00+00:00",
        "last_seen": last_seen,
    }


def every_page(deps: OpsDeps, today: date = date(2026, 11, 24), **query) -> list[str]:
    """Every issue a listing pages through, each page within its limit."""
    seen, cursor = [], None
    while True:
        page = list_issues(IssueQuery(**query, cursor=cursor), deps, today)
        assert len(page.items) <= query.get("limit", 25)
        seen += [i.issue_id for i in page.items]
        cursor = page.next_cursor
        if not cursor:
            return seen


def test_list_issues_walks_partitions_and_pages_without_losing_or_repeating():
    rows = {
        "routine_response": [row(n, "routine_response", "high" if n % 2 else "low") for n in range(5)],
        "high_priority": [row(9, "high_priority", "high")],
    }
    assert len({r["status_category"] for r in rows["routine_response"]}) > 1  # over several shards
    deps = OpsDeps(
        issues=FakeIssues([r for part in rows.values() for r in part]),
        categories=["routine_response", "high_priority"],
        cursor_key="k",
    )
    for limit, severity in ((2, None), (1, "high"), (100, None)):
        seen = every_page(deps, status="open", limit=limit, severity=severity)
        # one last_seen for all: a tie, listed shard by shard (lowest first); within a shard, the index's order
        expected = [
            r["issue_id"]
            for part in rows.values()
            for r in sorted(
                sorted(part, key=lambda r: r["issue_id"], reverse=True),
                key=lambda r: index_shard(r["issue_id"], STATUS_CATEGORY_SHARDS),
            )
            if severity is None or r["severity"] == severity
        ]
        assert seen == expected


def test_a_sharded_listing_is_newest_first_across_shards_page_after_page():
    """Every shard read, merged by the sort key: the pages together are the partition in order, whatever the
    limit, with ties (the same last_seen in several shards) listed by shard, each shard newest first."""
    times = [f"2026-11-20T09:{minute:02d}:00+00:00" for minute in (5, 4, 4, 3, 2, 1)]  # some alike: ties
    items = [row(n, "routine_response", "high" if n % 3 else "low", times[n % len(times)]) for n in range(60)]
    items += [row(100 + n, "high_priority", "high", times[n % len(times)]) for n in range(7)]
    assert len({r["status_category"] for r in items}) > STATUS_CATEGORY_SHARDS // 2
    deps = OpsDeps(issues=FakeIssues(items), categories=["routine_response", "high_priority"], cursor_key="k")
    for severity in (None, "high"):
        expected = [
            r["issue_id"]
            for category in ("routine_response", "high_priority")
            # newest first; a tie by shard; within a shard, as the index orders it (the fake: issue id, down)
            for r in sorted(
                sorted(
                    (r for r in items if r["category"] == category and severity in (None, r["severity"])),
                    key=lambda r: r["issue_id"],
                    reverse=True,
                ),
                key=lambda r: (-int(r["last_seen"][14:16]), index_shard(r["issue_id"], STATUS_CATEGORY_SHARDS)),
            )
        ]
        for limit in (1, 3, 7, 25, 100):
            assert every_page(deps, status="open", limit=limit, severity=severity) == expected, (limit, severity)
