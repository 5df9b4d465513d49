"""The weekly report on in-process moto: a simulated week (2026-W48) and the week before (2026-W47), written with the
project's own writers (triage's issue items and audit events, the publisher's response record, the ops API's
change) plus the fields the surveys and recurrence store, under a controlled clock. Every figure of the JSON is
checked against a value computed by hand (comments below show the arithmetic); then the delivery: the S3 objects,
the email in moto with its charts inline by Content-ID, the SNS announcement with its presigned link, and a re-run
that overwrites and sends nothing twice; then the two routes.

Times: W48 is Monday 2026-11-23 00:00Z to 2026-11-30 00:00Z; the report runs at 2026-11-30 09:00Z. Paris is UTC+1
in November; customer service works 08-20 (Mon-Fri) and 10-16 (Sat), social media 07-23 every day (Paris).
"""

from __future__ import annotations

import email
import json
import re
from datetime import datetime, timedelta, timezone
from email import policy

import pytest

from chalicelib.adapters.aws import client
from chalicelib.adapters.codec import number, string
from chalicelib.adapters.issues_table import DynamoIssues
from chalicelib.adapters.plans import bundled_plan
from chalicelib.adapters.report_render import MatplotlibReportRenderer
from chalicelib.adapters.report_sender import SesSnsReportSender
from chalicelib.adapters.report_store import S3ReportStore
from chalicelib.adapters.triage_table import DynamoTriageStore
from chalicelib.bootstrap import secret
from chalicelib.domain.issues import AuditEvent, Issue, IssueStatus, status_category
from chalicelib.domain.plan import Severity
from chalicelib.services.reports import ReportDeps, deliver_report, run_scheduled
from chalicelib.settings import report_bucket, resources, sender_email

Z = timezone.utc
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=Z)
H, M = 3600, 60


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=Z)


def open_issue(
    store: DynamoTriageStore,
    issue_id: str,
    category: str,
    severity: Severity,
    team: str,
    platform: str,
    products: tuple[str, ...],
    topic: str,
    first_seen: datetime,
    first_minutes: int,
    resolution_minutes: int,
    *,
    follow_up: bool = True,
    rule: str | None = None,
    mentions: int = 1,
    sla_from: datetime | None = None,
    audit: list[AuditEvent] | None = None,
) -> None:
    start = sla_from or first_seen
    issue = Issue(
        issue_id=issue_id,
        description=f"{category}: <b>{issue_id}</b> on {platform}",
        category=category,
        severity=severity,
        team=team,
        assigned_to=None,
        follow_up_required=follow_up,
        mention_count=mentions,
        first_seen=first_seen,
        last_seen=first_seen,
        topic=topic,
        products=products,
        platform=platform,
        rule=rule,
        plan_version=1,
        sla_first_response_due=start + timedelta(minutes=first_minutes),
        sla_resolution_due=start + timedelta(minutes=resolution_minutes),
    )
    opened = AuditEvent(issue_id=issue_id, at=first_seen, type="opened", actor="system:triage")
    assert store.open_issue(issue, [opened, *(audit or [])], None, [])


def resolve(issues: DynamoIssues, issue_id: str, when: datetime, **extra) -> None:
    """As the ops API resolves (its writer, with its audit event)."""
    item = issues.get(issue_id)
    sets = {
        "status": "resolved",
        "status_category": status_category("resolved", item["category"]),
        "resolved_at": when.isoformat(),
        **extra,
    }
    issues.change(
        issue_id,
        int(item.get("ops_version") or 0),
        sets,
        [],
        [
            AuditEvent(
                issue_id=issue_id,
                at=when,
                type="resolved",
                actor="ops-test",
                details={"status": IssueStatus.RESOLVED.value},
            )
        ],
    )


def set_fields(issue_id: str, **values) -> None:
    """Fields other writers own (the surveys' answer, the recurrence link), stored as they store them."""
    names = {f"#f{i}": name for i, name in enumerate(values)}
    client("dynamodb").update_item(
        TableName=resources().issues_table,
        Key={"issue_id": string(issue_id)},
        UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(values))),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={
            f":v{i}": number(v) if isinstance(v, int) else string(v) for i, v in enumerate(values.values())
        },
    )


