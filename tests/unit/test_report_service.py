"""The report use cases (``chalicelib.services.reports``) on fakes of their ports: what is stored where, who is
emailed once, what a failed send leaves owed, when the schedule acts, and what the routes answer."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.adapters.plans import bundled_plan
from chalicelib.domain.report import BadWeek
from chalicelib.services.reports import (
    LINK_SECONDS,
    NoReport,
    ReportDeps,
    deliver_report,
    list_reports,
    report_link,
    run_scheduled,
)
from tests.fakes import FakeReportIssues, FakeReportRenderer, FakeReportSender, FakeReportStore

Z = timezone.utc
NOW = datetime(2026, 11, 30, 9, tzinfo=Z)
ISSUES = [
    {
        "issue_id": "iss-1",
        "first_seen": "2026-11-24T10:00:00+00:00",
        "category": "routine_response",
        "team": "customer_service",
        "platform": "x",
        "status": "open",
    },
    {
        "issue_id": "iss-0",
        "first_seen": "2026-11-17T10:00:00+00:00",
        "category": "routine_response",
        "team": "customer_service",
        "platform": "x",
        "status": "open",
    },
]


def deps(sender: FakeReportSender | None = None, plan=None) -> ReportDeps:
    return ReportDeps(
        issues=FakeReportIssues(ISSUES),
        store=FakeReportStore(),
        sender=sender or FakeReportSender(),
        renderer=FakeReportRenderer(),
        plan=plan or bundled_plan(),
        plan_version=3,
    )


def test_delivery_stores_under_the_week_emails_each_recipient_and_announces_a_seven_day_link():
    given = deps()
    delivery = deliver_report("2026-W48", given, NOW)
    assert given.store.files("reports/") == sorted(
        f"reports/2026-W48/{n}" for n in ("report.json", "report.html", "report.csv", "chart-volume.png")
    )
    assert given.store.writes[-1] == "reports/2026-W48/report.json"  # the delivered mark goes last
    report = json.loads(given.store.objects["reports/2026-W48/report.json"][0])
    assert report["volume"]["issues"] == {"this_week": 1, "week_before": 1} and report["plan_version"] == 3
    recipients = given.plan.report.recipients
    assert delivery.emailed == recipients and delivery.announced
    to, subject, text, html, inline = given.sender.sent[f"report#2026-W48#email#{recipients[0]}"]
    assert subject == "Aurelle weekly report 2026-W48" and 'src="cid:chart-volume"' in html
    assert inline == {"chart-volume": b"\x89PNG fake"} and f"expires={LINK_SECONDS}" in text
    assert LINK_SECONDS == 7 * 24 * 3600
    assert "secret" not in repr(delivery)  # the presigned link never shows in a log line of the delivery


def test_a_rerun_overwrites_the_same_keys_and_sends_nothing_twice():
    given = deps()
    first = deliver_report("2026-W48", given, NOW)
    again = deliver_report("2026-W48", given, NOW + timedelta(hours=1))
    assert sorted(again.keys) == sorted(first.keys) and again.emailed == [] and not again.announced
    assert len(given.sender.sent) == len(given.plan.report.recipients) + 1
    assert json.loads(given.store.objects["reports/2026-W48/report.json"][0])["generated_at"].startswith(
        "2026-11-30T10:00"
    )


def test_a_failed_email_leaves_the_week_due_and_the_next_run_sends_only_what_is_owed():
    recipients = bundled_plan().report.recipients
    given = deps(FakeReportSender(fail_for={recipients[1]}))
    with pytest.raises(ConnectionError):
        run_scheduled(NOW, given)
    assert not given.store.exists("reports/2026-W48/report.json")  # not marked delivered
    assert list(given.sender.sent) == [f"report#2026-W48#email#{recipients[0]}"]
    delivery = run_scheduled(NOW + timedelta(hours=1), given)
    assert delivery is not None and delivery.emailed == recipients[1:] and delivery.announced
    assert given.store.exists("reports/2026-W48/report.json")
    assert run_scheduled(NOW + timedelta(hours=2), given) is None  # delivered: the hourly check does nothing


def test_the_schedule_follows_the_plans_day_hour_and_time_zone():
    plan = bundled_plan()
    tuesday_paris = plan.model_copy(
        update={"report": plan.report.model_copy(update={"day": "tue", "hour": 9, "time_zone": "Europe/Paris"})}
    )
    given = deps(plan=tuesday_paris)
    assert run_scheduled(NOW, given) is None  # Monday: not yet
    assert run_scheduled(datetime(2026, 12, 1, 7, 59, tzinfo=Z), given) is None  # 08:59 in Paris
    assert run_scheduled(datetime(2026, 12, 1, 8, 0, tzinfo=Z), given).week == "2026-W48"


def test_listing_and_links_of_stored_reports():
    given = deps()
    deliver_report("2026-W47", given, NOW)
    deliver_report("2026-W48", given, NOW)
    listed = list_reports(given.store)
    assert [item.week for item in listed.items] == ["2026-W48", "2026-W47"]
    assert "report.html" in listed.items[0].files
    link = report_link("2026-W48", given.store, NOW)
    assert link.url.startswith("https://reports.example/reports/2026-W48/report.html")
    assert link.expires_at == NOW + timedelta(days=7)
    with pytest.raises(NoReport):
        report_link("2026-W46", given.store, NOW)
    with pytest.raises(BadWeek):
        report_link("../2026-W48", given.store, NOW)


def test_the_store_is_read_from_the_lookback_start_up_to_now():
    given = deps()
    deliver_report("2026-W48", given, NOW)
    first_day, last_day = given.issues.days_read[0][0], given.issues.days_read[-1][1]
    assert first_day == "2026-10-05" and last_day == "2026-11-30"  # 42 days before W47's Monday, to today
