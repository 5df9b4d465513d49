"""The report use cases (``chalicelib.services.reports``) on fakes of their ports: what is stored where, who is
emailed once, what a failed send leaves owed, when the schedule acts, and what the routes answer."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.adapters.plans import bundled_plan
from chalicelib.domain import report_links
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
        link_key="k" * 32,
        plan_version=3,
        api_base_url="https://api.example",
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
    assert inline == {"chart-volume": b"\x89PNG fake"} and "signature=secret" not in text  # no presign mailed
    # each recipient's own link: signed for them, 7 days, opened once (test_report_links.py)
    expires_at = int(NOW.timestamp()) + LINK_SECONDS
    assert report_links.link_path("k" * 32, "2026-W48", recipients[0], expires_at) in text
    assert text.count("https://api.example/reports/2026-W48/open?to=") == 1 and LINK_SECONDS == 7 * 24 * 3600
    other = given.sender.sent[f"report#2026-W48#email#{recipients[1]}"][2]
    assert report_links.recipient_ref(recipients[0]) not in other  # one recipient's link is not in another's email
    announced = next(sent for key, sent in given.sender.sent.items() if key.endswith("#sns"))
    assert "http" not in str(announced) and "GET /reports/2026-W48" in str(announced)  # SNS carries no link
    assert "k" * 32 not in repr(given)  # the signing key never shows in a log line


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
    assert link.expires_at == NOW + timedelta(hours=1)  # within a Lambda role's temporary credentials
    with pytest.raises(NoReport):
        report_link("2026-W46", given.store, NOW)
    with pytest.raises(BadWeek):
        report_link("../2026-W48", given.store, NOW)


def test_the_store_is_read_from_the_lookback_start_up_to_now():
    given = deps()
    deliver_report("2026-W48", given, NOW)
    first_day, last_day = given.issues.days_read[0][0], given.issues.days_read[-1][1]
    assert first_day == "2026-10-05" and last_day == "2026-11-30"  # 42 days before W47's Monday, to today


def _link_query(given: ReportDeps, recipient: str) -> dict[str, str]:
    from urllib.parse import parse_qsl, urlsplit

    text = given.sender.sent[f"report#2026-W48#email#{recipient}"][2]
    url = next(word for word in text.split() if "/reports/2026-W48/open?" in word)
    return dict(parse_qsl(urlsplit(url).query))


def test_an_emailed_link_opens_the_report_once_for_its_recipient():
    from chalicelib.services.reports import ReportLinkDeps, ReportLinkRefused, open_report_link
    from tests.fakes import FakeLinkUses

    given = deps()
    deliver_report("2026-W48", given, NOW)
    links = ReportLinkDeps(store=given.store, uses=FakeLinkUses(), link_key="k" * 32)
    query = _link_query(given, given.plan.report.recipients[0])

    def opened(week="2026-W48", at=NOW + timedelta(hours=1), use=True, **changed):
        q = {**query, **changed}
        return open_report_link(week, q.get("to"), q.get("exp"), q.get("sig"), links, at, use)

    def refused(**given_args) -> int:
        with pytest.raises(ReportLinkRefused) as refusal:
            opened(**given_args)
        return refusal.value.status

    assert opened(use=False) is None and not links.uses.uses  # the page: nothing used
    assert refused(week="2026-W47") == 403  # a link for one week opens no other
    assert refused(to="0" * 16) == 403 and refused(to=None) == 403  # nor another recipient's
    assert refused(exp=str(int(query["exp"]) + 86400)) == 403  # a longer life is a forgery
    assert refused(at=NOW + timedelta(days=7, seconds=1)) == 410  # expired
    url = opened()
    assert (
        url
        == f"https://reports.example/reports/2026-W48/report.html?expires={report_links.OPEN_SECONDS}&signature=secret"
    )
    assert refused() == 410 and refused(use=False) == 410  # used: once
    # the same signed link written differently is the same link: used
    for exp in ("0" + query["exp"], "+" + query["exp"], " " + query["exp"]):
        assert refused(exp=exp) == 410, exp
    assert refused(to=query["to"].upper()) == 410
    second = _link_query(given, given.plan.report.recipients[1])
    assert open_report_link("2026-W48", second["to"], second["exp"], second["sig"], links, NOW, True)  # theirs
    del given.store.objects["reports/2026-W48/report.html"]
    third = _link_query(given, given.plan.report.recipients[2])
    with pytest.raises(ReportLinkRefused) as gone:
        open_report_link("2026-W48", third["to"], third["exp"], third["sig"], links, NOW, True)
    assert gone.value.status == 404 and not links.uses.used(f"report#2026-W48#open#{third['to']}#{third['exp']}")


def test_a_link_signed_for_a_week_no_report_can_have_is_not_found_not_a_crash():
    from chalicelib.services.reports import ReportLinkDeps, ReportLinkRefused, open_report_link
    from tests.fakes import FakeLinkUses

    links = ReportLinkDeps(store=deps().store, uses=FakeLinkUses(), link_key="k" * 32)
    expires_at = int(NOW.timestamp()) + 3600
    path = report_links.link_path("k" * 32, "2026-W99", "a@b.example", expires_at)
    query = dict(part.split("=", 1) for part in path.split("?", 1)[1].split("&"))
    for use in (False, True):
        with pytest.raises(ReportLinkRefused) as refusal:
            open_report_link("2026-W99", query["to"], query["exp"], query["sig"], links, NOW, use)
        assert refusal.value.status == 404
    assert not links.uses.uses


def test_no_data_is_no_bar_and_shares_round_half_up():
    from chalicelib.adapters.report_render import _hours, _percent, _whole_percent

    assert all(value != value for value in (_hours(None), _percent(None)))  # NaN: matplotlib draws no bar
    assert _hours(5400) == 1.5 and _percent(0.5) == 50
    assert [_whole_percent(r) for r in (0.625, 0.875, 0.6667, 0.005, 1.0)] == ["63%", "88%", "67%", "1%", "100%"]