def event(issue_id: str, when: datetime, kind: str, **details) -> AuditEvent:
    return AuditEvent(issue_id=issue_id, at=when, type=kind, actor="test", details=details)


@pytest.fixture
def week(aws):
    store, issues = DynamoTriageStore(resources()), DynamoIssues(resources())
    cs, sm = "customer_service", "social_media"
    # -- this week, W48 ------------------------------------------------------------------------------------------
    # A: Mon 10:00Z (11:00 Paris), answered 10:30, resolved 12:00; survey: 5 with a comment
    open_issue(
        store,
        "iss-a",
        "routine_response",
        Severity.LOW,
        cs,
        "x",
        ("Nova Sneakers",),
        "product_quality",
        at(23, 10),
        240,
        2880,
    )
    issues.record_response("iss-a", at(23, 10, 30))
    resolve(issues, "iss-a", at(23, 12))
    set_fields("iss-a", satisfaction="satisfied", satisfaction_rating=5, satisfaction_comment="Great <b>help</b>")
    # B: Fri 18:00Z (19:00 Paris), answered Sat 10:00Z (11:00 Paris): 16 h; business: Fri 19-20 + Sat 10-11 = 2 h
    open_issue(
        store,
        "iss-b",
        "routine_response",
        Severity.MEDIUM,
        cs,
        "facebook",
        ("Luna Tote",),
        "delivery",
        at(27, 18),
        240,
        2880,
    )
    issues.record_response("iss-b", at(28, 10))
    # C: High Priority, Tue 09:00Z; draft 20 min, legal review 2 h 15 (reminded, escalated), management 10 min;
    # answered 11:55 (10,500 s, SLA 60 min missed by 6,900 s), resolved 15:00; survey 3 but a person recorded 2
    approvals = [
        event("iss-c", at(24, 9, 5), "step_initial", step="draft"),
        event("iss-c", at(24, 9, 25), "step_submitted", step="draft"),
        event("iss-c", at(24, 9, 25), "step_initial", step="legal_review"),
        event("iss-c", at(24, 10, 25), "step_reminder", step="legal_review"),
        event("iss-c", at(24, 11, 25), "step_escalated", step="legal_review"),
        event("iss-c", at(24, 11, 40), "step_approved", step="legal_review"),
        event("iss-c", at(24, 11, 40), "step_initial", step="management_approval"),
        event("iss-c", at(24, 11, 50), "step_approved", step="management_approval"),
        event("iss-c", at(24, 9, 20), "canned_warning_raised", step="draft"),
        event("iss-c", at(24, 9, 25), "canned_warning_overridden", step="draft"),
    ]
    open_issue(
        store,
        "iss-c",
        "high_priority",
        Severity.HIGH,
        sm,
        "x",
        ("Lina Trench Coat",),
        "product_quality",
        at(24, 9),
        60,
        720,
        audit=approvals,
    )
    issues.record_response("iss-c", at(24, 11, 55))
    resolve(issues, "iss-c", at(24, 15))
    set_fields("iss-c", satisfaction="dissatisfied", satisfaction_rating=3, satisfaction_comment="slow")
    item = issues.get("iss-c")
    issues.change(
        "iss-c",
        int(item["ops_version"]),
        {"satisfaction_score": 2},
        [],
        [event("iss-c", at(25, 9), "satisfaction_recorded", score=2, channel="phone", comment="Too slow")],
    )
    # D: a surge's Crisis: window from Wed 14:00Z, detected 14:12 (delay 720 s), SLA from detection (30/360 min),
    # answered 14:30 (1,800 s), resolved 18:00 (14,400 s) with a note; its survey ran out unanswered
    open_issue(
        store,
        "iss-d",
        "crisis",
        Severity.CRITICAL,
        sm,
        "many",
        ("Nova Sneakers",),
        "other",
        at(25, 14),
        30,
        360,
        rule="surge:product:nova sneakers",
        mentions=3,
        sla_from=at(25, 14, 12),
        audit=[
            event(
                "iss-d",
                at(25, 14, 12),
                "surge_detected",
                key="product:nova sneakers",
                window_start=at(25, 14).isoformat(),
                detected_at=at(25, 14, 12).isoformat(),
                count=3,
                baseline=0.2,
            )
        ],
    )
    issues.record_response("iss-d", at(25, 14, 30))
    resolve(issues, "iss-d", at(25, 18), resolution_note="Batch <recalled>")
    set_fields("iss-d", satisfaction="unanswered")
    # E: Sat 11:00Z, never answered (SLA due 15:00 missed), resolution due Mon 11:00 (after now: running);
    # the same author as A, whose issue was resolved 5 d 23 h before
    open_issue(
        store,
        "iss-e",
        "routine_response",
        Severity.LOW,
        cs,
        "x",
        ("Nova Sneakers",),
        "product_quality",
        at(28, 11),
        240,
        2880,
    )
    set_fields("iss-e", recurs_issue_id="iss-a", recurrence_rule="same_author", recurrence_gap_seconds=514800)
    # F: after the week (Mon 07:00Z), recurs C (same product and topic)
    open_issue(
        store,
        "iss-f",
        "routine_response",
        Severity.LOW,
        cs,
        "x",
        ("Lina Trench Coat",),
        "product_quality",
        at(30, 7),
        240,
        2880,
    )
    set_fields("iss-f", recurs_issue_id="iss-c", recurrence_rule="same_product_topic", recurrence_gap_seconds=489600)
    # -- the week before, W47 ------------------------------------------------------------------------------------
    # G: Tue 17th 10:00Z (11:00 Paris), answered 11:00, resolved Wed 10:00 (86,400 s; business: Tue 11-20 + Wed
    # 08-11 = 12 h); survey 4
    open_issue(
        store, "iss-g", "routine_response", Severity.LOW, cs, "x", ("Pima Crew Tee",), "sizing", at(17, 10), 240, 2880
    )
    issues.record_response("iss-g", at(17, 11))
    resolve(issues, "iss-g", at(18, 10))
    set_fields("iss-g", satisfaction="satisfied", satisfaction_rating=4)
    # H: Wed 18th 12:00Z on Instagram, never answered nor resolved: open, past both SLAs
    open_issue(
        store, "iss-h", "routine_response", Severity.MEDIUM, cs, "instagram", (), "delivery", at(18, 12), 240, 2880
    )
    plan = bundled_plan()
    deps = ReportDeps(
        issues=issues,
        store=S3ReportStore(report_bucket()),
        sender=SesSnsReportSender(resources(), sender_email()),
        renderer=MatplotlibReportRenderer(),
        plan=plan,
        link_key=secret("LINK_SIGNING_KEY"),
        plan_version=1,
        api_base_url="http://127.0.0.1:8000",
    )
    return deps


