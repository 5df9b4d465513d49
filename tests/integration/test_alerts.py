"""Alerts on the deployed stack (moto): SNS delivery with attributes, dedup, the hourly cap and digest, the checks.

Subscribers are SQS queues with raw delivery, so a message's SNS attributes arrive as SQS message attributes.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib import bootstrap
from chalicelib.adapters.alerts import DynamoLiveIssues, SnsAlerts, topic_arn
from chalicelib.adapters.aws import client
from chalicelib.adapters.plans import bundled_plan
from chalicelib.adapters.triage_table import issue_item
from chalicelib.domain.alerts import Alert, AlertKind
from chalicelib.domain.issues import Issue, IssueStatus
from chalicelib.domain.plan import Severity
from chalicelib.services.monitoring import (
    alert_issue_records,
    check_dead_letter_queues,
    check_slas,
    send_last_hours_digest,
)
from chalicelib.settings import resources
from tests.helpers import drain_stream

NOW = datetime(2026, 11, 24, 10, 30, tzinfo=timezone.utc)
PLAN = bundled_plan()


def subscribe(name: str, filter_policy: dict[str, Any] | None = None) -> str:
    """A queue subscribed to the alerts topic (raw delivery); returns its URL."""
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {"RawMessageDelivery": "true"}
    if filter_policy:
        attributes["FilterPolicy"] = json.dumps(filter_policy)
    client("sns").subscribe(
        TopicArn=topic_arn(resources().alerts_topic), Protocol="sqs", Endpoint=arn, Attributes=attributes
    )
    return url


def received(url: str) -> list[dict[str, Any]]:
    """Every message on the queue: its JSON body plus ``attributes`` (name -> string value)."""
    sqs, out = client("sqs"), []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
    ).get("Messages", []):
        for message in batch:
            body = json.loads(message["Body"])
            body["attributes"] = {k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()}
            out.append(body)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return out


def alert(issue_id: str = "iss-1", kind: AlertKind = AlertKind.NEW_ISSUE, **changes: Any) -> Alert:
    fields = {
        "kind": kind,
        "severity": "critical",
        "category": "high_priority",
        "team": "social_media",
        "issue_id": issue_id,
        "subject": f"New High Priority issue {issue_id}",
        "message": "I will sue",
    }
    return Alert(**{**fields, **changes})


def put_issue(
    issue_id: str,
    category: str,
    opened: datetime,
    *,
    status: IssueStatus = IssueStatus.OPEN,
    answered: datetime | None = None,
) -> None:
    """An issue as triage writes it (``issue_item``), due times from the category's SLA."""
    sla = PLAN.categories[category].sla
    assert sla is not None
    issue = Issue(
        issue_id=issue_id,
        description=f"{category} issue {issue_id}",
        category=category,
        severity=Severity.HIGH,
        status=status,
        team=PLAN.categories[category].team,
        assigned_to="social1@aurelle.example",
        follow_up_required=True,
        first_seen=opened,
        last_seen=opened,
        topic="product_defect",
        platform="x",
        rule=None,
        plan_version=0,
        sla_first_response_due=opened + timedelta(minutes=sla.first_response_minutes),
        sla_resolution_due=opened + timedelta(minutes=sla.resolution_minutes),
    )
    item = issue_item(issue)
    if answered:
        item["first_response_at"] = {"S": answered.isoformat()}
    client("dynamodb").put_item(TableName=resources().issues_table, Item=item)


@pytest.fixture
def inbox(aws) -> str:
    return subscribe("alerts-inbox")


def test_an_alert_arrives_with_its_filterable_attributes(inbox):
    assert SnsAlerts(resources()).raise_alert(alert(details={"notify": ["pr"]}), NOW) == "sent"
    [message] = received(inbox)
    assert message["attributes"] == {
        "severity": "critical",
        "category": "high_priority",
        "team": "social_media",
        "kind": "new_issue",
    }
    assert message["issue_id"] == "iss-1" and message["details"] == {"notify": ["pr"]}


def test_the_same_issue_and_kind_is_sent_once(inbox):
    alerts = SnsAlerts(resources())
    assert [alerts.raise_alert(alert(), NOW), alerts.raise_alert(alert(), NOW + timedelta(hours=3))] == [
        "sent",
        "duplicate",
    ]
    assert alerts.raise_alert(alert(kind=AlertKind.SLA_BREACH), NOW) == "sent"
    assert [m["kind"] for m in received(inbox)] == ["new_issue", "sla_breach"]


