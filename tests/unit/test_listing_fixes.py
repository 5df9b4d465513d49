"""GET /issues with no time window lists all time (review E): the merged walk over every status-category
partition, newest activity first, paged by a signed watermark cursor; with fakes."""

from __future__ import annotations

import random
from datetime import date

import pytest

from chalicelib.domain.index_shards import STATUS_CATEGORY_SHARDS, status_category
from chalicelib.domain.issues import IssueStatus
from chalicelib.domain.ops import BadCursor, IssueQuery, decode_watermark, encode_cursor, partitions, seal
from chalicelib.services.ops import OpsDeps, list_issues
from tests.unit import test_ops as ops_tests

TODAY = date(2026, 12, 1)
CATS = ["routine_response", "high_priority"]


class FakeIndex:
    """An index in memory like DynamoDB's: newest first by the sort key (ties in an order of its own: the fake
    shuffles them), ``Limit`` counted before the filters, ``upto`` a key condition, resumed after ``start_key``."""

    def __init__(self, items: list[dict]) -> None:
        self.items = items
        self.calls = 0

    def page(self, partition, filters, limit, start_key, upto=None):
        self.calls += 1
        rows = [r for r in self.items if r.get(partition.key) == partition.value]
        if upto is not None:
            rows = [r for r in rows if r[partition.sort] <= upto]
        tie = {r["issue_id"]: random.Random(r["issue_id"]).random() for r in rows}
        rows.sort(key=lambda r: (r[partition.sort], tie[r["issue_id"]]), reverse=True)
        if start_key:
            at = [r["issue_id"] for r in rows].index(start_key["issue_id"]["S"])
            rows = rows[at + 1 :]
        chunk = rows[:limit]
        kept = [
            r for r in chunk if all((v in r.get(k, ())) if op == "contains" else r.get(k) == v for k, op, v in filters)
        ]
        last = chunk[-1] if chunk else None
        more = len(chunk) < len(rows)
        return kept, (
            {
                "issue_id": {"S": last["issue_id"]},
                partition.key: {"S": partition.value},
                partition.sort: {"S": last[partition.sort]},
            }
            if more
            else None
        )


def issue(n: int, category: str, status: str, last_seen: str, **more) -> dict:
    issue_id = f"iss-{n:04d}"
    return {
        "issue_id": issue_id,
        "category": category,
        "severity": "low",
        "status": status,
        "status_category": status_category(status, category, issue_id),
        "first_seen": last_seen,
        "first_seen_day": last_seen[:10],
        "last_seen": last_seen,
        "platform": "x",
        "description": f"issue {n}",
        **more,
    }


def every_page(deps: OpsDeps, **query) -> list[str]:
    return ops_tests.every_page(deps, TODAY, **query)


def test_no_time_window_lists_all_time_newest_first_whatever_the_page_size():
    """2015 issues and this week's, in every status: all listed, newest activity first, each once."""
    statuses = [s.value for s in IssueStatus]
    times = [f"2015-0{1 + n % 9}-1{n % 10}T08:00:00+00:00" for n in range(40)] + [
        f"2026-11-2{n % 10}T09:0{n % 3}:00+00:00" for n in range(40)
    ]  # many alike: ties across shards and statuses
    items = [
        issue(n, CATS[n % 2], statuses[n % 4], t, platform="x" if n % 3 else "facebook") for n, t in enumerate(times)
    ]
    deps = OpsDeps(issues=FakeIndex(items), categories=CATS, cursor_key="k")
    expected = [r["issue_id"] for r in sorted(items, key=lambda r: (r["last_seen"], r["issue_id"]), reverse=True)]
    for limit in (1, 2, 7, 25, 100):
        assert every_page(deps, limit=limit) == expected, limit
    routine = [i for i in expected if next(r for r in items if r["issue_id"] == i)["category"] == "routine_response"]
    assert every_page(deps, category="routine_response", limit=3) == routine
    facebook = [i for i in expected if next(r for r in items if r["issue_id"] == i)["platform"] == "facebook"]
    assert every_page(deps, platform="facebook", limit=4) == facebook
    assert every_page(deps, q="issue 7", limit=5) == [
        i
        for i in expected
        if i
        in {
            "iss-0007",
            "iss-0070",
            "iss-0071",
            "iss-0072",
            "iss-0073",
            "iss-0074",
            "iss-0075",
            "iss-0076",
            "iss-0077",
            "iss-0078",
            "iss-0079",
        }
    ]


