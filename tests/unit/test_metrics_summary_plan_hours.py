"""``GET /metrics/summary``'s use case counts business time in the active plan's hours, per team, as the weekly
report does (``chalicelib.services.ops.metrics_summary``), not in a default office week."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from chalicelib.adapters.plans import DEFAULT_PLAN
from chalicelib.domain.plan import load_plan_yaml
from chalicelib.services.ops import MetricsQuery, metrics_summary

SUNDAY_0600_UTC = datetime(2026, 11, 29, 6, tzinfo=timezone.utc)  # 07:00 in Paris: the social desk works


class IssuesOfTheWeek:
    """The ``IssuesInPeriod`` port over a fixed list, recording the days asked for."""

    def __init__(self, issues: list[dict[str, Any]]) -> None:
        self.issues, self.asked = issues, []

    def first_seen_between(self, first_day: str, last_day: str) -> list[dict[str, Any]]:
        self.asked.append((first_day, last_day))
        return [i for i in self.issues if first_day <= i["first_seen"][:10] <= last_day]

    def live_or_settled_since(self, categories: list[str], since_day: str) -> list[dict[str, Any]]:
        """Issues live now, or resolved or closed from ``since_day`` on, of ``categories`` (the index's read)."""
        return [
            i
            for i in self.issues
            if i.get("category") in categories
            and (
                i.get("status") in ("open", "in_progress")
                or max(str(i.get("resolved_at") or ""), str(i.get("closed_at") or ""))[:10] >= since_day
            )
        ]


def answered_in_an_hour(issue_id: str, team: str) -> dict[str, Any]:
    return {
        "issue_id": issue_id,
        "first_seen": SUNDAY_0600_UTC.isoformat(),
        "first_response_at": (SUNDAY_0600_UTC + timedelta(hours=1)).isoformat(),
        "response_time_seconds": 3600,
        "category": "high_priority",
        "severity": "high",
        "platform": "x",
        "status": "in_progress",
        "team": team,
        "mention_count": 1,
    }


def test_the_summary_counts_each_teams_business_hours_from_the_plan():
    plan = load_plan_yaml(DEFAULT_PLAN.read_text(encoding="utf-8"))
    issues = IssuesOfTheWeek(
        [answered_in_an_hour("desk", "social_media"), answered_in_an_hour("cs", "customer_service")]
    )
    wanted = MetricsQuery(
        since=datetime(2026, 11, 23, tzinfo=timezone.utc), until=datetime(2026, 11, 30, tzinfo=timezone.utc)
    )

    summary = metrics_summary(wanted, issues, datetime(2026, 12, 1, tzinfo=timezone.utc), plan)

    # the period's issues are counted; read as the report reads them: 42 days before, up to now (recurrences)
    assert summary.volume.issues == 2 and issues.asked == [("2026-10-12", "2026-12-01")]
    assert summary.response_time.count == 2 and summary.response_time.mean_seconds == 3600
    # Sunday 07:00-08:00 in Paris: the whole hour for the social desk (it works Sundays), none for customer service
    assert summary.response_time_business.count == 2
    assert summary.response_time_business.mean_seconds == 1800
    assert summary.response_time_business.p90_seconds == 3600
