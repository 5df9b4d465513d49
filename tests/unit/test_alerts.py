"""The pure parts of alerting: attributes, subjects, SLA clocks, stream records, digests; the checks on fakes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from chalicelib.adapters.plans import bundled_plan
from chalicelib.domain.alerts import (
    Alert,
    AlertKind,
    compact,
    digest_alert,
    from_compact,
    hour_key,
    message_attributes,
    message_body,
    previous_hour,
    sla_alerts,
    subject_line,
    warning_lead,
)
from chalicelib.services.monitoring import (
    CheckFailed,
    alert_for_issue_record,
    alert_issue_records,
    check_dead_letter_queues,
    check_slas,
    dead_letter_queues,
    send_last_hours_digest,
)
from chalicelib.settings import Resources

OPENED = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
PLAN = bundled_plan()


def issue(**changes: Any) -> dict[str, Any]:
    """A plain issues-table item: High Priority (first response 60 min, resolution 720 min)."""
    item = {
        "issue_id": "iss-1",
        "category": "high_priority",
        "severity": "critical",
        "status": "open",
        "team": "social_media",
        "assigned_to": "social1@aurelle.example",
        "description": "legal threat",
        "first_seen": OPENED.isoformat(),
        "sla_first_response_due": (OPENED + timedelta(minutes=60)).isoformat(),
        "sla_resolution_due": (OPENED + timedelta(minutes=720)).isoformat(),
    }
    return {**item, **changes}


def kinds(alerts: list[Alert]) -> list[tuple[str, str]]:
    return [(a.kind.value, a.scope) for a in alerts]


def test_message_attributes_are_strings_and_never_empty():
    alert = Alert(
        kind=AlertKind.SURGE, severity="high", category="crisis", team="", issue_id="x", subject="s", message="m"
    )
    assert message_attributes(alert) == {
        "severity": {"DataType": "String", "StringValue": "high"},
        "category": {"DataType": "String", "StringValue": "crisis"},
        "team": {"DataType": "String", "StringValue": "none"},
        "kind": {"DataType": "String", "StringValue": "surge"},
    }


def test_subject_is_one_ascii_line_of_at_most_100_characters():
    alert = Alert(
        kind=AlertKind.NEW_ISSUE,
        severity="high",
        issue_id="x",
        message="m",
        subject="Crise: «Cortez» jacket\nripped " + "very " * 40,
    )
    line = subject_line(alert)
    assert len(line) <= 100 and line.isascii() and "\n" not in line and line.endswith("...")
    assert subject_line(alert.model_copy(update={"subject": "\n"})) == "new_issue"


def test_body_is_json_with_the_subject_id_and_details():
    alert = Alert(
        kind=AlertKind.SLA_BREACH, severity="high", issue_id="iss-1", subject="s", message="m", details={"due": "2026"}
    )
    body = json.loads(message_body(alert, OPENED))
    assert body["issue_id"] == "iss-1" and body["kind"] == "sla_breach" and body["details"] == {"due": "2026"}
    assert body["at"] == OPENED.isoformat()


def test_dedup_key_is_issue_and_kind_and_the_scope_when_there_is_one():
    alert = Alert(kind=AlertKind.NEW_ISSUE, severity="high", issue_id="iss-1", subject="s", message="m")
    assert alert.dedup_key == "iss-1#new_issue"
    assert alert.model_copy(update={"scope": "crisis"}).dedup_key == "iss-1#new_issue#crisis"


def test_hours_are_utc_buckets():
    local = datetime(2026, 11, 24, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert hour_key(local) == "2026-11-23T22" and previous_hour(local) == "2026-11-23T21"


def test_warning_lead_is_a_fifth_of_the_window_but_at_least_five_minutes():
    assert warning_lead(timedelta(minutes=60)) == timedelta(minutes=12)
    assert warning_lead(timedelta(minutes=10)) == timedelta(minutes=5)


@pytest.mark.parametrize(
    "minutes, expected",
    [
        (47, []),  # 13 min left, lead 12 min
        (48, [("sla_warning", "first_response")]),
        (59, [("sla_warning", "first_response")]),
        (60, [("sla_breach", "first_response")]),
        (600, [("sla_breach", "first_response")]),  # resolution lead is 144 min: 576 min in it warns too
    ],
)
def test_first_response_clock(minutes, expected):
    alerts = sla_alerts(issue(), OPENED + timedelta(minutes=minutes), PLAN.categories["high_priority"].sla)
    found = [k for k in kinds(alerts) if k[1] == "first_response"]
    assert found == expected


def test_a_first_response_stops_that_clock_but_not_the_resolution_one():
    answered = issue(first_response_at=(OPENED + timedelta(minutes=20)).isoformat())
    sla = PLAN.categories["high_priority"].sla
    assert sla_alerts(answered, OPENED + timedelta(minutes=90), sla) == []
    assert kinds(sla_alerts(answered, OPENED + timedelta(minutes=600), sla)) == [("sla_warning", "resolution")]
    assert kinds(sla_alerts(answered, OPENED + timedelta(minutes=720), sla)) == [("sla_breach", "resolution")]


def test_resolved_and_closed_issues_raise_nothing():
    for status in ("resolved", "closed"):
        assert sla_alerts(issue(status=status), OPENED + timedelta(days=3)) == []


def test_without_the_plan_the_window_comes_from_first_seen():
    alerts = sla_alerts(issue(), OPENED + timedelta(minutes=49))  # window 60 min from the item itself
    assert kinds(alerts) == [("sla_warning", "first_response")]
    alert = alerts[0]
    assert (alert.severity, alert.category, alert.team, alert.issue_id) == (
        "critical",
        "high_priority",
        "social_media",
        "iss-1",
    )
    assert "due in 11 min" in alert.message and alert.details["clock"] == "first_response"


def test_compact_keeps_what_the_digest_needs_and_cuts_long_text():
    alert = Alert(
        kind=AlertKind.SLA_BREACH,
        severity="high",
        category="crisis",
        team="pr",
        issue_id="i",
        subject="s",
        message="x" * 5000,
        details={"a": 1},
        scope="resolution",
    )
    back = from_compact(compact(alert))
    assert back.model_copy(update={"message": alert.message}) == alert and len(back.message) == 300


def test_digest_counts_kinds_and_lists_the_most_severe_first():
    held = [
        Alert(kind=AlertKind.SLA_WARNING, severity="medium", issue_id="a", subject="warn a", message=""),
        Alert(kind=AlertKind.NEW_ISSUE, severity="critical", issue_id="b", subject="new b", message=""),
        Alert(kind=AlertKind.SLA_WARNING, severity="low", issue_id="c", subject="warn c", message=""),
    ]
    digest = digest_alert("2026-11-24T10", held, dropped=2, listed=2)
    assert digest.kind is AlertKind.DIGEST and digest.severity == "critical"
    assert (digest.category, digest.team, digest.issue_id) == ("all", "all", "hour#2026-11-24T10")
    lines = digest.message.splitlines()
    assert lines[0].startswith("5 alerts held back") and "1 new_issue, 2 sla_warning" in lines[0]
    assert lines[1].endswith("b: new b") and lines[-1] == "... and 3 more"
    assert digest.details["counts"] == {"sla_warning": 2, "new_issue": 1}


# -- issues stream ------------------------------------------------------------------------------------------
def image(**values: str) -> dict[str, dict[str, str]]:
    base = {"issue_id": "iss-1", "status": "open", "severity": "critical", "description": "I will sue"}
    return {k: {"S": v} for k, v in {**base, **values}.items()}


def record(event: str, new: dict | None, old: dict | None = None) -> dict[str, Any]:
    images = {k: v for k, v in (("NewImage", new), ("OldImage", old)) if v is not None}
    return {"eventName": event, "dynamodb": images}


def test_a_new_high_priority_issue_alerts_its_team_naming_the_notified_teams():
    alert = alert_for_issue_record(record("INSERT", image(category="high_priority")), PLAN)
    assert alert is not None and alert.kind is AlertKind.NEW_ISSUE and alert.dedup_key == "iss-1#new_issue"
    assert (alert.team, alert.category, alert.severity) == ("social_media", "high_priority", "critical")
    assert alert.details["notify"] == ["social_media", "pr", "management"]
    assert "Public Relations" in alert.message and "Senior Management" in alert.message


def test_routine_issues_and_other_changes_raise_nothing():
    assert alert_for_issue_record(record("INSERT", image(category="routine_response")), PLAN) is None
    same = image(category="crisis")
    assert alert_for_issue_record(record("MODIFY", same, same), PLAN) is None
    assert alert_for_issue_record(record("REMOVE", None, same), PLAN) is None
    resolved = image(category="crisis", status="resolved")
    assert alert_for_issue_record(record("MODIFY", resolved, image(category="routine_response")), PLAN) is None


def test_each_escalation_into_an_alerting_category_alerts_once():
    up = alert_for_issue_record(
        record("MODIFY", image(category="high_priority"), image(category="routine_response")), PLAN
    )
    again = alert_for_issue_record(record("MODIFY", image(category="crisis"), image(category="high_priority")), PLAN)
    assert up is not None and again is not None
    assert up.kind is again.kind is AlertKind.ESCALATED and up.dedup_key != again.dedup_key
    assert up.subject.startswith("Escalated to High Priority from Routine Response")
    assert again.details["notify"] == ["social_media", "pr", "management", "legal", "customer_service"]


# -- the checks, on fakes -----------------------------------------------------------------------------------
class FakeAlerts:
    def __init__(self, fail_on: str = "") -> None:
        self.sent: dict[str, Alert] = {}
        self.digests: list[str] = []
        self.fail_on = fail_on

    def raise_alert(self, alert: Alert, now: datetime) -> str:
        if alert.issue_id == self.fail_on:
            raise RuntimeError("sns down")
        if alert.dedup_key in self.sent:
            return "duplicate"
        self.sent[alert.dedup_key] = alert
        return "sent"

    def send_digest(self, hour: str, now: datetime) -> str:
        self.digests.append(hour)
        return "sent"

    def owed_digests(self, hours: list[str]) -> list[str]:
        return list(hours)  # as if every earlier hour were owed: each is asked once


class FakeIssues:
    def __init__(self, *items: dict[str, Any]) -> None:
        self.items = items
        self.asked: list[tuple[str, str]] = []

    def with_status(self, status: str, category: str):
        self.asked.append((status, category))
        return [i for i in self.items if (i["status"], i["category"]) == (status, category)]


def test_check_slas_reads_live_issues_of_categories_with_an_sla_and_alerts_once():
    reader = FakeIssues(
        issue(),
        issue(issue_id="iss-2", status="in_progress", category="crisis"),
        issue(
            issue_id="iss-3",
            category="routine_response",
            sla_first_response_due=(OPENED + timedelta(minutes=240)).isoformat(),
        ),
    )
    alerts = FakeAlerts()
    now = OPENED + timedelta(minutes=61)
    assert check_slas(now, reader, alerts, PLAN) == {"sent": 2}
    assert set(reader.asked) == {
        (s, c) for s in ("open", "in_progress") for c in ("routine_response", "high_priority", "crisis")
    }
    assert sorted(alerts.sent) == ["iss-1#sla_breach#first_response", "iss-2#sla_breach#first_response"]
    assert check_slas(now, reader, alerts, PLAN) == {"duplicate": 2}


def test_one_failing_alert_does_not_hide_the_others():
    alerts = FakeAlerts(fail_on="iss-1")
    with pytest.raises(CheckFailed, match="1 alerts failed"):
        check_slas(OPENED + timedelta(minutes=61), FakeIssues(issue(), issue(issue_id="iss-2")), alerts, PLAN)
    assert list(alerts.sent) == ["iss-2#sla_breach#first_response"]


def test_dead_letter_queues_alert_once_per_queue_and_hour():
    names = Resources.for_stage("unit")
    depths = dict.fromkeys(dead_letter_queues(names), 0)  # every DLQ of the stage is read
    depths.update({names.ingest_dlq: 3, names.publish_dlq: 1, names.issues_stream_dlq: 2})
    alerts = FakeAlerts()
    assert check_dead_letter_queues(OPENED, alerts, names, depths.__getitem__) == {"sent": 3}
    assert check_dead_letter_queues(OPENED + timedelta(minutes=5), alerts, names, depths.__getitem__) == {
        "duplicate": 3
    }
    assert check_dead_letter_queues(OPENED + timedelta(hours=1), alerts, names, depths.__getitem__) == {"sent": 3}
    first = alerts.sent[f"{names.ingest_dlq}#2026-11-24T10#dlq_messages"]
    assert first.details["approximate_messages"] == 3 and first.severity == "high"


def test_stream_records_and_the_digest_of_the_previous_hour():
    alerts = FakeAlerts()
    records = [
        record("INSERT", image(category="crisis")),
        record("INSERT", image(category="routine_response", issue_id="iss-2")),
    ]
    assert alert_issue_records(records, PLAN, alerts, OPENED) == {"sent": 1}
    assert alert_issue_records(records, PLAN, alerts, OPENED) == {"duplicate": 1}
    send_last_hours_digest(OPENED + timedelta(minutes=5), alerts)
    assert len(alerts.digests) == 24 and alerts.digests[0] == "2026-11-23T10"  # any still owed from the day before
    assert alerts.digests[-1] == "2026-11-24T09"
