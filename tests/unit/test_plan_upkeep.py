"""Plan upkeep, pure and through the use cases on fakes: the quarterly review (overdue after 90 days by default,
one alert per due day), outdated protocols, the monthly reminder to each protocol's owners with its figures."""

from __future__ import annotations

from datetime import date, datetime, timezone

from chalicelib.adapters.plans import bundled_plan
from chalicelib.domain.alerts import AlertKind
from chalicelib.domain.plan import parse_plan
from chalicelib.domain.plan_upkeep import (
    outdated_protocols,
    previous_month,
    protocol_owners,
    review_due,
)
from chalicelib.services.upkeep import check_plan_review, send_review_reminders


def plan_with(**changes):
    document = bundled_plan().model_dump(mode="json")
    document.update(changes)
    return parse_plan(document)


def test_the_review_is_overdue_after_90_days_by_default_and_after_the_plans_own_period():
    review = {"reviewed_by": "head@aurelle.example", "reviewed_on": "2026-01-01"}
    plan = plan_with(review=review)
    assert plan.review.review_every_days == 90
    assert review_due(plan, date(2026, 4, 1)).overdue is False  # day 90: still current
    late = review_due(plan, datetime(2026, 4, 3, 12, tzinfo=timezone.utc))
    assert late.overdue and late.days_overdue == 2 and late.due_on == date(2026, 4, 1)
    yearly = plan_with(review={**review, "review_every_days": 365})
    assert review_due(yearly, date(2026, 4, 3)).overdue is False


def test_a_protocol_no_category_that_opens_issues_references_is_outdated():
    plan = bundled_plan()
    assert outdated_protocols(plan) == []
    document = plan.model_dump(mode="json")
    document["protocols"]["legacy"] = document["protocols"]["routine"]
    assert outdated_protocols(parse_plan(document)) == ["legacy"]
    document["categories"]["routine_response"]["protocol"] = None
    assert outdated_protocols(parse_plan(document)) == ["routine", "legacy"]


def test_owners_are_the_protocols_own_else_the_leads_of_its_teams():
    plan = bundled_plan()
    assert protocol_owners(plan, "routine") == ["cs-lead@aurelle.example"]
    leads = protocol_owners(plan, "high_priority")
    assert leads and all("@" in person for person in leads) and len(leads) == len(set(leads))


class FakeAlerts:
    def __init__(self):
        self.sent: dict[str, object] = {}

    def raise_alert(self, alert, now):
        if alert.dedup_key in self.sent:
            return "duplicate"
        self.sent[alert.dedup_key] = alert
        return "sent"


def test_an_overdue_plan_alerts_once_per_due_day_and_a_current_one_not_at_all():
    alerts = FakeAlerts()
    now = datetime(2026, 11, 30, 9, tzinfo=timezone.utc)
    assert check_plan_review(bundled_plan(), 3, alerts, now)["alert"] == "current" and not alerts.sent
    stale = plan_with(review={"reviewed_by": "head@aurelle.example", "reviewed_on": "2026-05-01"})
    first = check_plan_review(stale, 3, alerts, now)
    again = check_plan_review(stale, 3, alerts, now)  # the next day's run: same due day, same key
    assert first["alert"] == "sent" and first["overdue"] and again["alert"] == "duplicate"
    (alert,) = alerts.sent.values()
    assert alert.kind is AlertKind.PLAN_REVIEW_OVERDUE and "plan review 3" in alert.message


class FakeIssues:
    def __init__(self, issues, histories):
        self.issues, self.histories, self.asked = issues, histories, []

    def first_seen_between(self, first_day, last_day):
        self.asked.append((first_day, last_day))
        return self.issues

    def history(self, issue_id):
        return self.histories.get(issue_id, [])


class FakeMailer:
    def __init__(self):
        self.sent: dict[str, tuple] = {}

    def send_once(self, key, to, subject, text, html, now):
        if key in self.sent:
            return False
        self.sent[key] = (to, subject, text, html)
        return True