def figures(deps: ReportDeps) -> dict:
    body = client("s3").get_object(Bucket=report_bucket(), Key="reports/2026-W48/report.json")["Body"].read()
    return json.loads(body)


def compared(value: dict) -> tuple:
    return value["this_week"], value["week_before"]


def rows(items: list[dict]) -> dict:
    return {row["key"]: (row["this_week"], row["week_before"]) for row in items}


def test_every_figure_of_the_simulated_week(week):
    delivery = run_scheduled(NOW, week)  # Monday 09:00 UTC: the plan's slot (Monday 08:00 UTC) has passed
    assert delivery is not None and delivery.week == "2026-W48"
    report = figures(week)
    assert (report["week"], report["week_before"]) == ("2026-W48", "2026-W47")
    assert report["since"] == "2026-11-23T00:00:00Z" and report["until"] == "2026-11-30T00:00:00Z"
    assert set(report["definitions"]) >= {"sla.rate", "recurrence.any_rule", "approvals", "times.business"}

    volume = report["volume"]
    assert compared(volume["issues"]) == (5, 2) and compared(volume["mentions"]) == (7, 2)  # D folds 3 mentions
    assert rows(volume["by_platform"]) == {"x": (3, 1), "facebook": (1, 0), "many": (1, 0), "instagram": (0, 1)}
    assert rows(volume["by_category"]) == {"routine_response": (3, 2), "high_priority": (1, 0), "crisis": (1, 0)}
    assert rows(volume["by_severity"]) == {"low": (2, 1), "medium": (1, 1), "high": (1, 0), "critical": (1, 0)}
    assert rows(volume["by_product"]) == {
        "Nova Sneakers": (3, 0),
        "Luna Tote": (1, 0),
        "Lina Trench Coat": (1, 0),
        "Pima Crew Tee": (0, 1),
    }
    assert rows(volume["by_topic"]) == {
        "product_quality": (3, 0),
        "delivery": (1, 1),
        "other": (1, 0),
        "sizing": (0, 1),
    }
    x_row = next(r for r in volume["by_platform"] if r["key"] == "x")
    assert x_row["issue_ids"] == ["iss-a", "iss-c", "iss-e"]
    assert x_row["link"] == "/issues?platform=x&since=2026-11-23&until=2026-11-29&limit=100"

    times = report["times"]
    first = compared(times["overall_first_response"])
    # calendar: A 1,800, B 57,600, C 10,500, D 1,800 -> median (1,800 + 10,500) / 2, p90 the 4th, mean 71,700 / 4
    assert first[0]["calendar"] == {"count": 4, "median_seconds": 6150, "p90_seconds": 57600, "mean_seconds": 17925}
    # business: A 1,800, B 7,200 (1 h Friday evening + 1 h Saturday), C 10,500, D 1,800
    assert first[0]["business"] == {"count": 4, "median_seconds": 4500, "p90_seconds": 10500, "mean_seconds": 5325}
    assert (
        first[1]["calendar"]
        == first[1]["business"]
        == {"count": 1, "median_seconds": 3600, "p90_seconds": 3600, "mean_seconds": 3600}
    )
    resolution = compared(times["overall_resolution"])
    # A 7,200, C 21,600, D 14,400: every second inside the teams' hours
    assert (
        resolution[0]["calendar"]
        == resolution[0]["business"]
        == {"count": 3, "median_seconds": 14400, "p90_seconds": 21600, "mean_seconds": 14400}
    )
    assert resolution[1]["calendar"]["median_seconds"] == 86400 and resolution[1]["business"]["median_seconds"] == 43200
    teams = {g["key"]: g for g in times["by_team"]}
    assert compared(teams["customer_service"]["issues"]) == (3, 2)
    # customer service: A 1,800 and B 57,600 (E unanswered); SLA first response: A kept, B and E missed
    assert teams["customer_service"]["first_response"]["this_week"]["calendar"]["median_seconds"] == 29700
    assert teams["customer_service"]["sla_first_response"]["this_week"] == {"count": 3, "rate": 0.3333}
    assert teams["social_media"]["sla_first_response"]["this_week"] == {"count": 2, "rate": 0.5}  # D kept, C missed
    categories = {g["key"]: g for g in times["by_category"]}
    assert categories["crisis"]["resolution"]["this_week"]["calendar"]["median_seconds"] == 14400
    assert categories["crisis"]["link"] == "/issues?category=crisis&since=2026-11-23&until=2026-11-29&limit=100"

    sla = report["sla"]
    # first response: A, D kept; B, C, E missed -> (5 - 3) / 5; resolution: A, C, D kept, B missed, E running
    assert compared(sla["first_response"]) == ({"count": 5, "rate": 0.4}, {"count": 2, "rate": 0.5})
    assert compared(sla["resolution"]) == ({"count": 4, "rate": 0.75}, {"count": 2, "rate": 0.5})
    assert compared(sla["breach_count"]) == (4, 2)
    assert [(b["issue_id"], b["sla"], b["late_seconds"]) for b in sla["breaches"]] == [
        ("iss-c", "first_response", 6900),  # due 10:00, answered 11:55
        ("iss-b", "first_response", 43200),  # due Fri 22:00, answered Sat 10:00
        ("iss-e", "first_response", 151200),  # due Sat 15:00, unanswered at Mon 09:00
        ("iss-b", "resolution", 54000),
    ]  # due Sun 18:00, open at Mon 09:00
    assert sla["breaches"][0]["link"] == "/issues/iss-c"

    steps = {(s["protocol"], s["step"]): s for s in report["approvals"]}
    assert list(steps) == [
        ("high_priority", "draft"),
        ("high_priority", "legal_review"),
        ("high_priority", "management_approval"),
    ]
    assert steps[("high_priority", "draft")]["this_week"]["cycle_time"]["median_seconds"] == 1200
    legal = steps[("high_priority", "legal_review")]["this_week"]
    assert legal["cycles"] == 1 and legal["cycle_time"]["median_seconds"] == 8100
    assert (legal["timed_out"], legal["escalated"], legal["timed_out_issue_ids"]) == (1, 1, ["iss-c"])
    assert steps[("high_priority", "management_approval")]["this_week"]["cycle_time"]["mean_seconds"] == 600
    assert steps[("high_priority", "draft")]["week_before"]["cycles"] == 0

    satisfaction = report["satisfaction"]
    # A 5 (survey), C 2 (a person's score wins over the survey's 3); G 4
    assert compared(satisfaction["score"]) == (
        {"count": 2, "satisfied_share": 0.5, "mean_score": 3.5},
        {"count": 1, "satisfied_share": 1.0, "mean_score": 4.0},
    )
    # settled surveys: A answered, C answered, D ran out -> 2 / 3; G answered -> 1 / 1
    assert compared(satisfaction["response_rate"]) == ({"count": 3, "rate": 0.6667}, {"count": 1, "rate": 1.0})
    assert compared(satisfaction["distribution"]) == (
        {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1},
        {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0},
    )
    assert [(c["issue_id"], c["score"], c["comment"]) for c in satisfaction["comments"]] == [
        ("iss-a", 5, "Great <b>help</b>"),
        ("iss-c", 2, "Too slow"),
    ]

    recurrence = report["recurrence"]
    # resolved in W48: A, C, D; recurred: A (by E, same author), C (by F, same product and topic)
    assert compared(recurrence["any_rule"]) == ({"count": 3, "rate": 0.6667}, {"count": 1, "rate": 0.0})
    assert compared(recurrence["same_author"]) == ({"count": 3, "rate": 0.3333}, {"count": 1, "rate": 0.0})
    assert compared(recurrence["same_product_topic"]) == ({"count": 3, "rate": 0.3333}, {"count": 1, "rate": 0.0})
    assert compared(recurrence["reopened"]) == ({"count": 3, "rate": 0.0}, {"count": 1, "rate": 0.0})
    assert rows(recurrence["top_products"]) == {"Lina Trench Coat": (1, 0), "Nova Sneakers": (1, 0)}
    assert rows(recurrence["top_topics"]) == {"product_quality": (2, 0)}

    surges = report["surges"]
    assert compared(surges["crises"]) == (1, 0)
    crisis = surges["items"][0]
    assert (crisis["issue_id"], crisis["key"], crisis["detection_delay_seconds"]) == (
        "iss-d",
        "product:nova sneakers",
        720,
    )
    assert (crisis["started"], crisis["detected"]) == ("2026-11-25T14:00:00Z", "2026-11-25T14:12:00Z")
    assert (crisis["status"], crisis["resolution_seconds"], crisis["resolution_note"]) == (
        "resolved",
        14400,
        "Batch <recalled>",
    )

    open_items = report["open_items"]
    # at the week's end: B, E and H open with a follow-up; B and H past their resolution SLA (E's is due later)
    assert compared(open_items["follow_ups"]["count"]) == (3, 1)
    assert open_items["follow_ups"]["issue_ids"] == ["iss-b", "iss-e", "iss-h"]
    assert compared(open_items["past_sla"]["count"]) == (2, 1)
    assert open_items["past_sla"]["issue_ids"] == ["iss-b", "iss-h"]
    assert compared(report["canned_replies"]["raised"]) == (1, 0)
    assert compared(report["canned_replies"]["overridden"]) == (1, 0)

    summary = compared(report["summary"])
    assert summary[0]["volume"]["by_status"] == {"resolved": 3, "open": 2}
    assert summary[0]["response_time"]["median_seconds"] == 6150
    assert summary[0]["response_time_business"]["median_seconds"] == 4500
    assert summary[0]["sla"]["first_response"] == {"count": 5, "rate": 0.4}
    assert summary[0]["recurrence_by_kind"]["any_rule"] == {"count": 3, "rate": 0.6667}