def test_a_page_reads_each_shard_once_more_or_less_not_the_whole_index():
    items = [
        issue(n, CATS[n % 2], "closed", f"2020-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}+00:00") for n in range(400)
    ]
    index = FakeIndex(items)
    page = list_issues(IssueQuery(limit=10), OpsDeps(issues=index, categories=CATS, cursor_key="k"), TODAY)
    assert len(page.items) == 10 and page.next_cursor
    shards = len(CATS) * len(IssueStatus) * STATUS_CATEGORY_SHARDS
    assert index.calls <= shards + 2 * len(CATS) * STATUS_CATEGORY_SHARDS, index.calls


def test_since_or_until_still_lists_by_day_and_status_by_category():
    assert partitions(IssueQuery(), CATS, TODAY)[0].merged
    walk = partitions(IssueQuery(), CATS, TODAY)
    assert [p.value for p in walk[0].parts()[::STATUS_CATEGORY_SHARDS]] == [
        f"{s.value}#{c}" for c in CATS for s in IssueStatus
    ]
    assert partitions(IssueQuery(since=date(2026, 11, 20)), CATS, TODAY)[0].index == "by_day"
    assert partitions(IssueQuery(until=date(2026, 11, 20)), CATS, TODAY)[0].index == "by_day"
    assert [p.value for p in partitions(IssueQuery(status="open"), CATS, TODAY)] == [
        "open#routine_response",
        "open#high_priority",
    ]
    assert partitions(IssueQuery(assignee="ana"), CATS, TODAY)[0].index == "by_assignee_shard"


@pytest.mark.parametrize(
    "position, shard_positions, watermark",
    [
        (0, None, None),  # no watermark
        (1, None, ["2026-11-20T09:00:00+00:00", "iss-1"]),
        (0, ["end"] + [None] * (STATUS_CATEGORY_SHARDS - 1), ["2026-11-20T09:00:00+00:00", "iss-1"]),
        (0, None, ["", "iss-1"]),
        (0, None, ["2026", ""]),
        (0, None, ["é" * 600, "iss-1"]),
        (0, None, ["2026"]),
        (0, None, ["2026", "iss-1", "x"]),
        (0, None, [1, "iss-1"]),
        (0, None, "2026"),
    ],
)
def test_a_signed_watermark_that_is_not_a_position_is_refused(position, shard_positions, watermark):
    query = IssueQuery()
    walk = partitions(query, CATS, TODAY)
    with pytest.raises(BadCursor, match="cursor"):
        decode_watermark("k", query, encode_cursor("k", query, position, shard_positions, watermark), walk)


def test_watermark_cursors_are_bound_to_key_and_query_and_other_listings_refuse_them():
    query = IssueQuery(limit=2)
    walk = partitions(query, CATS, TODAY)
    good = encode_cursor("k", query, 0, None, ["2026-11-20T09:00:00+00:00", "iss-1"])
    assert decode_watermark("k", query.model_copy(update={"limit": 9}), good, walk) == (
        "2026-11-20T09:00:00+00:00",
        "iss-1",
    )
    for key, other in (("other", query), ("k", IssueQuery(category="high_priority"))):
        with pytest.raises(BadCursor):
            decode_watermark(key, other, good, partitions(other, CATS, TODAY))
    with pytest.raises(BadCursor):
        decode_watermark("k", query, seal("k", b'{"q":"x","p":0,"k":null,"w":["a","b"]}'), walk)
    deps = OpsDeps(issues=FakeIndex([]), categories=CATS, cursor_key="k")
    for other in (IssueQuery(status="open"), IssueQuery(since=date(2026, 11, 20))):
        with pytest.raises(BadCursor, match="cursor"):
            list_issues(other.model_copy(update={"cursor": good}), deps, TODAY)
    # a positional cursor (a day's or a status's) sealed for this query is refused too
    with pytest.raises(BadCursor, match="cursor"):
        list_issues(query.model_copy(update={"cursor": encode_cursor("k", query, 0, None)}), deps, TODAY)