def test_the_monthly_reminder_gives_each_protocols_owners_its_figures_once():
    issues = [  # October 2026: two routine issues (one SLA kept, one missed), one high priority
        {
            "issue_id": "a",
            "category": "routine_response",
            "first_seen": "2026-10-05T10:00:00+00:00",
            "sla_first_response_due": "2026-10-05T14:00:00+00:00",
            "first_response_at": "2026-10-05T11:00:00+00:00",
            "response_time_seconds": 3600,
            "mention_count": 1,
        },
        {
            "issue_id": "b",
            "category": "routine_response",
            "first_seen": "2026-10-06T10:00:00+00:00",
            "sla_first_response_due": "2026-10-06T14:00:00+00:00",
            "first_response_at": "2026-10-06T18:00:00+00:00",
            "response_time_seconds": 28800,
            "mention_count": 2,
        },
        {"issue_id": "c", "category": "high_priority", "first_seen": "2026-10-07T10:00:00+00:00", "mention_count": 1},
    ]
    histories = {
        "c": [  # the draft's cycle: asked 10:00, reminded, escalated, submitted 12:00; legal still waits
            {"type": "step_initial", "at": "2026-10-07T10:00:00+00:00", "details": {"step": "draft"}},
            {"type": "step_reminder", "at": "2026-10-07T11:00:00+00:00", "details": {"step": "draft"}},
            {"type": "step_escalated", "at": "2026-10-07T11:30:00+00:00", "details": {"step": "draft"}},
            {"type": "step_submitted", "at": "2026-10-07T12:00:00+00:00", "details": {"step": "draft"}},
            {"type": "step_initial", "at": "2026-10-07T12:00:01+00:00", "details": {"step": "legal_review"}},
        ]
    }
    store, mailer = FakeIssues(issues, histories), FakeMailer()
    now = datetime(2026, 11, 1, 7, tzinfo=timezone.utc)
    sent = send_review_reminders(bundled_plan(), store, mailer, now)
    assert store.asked == [("2026-10-01", "2026-10-31")]
    assert sent["routine"] == 1
    routine = mailer.sent["reminder#2026-10#routine#cs-lead@aurelle.example"]
    assert routine[0] == "cs-lead@aurelle.example" and "2026-10" in routine[1]
    assert "Issues: 2, mentions: 3" in routine[2] and "first response: 50% (of 2)" in routine[2]
    assert "Response time: median 4.5 h" in routine[2]  # (60 + 480) / 2 = 270 minutes
    high = next(v for k, v in mailer.sent.items() if "#high_priority#" in k)
    assert "Step draft: 1 cycle(s), median 2.0 h, timed out 1, escalated 1." in high[2]
    assert "Step legal_review: 0 cycle(s), median no data, timed out 0" in high[2]
    assert "Step timeouts: draft 1." in high[2] and "Issues: 1" in high[2]
    assert send_review_reminders(bundled_plan(), store, mailer, now) == dict.fromkeys(sent, 0)  # once only


def test_the_month_before():
    since, until, month = previous_month(datetime(2026, 1, 15, tzinfo=timezone.utc))
    assert (since.date(), until.date(), month) == (date(2025, 12, 1), date(2026, 1, 1), "2025-12")


def test_html_of_the_reminder_escapes_plan_text():
    document = bundled_plan().model_dump(mode="json")
    document["protocols"]["routine"]["label"] = "<script>alert(1)</script>"
    plan = parse_plan(document)
    mailer = FakeMailer()
    send_review_reminders(plan, FakeIssues([], {}), mailer, datetime(2026, 11, 1, tzinfo=timezone.utc))
    html = next(v[3] for k, v in mailer.sent.items() if "#routine#" in k)
    assert "<script>" not in html and "&lt;script&gt;" in html