def test_the_csv_has_one_row_per_issue_of_the_week_and_the_html_is_escaped(week):
    deliver_report("2026-W48", week, NOW)
    s3 = client("s3")
    csv_text = s3.get_object(Bucket=report_bucket(), Key="reports/2026-W48/report.csv")["Body"].read().decode()
    lines = csv_text.strip().splitlines()
    assert len(lines) == 1 + 5 and lines[0].startswith("issue_id,first_seen,category")
    by_id = {line.split(",")[0]: line for line in lines[1:]}
    assert set(by_id) == {"iss-a", "iss-b", "iss-c", "iss-d", "iss-e"}
    assert ",57600,7200," in by_id["iss-b"]  # first response, calendar then business seconds
    html = s3.get_object(Bucket=report_bucket(), Key="reports/2026-W48/report.html")["Body"].read().decode()
    assert "Great &lt;b&gt;help&lt;/b&gt;" in html and "<b>help</b>" not in html
    assert "Batch &lt;recalled&gt;" in html
    assert html.count('src="data:image/png;base64,') == 5  # the S3 copy carries its charts (presigned viewing)
    assert 'href="http://127.0.0.1:8000/issues?platform=x&amp;since=2026-11-23' in html
    alts = re.findall(r'<img [^>]*alt="([^"]*)"', html)
    assert len(alts) == 5 and all(alt.strip() for alt in alts)
    assert not any("&lt;a " in alt or "href" in alt or "<" in alt for alt in alts), alts  # text, not markup


