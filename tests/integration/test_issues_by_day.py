"""Issues by the day they were first seen, over every write shard of each day (the weekly report and the monthly
review reminder read them so): each issue once, days in order, newest first within a day."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.adapters.issues_table import DynamoIssues
from chalicelib.adapters.triage_table import DynamoTriageStore
from chalicelib.domain.index_shards import DAY_SHARDS
from chalicelib.domain.issues import crisis_issue, crisis_issue_id
from chalicelib.settings import resources
from tests.fakes import FakeActivePlan
from tests.triage_fixtures import T0


def test_issues_of_several_days_come_once_each_days_in_order_newest_first_within_a_day(aws):
    names = resources()
    store, (plan, version) = DynamoTriageStore(names), FakeActivePlan().active()
    opened = []
    for i in range(3 * DAY_SHARDS):  # 20 issues a day: enough to land on many of each day's shards
        start = T0 + timedelta(minutes=i * 72)
        issue = crisis_issue(f"product:p{i}", 12, 1.0, start, start, plan, version, crisis_issue_id(f"p{i}", start))
        assert store.open_issue(issue, [], None, [])
        opened.append(issue.issue_id)
    last_day = (T0 + timedelta(minutes=(3 * DAY_SHARDS - 1) * 72)).date().isoformat()

    listed = DynamoIssues(names).first_seen_between(T0.date().isoformat(), last_day)

    assert sorted(str(item["issue_id"]) for item in listed) == sorted(opened)  # each once
    days = [str(item["first_seen"])[:10] for item in listed]
    assert days == sorted(days) and len(set(days)) == 4  # 09:00 on day one to 08:00 on day four
    for day in set(days):
        times = [str(item["first_seen"]) for item in listed if str(item["first_seen"]).startswith(day)]
        assert times == sorted(times, reverse=True)
    assert len({str(item["first_seen_day"]) for item in listed}) > 3 * DAY_SHARDS // 2  # spread over shards