def test_past_the_hourly_cap_alerts_wait_for_one_digest(inbox):
    alerts = SnsAlerts(resources(), per_hour=2)
    outcomes = [alerts.raise_alert(alert(f"iss-{n}"), NOW + timedelta(minutes=n)) for n in range(5)]
    assert outcomes == ["sent", "sent", "deferred", "deferred", "deferred"]
    assert [m["issue_id"] for m in received(inbox)] == ["iss-0", "iss-1"]
    assert alerts.raise_alert(alert("iss-3"), NOW) == "duplicate"  # deferred counts as raised
    assert alerts.raise_alert(alert("iss-9"), NOW + timedelta(hours=1)) == "sent"  # a new hour, a new budget

    later = NOW + timedelta(hours=1, minutes=5)
    assert send_last_hours_digest(later, alerts) == "sent"
    assert send_last_hours_digest(later, alerts) == "duplicate"
    assert alerts.send_digest("2026-11-24T08", later) == "empty"
    messages = received(inbox)
    assert [m["kind"] for m in messages] == ["new_issue", "digest"]
    digest = messages[1]
    assert digest["attributes"] == {"severity": "critical", "category": "all", "team": "all", "kind": "digest"}
    assert [a["issue_id"] for a in digest["details"]["alerts"]] == ["iss-2", "iss-3", "iss-4"]
    assert digest["message"].startswith("3 alerts held back in 2026-11-24T10:00 UTC")


def test_a_failed_publish_gives_the_claim_back(inbox):
    broken = SnsAlerts(dataclasses.replace(resources(), alerts_topic="no-such-topic"))
    with pytest.raises(ClientError):  # SNS: NotFound
        broken.raise_alert(alert(), NOW)
    assert SnsAlerts(resources()).raise_alert(alert(), NOW) == "sent"
    assert len(received(inbox)) == 1


def test_sla_warnings_and_breaches_of_issues_in_the_table(inbox):
    # High Priority: first response 60 min (warning 12 min before), Crisis: 30 min (warning 6 min before).
    put_issue("iss-warn", "high_priority", NOW - timedelta(minutes=50))
    put_issue("iss-late", "crisis", NOW - timedelta(minutes=31), status=IssueStatus.IN_PROGRESS)
    put_issue("iss-fine", "high_priority", NOW - timedelta(minutes=10))
    put_issue("iss-answered", "high_priority", NOW - timedelta(minutes=70), answered=NOW - timedelta(minutes=65))
    put_issue("iss-done", "crisis", NOW - timedelta(hours=9), status=IssueStatus.RESOLVED)
    names, alerts = resources(), SnsAlerts(resources())
    assert check_slas(NOW, DynamoLiveIssues(names), alerts, PLAN) == {"sent": 2}
    messages = {(m["issue_id"], m["kind"]): m for m in received(inbox)}
    assert set(messages) == {("iss-warn", "sla_warning"), ("iss-late", "sla_breach")}
    assert messages[("iss-late", "sla_breach")]["attributes"] == {
        "severity": "high",
        "category": "crisis",
        "team": "social_media",
        "kind": "sla_breach",
    }

    assert check_slas(NOW + timedelta(minutes=5), DynamoLiveIssues(names), alerts, PLAN) == {"duplicate": 2}
    assert received(inbox) == []
    later = check_slas(NOW + timedelta(minutes=11), DynamoLiveIssues(names), alerts, PLAN)
    assert later == {"sent": 1, "duplicate": 1}
    assert [(m["issue_id"], m["kind"]) for m in received(inbox)] == [("iss-warn", "sla_breach")]


def test_messages_in_a_dead_letter_queue_raise_one_alert_per_hour(inbox):
    names, sqs = resources(), client("sqs")
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=names.ingest_dlq)["QueueUrl"], MessageBody="{}")
    alerts = SnsAlerts(names)
    depth = bootstrap.queue_depths().depth
    assert check_dead_letter_queues(NOW, alerts, names, depth) == {"sent": 1}
    assert check_dead_letter_queues(NOW + timedelta(minutes=5), alerts, names, depth) == {"duplicate": 1}
    [message] = received(inbox)
    assert message["kind"] == "dlq_messages" and message["details"]["queue"] == names.ingest_dlq
    assert message["attributes"]["team"] == "operations" and message["details"]["approximate_messages"] == 1
    assert check_dead_letter_queues(NOW + timedelta(hours=1), alerts, names, depth) == {"sent": 1}


def test_a_filter_policy_on_kind_delivers_only_matching_alerts(inbox):
    breaches = subscribe("alerts-breaches", {"kind": ["sla_breach"]})
    alerts = SnsAlerts(resources())
    for kind in (AlertKind.NEW_ISSUE, AlertKind.SLA_WARNING, AlertKind.SLA_BREACH):
        alerts.raise_alert(alert(kind=kind), NOW)
    assert [m["kind"] for m in received(breaches)] == ["sla_breach"]
    assert len(received(inbox)) == 3


def test_new_high_priority_issues_from_the_stream(inbox):
    names = resources()
    put_issue("iss-hp", "high_priority", NOW)
    put_issue("iss-routine", "routine_response", NOW)
    records = drain_stream(names.issues_table)
    alerts = SnsAlerts(names)
    assert alert_issue_records(records, PLAN, alerts, NOW) == {"sent": 1}
    assert alert_issue_records(records, PLAN, alerts, NOW) == {"duplicate": 1}  # a retried batch
    [message] = received(inbox)
    assert (message["kind"], message["issue_id"], message["team"]) == ("new_issue", "iss-hp", "social_media")
    assert message["details"]["notify"] == ["social_media", "pr", "management"]