def _report_emails() -> list[email.message.EmailMessage]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    parsed = [email.message_from_string(getattr(m, "raw_data", "") or "", policy=policy.default) for m in sent]
    return [m for m in parsed if "weekly report" in str(m.get("Subject", ""))]


def _announcements() -> list:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    topics = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].topics.values()
    return [n for topic in topics for n in topic.sent_notifications if "weekly report" in str(n)]


def test_delivery_stores_emails_inline_charts_announces_once_and_a_rerun_overwrites(week):
    first = deliver_report("2026-W48", week, NOW)
    keys = sorted(
        item["Key"]
        for item in client("s3").list_objects_v2(Bucket=report_bucket(), Prefix="reports/2026-W48/")["Contents"]
    )
    assert keys == sorted(first.keys) and "reports/2026-W48/report.html" in keys and len(keys) == 8
    assert first.emailed == week.plan.report.recipients and first.announced
    emails = _report_emails()
    assert len(emails) == 3
    message = emails[0]
    related = [part for part in message.walk() if part.get_content_type() == "multipart/related"]
    assert related, "the HTML and its images travel as multipart/related"
    images = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert len(images) == 5 and all(part["Content-ID"].startswith("<chart-") for part in images)
    assert all(part.get_content_disposition() == "inline" for part in images)
    assert all(part.get_content().startswith(b"\x89PNG") for part in images)
    html = next(part for part in message.walk() if part.get_content_type() == "text/html").get_content()
    for part in images:
        assert f'src="cid:{part["Content-ID"].strip("<>")}"' in html
    assert "data:image" not in html  # Gmail and Outlook drop data URIs
    announcements = _announcements()
    assert len(announcements) == 1 and "X-Amz-" not in str(announcements[0])  # SNS carries no link
    text = next(part for part in message.walk() if part.get_content_type() == "text/plain").get_content()
    assert "http://127.0.0.1:8000/reports/2026-W48/open?to=" in text and "X-Amz-" not in text
    assert 'href="http://127.0.0.1:8000/reports/2026-W48/open?to=' in html  # in the part most clients show too

    # A re-run of the same week: same keys, newer bodies, no second email or announcement.
    again = deliver_report("2026-W48", week, NOW + timedelta(hours=2))
    assert sorted(again.keys) == keys and again.emailed == [] and not again.announced
    listed = client("s3").list_objects_v2(Bucket=report_bucket(), Prefix="reports/2026-W48/")["Contents"]
    assert len(listed) == len(keys)
    assert figures(week)["generated_at"] == "2026-11-30T11:00:00Z"
    assert len(_report_emails()) == 3 and len(_announcements()) == 1
    # The schedule finds the week stored: nothing to do.
    assert run_scheduled(NOW + timedelta(hours=3), week) is None


