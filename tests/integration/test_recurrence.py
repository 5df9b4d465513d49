"""Recurrence on in-process moto: a resolved issue is remembered from the issues stream, and a new issue by the
same author (or on the same product and topic) days later gets the link, its rule and an audit event, once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from chalicelib.adapters.aws import client
from chalicelib.adapters.issues_table import DynamoIssues
from chalicelib.adapters.plans import DynamoPlanStore
from chalicelib.adapters.recurrence_table import DynamoRecurrence
from chalicelib.adapters.triage_table import DynamoTriageStore
from chalicelib.services.recurrence import link_recurrences
from chalicelib.services.triage import triage_mention
from chalicelib.settings import resources
from tests.helpers import drain_stream
from tests.triage_fixtures import T0, fixed_analyzer, mention


def open_issue(external_id: str, text: str, author: str, minutes: float) -> str:
    names = resources()
    result = triage_mention(
        mention(external_id, text, author=author, minutes=minutes),
        DynamoTriageStore(names),
        DynamoPlanStore(names.plans_table),
        fixed_analyzer,
    )
    assert result.issue_id
    return result.issue_id


def resolve(issue_id: str, at: datetime) -> None:
    client("dynamodb").update_item(
        TableName=resources().issues_table,
        Key={"issue_id": {"S": issue_id}},
        UpdateExpression="SET #s = :r, resolved_at = :at",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":r": {"S": "resolved"}, ":at": {"S": at.isoformat()}},
    )


def new_records(seen: list[dict]) -> list[dict]:
    records = drain_stream(resources().issues_table)
    fresh = records[len(seen) :]
    seen.extend(fresh)
    return fresh


def test_a_new_issue_repeating_a_resolved_one_is_linked_with_its_rule_once(aws):
    names = resources()
    plan = DynamoPlanStore(names.plans_table).active()[0]
    index, issues, seen = DynamoRecurrence(names), DynamoIssues(names), []
    first = open_issue("rc-1", "My Nova Sneakers broke after a week", "ana", 0)
    resolve(first, T0 + timedelta(hours=2))
    counts, _ = link_recurrences(new_records(seen), plan, issues, index)
    assert counts["remembered"] == 1

    # Five days later, the same author about something else: a repeat contact.
    again = open_issue("rc-2", "Package never arrived, two weeks late", "ana", 5 * 24 * 60)
    # Another author, same product and topic: a recurring problem.
    other = open_issue("rc-3", "The sole of the Nova Sneakers broke on day two", "bo", 6 * 24 * 60)
    # 40 days later: outside the 30-day window.
    late = open_issue("rc-4", "Nova Sneakers broke again", "ana", 40 * 24 * 60)
    records = new_records(seen)
    _, linked = link_recurrences(records, plan, issues, index)
    assert {(link.issue_id, link.recurs_issue_id, link.rule.value) for link in linked} == {
        (again, first, "same_author"),
        (other, first, "same_product_topic"),
    }
    stored = issues.get(again) or {}
    assert (stored["recurs_issue_id"], stored["recurrence_rule"]) == (first, "same_author")
    assert int(stored["recurrence_gap_seconds"]) == int(
        (T0 + timedelta(days=5) - T0 - timedelta(hours=2)).total_seconds()
    )
    assert "recurs_issue_id" not in (issues.get(late) or {})
    assert [e["details"]["rule"] for e in issues.history(again) if e["type"] == "recurrence"] == ["same_author"]

    # The stream's retry: nothing is linked or written twice.
    _, relinked = link_recurrences(records, plan, issues, index)
    assert relinked == []
    assert len([e for e in issues.history(again) if e["type"] == "recurrence"]) == 1


def test_keys_expire_with_the_window(aws):
    names = resources()
    plan = DynamoPlanStore(names.plans_table).active()[0]
    first = open_issue("rc-5", "My Nova Sneakers broke after a week", "cy", 0)
    resolve(first, T0)
    link_recurrences(drain_stream(names.issues_table), plan, DynamoIssues(names), DynamoRecurrence(names))
    items = client("dynamodb").scan(TableName=names.recurrence_keys_table)["Items"]
    assert items and {int(i["ttl"]["N"]) for i in items} == {int((T0 + timedelta(days=30)).timestamp())}
    assert any(i["key"]["S"] == "author#x#id-cy" for i in items)
    assert datetime.fromisoformat(items[0]["resolved_at"]["S"]) == T0.astimezone(timezone.utc)
