"""Long-standing issues in the weekly report and in ``GET /metrics/summary`` (real adapters on moto).

The report once read only the issues first seen from 42 days before the week before: an issue first seen months
before, still open past its SLA, was missing from "open at the week's end", and one resolved in the week after
months was missing from recurrence; ``GET /metrics/summary`` counted back from its own ``since`` and disagreed with
the report for the same week. Both now read through ``issue_window.issues_for_period``: the first-seen window, and
the issues live now or settled since the period began from the ``by_status_category`` index, whatever day they
were first seen."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from chalicelib.adapters.alerts import DynamoLiveIssues
from chalicelib.adapters.issues_table import DynamoIssues
from chalicelib.adapters.plans import bundled_plan
from chalicelib.adapters.triage_table import DynamoTriageStore
from chalicelib.domain import report as weekly
from chalicelib.domain.index_shards import status_category
from chalicelib.domain.plan import Severity
from chalicelib.services.ops import MetricsQuery, metrics_summary
from chalicelib.services.reports import ReportDeps, build_report
from chalicelib.settings import resources
from tests.integration.test_report_week import open_issue, resolve, set_fields

Z = timezone.utc
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=Z)  # 2026-W48 is 2026-11-23 .. 11-30; W47 11-16 .. 11-23
CS, ROUTINE = "customer_service", "routine_response"


@pytest.fixture
def store(aws) -> DynamoIssues:
    triage, issues = DynamoTriageStore(resources()), DynamoIssues(resources())

    def opened(issue_id: str, first_seen: datetime, products: tuple[str, ...] = ("p",)) -> None:
        # first response due 4 hours after, resolution 2 days after; follow-up required
        open_issue(triage, issue_id, ROUTINE, Severity.MEDIUM, CS, "x", products, "delivery", first_seen, 240, 2880)

    opened("stale", datetime(2026, 9, 1, 10, tzinfo=Z), ())  # never answered, still open: past its SLA since 09-03
    opened("oldfix", datetime(2026, 10, 1, 10, tzinfo=Z))  # answered at once, resolved in W48, recurred the next day
    issues.record_response("oldfix", datetime(2026, 10, 1, 11, tzinfo=Z))
    resolve(issues, "oldfix", datetime(2026, 11, 24, 10, tzinfo=Z))
    # first seen 10-08: inside the report's old lookback for W48 (from 10-05), outside GET /metrics/summary's (from
    # 10-12): the two disagreed on it; resolved in W48, not recurred
    opened("midfix", datetime(2026, 10, 8, 10, tzinfo=Z), ())
    issues.record_response("midfix", datetime(2026, 10, 8, 11, tzinfo=Z))
    resolve(issues, "midfix", datetime(2026, 11, 26, 10, tzinfo=Z))
    opened("again", datetime(2026, 11, 25, 10, tzinfo=Z))
    set_fields("again", recurs_issue_id="oldfix", recurrence_rule="same_author", recurrence_gap_seconds=86400)
    opened("noreply", datetime(2026, 11, 23, 10, tzinfo=Z), ())  # resolved half an hour later, in W48
    resolve(issues, "noreply", datetime(2026, 11, 23, 10, 30, tzinfo=Z))
    opened("shut", datetime(2026, 8, 1, 10, tzinfo=Z), ())  # closed unresolved in W48: open at W47's end only
    set_fields(
        "shut",
        status="closed",
        status_category=status_category("closed", ROUTINE, "shut"),
        closed_at=datetime(2026, 11, 25, 10, tzinfo=Z).isoformat(),
    )
    opened("ancient", datetime(2026, 6, 1, 10, tzinfo=Z), ())  # settled long before both weeks
    resolve(issues, "ancient", datetime(2026, 7, 1, 10, tzinfo=Z))
    return issues


def report_of(week: str, issues: DynamoIssues) -> weekly.WeeklyReport:
    deps = ReportDeps(issues=issues, store=None, sender=None, renderer=None, plan=bundled_plan(), link_key="k")  # type: ignore[arg-type]
    return build_report(week, deps, NOW)[0]


def test_the_store_gives_live_issues_and_those_settled_since_the_day_however_old(store):
    found = store.live_or_settled_since([ROUTINE], "2026-11-16")
    assert sorted(i["issue_id"] for i in found) == ["again", "midfix", "noreply", "oldfix", "shut", "stale"]
    # the SLA check reads the live issues through the same index read
    assert sorted(i["issue_id"] for i in DynamoLiveIssues(resources()).with_status("open", ROUTINE)) == [
        "again",
        "stale",
    ]


def test_issues_first_seen_months_before_count_at_the_weeks_end_and_in_recurrence(store):
    report = report_of("2026-W48", store)

    open_items = report.open_items
    # at W48's end: stale (since September) and again; at W47's end also oldfix and midfix (resolved in W48) and
    # shut (closed in W48), all past their SLA then
    assert sorted(open_items.past_sla.issue_ids) == ["again", "stale"]
    assert (open_items.past_sla.count.this_week, open_items.past_sla.count.week_before) == (2, 4)
    assert sorted(open_items.follow_ups.issue_ids) == ["again", "stale"]
    assert (open_items.follow_ups.count.this_week, open_items.follow_ups.count.week_before) == (2, 4)
    # resolved in W48: oldfix (first seen 2026-10-01, recurred by again), midfix and noreply
    any_rule = report.recurrence.any_rule.this_week
    assert any_rule.count == 3 and any_rule.rate == pytest.approx(1 / 3, abs=0.001)
    assert report.summary.this_week.recurrence_by_kind.resolved == 3


@pytest.mark.parametrize("week", ["2026-W48", "2026-W47"])
def test_the_metrics_summary_and_the_report_agree_for_the_same_week(store, week):
    report = report_of(week, store)
    since, until = weekly.week_bounds(week)
    api = metrics_summary(MetricsQuery(since=since, until=until), store, NOW, bundled_plan())
    assert api.model_dump(mode="json") == report.summary.this_week.model_dump(mode="json")