def test_the_schedule_waits_for_the_plans_slot(week):
    assert run_scheduled(datetime(2026, 11, 30, 7, 59, tzinfo=Z), week) is None  # before Monday 08:00 UTC
    assert not client("s3").list_objects_v2(Bucket=report_bucket(), Prefix="reports/").get("Contents")


def test_the_routes_list_reports_and_answer_presigned_links(week, aws):
    from chalice.test import Client

    import app

    deliver_report("2026-W48", week, NOW)
    admin = {"Authorization": f"Bearer {aws['OPS_ADMIN_TOKEN']}"}
    with Client(app.app, stage_name="test") as api:
        assert api.http.get("/reports").status_code == 401
        listed = json.loads(api.http.get("/reports", headers=admin).body)
        assert listed["items"][0]["week"] == "2026-W48" and "report.html" in listed["items"][0]["files"]
        answer = api.http.get("/reports/2026-W48", headers=admin)
        found = json.loads(answer.body)
        assert answer.status_code == 200 and found["expires_in"] == 3600
        assert "reports/2026-W48/report.html" in found["url"] and "Signature" in found["url"]
        assert api.http.get("/reports/2026-W47", headers=admin).status_code == 404
        bad = api.http.get("/reports/2026-53", headers=admin)
        assert bad.status_code == 400 and "ISO week" in json.loads(bad.body)["error"]
        document = json.loads(api.http.get("/openapi.json").body)
        assert {"/reports", "/reports/{week}"} <= set(document["paths"])


def test_a_recipients_emailed_link_shows_a_button_then_opens_the_report_once(week, aws):
    from urllib.parse import urlsplit

    from chalice.test import Client

    import app

    deliver_report("2026-W48", week, NOW)
    text = next(part.get_content() for part in _report_emails()[0].walk() if part.get_content_type() == "text/plain")
    link = next(word for word in text.split() if "/reports/2026-W48/open?" in word)
    path = urlsplit(link).path + "?" + urlsplit(link).query
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with Client(app.app, stage_name="test") as api:
        page = api.http.get(path)  # what a mail scanner fetches: nothing is used
        assert page.status_code == 200 and b"Open the report" in page.body
        assert b'action="?to=' in page.body  # the button posts the same link
        assert api.http.get(path).status_code == 200
        assert api.http.post(path, body="open=1").status_code == 415  # not the page's form
        opened = api.http.post(path, headers=form, body="open=1")
        location = opened.headers["Location"]
        assert (
            opened.status_code == 303 and "reports/2026-W48/report.html" in location and "X-Amz-Expires=300" in location
        )
        again = api.http.post(path, headers=form, body="open=1")
        assert again.status_code == 410 and b"has been used" in again.body
        assert api.http.get(path).status_code == 410
        as_json = api.http.get(path, headers={"Accept": "application/json"})
        assert as_json.status_code == 410 and "used" in json.loads(as_json.body)["error"]
        forged = path.replace("2026-W48/open", "2026-W47/open")
        assert api.http.get(forged).status_code == 403
        assert api.http.get("/reports/" + "9" * 100 + "/open?to=x&exp=1&sig=y").status_code == 403
    body = client("s3").get_object(Bucket=report_bucket(), Key="reports/2026-W48/report.html")["Body"].read()
    assert body.startswith(b"<!doctype html") or b"<html" in body[:200]
